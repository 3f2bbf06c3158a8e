package classify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// fastProbe is the outage probes' backoff at compressed time, without jitter: 5, 10,
// then 20 ms.
var fastProbe = kentik.RetryPolicy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2, Jitter: -1}

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"unavailable", status.Error(codes.Unavailable, "connection refused"), true},
		{"call deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), true},
		{"rate limit", status.Error(codes.ResourceExhausted, "rate limit exceeded"), true},
		{"long push-back", &ratelimit.PushBackError{Wait: time.Hour, Max: time.Minute, Err: status.Error(codes.ResourceExhausted, "slow down")}, true},
		{"limiter refusal", fmt.Errorf("wrapped: %w", &ratelimit.WaitError{Wait: time.Second, Policy: "admin", Cause: context.DeadlineExceeded}), true},
		{"stream reset", status.Error(codes.ResourceExhausted, "stream terminated by RST_STREAM with error code: ENHANCE_YOUR_CALM"), true},
		{"message size", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"), false},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad id"), false},
		{"not found", status.Error(codes.NotFound, "no such interface"), false},
		{"unauthenticated", status.Error(codes.Unauthenticated, "invalid credentials"), false},
		{"permission denied", status.Error(codes.PermissionDenied, "no"), false},
		{"canceled", context.Canceled, false},
		{"internal", status.Error(codes.Internal, "bug"), false},
		{"not a status", errors.New("something"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("%s: transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// The wait before a probe is the backoff, or the server's push-back when longer, but
// never past the budget.
func TestOutageProbeSchedule(t *testing.T) {
	o := newOutageState(&Runner{OutageBudget: time.Second, OutageProbe: fastProbe})
	now := time.Now()
	o.begin(now)
	defer o.stopTimers()
	var got []time.Duration
	for range 4 {
		o.schedule(now, status.Error(codes.Unavailable, "down"))
		o.probes++
		got = append(got, o.every)
	}
	if want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backoff %v, want %v", got, want)
	}
	o.schedule(now, &ratelimit.PushBackError{Wait: 300 * time.Millisecond})
	if o.every != 300*time.Millisecond {
		t.Errorf("with a push-back of 300ms: %v", o.every)
	}
	o.schedule(now.Add(900*time.Millisecond), &ratelimit.PushBackError{Wait: time.Hour})
	if o.every != 100*time.Millisecond {
		t.Errorf("100ms before the budget's end, with a push-back of an hour: %v", o.every)
	}
	if (&Runner{}).OutageProbe != (kentik.RetryPolicy{}) || newOutageState(&Runner{}).policy != DefaultOutageProbe {
		t.Error("the zero OutageProbe is not DefaultOutageProbe")
	}
}

// downBetween fails the calls from first to last (1-based) UNAVAILABLE, unapplied.
func downBetween(first, last int) func(int) codes.Code {
	return func(n int) codes.Code {
		if n >= first && n <= last {
			return codes.Unavailable
		}
		return codes.OK
	}
}

// TestOutageWaitedOut: ten calls in a row fail UNAVAILABLE after the client (here: none)
// gave up. With an outage budget the job stops sending, probes one call at a time on a
// growing backoff, resumes at full pace after the first answer, and fails nothing;
// without one, the batches sent during the outage fail.
func TestOutageWaitedOut(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 50}) // 20 batches
	f := newFakeService()
	f.down = downBetween(3, 12)
	var reports []Progress
	r := &Runner{Client: startFake(t, f), OutageBudget: time.Minute, OutageProbe: fastProbe,
		Journal: filepath.Join(dir, "journal"), FailedFile: filepath.Join(dir, "plan.failed"),
		Progress: func(pr Progress) { reports = append(reports, pr) }}
	s, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	calls, perID, _ := f.snapshot()
	if calls != 20 || f.recv != 30 || s.Sent != 20 || s.Resent != 10 || s.FailedBatches != 0 || s.Classified != 1000 || s.Outages != 1 {
		t.Errorf("server: %d applied, %d received; summary %+v", calls, f.recv, s)
	}
	// The ten probes waited 5, 10, then 20 ms each: 175 ms at least.
	if s.OutageTime < 175*time.Millisecond || s.OutageTime > 5*time.Second || s.OutageSec != s.OutageTime.Seconds() {
		t.Errorf("outage time %v", s.OutageTime)
	}
	for id, n := range perID {
		if n != 1 {
			t.Errorf("id %s applied %d times", id, n)
		}
	}
	checkState(t, f, planned(t, p))
	if _, err := os.Stat(r.FailedFile); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed file was written")
	}
	// What the progress said during the outage: the probes' backoff grew to its cap,
	// Kentik's unreachable time grew, and nothing was lost.
	var every []time.Duration
	var last time.Duration
	for _, pr := range reports {
		if pr.Unreachable == 0 {
			continue
		}
		if pr.Unreachable < last || pr.Failed != 0 || pr.Outages != 1 || pr.OutageTime < pr.Unreachable {
			t.Errorf("progress during the outage: %+v", pr)
		}
		last = pr.Unreachable
		if len(every) == 0 || every[len(every)-1] != pr.RetryEvery {
			every = append(every, pr.RetryEvery)
		}
	}
	if fmt.Sprint(every) != "[5ms 10ms 20ms]" {
		t.Errorf("probe backoff reported %v", every)
	}
	if final := reports[len(reports)-1]; !final.Final || final.Unreachable != 0 || final.Resent != 10 || final.OutageTime != s.OutageTime {
		t.Errorf("final report %+v", final)
	}

	// With four calls in flight, those in flight when Kentik went away fail too, and an
	// answer to a call sent after the first failure ends an outage (the fake numbers
	// calls as they arrive, not as they were sent, so calls 1 and 2 may end up to two
	// outages). Then the probes go one at a time: of 20 failed calls, at most 12 come in
	// bursts of 4, and each of the last ones came at least one backoff (5 ms) after the
	// one before.
	f4 := newFakeService()
	f4.down = downBetween(3, 22)
	s, err = (&Runner{Client: startFake(t, f4), Workers: 4, OutageBudget: time.Minute, OutageProbe: fastProbe}).Run(context.Background(), p)
	if err != nil || s.FailedBatches != 0 || s.Resent != 20 || s.Outages < 1 || s.Outages > 3 {
		t.Errorf("four workers: %v, %+v", err, s)
	}
	for i := 15; i < 22; i++ { // calls 16 to 22, 1-based
		if gap := f4.times[i].Sub(f4.times[i-1]); gap < 5*time.Millisecond {
			t.Errorf("four workers: call %d came %v after call %d, during the outage", i+1, gap, i)
		}
	}

	// Without a budget, the same outage fails the batches sent during it.
	f2 := newFakeService()
	f2.down = downBetween(3, 12)
	s, err = (&Runner{Client: startFake(t, f2)}).Run(context.Background(), p)
	if !errors.Is(err, ErrFailed) || s.FailedBatches != 10 || s.Outages != 0 || s.Resent != 0 || s.OutageBudgetSec != 0 {
		t.Errorf("without a budget: %v, %+v", err, s)
	}
}

