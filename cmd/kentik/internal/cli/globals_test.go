package cli

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// TestCredentialPrecedence checks DESIGN.md's order: flags, then KENTIK_*, then KTAPI_*,
// by what the fake received.
func TestCredentialPrecedence(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(1, 1),
		kentiktest.WithCredentials(kentik.Credentials{Email: "right@example.com", Token: "right-token"}))
	id := srv.InterfaceIDs()[0]
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"flags over KENTIK_": {
			env:  map[string]string{"KENTIK_EMAIL": "env@example.com", "KENTIK_API_TOKEN": "env-token"},
			args: []string{"--email", "right@example.com", "--token", "right-token"},
		},
		"KENTIK_ over KTAPI_": {
			env: map[string]string{"KENTIK_EMAIL": "right@example.com", "KENTIK_API_TOKEN": "right-token",
				"KTAPI_AUTH_EMAIL": "sdk@example.com", "KTAPI_AUTH_TOKEN": "sdk-token"},
		},
		"KTAPI_ alone": {
			env: map[string]string{"KTAPI_AUTH_EMAIL": "right@example.com", "KTAPI_AUTH_TOKEN": "right-token"},
		},
		"flags over KTAPI_": {
			env:  map[string]string{"KTAPI_AUTH_EMAIL": "sdk@example.com", "KTAPI_AUTH_TOKEN": "sdk-token"},
			args: []string{"--email", "right@example.com", "--token", "right-token"},
		},
	} {
		env := map[string]string{"KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(), "KENTIK_RATE_LIMIT": "off"}
		for k, v := range tc.env {
			env[k] = v
		}
		args := append(append([]string{"--plaintext"}, tc.args...), "interfaces", "get", id)
		if code, _, stderr := runKentik(t, env, nil, args...); code != 0 {
			t.Errorf("%s: exit %d\n%s", name, code, stderr)
		}
	}
}

// TestUnknownSubcommandIsUsageError: a mistyped subcommand must not print the help and
// exit 0, or a script would take `kentik tenants lst` for a success.
func TestUnknownSubcommandIsUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"tenants", "lst"},
		{"tenants", "users", "ad", "1", "a@b.example"},
		{"interfaces", "lst"},
	} {
		if code, _, stderr := runKentik(t, nil, nil, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, ExitUsage, stderr)
		}
	}
	for _, args := range [][]string{{"tenants"}, {"tenants", "users"}, {"interfaces"}} {
		if code, _, stderr := runKentik(t, nil, nil, args...); code != ExitOK {
			t.Errorf("%q (help): exit %d, want 0\n%s", args, code, stderr)
		}
	}
}

// TestUsageMessages: errors name where a bad value came from, cobra's own usage errors
// point at --help, and an empty interface file says so.
func TestUsageMessages(t *testing.T) {
	creds := map[string]string{"KENTIK_EMAIL": "a@b.example", "KENTIK_API_TOKEN": "t"}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"KENTIK_RATE_LIMIT": "fast"}, []string{"tenants", "list"}, `kentik: KENTIK_RATE_LIMIT "fast": want off,`},
		{nil, []string{"--rate-limit", "fast", "tenants", "list"}, `kentik: --rate-limit "fast": want off,`},
		{map[string]string{"KENTIK_REGION": "mars"}, []string{"tenants", "list"}, `KENTIK_REGION "mars": want us or eu`},
		{nil, []string{"interfaces", "get"}, "Run 'kentik interfaces get --help' for usage."},
		{nil, []string{"interfaces", "list", "--bogus"}, "Run 'kentik interfaces list --help' for usage."},
		{creds, []string{"--plaintext", "--grpc-endpoint", "127.0.0.1:1", "interfaces", "update", "7", "-f", "-"}, "stdin is empty"},
	} {
		code, _, stderr := runKentik(t, tc.env, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want %d and %q in\n%s", tc.args, code, ExitUsage, tc.want, stderr)
		}
	}
}

func TestPlaintextHint(t *testing.T) {
	unavailable := &client.Error{Code: codes.Unavailable}
	for _, tc := range []struct {
		g    Globals
		err  error
		hint bool
	}{
		{Globals{GRPCEndpoint: "127.0.0.1:9090"}, unavailable, true},
		{Globals{GRPCEndpoint: "localhost:9090"}, fmt.Errorf("wrapped: %w", unavailable), true},
		{Globals{GRPCEndpoint: "127.0.0.1:9090", Plaintext: true}, unavailable, false},
		{Globals{GRPCEndpoint: "grpc.api.kentik.com:443"}, unavailable, false},
		{Globals{}, unavailable, false},
		{Globals{GRPCEndpoint: "127.0.0.1:9090"}, &client.Error{Code: codes.NotFound}, false},
	} {
		if got := tc.g.plaintextHint(tc.err) != ""; got != tc.hint {
			t.Errorf("endpoint %q plaintext %v, %v: hint %v, want %v", tc.g.GRPCEndpoint, tc.g.Plaintext, tc.err, got, tc.hint)
		}
	}
}

