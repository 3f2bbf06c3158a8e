package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// The kill tests run the kentik command in a child process, the test binary itself
// re-executed into TestHelperKentikProcess, so that SIGKILL hits a real process with a
// real journal file and a real gRPC connection, and nothing of the killed run survives in
// this process.
const (
	helperEnv     = "KENTIK_TEST_HELPER"      // "1" in the child
	helperArgsEnv = "KENTIK_TEST_HELPER_ARGS" // the command's arguments, a JSON array
)

// TestHelperKentikProcess is the child process of the kill tests: it runs Main with the
// arguments in KENTIK_TEST_HELPER_ARGS and exits with its code. It skips in a normal run.
func TestHelperKentikProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the kentik child process of TestClassifyKill*; runs only when re-executed by them")
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(helperArgsEnv)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "helper: %s: %v\n", helperArgsEnv, err)
		os.Exit(3)
	}
	os.Exit(Main(context.Background(), args, os.Stdin, os.Stdout, os.Stderr))
}

// childTimeout bounds every child process, killed or not.
const childTimeout = 60 * time.Second

// kentikProcess is a running child `kentik` process.
type kentikProcess struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer // read only after done is closed
	done           chan struct{}
	err            error // Wait's error, set before done is closed
}

// startKentik starts the kentik command in a child process with env added to a copy of
// this process's environment stripped of KENTIK_* and KTAPI_* variables. The child is
// killed when the test ends if it is still running.
func startKentik(t *testing.T, env map[string]string, args ...string) *kentikProcess {
	t.Helper()
	return startKentikStdin(t, env, strings.NewReader(""), args...)
}

// startKentikStdin is startKentik with stdin as the child's standard input.
func startKentikStdin(t *testing.T, env map[string]string, stdin io.Reader, args ...string) *kentikProcess {
	t.Helper()
	argv, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	p := &kentikProcess{done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperKentikProcess$", "-test.count=1")
	p.cmd.WaitDelay = 5 * time.Second
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KENTIK_") && !strings.HasPrefix(kv, "KTAPI_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, helperEnv+"=1", helperArgsEnv+"="+string(argv))
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdin = stdin
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting the kentik child process: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // an error means it has exited already
		<-p.done
	})
	return p
}

