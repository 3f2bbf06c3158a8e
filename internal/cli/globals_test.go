package cli

import (
	"testing"

	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// TestCredentialPrecedence checks DESIGN.md's order: flags, then KENTIK_*, then KTAPI_*,
// by what the fake received.
func TestCredentialPrecedence(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(1, 1),
		kentiktest.WithCredentials(interceptors.Credentials{Email: "right@example.com", Token: "right-token"}))
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
