package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik/ratelimit"
)

var groupNames = []string{"transit,external,Acme", "ix,external,DE-CIX", "paid_pni,external,Zayo", "backbone,internal,", "customer,external,"}

// genPlan writes a CSV plan of n interfaces (ids 1..n) spread over the groups above.
func genPlan(t testing.TB, dir string, n int) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,%s\n", i, groupNames[(i*7)%len(groupNames)])
	}
	path := filepath.Join(dir, "plan.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// planned reads back what p asks for.
func planned(t testing.TB, p *Plan) map[string]Classification { return rowsOf(t, allBatches(t, p)) }

// checkState fails unless the fake holds exactly the planned classification for every id.
func checkState(t *testing.T, f *fakeService, want map[string]Classification) {
	t.Helper()
	_, _, state := f.snapshot()
	bad := 0
	for id, c := range want {
		if state[id] != c {
			bad++
			if bad < 5 {
				t.Errorf("interface %s: %v, want %v", id, state[id], c)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d interfaces wrong", bad)
	}
}

func TestRunSendsFewestRequests(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 2503), Options{BatchSize: 100})
	f := newFakeService()
	var reports []Progress
	r := &Runner{Client: startFake(t, f), Policy: ratelimit.Off, Progress: func(pr Progress) { reports = append(reports, pr) }}
	s, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls, perID, _ := f.snapshot()
	// 2503 ids over 5 groups: three of 501 (6 batches), two of 500 (5 batches).
	if p.Requests() != 28 || calls != 28 || s.Sent != 28 {
		t.Errorf("planned %d, server saw %d, summary %d", p.Requests(), calls, s.Sent)
	}
	if s.Classified != 2503 || s.Interfaces != 2503 || s.Failed != 0 || s.Remaining != 0 || s.Groups != 5 {
		t.Errorf("summary %+v", s)
	}
	for id, n := range perID {
		if n != 1 {
			t.Errorf("id %s sent %d times", id, n)
		}
	}
	checkState(t, f, planned(t, p))
	if len(reports) != 29 || !reports[28].Final || reports[28].Done != 2503 || reports[27].Requests != 28 {
		t.Errorf("%d progress reports, last %+v", len(reports), reports[len(reports)-1])
	}
	if _, err := json.Marshal(s); err != nil {
		t.Error(err)
	}
}

func TestRunResumeSendsExactlyTheRest(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 64})
	jpath := filepath.Join(dir, "journal")
	f1 := newFakeService()
	if _, err := (&Runner{Client: startFake(t, f1), Journal: jpath}).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// Keep the header and the first 5 acknowledgements, as if the job had died there.
	data, _ := os.ReadFile(jpath)
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) != p.Requests()+2 { // header, acks, "" after the last newline
		t.Fatalf("journal has %d lines for %d requests", len(lines), p.Requests())
	}
	kept := map[batchKey]bool{}
	for _, l := range lines[1:6] {
		var a journalAck
		json.Unmarshal([]byte(l), &a)
		kept[batchKey{a.Group, a.Seq}] = true
	}
	os.WriteFile(jpath, []byte(strings.Join(lines[:6], "")), 0o644)

	f2 := newFakeService()
	s, err := (&Runner{Client: startFake(t, f2), Journal: jpath}).Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls, perID, _ := f2.snapshot()
	if calls != p.Requests()-5 || s.Sent != calls || s.Resumed != 5 || s.AlreadyDone+s.Classified != 1000 {
		t.Errorf("calls %d, want %d; summary %+v", calls, p.Requests()-5, s)
	}
	for _, b := range allBatches(t, p) {
		for _, id := range b.IDs {
			want := 1
			if kept[batchKey{b.Group, b.Seq}] {
				want = 0
			}
			if perID[id] != want {
				t.Fatalf("batch %d/%d id %s sent %d times, want %d", b.Group, b.Seq, id, perID[id], want)
			}
		}
	}
	// A third run has nothing left to send.
	f3 := newFakeService()
	s, err = (&Runner{Client: startFake(t, f3), Journal: jpath}).Run(context.Background(), p)
	if c, _, _ := f3.snapshot(); err != nil || c != 0 || s.AlreadyDone != 1000 {
		t.Errorf("third run: err %v calls %d summary %+v", err, c, s)
	}
}