// wait waits for the child to exit (at most childTimeout, then the context kills it)
// and returns its exit code; -1 means it was killed by a signal.
func (p *kentikProcess) wait(t *testing.T) int {
	t.Helper()
	<-p.done
	if p.err != nil && p.cmd.ProcessState == nil {
		t.Fatalf("kentik child process: %v", p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// runKentikChild runs the kentik command in a child process to its end.
func runKentikChild(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startKentik(t, env, args...)
	code = p.wait(t)
	return code, p.stdout.String(), p.stderr.String()
}

// journalAcks returns the complete acknowledgement lines of a classify journal (every
// line after the header that ends with a newline), in file order; nil when the file does
// not exist yet.
func journalAcks(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var acks []string
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if i == 0 || !strings.HasSuffix(line, "\n") {
			continue // the header, or a line still being written
		}
		acks = append(acks, strings.TrimSuffix(line, "\n"))
	}
	return acks
}

// settledCalls waits until the fake's ManualClassify count has stopped moving (a request
// the killed process had written may still be on its way) and returns it.
func settledCalls(t *testing.T, srv *kentiktest.Server) int {
	t.Helper()
	last, stable := -1, 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n := srv.Stats().GRPC.Calls["ManualClassify"]
		if n == last {
			if stable++; stable == 10 {
				return n
			}
			continue
		}
		last, stable = n, 0
	}
	t.Fatalf("the fake's ManualClassify count did not settle (last %d)", last)
	return 0
}

// killPlan is a classification plan for the kill tests: every id of the fake in one of
// three groups.
type killPlan struct {
	path string
	want map[string]fakeClassification
}

type fakeClassification struct {
	ct       ifacev1.ConnectivityType
	nb       ifacev1.NetworkBoundary
	provider string
}

// writeKillPlan writes a CSV plan that puts ids in three groups, starting the rotation
// at shift (another shift is another plan for the same interfaces).
func writeKillPlan(t *testing.T, dir, name string, ids []string, shift int) killPlan {
	t.Helper()
	groups := []struct {
		row string
		c   fakeClassification
	}{
		{"transit,external,Acme Transit", fakeClassification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, "Acme Transit"}},
		{"CONNECTIVITY_TYPE_IX,EXTERNAL,DE-CIX", fakeClassification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, "DE-CIX"}},
		{"backbone,internal,", fakeClassification{ifacev1.ConnectivityType_CONNECTIVITY_TYPE_BACKBONE, ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL, ""}},
	}
	p := killPlan{path: filepath.Join(dir, name), want: make(map[string]fakeClassification, len(ids))}
	var b bytes.Buffer
	b.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for i, id := range ids {
		g := groups[(i+shift)%len(groups)]
		fmt.Fprintf(&b, "%s,%s\n", id, g.row)
		p.want[id] = g.c
	}
	if err := os.WriteFile(p.path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The kill test's job: 3000 interfaces in 3 groups of 1000, 40 ids a request: 75
// requests, at most 60 per 2 s under the admin policy compressed 30 times (and 50 ms
// soft-limit delays beyond 20 per 2 s), so a run lasts a few seconds.
const (
	killInterfaces = 3000
	killBatchSize  = 40
	killRequests   = 75
	killAcks       = 12 // acknowledged batches in the journal before the kill
)

var killPolicy = ratelimit.Admin.Scale(30)

// TestClassifyKillAndResume proves the journal's promise with a real SIGKILL: a job
// killed mid-run loses nothing, and the same command run again sends exactly the batches
// the journal does not hold, so that every interface ends right and at most the one
// batch in flight (concurrency 1 under the admin policy) is sent twice. A rerun with
// another plan or batch size and the same journal is refused and sends nothing.
func TestClassifyKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the kentik command in child processes for a few seconds; skipped with -short")
	}
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(killInterfaces, 11), kentiktest.WithPolicy(killPolicy))
	ids := srv.InterfaceIDs()
	dir := t.TempDir()
	plan := writeKillPlan(t, dir, "plan.csv", ids, 0)
	journal := filepath.Join(dir, "plan.journal")
	c := srv.Credentials()
	env := map[string]string{"KENTIK_EMAIL": c.Email, "KENTIK_API_TOKEN": c.Token}
	args := func(planPath string, batchSize int) []string {
		return []string{"--plaintext", "--grpc-endpoint", srv.GRPCAddr(), "--rate-limit", killPolicy.String(), "-o", "json",
			"interfaces", "classify", "--file", planPath, "--batch-size", fmt.Sprint(batchSize), "--journal", journal}
	}
	started := time.Now()

	// 1. Start the job and SIGKILL it once the journal holds killAcks batches.
	p := startKentik(t, env, args(plan.path, killBatchSize)...)
	for deadline := time.Now().Add(30 * time.Second); len(journalAcks(t, journal)) < killAcks; time.Sleep(2 * time.Millisecond) {
		select {
		case <-p.done:
			t.Fatalf("the job ended (exit %d) before the kill:\n%s\n%s", p.cmd.ProcessState.ExitCode(), p.stdout.String(), p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal never reached %d acknowledged batches (has %d)", killAcks, len(journalAcks(t, journal)))
		}
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	if code := p.wait(t); code != -1 {
		t.Fatalf("the killed job exited with %d, not by the signal:\n%s", code, p.stderr.String())
	}
	killedAt := time.Since(started)
	atKill := journalAcks(t, journal)
	callsAtKill := settledCalls(t, srv)
	st := srv.Stats().GRPC
	t.Logf("killed after %s: %d batches journaled, %d ManualClassify calls received, rejected %v",
		killedAt.Round(time.Millisecond), len(atKill), callsAtKill, st.Rejected)
	if len(atKill) < killAcks || len(atKill) >= killRequests {
		t.Fatalf("killed with %d of %d batches journaled: not mid-run", len(atKill), killRequests)
	}
	// Concurrency 1: at most one batch was sent and not journaled when the kill came.
	if inFlight := callsAtKill - len(atKill); inFlight < 0 || inFlight > 1 {
		t.Errorf("at the kill: %d calls received, %d batches journaled; want at most 1 in flight", callsAtKill, len(atKill))
	}
	checkFakeLimits(t, "killed run", st)

	// 2. The same journal with another plan (same interfaces, other classifications) or
	// another batch size is refused before anything is sent, and left as it was.
	other := writeKillPlan(t, dir, "other.csv", ids, 1)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"other plan", args(other.path, killBatchSize), []string{journal, "another plan"}},
		{"other batch size", args(plan.path, killBatchSize/2), []string{journal, fmt.Sprintf("--batch-size %d", killBatchSize)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runKentikChild(t, env, tc.args...)
			if code != ExitFailure {
				t.Errorf("exit %d, want %d\n%s\n%s", code, ExitFailure, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if n := srv.Stats().GRPC.Calls["ManualClassify"]; n != callsAtKill {
				t.Errorf("the refused run sent %d ManualClassify calls", n-callsAtKill)
			}
			if got := journalAcks(t, journal); !slices.Equal(got, atKill) {
				t.Errorf("the refused run changed the journal: %d acks, had %d", len(got), len(atKill))
			}
		})
	}

	// 3. Resume. The client of a new process knows nothing of the calls the killed one
	// made, so let the server's hard windows that this job could fill drain first (2 s
	// here); otherwise the fake would rightly refuse calls beyond its window.
	time.Sleep(drainTime(killPolicy, killRequests+1))
	code, stdout, stderr := runKentikChild(t, env, args(plan.path, killBatchSize)...)
	if code != ExitOK {
		t.Fatalf("resumed run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var s struct {
		AlreadyDone int    `json:"already_done"`
		Classified  int    `json:"classified"`
		Sent        int    `json:"requests_sent"`
		Skipped     int    `json:"batches_skipped"`
		Retries     *int64 `json:"retries"`
		Remaining   int    `json:"remaining"`
		Failed      int    `json:"failed"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("resumed run summary: %v\n%s", err, stdout)
	}
	total := settledCalls(t, srv)
	resumedCalls := total - callsAtKill
	t.Logf("resumed run: %d calls received; summary: %d batches skipped, %d sent, %d interfaces already done, %d classified; total %d calls for %d planned; whole test %s",
		resumedCalls, s.Skipped, s.Sent, s.AlreadyDone, s.Classified, total, killRequests, time.Since(started).Round(time.Millisecond))

	// The resumed run sent exactly the batches the journal did not hold at the kill
	// (the one in flight among them), each once.
	if want := killRequests - len(atKill); s.Skipped != len(atKill) || s.Sent != want || resumedCalls != want {
		t.Errorf("resumed run: skipped %d, sent %d (fake received %d); want %d skipped, %d sent",
			s.Skipped, s.Sent, resumedCalls, len(atKill), want)
	}
	if s.Retries == nil || *s.Retries != 0 || s.Remaining != 0 || s.Failed != 0 {
		retries := "not counted"
		if s.Retries != nil {
			retries = fmt.Sprint(*s.Retries)
		}
		t.Errorf("resumed run: retries %s, remaining %d, failed %d; want none", retries, s.Remaining, s.Failed)
	}
	if s.AlreadyDone+s.Classified != killInterfaces {
		t.Errorf("resumed run: %d already done + %d classified, want %d", s.AlreadyDone, s.Classified, killInterfaces)
	}
	// Whole job: the planned requests plus at most the one that was in flight.
	if total < killRequests || total > killRequests+1 {
		t.Errorf("%d ManualClassify calls in all, want %d planned + at most 1 re-sent", total, killRequests)
	}
	// The journal now holds every batch once: the killed run's lines untouched, then
	// exactly the missing ones.
	final := journalAcks(t, journal)
	if len(final) != killRequests || !slices.Equal(final[:len(atKill)], atKill) {
		t.Errorf("final journal: %d acks (want %d), killed run's prefix kept: %v", len(final), killRequests, len(final) >= len(atKill) && slices.Equal(final[:len(atKill)], atKill))
	}
	seen := map[string]bool{}
	for _, a := range final {
		if seen[a] {
			t.Errorf("final journal holds %s twice", a)
		}
		seen[a] = true
	}
	checkFakeLimits(t, "resumed run", srv.Stats().GRPC)

	// Every interface carries its planned classification.
	wrong := 0
	for _, id := range ids {
		in, ok := srv.Interface(id)
		w := plan.want[id]
		if !ok || in.GetConnectivityType() != w.ct || in.GetNetworkBoundary() != w.nb || in.GetProvider() != w.provider {
			if wrong++; wrong <= 5 {
				t.Errorf("interface %s: %v, want %+v", id, in, w)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d interfaces not classified as planned", wrong, len(ids))
	}
	if srv.NumInterfaces() != killInterfaces {
		t.Errorf("the fake holds %d interfaces, want %d", srv.NumInterfaces(), killInterfaces)
	}
}

// checkFakeLimits fails t if the fake ever let a limit be overrun or refused a call,
// but for one "canceled": the call in flight when the client was killed may have been
// waiting out a soft-limit delay. The stats count from the fake's start, the killed run
// included.
func checkFakeLimits(t *testing.T, what string, st kentiktest.APIStats) {
	t.Helper()
	if st.Limits.Exceeded() {
		t.Errorf("%s: the fake overran a limit: %+v", what, st.Limits)
	}
	for reason, n := range st.Rejected {
		if reason == kentiktest.RejectCanceled && n <= 1 {
			continue
		}
		t.Errorf("%s: the fake rejected %d calls (%s)", what, n, reason)
	}
}

// drainTime is how long the server's hard windows that n calls could fill take to
// forget them: the longest period among windows whose limit n reaches.
func drainTime(p ratelimit.Policy, n int) time.Duration {
	var d time.Duration
	for _, w := range p.Windows {
		if w.Limit <= n {
			d = max(d, w.Period)
		}
	}
	return d
}

// TestClassifyKillWhileSpooling: a job killed (SIGKILL) while it copies a plan from
// stdin to its temporary file leaves no file behind: the copy has no name.
func TestClassifyKillWhileSpooling(t *testing.T) {
	tmp := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	p := startKentikStdin(t, map[string]string{"TMPDIR": tmp}, r, "interfaces", "classify", "--file", "-", "--dry-run")
	r.Close() // the child has its own copy
	// More than a pipe holds: once written, the child has read (and spooled) most of it.
	chunk := []byte(strings.Repeat("1000001,transit,external,Acme\n", 1<<10))
	w.Write([]byte("interface_id,connectivity_type,network_boundary,provider\n"))
	w.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for written := 0; written < 4<<20; written += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("writing the plan to the child: %v", err)
		}
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != -1 {
		t.Fatalf("the child exited with %d before it was killed\n%s", code, p.stderr.String())
	}
	es, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		t.Errorf("left behind in the temporary directory: %s", e.Name())
	}
}
