package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/kentiktest"
)

func TestProgressOutage(t *testing.T) {
	during := classify.Progress{Interfaces: 100, Done: 40, Requests: 4, TotalRequests: 10, FailedRequests: 0,
		Unreachable: 35 * time.Second, RetryEvery: 8 * time.Second, Outages: 1, OutageTime: 35 * time.Second}
	if got, _ := (&progressPrinter{}).outageLine(during); got != "classify: Kentik unreachable for 35 s, retrying every 8 s; 0 batches lost (40/100 interfaces done)" {
		t.Errorf("outage line %q", got)
	}
	// Log lines: the outage's start and end at once, between them one line per interval.
	var b bytes.Buffer
	pp := &progressPrinter{W: &b, Every: time.Hour}
	pp.Report(classify.Progress{Interfaces: 100, Done: 30, Requests: 3, TotalRequests: 10}) // the first line waits an interval
	first := during
	first.Unreachable, first.RetryEvery, first.OutageTime = 3400*time.Millisecond, 0, 3400*time.Millisecond
	pp.Report(first)
	pp.Report(during) // throttled
	after := classify.Progress{Interfaces: 100, Done: 50, Requests: 5, TotalRequests: 10, Outages: 1, OutageTime: 36 * time.Second}
	pp.Report(after)
	after.Done, after.Requests, after.Final = 100, 10, true
	pp.Report(after)
	want := "classify: Kentik unreachable for 3.4 s; 0 batches lost (40/100 interfaces done)\n" +
		"classify: Kentik reachable again after 36 s; 0 batches lost, resuming\n" +
		"classify: 100/100 interfaces (100%), 10/10 requests, 0.0 req/s, 0 failed, done in 0s\n"
	if b.String() != want {
		t.Errorf("log lines:\n%s\nwant:\n%s", b.String(), want)
	}
	// A terminal redraws its line with the outage's state.
	b.Reset()
	stderr := newConsole(&b)
	pp = newProgressPrinter(stderr, true)
	pp.Report(during)
	if !strings.Contains(b.String(), "\r\x1b[Kclassify: Kentik unreachable for 35 s, retrying every 8 s") {
		t.Errorf("tty: %q", b.String())
	}
	// A line of its own on stderr (the demo's outage messages) clears the status line
	// first.
	b.Reset()
	fmt.Fprintln(stderr, "kentik fake: outage over")
	fmt.Fprintln(stderr, "again")
	if b.String() != "\r\x1b[Kkentik fake: outage over\nagain\n" {
		t.Errorf("tty, another line: %q", b.String())
	}
	for d, want := range map[time.Duration]string{400 * time.Millisecond: "0.4 s", time.Second: "1 s", 9960 * time.Millisecond: "10 s", 35 * time.Second: "35 s", 10 * time.Minute: "600 s"} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q, want %q", d, got, want)
		}
	}
}

// startOutageFake starts kentiktest with n interfaces for the classify command, calling
// atCall with the number of each ManualClassify call it receives.
func startOutageFake(t *testing.T, n int, atCall func(srv *kentiktest.Server, n int)) (*kentiktest.Server, map[string]string) {
	t.Helper()
	var self atomic.Pointer[kentiktest.Server]
	var calls atomic.Int64
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(n, 3), kentiktest.WithPolicy(classifyPolicy),
		kentiktest.WithRequestHook(func(r kentiktest.Request) {
			if r.Method == "ManualClassify" {
				atCall(self.Load(), int(calls.Add(1)))
			}
		}))
	self.Store(srv)
	c := srv.Credentials()
	return srv, map[string]string{
		"KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(),
		"KENTIK_EMAIL":         c.Email,
		"KENTIK_API_TOKEN":     c.Token,
		"KENTIK_RATE_LIMIT":    classifyPolicy.String(),
	}
}