// TestRunCrashThenResume stops a run after K acknowledged calls (as SIGKILL would, the
// journal is left as it is), resumes it, and counts on the server that every interface
// is right and that only the batches in flight at the stop were sent twice.
func TestRunCrashThenResume(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			dir := t.TempDir()
			p := mustLoad(t, genPlan(t, dir, 3000), Options{BatchSize: 50})
			jpath := filepath.Join(dir, "journal")
			f := newFakeService()
			client := startFake(t, f)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const K = 17
			f.onCall = func(n int) {
				if n == K {
					cancel() // the K-th call was applied, but its answer is lost
				}
			}
			s, err := (&Runner{Client: client, Journal: jpath, Workers: workers}).Run(ctx, p)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first run: %v", err)
			}
			if s.Remaining == 0 || s.Sent >= K+workers {
				t.Errorf("first run summary %+v", s)
			}
			f.mu.Lock()
			f.onCall = nil
			first := f.calls
			f.mu.Unlock()

			s2, err := (&Runner{Client: client, Journal: jpath, Workers: workers}).Run(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			calls, perID, _ := f.snapshot()
			checkState(t, f, planned(t, p))
			twice := 0
			for _, n := range perID {
				if n > 2 {
					t.Fatalf("an id was sent %d times", n)
				}
				if n == 2 {
					twice++
				}
			}
			extra := calls - p.Requests()
			if extra < 0 || extra > workers || twice > extra*p.BatchSize {
				t.Errorf("server answered %d calls (%d + %d) for %d requests: %d more than planned, %d ids twice; at most %d batches may repeat",
					calls, first, calls-first, p.Requests(), extra, twice, workers)
			}
			if s2.AlreadyDone+s2.Classified != p.Interfaces {
				t.Errorf("resume summary %+v", s2)
			}
		})
	}
}

func TestJournalRefusesAnotherJob(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 300), Options{BatchSize: 100})
	jpath := filepath.Join(dir, "journal")
	f := newFakeService()
	client := startFake(t, f)
	if _, err := (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	before, _, _ := f.snapshot()

	other := mustLoad(t, writePlan(t, "other.csv", "interface_id,connectivity_type,network_boundary,provider\n1,ix,,\n"), Options{BatchSize: 100})
	_, err := (&Runner{Client: client, Journal: jpath}).Run(context.Background(), other)
	if !errors.Is(err, ErrJournalMismatch) || !strings.Contains(err.Error(), "another plan") {
		t.Errorf("other plan: %v", err)
	}
	resized := mustLoad(t, p.Path, Options{BatchSize: 50})
	_, err = (&Runner{Client: client, Journal: jpath}).Run(context.Background(), resized)
	var bs *BatchSizeMismatchError
	if !errors.Is(err, ErrJournalMismatch) || !errors.As(err, &bs) || bs.JournalBatchSize != 100 || !strings.Contains(err.Error(), "batch size 100") {
		t.Errorf("other batch size: %v", err)
	}
	notJournal := writePlan(t, "notes.txt", "my notes\n")
	_, err = (&Runner{Client: client, Journal: notJournal}).Run(context.Background(), p)
	if !errors.Is(err, ErrJournalMismatch) {
		t.Errorf("not a journal: %v", err)
	}
	if b, _ := os.ReadFile(notJournal); string(b) != "my notes\n" {
		t.Error("a file that is not a journal was overwritten")
	}
	if after, _, _ := f.snapshot(); after != before {
		t.Errorf("%d calls sent with a refused journal", after-before)
	}
}

