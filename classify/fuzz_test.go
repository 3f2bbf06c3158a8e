package classify

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkPipeline loads data as a plan (both passes) and checks what must hold for any
// input: no panic, a plan or an error; for a plan, every id exactly once, in batches of
// at most BatchSize, as many batches as Requests says.
func checkPipeline(t *testing.T, data []byte, format Format) {
	path := filepath.Join(t.TempDir(), "plan")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, skip := range []bool{false, true} {
		p, err := Load(ctx, path, Options{Format: format, BatchSize: 3, SkipInvalid: skip})
		if err != nil {
			var pe *PlanError
			if errors.As(err, &pe) && (skip || pe.Total == 0 || len(pe.Errors) == 0) {
				t.Fatalf("skip=%v: PlanError with %d rows: %v", skip, pe.Total, err)
			}
			continue
		}
		seen := map[string]bool{}
		batches := 0
		err = p.Batches(ctx, func(b Batch) error {
			batches++
			if len(b.IDs) == 0 || len(b.IDs) > 3 {
				t.Fatalf("batch of %d", len(b.IDs))
			}
			for _, id := range b.IDs {
				if seen[id] || id == "" || strings.TrimSpace(id) != id {
					t.Fatalf("id %q repeated or blank", id)
				}
				seen[id] = true
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Batches: %v", err)
		}
		if len(seen) != p.Interfaces || batches != p.Requests() {
			t.Fatalf("%d ids in %d batches; plan says %d in %d", len(seen), batches, p.Interfaces, p.Requests())
		}
		if p.Rows != p.Interfaces+p.Duplicates+p.Rejected {
			t.Fatalf("rows %d != interfaces %d + duplicates %d + rejected %d", p.Rows, p.Interfaces, p.Duplicates, p.Rejected)
		}
	}
}

func FuzzCSVPlan(f *testing.F) {
	f.Add([]byte("interface_id,connectivity_type,network_boundary,provider\n1,transit,external,A\n2,ix,,\n1,transit,external,A\n"))
	f.Add([]byte("provider,interface_id,connectivity_type,network_boundary,x\n\"a,b\",1,paid-pni,EXTERNAL,\n\"q\n\",2,CONNECTIVITY_TYPE_IX,,y\n"))
	f.Add([]byte("interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n1,ix,,\n,,,\n3,\"x\n"))
	f.Add([]byte("\ufeffinterface_id,connectivity_type,network_boundary,provider\r\n1,transit,,\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The reader alone: lines only move forward.
		if c, err := newCSVReader(bufio.NewReader(bytes.NewReader(data))); err == nil {
			last := 0
			var rp rowParser
			for range 10000 {
				rec, err := c.next()
				if err == io.EOF {
					break
				}
				var he *headerError
				if errors.As(err, &he) {
					if he.line <= last {
						t.Fatalf("unclosed quote reported on line %d after line %d", he.line, last)
					}
					break // a quote left open: the plan is refused
				}
				if err != nil {
					t.Fatal(err)
				}
				if rec.line <= last {
					t.Fatalf("line %d after %d", rec.line, last)
				}
				last = rec.line
				if rec.bad == "" {
					if id, _, reason := rp.parse(rec.fields[0], rec.fields[1], rec.fields[2], rec.fields[3]); reason == "" && id == "" {
						t.Fatal("a good row without an id")
					}
				}
			}
		}
		checkPipeline(t, data, FormatCSV)
	})
}

func FuzzJSONLPlan(f *testing.F) {
	f.Add([]byte(`{"interface_id":"1","connectivity_type":"transit","network_boundary":"external","provider":"A"}` + "\n" + `{"interface_id":2,"connectivity_type":"ix"}` + "\n"))
	f.Add([]byte(`{"interface_id":"1","connectivity_type":"transit"}` + "\n" + `{"interface_id":"1","connectivity_type":"ix"}` + "\n\n[1]\n{\"x\":1}\n"))
	f.Add([]byte(`{"interface_id":"1","connectivity_type":"transit","provider":null} trailing`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, line := range bytes.Split(data, []byte("\n")) {
			if t := bytes.TrimSpace(line); len(t) > 0 {
				parseJSONRow(1, t)
			}
		}
		checkPipeline(t, data, FormatJSONL)
		checkPipeline(t, data, FormatAuto)
	})
}

// FuzzJournal feeds arbitrary journal contents to the journal reader for a small plan:
// no panic, and whatever it accepts names only batches of this plan with their true
// sizes, within a good prefix of the input.
func FuzzJournal(f *testing.F) {
	dir := f.TempDir()
	planPath := filepath.Join(dir, "plan.csv")
	rows := "interface_id,connectivity_type,network_boundary,provider\n1,transit,external,A\n2,transit,external,A\n3,transit,external,A\n4,ix,,B\n"
	if err := os.WriteFile(planPath, []byte(rows), 0o644); err != nil {
		f.Fatal(err)
	}
	p, err := Load(context.Background(), planPath, Options{BatchSize: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	header := `{"journal":"` + journalMagic + `","plan_sha256":"` + p.SHA256 + `","batch_size":2,"groups":2,"requests":3,"interfaces":4}`
	f.Add([]byte(header + "\n" + `{"g":0,"b":0,"n":2}` + "\n" + `{"g":1,"b":0,"n":1}` + "\n"))
	f.Add([]byte(header + "\n" + `{"g":0,"b":1,"n":1}` + "\n" + `{"g":0,"b":`))
	f.Add([]byte(header[:20]))
	f.Add([]byte(header + "\n" + `{"g":5,"b":0,"n":2}` + "\n"))
	f.Add([]byte("not a journal\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		j := &journal{path: "fuzz.journal", done: make(map[batchKey]int)}
		good, err := j.load(data, p)
		if err != nil {
			return
		}
		if good < 0 || good > len(data) {
			t.Fatalf("good prefix %d of %d bytes", good, len(data))
		}
		for k, n := range j.done {
			if k.group < 0 || k.group >= len(p.groups) || k.seq < 0 || k.seq >= p.groups[k.group].Batches || n != batchLen(p, k.group, k.seq) {
				t.Fatalf("accepted a batch outside the plan: %+v with %d ids", k, n)
			}
		}
	})
}
