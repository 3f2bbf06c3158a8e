package classify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A reject file, partly corrected and run again with --skip-invalid, writes a reject file
// of its own; that one must still be a plan (the "reason" column it already carries is
// not doubled).
func TestRejectFileOfARejectFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.csv")
	os.WriteFile(path, []byte("interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n2,bogus,,\n3,bogus2,,\n"), 0o644)
	rej := path + ".rejected"
	mustLoad(t, path, Options{SkipInvalid: true, RejectFile: rej})
	// Fix one row, leave the other bad, and run the reject file as a plan.
	data, _ := os.ReadFile(rej)
	os.WriteFile(rej, []byte(strings.Replace(string(data), "2,bogus,", "2,ix,", 1)), 0o644)
	rej2 := rej + ".rejected"
	p := mustLoad(t, rej, Options{SkipInvalid: true, RejectFile: rej2})
	if p.Interfaces != 1 || p.Rejected != 1 {
		t.Fatalf("interfaces %d rejected %d", p.Interfaces, p.Rejected)
	}
	got, _ := os.ReadFile(rej2)
	// Corrected, the second reject file is a plan too.
	fixed := strings.Replace(string(got), "3,bogus2,", "3,ix,", 1)
	p2, err := Load(context.Background(), writePlan(t, "fixed.csv", fixed), Options{})
	if err != nil {
		t.Fatalf("the reject file of a reject file is not a plan: %v\n%s", err, got)
	}
	defer p2.Close()
	if p2.Interfaces != 1 || !strings.Contains(string(got), "line 3: unknown connectivity_type") {
		t.Errorf("interfaces %d; reject file:\n%s", p2.Interfaces, got)
	}
}

// A plan that grows while pass 2 reads it (rows repeating ids already batched) is
// reported as changed, never a panic.
func TestBatchesPlanGrowsDuringPass2(t *testing.T) {
	path := writePlan(t, "p.csv", "interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n2,transit,,\n")
	p := mustLoad(t, path, Options{BatchSize: 2})
	err := p.Batches(context.Background(), func(b Batch) error {
		if b.Seq == 0 {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString(strings.Repeat("1,transit,,\n", 10))
			return err
		}
		return nil
	})
	if !errors.Is(err, ErrPlanChanged) {
		t.Errorf("got %v, want ErrPlanChanged", err)
	}
}

// The failed file of a rerun of a failed file may be named like the plan itself
// (--file plan.failed --failed-file plan.failed): the plan must not be truncated under
// the job, losing the rows not yet sent.
func TestFailedFileIsThePlan(t *testing.T) {
	dir := t.TempDir()
	path := genPlan(t, dir, 1000)
	before, _ := os.ReadFile(path)
	p := mustLoad(t, path, Options{BatchSize: 100})
	f := newFakeService()
	f.failIDs["1"] = 13
	_, err := (&Runner{Client: startFake(t, f), FailedFile: path}).Run(context.Background(), p)
	if err == nil {
		t.Fatal("no error")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the plan was overwritten by the failed file (%d bytes, was %d); err %v", len(after), len(before), err)
	}
	if !strings.Contains(err.Error(), "is the plan itself") {
		t.Errorf("err %v", err)
	}
	if calls, _, _ := f.snapshot(); calls != 0 {
		t.Errorf("%d calls sent", calls)
	}
}

// Likewise the reject file of a plan must not be the plan.
func TestRejectFileIsThePlan(t *testing.T) {
	path := writePlan(t, "p.csv", "interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n2,bogus,,\n3,ix,,\n")
	before, _ := os.ReadFile(path)
	p, err := Load(context.Background(), path, Options{SkipInvalid: true, RejectFile: path})
	if err == nil {
		p.Close()
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the plan was overwritten by the reject file: %q; err %v", after, err)
	}
}