func TestJournalTornLines(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 500), Options{BatchSize: 50})
	jpath := filepath.Join(dir, "journal")
	f := newFakeService()
	client := startFake(t, f)
	if _, err := (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(jpath)
	lines := strings.SplitAfter(string(data), "\n")
	header := lines[0]

	run := func(content string) (int, *Summary, error) {
		t.Helper()
		os.WriteFile(jpath, []byte(content), 0o644)
		before, _, _ := f.snapshot()
		s, err := (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p)
		after, _, _ := f.snapshot()
		return after - before, s, err
	}
	// A torn last ack: the two complete acks stand, the torn one is re-sent.
	n, _, err := run(header + lines[1] + lines[2] + lines[3][:7])
	if err != nil || n != p.Requests()-2 {
		t.Errorf("torn ack: err %v, %d calls, want %d", err, n, p.Requests()-2)
	}
	// The journal is whole again: every line parses.
	data, _ = os.ReadFile(jpath)
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("journal line %d after resume: %q", i+1, l)
		}
	}
	// A complete ack without its newline stands.
	n, _, err = run(header + lines[1] + strings.TrimSuffix(lines[2], "\n"))
	if err != nil || n != p.Requests()-2 {
		t.Errorf("ack without newline: err %v, %d calls", err, n)
	}
	// A torn header: nothing was done, start over.
	n, _, err = run(header[:20])
	if err != nil || n != p.Requests() {
		t.Errorf("torn header: err %v, %d calls", err, n)
	}
	// Damage in the middle is refused.
	n, _, err = run(header + lines[1] + "garbage\n" + lines[2])
	if err == nil || !strings.Contains(err.Error(), "damaged") || n != 0 {
		t.Errorf("damaged journal: err %v, %d calls", err, n)
	}
	// An ack that cannot belong to this plan is refused.
	n, _, err = run(header + `{"g":0,"b":99,"n":50,"sum":"` + strings.Repeat("0", ackSumLen) + `"}` + "\n" + lines[1])
	if !errors.Is(err, ErrJournalMismatch) || n != 0 {
		t.Errorf("foreign ack: err %v, %d calls", err, n)
	}
}

func TestRunFailedBatches(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 100})
	f := newFakeService()
	f.failIDs["17"] = codes.InvalidArgument
	f.failIDs["18"] = codes.Unavailable
	failed := filepath.Join(dir, "plan.failed")
	s, err := (&Runner{Client: startFake(t, f), FailedFile: failed, Workers: 2}).Run(context.Background(), p)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), failed) {
		t.Fatalf("got %v", err)
	}
	want := planned(t, p)
	var failedIDs []string
	for _, b := range allBatches(t, p) {
		if contains(b.IDs, "17") || contains(b.IDs, "18") {
			failedIDs = append(failedIDs, b.IDs...)
		}
	}
	if s.Failed != len(failedIDs) || s.FailedBatches != 2 || s.Classified != 1000-len(failedIDs) || s.FailedFile != failed {
		t.Errorf("summary %+v", s)
	}
	// The failed file is a plan of exactly the failed rows; rerun it once the server
	// accepts them.
	fp := mustLoad(t, failed, Options{})
	got := planned(t, fp)
	if len(got) != len(failedIDs) {
		t.Fatalf("failed file has %d rows, want %d", len(got), len(failedIDs))
	}
	for id, c := range got {
		if want[id] != c {
			t.Errorf("failed file: %s %v, want %v", id, c, want[id])
		}
	}
	f.mu.Lock()
	f.failIDs = map[string]codes.Code{}
	f.mu.Unlock()
	if _, err := (&Runner{Client: startFake(t, f)}).Run(context.Background(), fp); err != nil {
		t.Fatal(err)
	}
	checkState(t, f, want)
}

func TestRunStopsOnRefusedCredentials(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 100})
	f := newFakeService()
	f.fatalAt = 2
	failed := filepath.Join(dir, "plan.failed")
	s, err := (&Runner{Client: startFake(t, f), FailedFile: failed}).Run(context.Background(), p)
	if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "invalid credentials") {
		t.Fatalf("got %v", err)
	}
	f.mu.Lock()
	recv := f.recv
	f.mu.Unlock()
	// The refused request was sent too: the summary counts what the server received.
	if recv != 2 || s.Sent != 2 || s.Classified != 100 || s.Remaining != 900 || s.Failed != 0 {
		t.Errorf("received %d; summary %+v", recv, s)
	}
	if _, err := os.Stat(failed); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed file was written for a stopped job")
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 10})
	f := newFakeService()
	jpath := filepath.Join(dir, "journal")
	s, err := (&Runner{Client: startFake(t, f), Policy: ratelimit.Admin, Journal: jpath}).DryRun(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	recv := f.recv
	f.mu.Unlock()
	if recv != 0 || s.Sent != 0 || !s.DryRun || s.Requests != 100 || s.Estimated != Estimate(ratelimit.Admin, 100, 0) || s.Estimated < time.Minute || s.PolicyRate != 1 {
		t.Errorf("received %d; summary %+v", recv, s)
	}
	if _, err := os.Stat(jpath); !errors.Is(err, os.ErrNotExist) {
		t.Error("dry run created the journal")
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 600), Options{BatchSize: 100})
	f := newFakeService()
	s, err := (&Runner{Client: startFake(t, f), Verify: true}).Run(context.Background(), p)
	if err != nil || s.Verified != 600 || s.Mismatched != 0 || s.VerifyRequests != len(p.Groups) {
		t.Fatalf("err %v summary %+v", err, s)
	}

	// The server keeps interface 5 as something else.
	f2 := newFakeService()
	f2.after = map[string]Classification{"5": {ConnectivityType: ix}}
	failed := filepath.Join(dir, "failed.csv")
	s, err = (&Runner{Client: startFake(t, f2), Verify: true, FailedFile: failed}).Run(context.Background(), p)
	if !errors.Is(err, ErrVerify) || s.Mismatched != 1 || s.Verified != 599 {
		t.Fatalf("err %v summary %+v", err, s)
	}
	got, _ := os.ReadFile(failed)
	if want := "interface_id,connectivity_type,network_boundary,provider\n5," + strings.ReplaceAll(strings.ReplaceAll(groupNames[35%5], "paid_pni", "paid_pni"), ",", ",") + "\n"; string(got) != want {
		t.Errorf("failed file %q, want %q", got, want)
	}
}

