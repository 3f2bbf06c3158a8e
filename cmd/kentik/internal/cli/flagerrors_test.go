package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/gokentik/kentik/kentiktest"
)

// TestUnknownFlagBeforeCommand: cobra takes the word after an unknown flag for its
// value and then reports the next command word as unknown; the command names the flag.
func TestUnknownFlagBeforeCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--plaintex", "interfaces", "list"},
		{"interfaces", "--plaintex", "list"},
		{"-o", "json", "--plaintex", "interfaces", "list"},
		{"--timeout=5s", "--plaintex", "tenants", "get", "101"},
	} {
		code, _, stderr := runKentik(t, nil, nil, args...)
		if code != ExitUsage || !strings.Contains(stderr, "unknown flag: --plaintex (did you mean --plaintext?)") || strings.Contains(stderr, "unknown command") {
			t.Errorf("%q: exit %d\n%s", args, code, stderr)
		}
	}
	// A command that does not exist is still reported as such.
	if code, _, stderr := runKentik(t, nil, nil, "--plaintext", "interfaces", "lst"); code != ExitUsage || !strings.Contains(stderr, `unknown command "lst"`) {
		t.Errorf("unknown command: exit %d\n%s", code, stderr)
	}
	// A typo of a command's own flag gets a suggestion too.
	if code, _, stderr := runKentik(t, nil, nil, "interfaces", "list", "--connectivity-typ", "ix"); code != ExitUsage || !strings.Contains(stderr, "did you mean --connectivity-type?") {
		t.Errorf("local flag: exit %d\n%s", code, stderr)
	}
}

// TestArgumentErrors: a missing or extra argument is named, instead of cobra's
// "accepts 1 arg(s), received 0".
func TestArgumentErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"interfaces", "get"}, "missing ID (usage: kentik interfaces get ID [flags])"},
		{[]string{"interfaces", "delete"}, "missing ID"},
		{[]string{"interfaces", "get", "1", "2"}, `too many arguments: want ID, got ["1" "2"]`},
		{[]string{"tenants", "users", "add", "101"}, "missing EMAIL"},
		{[]string{"tenants", "users", "remove"}, "missing TENANT_ID and USER"},
		{[]string{"tenants", "get"}, "missing TENANT_ID"},
	} {
		code, _, stderr := runKentik(t, nil, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "arg(s)") {
			t.Errorf("%q: exit %d, want %q in\n%s", tc.args, code, tc.want, stderr)
		}
	}
}

// TestFlagValueErrors: a bad number or duration says what the flag wants, not what
// strconv said.
func TestFlagValueErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"interfaces", "list", "--snmp-speed", "fast"}, `--snmp-speed "fast": want whole numbers`},
		{[]string{"--timeout", "soon", "interfaces", "list"}, `--timeout "soon": want a duration such as 500ms, 30s or 2m`},
		{[]string{"interfaces", "classify", "-f", "x", "--batch-size", "many"}, `--batch-size "many": want a whole number`},
		{[]string{"demo", "--speedup", "x"}, `--speedup "x": want a number`},
	} {
		code, _, stderr := runKentik(t, nil, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "strconv") || strings.Contains(stderr, "time:") {
			t.Errorf("%q: exit %d, want %q in\n%s", tc.args, code, tc.want, stderr)
		}
	}
}

// TestRateLimitErrorListsForms: a bad policy lists every form a policy takes, wherever
// it came from.
func TestRateLimitErrorListsForms(t *testing.T) {
	for _, tc := range []struct {
		env    map[string]string
		args   []string
		source string
	}{
		{nil, []string{"--rate-limit", "fast", "tenants", "list"}, `--rate-limit "fast"`},
		{map[string]string{"KENTIK_RATE_LIMIT": "fast"}, []string{"tenants", "list"}, `KENTIK_RATE_LIMIT "fast"`},
		{nil, []string{"fake", "--v5-rate-limit", "fast"}, `--v5-rate-limit "fast"`},
	} {
		code, _, stderr := runKentik(t, tc.env, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.source) {
			t.Errorf("%q: exit %d\n%s", tc.args, code, stderr)
		}
		for _, form := range []string{"off", "admin", "query", "concurrency=1,60/1m,3750/1h"} {
			if !strings.Contains(stderr, form) {
				t.Errorf("%q: %q not listed in\n%s", tc.args, form, stderr)
			}
		}
	}
}

// TestTimeoutNamed: a call cut by --timeout says so, with the value.
func TestTimeoutNamed(t *testing.T) {
	srv := startFake(t, 1)
	if err := srv.SetLatency("GetInterface", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, srv, "", "--timeout", "100ms", "interfaces", "get", srv.InterfaceIDs()[0])
	if code != ExitFailure || !strings.Contains(stderr, "DeadlineExceeded") || !strings.Contains(stderr, "longer than --timeout (now 100ms)") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// TestIDsCheckedEverywhere: every id is checked the same way before any call: an
// interface id, a --device-id filter, a tenant id and a user id.
func TestIDsCheckedEverywhere(t *testing.T) {
	srv := startFake(t, 48)
	_, v5 := startTenantsFake(t)
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"interfaces", "list", "--device-id", "abc"}, `--device-id "abc": want a positive decimal number`},
		{nil, []string{"interfaces", "list", "--device-id", "1001,007"}, `--device-id "007"`},
		{v5, []string{"tenants", "get", "5x"}, `tenant id "5x"`},
		{v5, []string{"tenants", "users", "remove", "101", "bob"}, `user id "bob": want a positive decimal number`},
		{v5, []string{"tenants", "users", "remove", "0", "300001"}, `tenant id "0"`},
	} {
		var code int
		var stderr string
		if tc.env == nil {
			code, _, stderr = runCLI(t, srv, "", tc.args...)
		} else {
			code, _, stderr = runKentik(t, tc.env, nil, tc.args...)
		}
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want %q in\n%s", tc.args, code, tc.want, stderr)
		}
	}
	if n := len(srv.Stats().GRPC.Calls); n != 0 {
		t.Errorf("%d gRPC calls for bad ids", n)
	}
}

// TestTenantUserRemoveByEmail: an email names the user among the tenant's users; it is
// never sent as a user id.
func TestTenantUserRemoveByEmail(t *testing.T) {
	srv, env := startTenantsFake(t)
	tenant := srv.Tenants()[0]
	u := tenant.Users[0]
	code, out, stderr := runKentik(t, env, nil, "tenants", "users", "remove", jsonNumber(tenant.ID), strings.ToUpper(u.UserEmail))
	if code != ExitOK || !strings.Contains(out, "removed user "+u.ID) {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if after, _ := srv.Tenant(tenant.ID); len(after.Users) != len(tenant.Users)-1 {
		t.Errorf("%d users left, want %d", len(after.Users), len(tenant.Users)-1)
	}
	code, _, stderr = runKentik(t, env, nil, "tenants", "users", "remove", jsonNumber(tenant.ID), "nobody@example.com")
	if code != ExitFailure || !strings.Contains(stderr, "has no user nobody@example.com") {
		t.Errorf("unknown email: exit %d\n%s", code, stderr)
	}
	if n := srv.Stats().V5.Calls[kentiktest.V5TenantUserDelete]; n != 1 {
		t.Errorf("%d deletes sent, want 1", n)
	}
}