// TestOutageOutlastsBudget: Kentik goes away for good after five calls. The job stops
// once the budget is spent, with every row not classified in the failed file and a
// journal that finishes the job once Kentik is back.
func TestOutageOutlastsBudget(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 50})
	f := newFakeService()
	f.down = downBetween(6, 1<<30)
	jpath, failed := filepath.Join(dir, "journal"), filepath.Join(dir, "plan.failed")
	r := &Runner{Client: startFake(t, f), OutageBudget: 200 * time.Millisecond, OutageProbe: fastProbe, Journal: jpath, FailedFile: failed}
	t0 := time.Now()
	s, err := r.Run(context.Background(), p)
	took := time.Since(t0)
	if !errors.Is(err, ErrOutage) || !strings.Contains(err.Error(), failed) || !strings.Contains(err.Error(), jpath) {
		t.Fatalf("got %v", err)
	}
	if took < 200*time.Millisecond || took > 10*time.Second || s.OutageTime < 200*time.Millisecond || s.Outages != 1 {
		t.Errorf("stopped after %v, outage %v", took, s.OutageTime)
	}
	f.mu.Lock()
	recv := f.recv
	f.mu.Unlock()
	if s.Classified != 250 || s.Failed+s.Remaining != 750 || s.FailedBatches == 0 || s.Remaining == 0 ||
		s.Sent+s.Resent != recv || s.FailedFile != failed || s.Error != err.Error() {
		t.Errorf("received %d; summary %+v", recv, s)
	}
	// The failed file is a plan of exactly the rows not classified.
	want := planned(t, p)
	fp := mustLoad(t, failed, Options{})
	got := planned(t, fp)
	_, perID, _ := f.snapshot()
	if len(got) != 750 {
		t.Errorf("the failed file holds %d interfaces, want 750", len(got))
	}
	for id, c := range got {
		if want[id] != c || perID[id] != 0 {
			t.Errorf("failed file: %s %v (applied %d times), want %v", id, c, perID[id], want[id])
		}
	}
	// Kentik is back: the journal finishes the job, sending each remaining batch once.
	f.mu.Lock()
	f.down = nil
	f.mu.Unlock()
	s, err = (&Runner{Client: startFake(t, f), OutageBudget: time.Minute, Journal: jpath, FailedFile: failed}).Run(context.Background(), p)
	if err != nil || s.AlreadyDone != 250 || s.Classified != 750 || s.Sent != 15 || s.Resent != 0 || len(s.RemovedFiles) != 1 {
		t.Fatalf("resumed: %v, %+v", err, s)
	}
	_, perID, _ = f.snapshot()
	for id := range want {
		if perID[id] != 1 {
			t.Errorf("id %s applied %d times", id, perID[id])
		}
	}
	checkState(t, f, want)
}