func TestEstimate(t *testing.T) {
	mustParse := func(s string) ratelimit.Policy {
		p, err := ratelimit.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		policy   ratelimit.Policy
		requests int
		latency  time.Duration
		want     time.Duration
	}{
		{ratelimit.Off, 1000, 0, 0},
		{ratelimit.Admin, 0, 0, 0},
		{mustParse("10/1s"), 10, 0, 0},
		{mustParse("10/1s"), 21, 0, 2 * time.Second},
		{mustParse("concurrency=1"), 5, time.Second, 5 * time.Second},
		// 20 answered at once, 40 after 1.5 s each, then the 61st also delayed.
		{ratelimit.Admin, 61, 0, 61500 * time.Millisecond},
		// The hourly window of the query policy binds: 1500 an hour.
		{mustParse("100/1m,1500/1h"), 1501, 0, time.Hour},
	} {
		if got := Estimate(tc.policy, tc.requests, tc.latency); got != tc.want {
			t.Errorf("Estimate(%s, %d, %s) = %s, want %s", tc.policy, tc.requests, tc.latency, got, tc.want)
		}
	}
	// Admin: with one call at a time, the soft limit's 1.5 s delays cap the steady rate
	// at 40 a minute, below the hard limit's 60.
	if got := Estimate(ratelimit.Admin, 1000, 0); got < 24*time.Minute || got > 25*time.Minute {
		t.Errorf("admin, 1000 requests: %s", got)
	}
}

// TestJournalInUse: while one job holds a journal, a second job on the same journal is
// refused before it sends anything; once the first ends, the journal is free again (and
// a job killed outright frees it too: the lock dies with the process, see
// cmd/kentik/internal/cli's SIGKILL test).
func TestJournalInUse(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 300), Options{BatchSize: 100})
	jpath := filepath.Join(dir, "journal")
	held, err := openJournal(jpath, p, false)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeService()
	client := startFake(t, f)
	_, err = (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p)
	if !errors.Is(err, ErrJournalInUse) || !strings.Contains(err.Error(), jpath) {
		t.Fatalf("second job on a held journal: %v", err)
	}
	if calls, _, _ := f.snapshot(); calls != 0 {
		t.Fatalf("%d calls sent by the refused job", calls)
	}
	// A dry run only reads the journal: it is not refused.
	if _, err := (&Runner{Client: client, Journal: jpath}).DryRun(context.Background(), p); err != nil {
		t.Errorf("dry run next to a running job: %v", err)
	}
	if err := held.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Runner{Client: client, Journal: jpath}).Run(context.Background(), p); err != nil {
		t.Fatalf("after the first job ended: %v", err)
	}
	if calls, _, _ := f.snapshot(); calls != p.Requests() {
		t.Errorf("%d calls, want %d", calls, p.Requests())
	}
}

