package classify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
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
	f.Add([]byte(`{"line":2,"reason":"line 2: x","row":"{\"interface_id\":\"1\",\"connectivity_type\":\"ix\"}"}` + "\n" + `{"row":"{\"row\":\"{}\"}"}` + "\n"))
	f.Add([]byte(`{"interface_id":"1","Interface_ID":"2","connectivity_type":"ix","networ\u212a_boundary":"x","provider":"\ud800"}` + "\n"))
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
	id := strings.Repeat("ab", 16)
	header := `{"journal":"` + journalMagic + `","id":"` + id + `","plan_sha256":"` + p.SHA256 + `","batch_size":2,"groups":2,"requests":3,"interfaces":4}`
	bs := allBatches(f, p)
	ackLine := func(b Batch) string {
		return fmt.Sprintf(`{"g":%d,"b":%d,"n":%d,"sum":"%s"}`, b.Group, b.Seq, len(b.IDs), ackSum(id, p.SHA256, b))
	}
	f.Add([]byte(header + "\n" + ackLine(bs[0]) + "\n" + ackLine(bs[2]) + "\n"))
	f.Add([]byte(header + "\n" + ackLine(bs[1]) + "\n" + ackLine(bs[2])[:12]))
	f.Add([]byte(header[:20]))
	f.Add([]byte(header + "\n" + `{"g":5,"b":0,"n":2,"sum":"` + strings.Repeat("0", 32) + `"}` + "\n"))
	f.Add([]byte(header + "\n" + strings.Replace(ackLine(bs[0]), `"b":0`, `"b":1`, 1) + "\n"))
	f.Add([]byte("not a journal\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		j := &journal{path: "fuzz.journal", done: make(map[batchKey]ack)}
		good, err := j.load(data, p)
		if err != nil {
			return
		}
		if good < 0 || good > len(data) {
			t.Fatalf("good prefix %d of %d bytes", good, len(data))
		}
		for k, a := range j.done {
			if k.group < 0 || k.group >= len(p.groups) || k.seq < 0 || k.seq >= p.groups[k.group].Batches || a.n != batchLen(p, k.group, k.seq) {
				t.Fatalf("accepted a batch outside the plan: %+v with %d ids", k, a.n)
			}
		}
		// Only an acknowledgement with the checksum of its batch in this journal counts.
		for _, b := range bs {
			a, claimed := j.done[batchKey{b.Group, b.Seq}]
			done, _ := j.check(b)
			if want := claimed && j.id == id && j.plan == p.SHA256 && a.sum == ackSum(id, p.SHA256, b); done != want {
				t.Fatalf("batch %d/%d: done %v, want %v", b.Group, b.Seq, done, want)
			}
		}
	})
}

// csvResult is what encoding/csv made of one record: its fields, or its error.
type csvResult struct {
	fields string // the fields joined by NUL
	err    string
	endAt  int // the line a ParseError ends on
}

// readCSV reads every record of r with a plan's csv settings, by start line. When lim is
// not nil it is reset before each record and fn sees each result with the limiter's
// state; reading stops when fn returns false.
func readCSV(r io.Reader, lim *recordLimiter, fn func(line int, res csvResult) bool) {
	c := csv.NewReader(r)
	c.FieldsPerRecord, c.ReuseRecord, c.TrimLeadingSpace = -1, true, true
	for range 100000 {
		if lim != nil {
			lim.reset()
		}
		rec, err := c.Read()
		if err == io.EOF {
			return
		}
		var res csvResult
		line := 0
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			line, res.err, res.endAt = pe.StartLine, pe.Err.Error(), pe.Line
		case err != nil:
			res.err = err.Error()
		default:
			line, _ = c.FieldPos(0)
			res.fields = strings.Join(rec, "\x00")
		}
		if !fn(line, res) {
			return
		}
	}
}

// FuzzCSVRecordLimit compares encoding/csv reading through the record limiter with
// encoding/csv reading the plan directly. With a bound the plan never reaches, the two
// must agree on every record, field and line. With a small bound, the limiter never lets
// a record past it, and every record it lets through whole is the very record csv reads
// on that line without it: cutting a long record short never shifts the records after it.
func FuzzCSVRecordLimit(f *testing.F) {
	f.Add([]byte("a,b\n1,\"x\ny\"\n\n\r\n2,3\n"), uint8(4))
	f.Add([]byte("a,b\n1,22222222222222\n3,\"4\n5\"\n6, \"7\"\n"), uint8(6))
	f.Add([]byte("a\n\"open\n1\n2\n3\n"), uint8(3))
	f.Add([]byte("a\r\n\r\n\r\nxxxxxxxxxxx\r\n\"q\"\"q\",b\r"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, bound uint8) {
		direct := map[int]csvResult{}
		var order []int
		readCSV(bytes.NewReader(data), nil, func(line int, res csvResult) bool {
			direct[line] = res
			order = append(order, line)
			return true
		})
		// A bound the plan cannot reach: the same records.
		i := 0
		lim := newRecordLimiter(bufio.NewReader(bytes.NewReader(data)), len(data)+1)
		readCSV(lim, lim, func(line int, res csvResult) bool {
			if lim.tripped {
				t.Fatalf("a bound of %d bytes tripped on %d bytes", len(data)+1, len(data))
			}
			if i >= len(order) || order[i] != line || direct[line] != res {
				t.Fatalf("record %d on line %d: %+v; directly: %v %+v", i, line, res, order, direct[line])
			}
			i++
			return true
		})
		if i != len(order) {
			t.Fatalf("%d records through the limiter, %d directly", i, len(order))
		}
		// A small bound.
		max := int(bound%64) + 1
		lim = newRecordLimiter(bufio.NewReaderSize(bytes.NewReader(data), 16), max)
		last := 0
		readCSV(lim, lim, func(line int, res csvResult) bool {
			if lim.n > max {
				t.Fatalf("%d bytes of a record handed to csv, bound %d", lim.n, max)
			}
			if line != 0 && line <= last {
				t.Fatalf("line %d after line %d", line, last)
			}
			last = line
			if lim.tripped {
				// As csvReader.tooLong does: go on only when the record ends on
				// this line.
				var err error
				if res.err != "" {
					err = &csv.ParseError{StartLine: line, Line: res.endAt, Err: errors.New(res.err)}
					switch res.err {
					case csv.ErrQuote.Error():
						err = &csv.ParseError{StartLine: line, Line: res.endAt, Err: csv.ErrQuote}
					case csv.ErrBareQuote.Error():
						err = &csv.ParseError{StartLine: line, Line: res.endAt, Err: csv.ErrBareQuote}
					}
				}
				return cutEndsOnLine(err, lim.quoted)
			}
			if want, ok := direct[line]; !ok || want != res {
				t.Fatalf("line %d through the limiter: %+v; directly: %+v (found %v)", line, res, want, ok)
			}
			return true
		})
	})
}
