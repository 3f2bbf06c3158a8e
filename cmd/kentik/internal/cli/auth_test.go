package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// loginArgs points auth login at srv.
func loginArgs(srv *kentiktest.Server, extra ...string) []string {
	return append([]string{"auth", "login", "--email", srv.Credentials().Email, "--grpc-endpoint", srv.GRPCAddr(),
		"--api-url", srv.V5URL(), "--plaintext", "--rate-limit", "off"}, extra...)
}

// TestAuthLogin: the token piped on stdin is checked with Kentik, then saved with mode
// 0600 as the default profile, which the next command uses alone.
func TestAuthLogin(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(1, 1))
	cfg := filepath.Join(t.TempDir(), "kentik", "config.json")
	env := map[string]string{"KENTIK_CONFIG": cfg}

	code, _, stderr := runKentik(t, env, strings.NewReader("wrong-token\n"), loginArgs(srv)...)
	if code != ExitFailure || !strings.Contains(stderr, "profile default not saved") || !strings.Contains(stderr, "Unauthenticated") || strings.Contains(stderr, "wrong-token") {
		t.Fatalf("wrong token: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(cfg); err == nil {
		t.Fatal("a refused token was saved")
	}

	code, out, stderr := runKentik(t, env, strings.NewReader(srv.Credentials().Token+"\n"), loginArgs(srv)...)
	if code != ExitOK || !strings.Contains(out, "saved profile default in "+cfg) || !strings.Contains(stderr, "Kentik accepted the credentials") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for _, p := range []string{cfg, filepath.Dir(cfg)} {
		if runtime.GOOS == "windows" {
			break
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]os.FileMode{false: 0o600, true: 0o700}[st.IsDir()]; st.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", p, st.Mode().Perm(), want)
		}
	}
	if n := srv.Stats().GRPC.Calls["GetInterface"]; n != 2 {
		t.Errorf("%d checks sent, want 2", n)
	}
	if code, _, stderr := runKentik(t, env, nil, "interfaces", "get", srv.InterfaceIDs()[0]); code != ExitOK {
		t.Errorf("with the saved profile: exit %d\n%s", code, stderr)
	}

	// A second profile joins the first; --token-file keeps only the path; --no-check
	// makes no call.
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(srv.Credentials().Token), 0o600); err != nil {
		t.Fatal(err)
	}
	calls := srv.Stats().GRPC.Calls["GetInterface"]
	if code, _, stderr := runKentik(t, env, nil, loginArgs(srv, "--profile", "ci", "--token-file", tokenFile, "--no-check")...); code != ExitOK {
		t.Fatalf("--token-file: exit %d\n%s", code, stderr)
	}
	if n := srv.Stats().GRPC.Calls["GetInterface"]; n != calls {
		t.Errorf("--no-check sent %d calls", n-calls)
	}
	c, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Profiles["ci"].TokenFile != tokenFile || c.Profiles["ci"].Token != "" || c.Profiles["default"].Token != srv.Credentials().Token || !c.Profiles["ci"].Plaintext {
		t.Errorf("saved %+v", c.Profiles)
	}
}

// TestAuthLoginRefusals: no email without a terminal, plaintext to a remote host, and a
// config file others can read are refused before anything is saved.
func TestAuthLoginRefusals(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	env := map[string]string{"KENTIK_CONFIG": cfg}
	tok := strings.NewReader(srv.Credentials().Token + "\n")
	if code, _, stderr := runKentik(t, env, tok, "auth", "login"); code != ExitUsage || !strings.Contains(stderr, "--email is required without a terminal") {
		t.Errorf("no email: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runKentik(t, env, strings.NewReader("\n"), "auth", "login", "--email", "a@example.com"); code != ExitUsage || !strings.Contains(stderr, "no API token given") {
		t.Errorf("no token: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runKentik(t, env, strings.NewReader("t\n"), "auth", "login", "--email", "a@example.com", "--plaintext", "--no-check"); code != ExitUsage || !strings.Contains(stderr, "loopback") {
		t.Errorf("plaintext to Kentik: exit %d\n%s", code, stderr)
	}
	if runtime.GOOS == "windows" {
		return // ACLs, not mode bits, decide there
	}
	if err := os.WriteFile(cfg, []byte(`{"profiles":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runKentik(t, env, strings.NewReader(srv.Credentials().Token+"\n"), loginArgs(srv)...)
	if code != ExitFailure || !strings.Contains(stderr, "open to group or others (mode 0644)") {
		t.Errorf("open config: exit %d\n%s", code, stderr)
	}
	if data, _ := os.ReadFile(cfg); string(data) != `{"profiles":{}}` {
		t.Errorf("the open config file was written: %s", data)
	}
}

// TestAuthStatusNeverShowsToken: status names where the token came from, never its
// value, in either format, and --check asks Kentik.
func TestAuthStatusNeverShowsToken(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off))
	dir := t.TempDir()
	cfg := writeConfig(t, dir, map[string]profile{"default": {Email: srv.Credentials().Email, Token: srv.Credentials().Token, GRPCEndpoint: srv.GRPCAddr(), Plaintext: true}})
	env := map[string]string{"KENTIK_CONFIG": cfg}
	for _, format := range []string{"table", "json"} {
		code, out, stderr := runKentik(t, env, nil, "auth", "status", "--check", "-o", format)
		if code != ExitOK || strings.Contains(out+stderr, srv.Credentials().Token) {
			t.Fatalf("%s: exit %d\n%s%s", format, code, out, stderr)
		}
		for _, want := range []string{srv.Credentials().Email, srv.GRPCAddr(), "profile default's token", cfg} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: %q missing from\n%s", format, want, out)
			}
		}
	}
	code, out, stderr := runKentik(t, with(env, "KENTIK_API_TOKEN", "wrong-token"), nil, "auth", "status", "--check")
	if code != ExitFailure || strings.Contains(out+stderr, "wrong-token") || !strings.Contains(stderr, "the token (from KENTIK_API_TOKEN)") {
		t.Errorf("wrong token: exit %d\n%s%s", code, out, stderr)
	}
}