// A journal that is not a regular file is refused before anything is read or sent
// (/dev/zero would otherwise be read for ever).
func TestJournalNotRegular(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 10), Options{})
	f := newFakeService()
	for _, path := range []string{dir, os.DevNull} {
		if _, err := (&Runner{Client: startFake(t, f), Journal: path}).Run(context.Background(), p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("journal %s: %v", path, err)
		}
		if _, err := (&Runner{Client: startFake(t, f), Journal: path}).DryRun(context.Background(), p); err == nil {
			t.Errorf("dry run, journal %s: accepted", path)
		}
	}
	if calls, _, _ := f.snapshot(); calls != 0 {
		t.Errorf("%d calls sent", calls)
	}
}

// TestRunShortJobRate: a job whose requests fit in one window of the policy is marked so,
// with no ratio to the long-run rate (which it may exceed many times over without
// violating anything); a longer job gets its ratios.
func TestRunShortJobRate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		n, batch int
		fits     bool
	}{{40, 10, true}, {1, 10, true}, {250, 10, false}} {
		p := mustLoad(t, genPlan(t, dir, tc.n), Options{BatchSize: tc.batch})
		s, err := (&Runner{Client: startFake(t, newFakeService()), Policy: ratelimit.Admin}).Run(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if s.FitsInWindow != tc.fits || (s.RateRatio > 0) == tc.fits || (s.BestRate > 0) == tc.fits {
			t.Errorf("%d requests: fits %v, rate ratio %.1f, best rate %.1f", s.Sent, s.FitsInWindow, s.RateRatio, s.BestRate)
		}
	}
}

// TestVerifyMissing: verification tells an interface the server does not have from one
// that carries another classification: missing ids are counted apart and written to the
// missing file, not to the failed file, where a retry could never succeed.
func TestVerifyMissing(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 600), Options{BatchSize: 100})
	want := planned(t, p)
	newServer := func() *fakeService {
		f := newFakeService()
		f.known = map[string]bool{}
		for id := range want {
			if id != "7" && id != "42" {
				f.known[id] = true
			}
		}
		return f
	}
	read := func(path string) string { b, _ := os.ReadFile(path); return string(b) }
	failed, missing := filepath.Join(dir, "plan.failed"), filepath.Join(dir, "plan.missing")

	// Missing ids only.
	s, err := (&Runner{Client: startFake(t, newServer()), Verify: true, FailedFile: failed, MissingFile: missing}).Run(context.Background(), p)
	if !errors.Is(err, ErrMissing) || errors.Is(err, ErrVerify) || s.Missing != 2 || s.Mismatched != 0 || s.Verified != 598 || s.MissingFile != missing || s.FailedFile != "" {
		t.Fatalf("err %v; summary %+v", err, s)
	}
	if _, err := os.Stat(failed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed file was written for missing interfaces: %v", err)
	}
	rows := mustLoad(t, missing, Options{})
	if got := planned(t, rows); len(got) != 2 || got["7"] != want["7"] || got["42"] != want["42"] {
		t.Errorf("missing file holds %v\n%s", got, read(missing))
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("the error does not name the missing file: %v", err)
	}

	// Missing and mismatched: each in its own file.
	f := newServer()
	f.after = map[string]Classification{"5": {ConnectivityType: ix}}
	os.Remove(missing)
	s, err = (&Runner{Client: startFake(t, f), Verify: true, FailedFile: failed, MissingFile: missing}).Run(context.Background(), p)
	if !errors.Is(err, ErrVerify) || !errors.Is(err, ErrMissing) || s.Missing != 2 || s.Mismatched != 1 || s.Verified != 597 || s.VerifyRequests != len(p.Groups)+1 {
		t.Fatalf("err %v; summary %+v", err, s)
	}
	if got := planned(t, mustLoad(t, failed, Options{})); len(got) != 1 || got["5"] != want["5"] {
		t.Errorf("failed file holds %v", got)
	}
	if got := planned(t, mustLoad(t, missing, Options{})); len(got) != 2 {
		t.Errorf("missing file holds %v", got)
	}

	// Everything there: no extra request, no missing file, and the stale one is removed.
	s, err = (&Runner{Client: startFake(t, newFakeService()), Verify: true, FailedFile: failed, MissingFile: missing}).Run(context.Background(), p)
	if err != nil || s.Missing != 0 || s.VerifyRequests != len(p.Groups) {
		t.Fatalf("err %v; summary %+v", err, s)
	}
	for _, path := range []string{failed, missing} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after a run that classified everything: %v", path, err)
		}
	}
}
