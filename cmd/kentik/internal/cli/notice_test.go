package cli

import (
	"strings"
	"testing"

	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// fakeWithPolicy starts kentiktest enforcing policy on gRPC calls, with a few interfaces.
func fakeWithPolicy(t *testing.T, policy string) *kentiktest.Server {
	t.Helper()
	p, err := ratelimit.Parse(policy)
	if err != nil {
		t.Fatal(err)
	}
	return kentiktest.Start(t, kentiktest.WithPolicy(p), kentiktest.WithInterfaces(3, 1))
}

// TestNoticeSoftDelay: an answer Kentik delayed beyond its soft limit is said on stderr,
// with the limit when the policy knows it; calls answered at once say nothing.
func TestNoticeSoftDelay(t *testing.T) {
	t.Parallel() // it mostly waits
	srv := fakeWithPolicy(t, "soft=1/1m:1100ms")
	id := srv.InterfaceIDs()[0]
	code, _, stderr := runCLI(t, srv, "", "--rate-limit", "soft=1/1m:1100ms", "interfaces", "get", id)
	if code != ExitOK || strings.Contains(stderr, "kentik:") {
		t.Fatalf("first call: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, srv, "", "--rate-limit", "soft=1/1m:1100ms", "interfaces", "get", id)
	if code != ExitOK || !strings.Contains(stderr, "kentik: Kentik took 1.1") || !strings.Contains(stderr, "s to answer GetInterface: beyond 1 calls in 1m0s (its soft limit") {
		t.Fatalf("delayed call: exit %d\n%s", code, stderr)
	}
	// Without the policy's soft limit (here: off) the delay is said plainly.
	code, _, stderr = runCLI(t, srv, "", "interfaces", "get", id)
	if code != ExitOK || !strings.Contains(stderr, "kentik: Kentik took 1.1") || !strings.HasSuffix(stderr, "s to answer GetInterface\n") {
		t.Fatalf("policy off: exit %d\n%s", code, stderr)
	}
}

// TestNoticeLimiterWait: a call that waited for the client's own policy says so, once
// per run however many calls wait.
func TestNoticeLimiterWait(t *testing.T) {
	t.Parallel() // it mostly waits
	srv := fakeWithPolicy(t, "off")
	id := srv.InterfaceIDs()[0]
	code, _, stderr := runCLI(t, srv, "", "--rate-limit", "concurrency=1,1/1500ms", "interfaces", "update", id, "--set", "provider=X")
	if code != ExitOK || strings.Count(stderr, "kentik: waited 1.") != 1 || !strings.Contains(stderr, "for a call slot of the rate-limit policy concurrency=1,1/1.5s") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	code, _, stderr = runCLI(t, srv, "", "--rate-limit", "concurrency=1,1/1500ms", "interfaces", "classify", "-f", plan, "--batch-size", "1")
	if code != ExitOK || strings.Count(stderr, "for a call slot") != 1 {
		t.Fatalf("classify: exit %d\n%s", code, stderr)
	}
}

// TestNoticeRefused: a call Kentik refused for the rate limit, and that waits to be
// tried again, says so.
func TestNoticeRefused(t *testing.T) {
	t.Parallel() // it mostly waits
	srv := fakeWithPolicy(t, "1/1500ms")
	id := srv.InterfaceIDs()[0]
	code, _, stderr := runCLI(t, srv, "", "interfaces", "update", id, "--set", "provider=X")
	if code != ExitOK || !strings.Contains(stderr, "kentik: Kentik refused UpdateInterface for the account's rate limit (attempt 1); trying again when Kentik said to") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}
