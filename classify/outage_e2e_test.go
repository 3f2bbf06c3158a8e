package classify_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// Compressed time for the outage tests: the client retries after 20, 40, 80 and 160 ms
// (not 250 ms to 2 s), and the job probes after 50, 100, 200, then every 250 ms (not
// 1 s to 10 s).
var (
	fastRetry = kentik.RetryPolicy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	fastProbe = kentik.RetryPolicy{Initial: 50 * time.Millisecond, Max: 250 * time.Millisecond}
)

// outageFake starts kentiktest with n interfaces under policy, calling atCall with the
// number of each ManualClassify call it receives, and a client for it.
func outageFake(t *testing.T, n int, policy ratelimit.Policy, atCall func(srv *kentiktest.Server, n int)) (*kentiktest.Server, *client.Client, *atomic.Int64) {
	t.Helper()
	var (
		self  atomic.Pointer[kentiktest.Server]
		calls atomic.Int64
	)
	hook := func(r kentiktest.Request) {
		if r.Method == "ManualClassify" && atCall != nil {
			atCall(self.Load(), int(calls.Add(1)))
		}
	}
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(n, 7), kentiktest.WithPolicy(policy), kentiktest.WithRequestHook(hook))
	self.Store(srv)
	var retries atomic.Int64
	c, err := client.New(context.Background(),
		client.WithEndpoint(srv.GRPCAddr()), client.WithPlaintext(),
		client.WithCredentials(srv.Credentials()), client.WithRateLimit(policy), client.WithRetry(fastRetry),
		client.WithOnRetry(func(kentik.RetryEvent) { retries.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c, &retries
}

// checkClassified fails unless every interface of srv carries the classification
// planFor gave it.
func checkClassified(t *testing.T, srv *kentiktest.Server) {
	t.Helper()
	want := map[int]string{}
	for i, g := range e2eGroups {
		p, err := classify.Load(context.Background(), writeOneRow(t, g), classify.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = p.Groups[0].Classification.String()
		p.Close()
	}
	bad := 0
	for i, id := range srv.InterfaceIDs() {
		in, _ := srv.Interface(id)
		got := classify.Classification{ConnectivityType: in.GetConnectivityType(), NetworkBoundary: in.GetNetworkBoundary(), Provider: in.GetProvider()}
		if got.String() != want[i%len(e2eGroups)] {
			if bad++; bad < 5 {
				t.Errorf("interface %s: %s, want %s", id, got, want[i%len(e2eGroups)])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d interfaces wrong", bad)
	}
}

func writeOneRow(t *testing.T, group string) string {
	path := filepath.Join(t.TempDir(), "one.csv")
	if err := os.WriteFile(path, []byte("interface_id,connectivity_type,network_boundary,provider\n1,"+group+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// journalAcks counts the acknowledgements in a journal (its lines after the header).
func journalAcks(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := -1
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

// handled is how many ManualClassify calls reached the fake's handler: those received
// less those it refused (the outage's, and any rate-limit rejection: the client paces
// to the same policy, but the two clocks may disagree at a window's edge). In
// OutageRefuse mode, calls cut off with their connection count as received: whether
// they were applied is unknown, as with Kentik.
func handled(st kentiktest.Stats) int {
	n := st.GRPC.Calls["ManualClassify"]
	for _, r := range st.GRPC.Rejected {
		n -= r // the tests that use it make no other calls
	}
	return n
}

// TestOutageMidJob: a 200-batch job, four calls in flight, through an outage in its
// middle (after the fake received 100 ManualClassify calls), in both of the fake's
// modes. The issue asks for 5 s; 2 s at compressed time (client retries and probes
// 12 times faster than by default) keeps the test short. The job ends without error,
// every interface right, no batch failed, each batch journaled once, and the fake
// handled at most the four batches in flight twice.
func TestOutageMidJob(t *testing.T) {
	const outage = 2 * time.Second
	policy, err := ratelimit.Parse("concurrency=4,100/1s")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []kentiktest.OutageMode{kentiktest.OutageUnavailable, kentiktest.OutageRefuse} {
		t.Run(mode.String(), func(t *testing.T) {
			var once sync.Once
			var began atomic.Int64
			srv, c, retries := outageFake(t, 2000, policy, func(srv *kentiktest.Server, n int) {
				if n == 100 {
					once.Do(func() {
						began.Store(time.Now().UnixNano())
						srv.Outage(outage, mode)
					})
				}
			})
			dir := t.TempDir()
			p, err := classify.Load(context.Background(), planFor(t, srv), classify.Options{BatchSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			journal := filepath.Join(dir, "journal")
			var maxUnreachable time.Duration
			r := &classify.Runner{Client: c.Interfaces(), Policy: policy, Retries: retries.Load,
				Journal: journal, FailedFile: filepath.Join(dir, "plan.failed"),
				OutageBudget: classify.DefaultOutageBudget, OutageProbe: fastProbe,
				Progress: func(pr classify.Progress) { maxUnreachable = max(maxUnreachable, pr.Unreachable) }}
			s, err := r.Run(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if began.Load() == 0 {
				t.Fatal("the outage never began")
			}
			st := srv.Stats()
			t.Logf("%s outage of %v: the job saw %d outage(s), %.2f s in all (at most %v unreachable at once); %d requests sent again, %d client retries; the fake handled %d ManualClassify calls for %d batches, refused %d; job %.2f s",
				mode, outage, s.Outages, s.OutageSec, maxUnreachable.Round(time.Millisecond), s.Resent, *s.Retries, handled(st), p.Requests(), st.GRPC.Rejected[kentiktest.RejectOutage], s.ElapsedSec)
			if p.Requests() != 200 || s.FailedBatches != 0 || s.Classified != 2000 || s.Sent != 200 {
				t.Errorf("summary %+v", s)
			}
			if s.Outages < 1 || s.OutageTime < outage/2 || s.OutageTime > outage+3*time.Second || s.Resent < 1 {
				t.Errorf("outages %d, %v; %d sent again", s.Outages, s.OutageTime, s.Resent)
			}
			if n := journalAcks(t, journal); n != 200 {
				t.Errorf("the journal holds %d acknowledgements for 200 batches", n)
			}
			if h := handled(st); h < 200 || h > 200+policy.Concurrency {
				t.Errorf("the fake handled %d ManualClassify calls for 200 batches, %d in flight at most", h, policy.Concurrency)
			}
			checkClassified(t, srv)
		})
	}
}

// TestOutageOutlastsBudgetEndToEnd: Kentik goes away after 60 calls and stays away
// longer than the budget. The job stops with ErrOutage, the rows not classified in the
// failed file; once Kentik is back, the journal finishes the job.
func TestOutageOutlastsBudgetEndToEnd(t *testing.T) {
	policy, err := ratelimit.Parse("concurrency=1,100/1s")
	if err != nil {
		t.Fatal(err)
	}
	srv, c, _ := outageFake(t, 2000, policy, func(srv *kentiktest.Server, n int) {
		if n == 60 {
			srv.Outage(time.Hour, kentiktest.OutageUnavailable)
		}
	})
	dir := t.TempDir()
	p, err := classify.Load(context.Background(), planFor(t, srv), classify.Options{BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	journal, failed := filepath.Join(dir, "journal"), filepath.Join(dir, "plan.failed")
	r := &classify.Runner{Client: c.Interfaces(), Policy: policy, Journal: journal, FailedFile: failed,
		OutageBudget: 500 * time.Millisecond, OutageProbe: fastProbe}
	s, err := r.Run(context.Background(), p)
	if !errors.Is(err, classify.ErrOutage) {
		t.Fatalf("got %v", err)
	}
	t.Logf("stopped after %.2f s: %d classified, %d in failed batches, %d not sent; outage %.2f s", s.ElapsedSec, s.Classified, s.Failed, s.Remaining, s.OutageSec)
	fp, err := classify.Load(context.Background(), failed, classify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fp.Close()
	acks := journalAcks(t, journal)
	if s.Classified != 590 || s.Classified+s.Failed+s.Remaining != 2000 || fp.Interfaces != 2000-s.Classified || acks != 59 {
		t.Errorf("summary %+v; failed file %d interfaces, journal %d acknowledgements", s, fp.Interfaces, acks)
	}
	srv.Outage(0, 0)
	s, err = (&classify.Runner{Client: c.Interfaces(), Policy: policy, Journal: journal, FailedFile: failed,
		OutageBudget: classify.DefaultOutageBudget, OutageProbe: fastProbe}).Run(context.Background(), p)
	if err != nil || s.AlreadyDone != 590 || s.Classified != 1410 || s.Sent != 141 {
		t.Fatalf("resumed: %v, %+v", err, s)
	}
	if h := handled(srv.Stats()); h != 200 {
		t.Errorf("the fake handled %d ManualClassify calls for 200 batches (%v)", h, srv.Stats().GRPC.Rejected)
	}
	checkClassified(t, srv)
}

// TestOutageRandomUnavailable: 20 runs of a 200-batch job while 20 % of ManualClassify
// calls fail UNAVAILABLE, each with its own fault seed. The client retries each call up
// to 5 times (kentik.DefaultRetryPolicy's attempts, at compressed time), so about one
// call in 3000 still fails; without an outage budget that failed a batch in about 6 %
// of runs (with these seeds, runs 4 and 13: one call at a time makes each run's faults
// the same every time). With it, every run ends with 0 failed batches.
func TestOutageRandomUnavailable(t *testing.T) {
	const runs = 20
	var resent, outages, failedRuns int
	var retries int64
	for run := range runs {
		srv := kentiktest.Start(t, kentiktest.WithInterfaces(2000, 7), kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithFaultSeed(int64(run+1)))
		if err := srv.SetErrorRate("ManualClassify", codes.Unavailable, 0.2); err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		c, err := client.New(context.Background(), client.WithEndpoint(srv.GRPCAddr()), client.WithPlaintext(),
			client.WithCredentials(srv.Credentials()), client.WithRateLimit(ratelimit.Off),
			client.WithRetry(kentik.RetryPolicy{Initial: time.Millisecond, Max: 10 * time.Millisecond}),
			client.WithOnRetry(func(kentik.RetryEvent) { n.Add(1) }))
		if err != nil {
			t.Fatal(err)
		}
		p, err := classify.Load(context.Background(), planFor(t, srv), classify.Options{BatchSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		r := &classify.Runner{Client: c.Interfaces(), Policy: ratelimit.Off, Retries: n.Load,
			OutageBudget: classify.DefaultOutageBudget, OutageProbe: kentik.RetryPolicy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}}
		s, err := r.Run(context.Background(), p)
		if err != nil || s.FailedBatches != 0 || s.Classified != 2000 {
			failedRuns++
			t.Errorf("run %d: %v; %d failed batches", run+1, err, s.FailedBatches)
		}
		resent += s.Resent
		outages += s.Outages
		retries += *s.Retries
		p.Close()
		c.Close()
		srv.Close()
	}
	t.Logf("%d runs of 200 batches under 20%% UNAVAILABLE: %d with failed batches; %d client retries, %d requests sent again by the job through %d outages",
		runs, failedRuns, retries, resent, outages)
	if resent == 0 {
		t.Error("no run needed to send a request again: the fault seeds do not exercise the outage budget")
	}
}
