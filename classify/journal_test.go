package classify

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// journalLines returns the header and the acknowledgements of a journal.
func journalLines(t *testing.T, path string) (string, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines[0], lines[1:]
}

// setAck returns line, an acknowledgement, with the fields in set changed.
func setAck(t *testing.T, line string, set map[string]any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

// TestJournalForgedAcks: an acknowledgement that was changed, forged, or copied from
// another journal does not make a resume skip its batch: the batch is sent (re-sending is
// harmless, ManualClassify sets a classification), the summary says how many
// acknowledgements were rejected, and the job ends with every interface classified.
// A dry run reports the same.
func TestJournalForgedAcks(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 100})
	want := planned(t, p)
	// A first run in which one batch fails: its acknowledgement is missing.
	jpath := filepath.Join(dir, "journal")
	f := newFakeService()
	f.failIDs["17"] = codes.InvalidArgument
	if _, err := (&Runner{Client: startFake(t, f), Journal: jpath}).Run(context.Background(), p); !errors.Is(err, ErrFailed) {
		t.Fatalf("first run: %v", err)
	}
	var failed Batch
	for _, b := range allBatches(t, p) {
		if contains(b.IDs, "17") {
			failed = b
		}
	}
	header, acks := journalLines(t, jpath)
	if len(acks) != p.Requests()-1 {
		t.Fatalf("%d acknowledgements for %d requests, one failed", len(acks), p.Requests())
	}
	// A second journal of the same plan, written by a run that sent everything.
	other := filepath.Join(dir, "other.journal")
	if _, err := (&Runner{Client: startFake(t, newFakeService()), Journal: other}).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	_, otherAcks := journalLines(t, other)
	var otherFailed string
	for _, l := range otherAcks {
		var a journalAck
		json.Unmarshal([]byte(l), &a)
		if a.Group == failed.Group && a.Seq == failed.Seq {
			otherFailed = l
		}
	}
	// An acknowledgement of the same group with the same number of ids, to re-aim.
	var sameSize string
	for _, l := range acks {
		var a journalAck
		json.Unmarshal([]byte(l), &a)
		if a.Group == failed.Group && a.Count == len(failed.IDs) {
			sameSize = l
		}
	}
	if otherFailed == "" || sameSize == "" {
		t.Fatal("test set-up: no acknowledgement to forge from")
	}
	for name, forged := range map[string]string{
		"re-aimed at the failed batch": setAck(t, sameSize, map[string]any{"b": failed.Seq}),
		"copied from another journal":  otherFailed,
		"checksum changed":             setAck(t, otherFailed, map[string]any{"sum": strings.Repeat("0", 32)}),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(jpath, []byte(header+strings.Join(acks, "")+forged), 0o644); err != nil {
				t.Fatal(err)
			}
			dry, err := (&Runner{Journal: jpath}).DryRun(context.Background(), p)
			if err != nil || dry.JournalRejected != 1 || dry.Resumed != len(acks) || dry.Remaining != len(failed.IDs) {
				t.Errorf("dry run: err %v, %d rejected, %d batches done, %d interfaces remaining", err, dry.JournalRejected, dry.Resumed, dry.Remaining)
			}
			f := newFakeService()
			s, err := (&Runner{Client: startFake(t, f), Journal: jpath}).Run(context.Background(), p)
			calls, perID, _ := f.snapshot()
			if err != nil || calls != 1 || s.JournalRejected != 1 || s.Resumed != len(acks) || perID[failed.IDs[0]] != 1 {
				t.Errorf("resume: err %v, %d calls (want 1: the failed batch), %d rejected, %d skipped", err, calls, s.JournalRejected, s.Resumed)
			}
			// The journal now holds a true acknowledgement: a third run sends nothing.
			f3 := newFakeService()
			s, err = (&Runner{Client: startFake(t, f3), Journal: jpath}).Run(context.Background(), p)
			if c, _, _ := f3.snapshot(); err != nil || c != 0 || s.JournalRejected != 0 || s.AlreadyDone != len(want) {
				t.Errorf("third run: err %v, %d calls, %d rejected, %d already done", err, c, s.JournalRejected, s.AlreadyDone)
			}
		})
	}
	// An acknowledgement without its checksum is not an acknowledgement: the journal is
	// damaged (unless it is the torn last line).
	os.WriteFile(jpath, []byte(header+setAck(t, acks[0], map[string]any{"sum": nil})+strings.Join(acks[1:], "")), 0o644)
	if _, err := (&Runner{Client: startFake(t, newFakeService()), Journal: jpath}).Run(context.Background(), p); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("an acknowledgement without a checksum: %v", err)
	}
}

// TestJournalFormat1: a journal of the first format, whose acknowledgements carry no
// checksum, is refused with a message that says what to do, and nothing is sent.
func TestJournalFormat1(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 300), Options{BatchSize: 100})
	jpath := filepath.Join(dir, "journal")
	old := `{"journal":"kentik-classify-journal/1","plan_sha256":"` + p.SHA256 + `","batch_size":100,"groups":5,"requests":5,"interfaces":300}` + "\n" +
		`{"g":0,"b":0,"n":60}` + "\n"
	os.WriteFile(jpath, []byte(old), 0o644)
	f := newFakeService()
	_, err := (&Runner{Client: startFake(t, f), Journal: jpath}).Run(context.Background(), p)
	if !errors.Is(err, ErrJournalMismatch) || !strings.Contains(err.Error(), "format 1") || !strings.Contains(err.Error(), "new journal") {
		t.Errorf("got %v", err)
	}
	if calls, _, _ := f.snapshot(); calls != 0 {
		t.Errorf("%d calls", calls)
	}
	if b, _ := os.ReadFile(jpath); string(b) != old {
		t.Error("the old journal was changed")
	}
}