// A batch that alone keeps failing transiently while Kentik answers the others is given
// up after maxLoneFailures tries, and the job goes on.
func TestOutageLoneBatchGivenUp(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 50})
	f := newFakeService()
	f.failIDs["18"] = codes.Unavailable
	failed := filepath.Join(dir, "plan.failed")
	s, err := (&Runner{Client: startFake(t, f), OutageBudget: time.Minute, OutageProbe: fastProbe, FailedFile: failed}).Run(context.Background(), p)
	if !errors.Is(err, ErrFailed) || s.FailedBatches != 1 || s.Failed != 50 || s.Classified != 950 || s.Outages != maxLoneFailures-1 {
		t.Fatalf("%v; summary %+v", err, s)
	}
	got := planned(t, mustLoad(t, failed, Options{}))
	if _, ok := got["18"]; !ok || len(got) != 50 {
		t.Errorf("failed file: %d rows, id 18 there: %v", len(got), ok)
	}
}

// Interrupting a job that waits an outage out ends it at once, resumable.
func TestOutageInterrupted(t *testing.T) {
	dir := t.TempDir()
	p := mustLoad(t, genPlan(t, dir, 1000), Options{BatchSize: 100})
	f := newFakeService()
	f.down = downBetween(3, 1<<30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	failed := filepath.Join(dir, "plan.failed")
	r := &Runner{Client: startFake(t, f), OutageBudget: time.Hour, OutageProbe: kentik.RetryPolicy{Initial: time.Hour},
		Journal: filepath.Join(dir, "journal"), FailedFile: failed,
		Progress: func(pr Progress) {
			if pr.Unreachable > 0 {
				cancel()
			}
		}}
	t0 := time.Now()
	s, err := r.Run(ctx, p)
	if !errors.Is(err, context.Canceled) || time.Since(t0) > 5*time.Second {
		t.Fatalf("%v after %v", err, time.Since(t0))
	}
	if s.Classified != 200 || s.Remaining != 800 || s.Failed != 0 || s.Outages != 1 {
		t.Errorf("summary %+v", s)
	}
	if _, err := os.Stat(failed); !errors.Is(err, os.ErrNotExist) {
		t.Error("an interrupted job wrote a failed file")
	}
}
