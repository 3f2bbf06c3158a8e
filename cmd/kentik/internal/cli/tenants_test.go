package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/mykentik"
	"github.com/gokentik/kentik/ratelimit"
)

// startTenantsFake starts kentiktest and returns the environment that points the
// tenants commands at its V5 API.
func startTenantsFake(t *testing.T) (*kentiktest.Server, map[string]string) {
	t.Helper()
	srv := kentiktest.Start(t, kentiktest.WithV5Policy(ratelimit.Off))
	c := srv.Credentials()
	return srv, map[string]string{
		"KENTIK_API_URL":    srv.V5URL(),
		"KENTIK_EMAIL":      c.Email,
		"KENTIK_API_TOKEN":  c.Token,
		"KENTIK_RATE_LIMIT": "off",
	}
}

func TestTenantsListAndGet(t *testing.T) {
	srv, env := startTenantsFake(t)
	want := srv.Tenants()
	if len(want) == 0 {
		t.Fatal("the fake has no tenants")
	}

	code, out, errOut := runKentik(t, env, nil, "tenants", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.Contains(out, want[0].Name) {
		t.Errorf("table lacks %q:\n%s", want[0].Name, out)
	}

	code, out, errOut = runKentik(t, env, nil, "tenants", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var tenants []mykentik.Tenant
	if err := json.Unmarshal([]byte(out), &tenants); err != nil || len(tenants) != len(want) {
		t.Fatalf("json: %v, %d tenants:\n%s", err, len(tenants), out)
	}

	id := tenants[0].ID
	code, out, errOut = runKentik(t, env, nil, "tenants", "get", jsonNumber(id), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var one mykentik.Tenant
	if err := json.Unmarshal([]byte(out), &one); err != nil || one.ID != id || one.Name != tenants[0].Name {
		t.Fatalf("get %d: %v %+v", id, err, one)
	}
}

func TestTenantUsersAddRemove(t *testing.T) {
	srv, env := startTenantsFake(t)
	tenant := srv.Tenants()[0]
	tid := jsonNumber(tenant.ID)

	code, out, errOut := runKentik(t, env, nil, "tenants", "users", "add", tid, "noc@example.com", "-o", "json")
	if code != 0 {
		t.Fatalf("add: exit %d: %s", code, errOut)
	}
	var u mykentik.User
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.ID == "" || u.Email != "noc@example.com" {
		t.Fatalf("add printed %v %+v:\n%s", err, u, out)
	}
	after, _ := srv.Tenant(tenant.ID)
	if len(after.Users) != len(tenant.Users)+1 {
		t.Fatalf("the fake has %d users, want %d", len(after.Users), len(tenant.Users)+1)
	}

	code, out, errOut = runKentik(t, env, nil, "tenants", "users", "remove", tid, u.ID)
	if code != 0 || !strings.Contains(out, "removed user "+u.ID) {
		t.Fatalf("remove: exit %d: %s%s", code, out, errOut)
	}
	if after, _ := srv.Tenant(tenant.ID); len(after.Users) != len(tenant.Users) {
		t.Fatalf("the fake has %d users after remove, want %d", len(after.Users), len(tenant.Users))
	}

	// Removing again: Kentik's 404, as a failure (exit 1) that names the call.
	code, _, errOut = runKentik(t, env, nil, "tenants", "users", "remove", tid, u.ID)
	if code != ExitFailure || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "DELETE /api/v5/mykentik/tenant/") {
		t.Fatalf("second remove: exit %d: %s", code, errOut)
	}
}

func TestTenantsErrors(t *testing.T) {
	_, env := startTenantsFake(t)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"unknown tenant", env, []string{"tenants", "get", "999999"}, ExitFailure, "404 Not Found"},
		{"bad tenant id", env, []string{"tenants", "get", "abc"}, ExitUsage, "tenant id"},
		{"bad email", env, []string{"tenants", "users", "add", "101", "not-an-email"}, ExitUsage, "email"},
		{"wrong token", with(env, "KENTIK_API_TOKEN", "wrong-token"), []string{"tenants", "list"}, ExitFailure, "401"},
		{"no credentials", with(env, "KENTIK_API_TOKEN", ""), []string{"tenants", "list"}, ExitUsage, "token is empty"},
		{"plain http to a remote host", with(env, "KENTIK_API_URL", "http://api.example.com/api/v5"), []string{"tenants", "list"}, ExitUsage, "http"},
		{"arguments", env, []string{"tenants", "users", "add", "101"}, ExitUsage, "missing EMAIL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runKentik(t, c.env, nil, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d (want %d): %s (want %q)", code, c.code, errOut, c.want)
			}
			if strings.Contains(errOut, "wrong-token") || strings.Contains(errOut, kentiktest.DefaultToken) {
				t.Fatalf("the token was printed: %s", errOut)
			}
		})
	}
}

func with(env map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(env))
	for key, val := range env {
		out[key] = val
	}
	out[k] = v
	return out
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestTenantsVerbose: -v logs each V5 request (method, path, status), never the token.
func TestTenantsVerbose(t *testing.T) {
	srv, env := startTenantsFake(t)
	code, _, errOut := runKentik(t, env, nil, "-v", "tenants", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "V5 request") || !strings.Contains(errOut, "path=/api/v5/mykentik/tenants") || !strings.Contains(errOut, "status=200") {
		t.Errorf("no V5 request log:\n%s", errOut)
	}
	if strings.Contains(errOut, srv.Credentials().Token) {
		t.Errorf("the token is in the log:\n%s", errOut)
	}
}

// A V5 command leaves no connection open behind it: it closes the adapter, and the
// command's own transports pass the close on to the connections (they would otherwise
// stay idle, with their goroutines, for the transport's 90 s).
func TestTenantsCommandClosesItsConnections(t *testing.T) {
	srv, env := startTenantsFake(t)
	var open atomic.Int64
	hs := httptest.NewUnstartedServer(srv.V5Handler())
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	hs.Start()
	defer hs.Close()
	env["KENTIK_API_URL"] = hs.URL + kentiktest.V5Prefix
	for _, verbose := range []string{"--verbose=false", "-v"} {
		if code, _, errOut := runKentik(t, env, nil, verbose, "tenants", "list"); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for i := 0; open.Load() != 0; i++ {
			if i == 500 {
				t.Fatalf("%s: %d connections still open after the command ended", verbose, open.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