// A failed file named like the journal (new or not) would truncate the journal under its
// own appends.
func TestFailedFileIsTheJournal(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 100})
	f := newFakeService()
	f.failIDs["1"] = 13
	jpath := filepath.Join(dir, "journal")
	_, err := (&Runner{Client: startFake(t, f), Journal: jpath, FailedFile: jpath}).Run(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "is the journal") {
		t.Errorf("got %v", err)
	}
	if calls, _, _ := f.snapshot(); calls != 0 {
		t.Errorf("%d calls sent", calls)
	}
}

// An id beyond 64 bits is no Kentik interface id: sent, it would make the server refuse
// the whole batch it landed in (as the project's own fake does), so it is a bad row.
func TestLoadIDOutOfRange(t *testing.T) {
	plan := "interface_id,connectivity_type,network_boundary,provider\n" +
		"18446744073709551615,transit,,\n" + // 2: the largest 64-bit id, ok
		"18446744073709551616,transit,,\n" + // 3: 2^64
		"99999999999999999999999999999999,transit,,\n" // 4
	_, err := Load(context.Background(), writePlan(t, "big.csv", plan), Options{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Total != 2 || pe.Errors[0].Line != 3 || pe.Errors[1].Line != 4 {
		t.Fatalf("want a PlanError for lines 3 and 4, got %v", err)
	}
}

// A job refused before sending (a journal that cannot be opened, or belongs to another
// job) did nothing: its summary (what `-o json` prints) says every interface remains,
// and carries the error, rather than "remaining 0" and no error.
func TestRefusedRunSummary(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 300), Options{BatchSize: 100})
	client := startFake(t, newFakeService())
	for _, jpath := range []string{filepath.Join(dir, "no-such-dir", "journal"), writePlan(t, "notes.txt", "my notes\n")} {
		s, err := (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p)
		if err == nil {
			t.Fatalf("%s: no error", jpath)
		}
		if s.Remaining != p.Interfaces || s.Error != err.Error() || s.Classified != 0 {
			t.Errorf("%s: summary remaining %d (want %d), error %q; err %v", jpath, s.Remaining, p.Interfaces, s.Error, err)
		}
	}
}

// TestStaleFailedFile: a failed file left by an earlier run of the plan is removed when
// a later run classifies everything (it would only mislead), and the summary says so;
// it stays when the later run does not finish, and a file at that name that is not a
// failed file is never removed.
func TestStaleFailedFile(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 300), Options{BatchSize: 100})
	failed := filepath.Join(dir, "plan.failed")
	stale := "interface_id,connectivity_type,network_boundary,provider\n17,transit,external,Acme\n"

	// Interrupted before the end: the stale file stays.
	os.WriteFile(failed, []byte(stale), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := (&Runner{Client: startFake(t, newFakeService()), FailedFile: failed}).Run(ctx, p); err == nil || len(s.RemovedFiles) != 0 {
		t.Errorf("interrupted run: err %v, removed %q", err, s.RemovedFiles)
	}
	if _, err := os.Stat(failed); err != nil {
		t.Errorf("an interrupted run removed the failed file: %v", err)
	}

	// A run that classifies everything: removed.
	s, err := (&Runner{Client: startFake(t, newFakeService()), FailedFile: failed}).Run(context.Background(), p)
	if err != nil || !slices.Equal(s.RemovedFiles, []string{failed}) || s.FailedFile != "" {
		t.Errorf("err %v, removed %q, failed file %q", err, s.RemovedFiles, s.FailedFile)
	}
	if _, err := os.Stat(failed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale failed file is still there: %v", err)
	}

	// Not a failed file: kept.
	os.WriteFile(failed, []byte("my notes\n"), 0o644)
	if s, err := (&Runner{Client: startFake(t, newFakeService()), FailedFile: failed}).Run(context.Background(), p); err != nil || len(s.RemovedFiles) != 0 {
		t.Errorf("err %v, removed %q", err, s.RemovedFiles)
	}
	if b, _ := os.ReadFile(failed); string(b) != "my notes\n" {
		t.Errorf("a file that is not a failed file was changed: %q", b)
	}
}