// outageSummary is the part of the -o json summary these tests read.
type outageSummary struct {
	Classified      int     `json:"classified"`
	FailedBatches   int     `json:"failed_batches"`
	Remaining       int     `json:"remaining"`
	Sent            int     `json:"requests_sent"`
	Outages         int     `json:"outages"`
	OutageSeconds   float64 `json:"outage_seconds"`
	Resent          int     `json:"requests_resent"`
	OutageBudgetSec float64 `json:"outage_budget_seconds"`
	Retries         int     `json:"retries"`
	Error           string  `json:"error"`
}

// TestClassifyRidesOutOutage: a 5 s outage (every call UNAVAILABLE) in the middle of a
// 200-batch job (after the fake received 100 ManualClassify calls), at the command's own
// retry and probe settings (real time), its limits at 100x: exit 0, no batch failed,
// every interface classified (read from the fake), each batch journaled once, the fake
// handled at most the one batch in flight twice, and the outage is told on stderr and in
// the summary.
func TestClassifyRidesOutOutage(t *testing.T) {
	const outage = 5 * time.Second
	var once sync.Once
	srv, env := startOutageFake(t, 2000, func(srv *kentiktest.Server, n int) {
		if n == 100 {
			once.Do(func() { srv.Outage(outage, kentiktest.OutageUnavailable) })
		}
	})
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	journal := filepath.Join(t.TempDir(), "journal")
	code, stdout, stderr := runKentik(t, env, nil, "--plaintext", "-o", "json", "interfaces", "classify",
		"--file", plan, "--batch-size", "10", "--journal", journal)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	var s outageSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	t.Logf("a %v outage: the job waited %.2f s out in %d outage(s), sent %d requests again, the client retried %d times", outage, s.OutageSeconds, s.Outages, s.Resent, s.Retries)
	if s.Classified != 2000 || s.FailedBatches != 0 || s.Sent != 200 || s.OutageBudgetSec != 600 ||
		s.Outages != 1 || s.OutageSeconds < outage.Seconds()-1 || s.OutageSeconds > outage.Seconds()+5 || s.Resent < 1 {
		t.Errorf("summary %+v", s)
	}
	for _, want := range []string{"classify: Kentik unreachable for ", "; 0 batches lost (", "classify: Kentik reachable again after "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for i, id := range srv.InterfaceIDs() {
		if in, _ := srv.Interface(id); i%2 == 0 && in.GetProvider() != "Acme" || i%2 == 1 && in.GetProvider() != "DE-CIX" {
			t.Fatalf("interface %s: %v", id, in)
		}
	}
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if acks := strings.Count(string(data), "\n") - 1; acks != 200 {
		t.Errorf("the journal holds %d acknowledgements for 200 batches", acks)
	}
	// Received less refused (by the outage, or at a window's edge, where the fake's clock
	// and the client's may disagree): the calls that reached the handler.
	st := srv.Stats().GRPC
	h := st.Calls["ManualClassify"]
	for _, n := range st.Rejected {
		h -= n
	}
	if h < 200 || h > 200+classifyPolicy.Concurrency {
		t.Errorf("the fake handled %d ManualClassify calls for 200 batches (%v)", h, st)
	}
}

// TestClassifyOutageBudgetSpent: an outage longer than --outage-budget stops the job
// with exit 1, the rows not classified in the failed file and a hint; once the fake is
// back, the same command finishes the job from the journal.
func TestClassifyOutageBudgetSpent(t *testing.T) {
	srv, env := startOutageFake(t, 400, func(srv *kentiktest.Server, n int) {
		if n == 10 {
			srv.Outage(time.Hour, kentiktest.OutageUnavailable)
		}
	})
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	args := []string{"--plaintext", "-o", "json", "interfaces", "classify", "--file", plan, "--batch-size", "10",
		"--journal", filepath.Join(t.TempDir(), "journal"), "--outage-budget", "1s"}
	code, stdout, stderr := runKentik(t, env, nil, args...)
	var s outageSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || code != 1 {
		t.Fatalf("exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if s.Classified != 90 || s.Outages != 1 || s.OutageSeconds < 1 || !strings.Contains(s.Error, "outage budget") {
		t.Errorf("summary %+v", s)
	}
	if !strings.Contains(stderr, "--outage-budget 1s: allow a longer --outage-budget") || !strings.Contains(stderr, plan+".failed") {
		t.Errorf("stderr:\n%s", stderr)
	}
	failed, err := classify.Load(t.Context(), plan+".failed", classify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	failed.Close()
	if failed.Interfaces != 310 {
		t.Errorf("the failed file holds %d interfaces, want 310", failed.Interfaces)
	}
	srv.Outage(0, 0)
	code, stdout, stderr = runKentik(t, env, nil, args...)
	s = outageSummary{}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || code != 0 || s.Classified != 310 || s.Sent != 31 {
		t.Errorf("resumed: exit %d, %v, %+v\n%s", code, err, s, stderr)
	}
	if _, err := os.Stat(plan + ".failed"); !errors.Is(err, os.ErrNotExist) {
		t.Error("the failed file is still there after the job finished")
	}
	if code, _, stderr := runKentik(t, env, nil, "--plaintext", "interfaces", "classify", "--file", plan, "--outage-budget", "-1s"); code != ExitUsage {
		t.Errorf("--outage-budget -1s: exit %d\n%s", code, stderr)
	}
}

func TestFakeOutage(t *testing.T) {
	creds := kentik.Credentials{Email: kentiktest.DefaultEmail, Token: kentiktest.DefaultToken}
	addr, _, out := runFakeCommand(t, nil, "--interfaces", "10", "--rate-limit", "off", "--outage-for", "1h")
	if !strings.Contains(out.String(), "outage                 unavailable for 1h0m0s, 0s after the start") {
		t.Errorf("banner:\n%s", out.String())
	}
	for i := 0; !strings.Contains(out.String(), "kentik fake: outage (unavailable) for 1h0m0s"); i++ {
		if i == 500 {
			t.Fatalf("the outage never began:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := fakeListInterfaces(t, addr, creds); status.Code(err) != codes.Unavailable {
		t.Errorf("during the outage: %v", err)
	}

	addr, _, out = runFakeCommand(t, nil, "--interfaces", "10", "--rate-limit", "off",
		"--outage-after", "100ms", "--outage-for", "300ms", "--outage-mode", "refuse")
	for i := 0; !strings.Contains(out.String(), "kentik fake: outage over"); i++ {
		if i == 500 {
			t.Fatalf("the outage never ended:\n%s", out.String())
		}
		if strings.Contains(out.String(), "kentik fake: outage (refuse)") {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close() // the outage may have ended meanwhile
			} else if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("dial during the outage: %v", err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := fakeListInterfaces(t, addr, creds); err != nil {
		t.Errorf("after the outage: %v", err)
	}

	for name, args := range map[string][]string{
		"after without for": {"fake", "--outage-after", "1s"},
		"negative":          {"fake", "--outage-for", "-1s"},
		"unknown mode":      {"fake", "--outage-for", "1s", "--outage-mode", "down"},
		"demo, bad mode":    {"demo", "--outage-for", "1s", "--outage-mode", "down"},
	} {
		if code, _, stderr := runKentik(t, nil, nil, args...); code != ExitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", name, code, ExitUsage, stderr)
		}
	}
}

// The demo with an outage shorter than the client's retries: the client rides it out,
// and the fake's view counts the calls it refused apart from rate-limit rejections.
func TestDemoOutage(t *testing.T) {
	code, stdout, stderr := runKentik(t, nil, nil, "demo", "--interfaces", "600", "--batch-size", "20", "--speedup", "100",
		"--outage-after", "100ms", "--outage-for", "500ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"the fake will play an outage: unavailable for 500ms, 100ms after the start", "refused by the outage", "rejections             0", "600 confirmed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
}