// TestFlagValuesLikeEnvironment: blanks around a flag's value are dropped as they are
// around an environment variable's, so a blank --token is a missing one (exit 2, nothing
// sent); credentials that no header can carry are usage errors too, without the token.
func TestFlagValuesLikeEnvironment(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(1, 1))
	c := srv.Credentials()
	id := srv.InterfaceIDs()[0]
	env := map[string]string{"KENTIK_GRPC_ENDPOINT": srv.GRPCAddr()}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--email", " ", "--token", " "}, ExitUsage, "missing credentials"},
		{[]string{"--email", c.Email, "--token", "\t"}, ExitUsage, "token is empty"},
		{[]string{"--email", c.Email, "--token", "sec\x01ret"}, ExitUsage, "--token holds a control"},
		{[]string{"--email", "dém@example.com", "--token", c.Token}, ExitUsage, "--email holds a control or non-ASCII"},
		{[]string{"--email", " " + c.Email + " ", "--token", c.Token + "\r\n", "--region", " EU ", "--grpc-endpoint", " " + srv.GRPCAddr()}, ExitOK, ""},
	} {
		args := append(append([]string{"--plaintext", "--rate-limit", " off "}, tc.args...), "interfaces", "get", id)
		code, _, stderr := runKentik(t, env, nil, args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "sec\x01ret") {
			t.Errorf("%q: exit %d, want %d and %q in\n%s", tc.args, code, tc.code, tc.want, stderr)
		}
	}
	if n := srv.Stats().GRPC.Calls["GetInterface"]; n != 1 {
		t.Errorf("%d GetInterface calls, want only the good one's", n)
	}
	// The same for V5.
	v5 := map[string]string{"KENTIK_API_URL": srv.V5URL(), "KENTIK_RATE_LIMIT": "off"}
	if code, _, stderr := runKentik(t, v5, nil, "--email", " ", "--token", " ", "tenants", "list"); code != ExitUsage {
		t.Errorf("tenants list with blank credentials: exit %d\n%s", code, stderr)
	}
}

// TestGRPCEndpointForms: HOST:PORT, [IPv6]:PORT and gRPC targets work; a malformed
// endpoint is a usage error naming where it came from, before any dial, rather than
// UNAVAILABLE (exit 1) after the client's retries.
func TestGRPCEndpointForms(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(1, 1))
	c := srv.Credentials()
	_, port, _ := net.SplitHostPort(srv.GRPCAddr())
	env := map[string]string{"KENTIK_EMAIL": c.Email, "KENTIK_API_TOKEN": c.Token, "KENTIK_RATE_LIMIT": "off"}
	get := []string{"interfaces", "get", srv.InterfaceIDs()[0]}
	for _, ep := range []string{srv.GRPCAddr(), "localhost:" + port, "dns:///127.0.0.1:" + port} {
		if code, _, stderr := runKentik(t, env, nil, append([]string{"--plaintext", "--grpc-endpoint", ep}, get...)...); code != ExitOK {
			t.Errorf("%q: exit %d\n%s", ep, code, stderr)
		}
	}
	if lis, err := net.Listen("tcp", "[::1]:0"); err == nil {
		srv6 := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(1, 1), kentiktest.WithGRPCListener(lis))
		if code, _, stderr := runKentik(t, env, nil, "--plaintext", "--grpc-endpoint", lis.Addr().String(), "interfaces", "get", srv6.InterfaceIDs()[0]); code != ExitOK || !strings.HasPrefix(lis.Addr().String(), "[::1]:") {
			t.Errorf("%s: exit %d\n%s", lis.Addr(), code, stderr)
		}
	}
	for _, ep := range []string{"127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:", "127.0.0.1:http", "::1:" + port, "[::1", ":" + port, "local host:" + port, "127.0.0.1:+1"} {
		start := time.Now()
		code, _, stderr := runKentik(t, env, nil, append([]string{"--timeout", "2s", "--grpc-endpoint", ep}, get...)...)
		if code != ExitUsage || !strings.Contains(stderr, "--grpc-endpoint") || time.Since(start) > time.Second {
			t.Errorf("%q: exit %d after %v, want %d at once\n%s", ep, code, time.Since(start), ExitUsage, stderr)
		}
		envEP := map[string]string{"KENTIK_GRPC_ENDPOINT": ep}
		for k, v := range env {
			envEP[k] = v
		}
		if code, _, stderr := runKentik(t, envEP, nil, append([]string{"--timeout", "2s"}, get...)...); code != ExitUsage || !strings.Contains(stderr, "KENTIK_GRPC_ENDPOINT") {
			t.Errorf("KENTIK_GRPC_ENDPOINT=%q: exit %d, want %d\n%s", ep, code, ExitUsage, stderr)
		}
	}
	if n := srv.Stats().GRPC.Calls["GetInterface"]; n != 3 {
		t.Errorf("%d GetInterface calls, want 3", n)
	}
}
