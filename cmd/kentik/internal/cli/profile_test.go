package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// writeConfig writes a config file with the given profiles (mode 0600) and returns its path.
func writeConfig(t *testing.T, dir string, profiles map[string]profile) string {
	t.Helper()
	data, err := json.Marshal(config{Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeProfile is a profile that points at srv with a token file beside the config.
func fakeProfile(t *testing.T, srv *kentiktest.Server, dir string) profile {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "lab.token"), []byte(srv.Credentials().Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return profile{
		Email: srv.Credentials().Email, TokenFile: "lab.token", // relative to the config file
		GRPCEndpoint: srv.GRPCAddr(), APIURL: srv.V5URL(), Plaintext: true, RateLimit: "off",
	}
}

// TestProfileDrivesEveryCommand: a profile with a token file is all every command needs
// (the "done when"), whether named by KENTIK_PROFILE, by --profile, or called
// "default".
func TestProfileDrivesEveryCommand(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithV5Policy(ratelimit.Off), kentiktest.WithInterfaces(96, 1))
	dir := t.TempDir()
	cfg := writeConfig(t, dir, map[string]profile{"lab": fakeProfile(t, srv, dir)})
	env := map[string]string{"KENTIK_CONFIG": cfg, "KENTIK_PROFILE": "lab"}
	id := srv.InterfaceIDs()[0]
	plan := filepath.Join(dir, "plan.csv")
	if err := os.WriteFile(plan, []byte("interface_id,connectivity_type,network_boundary,provider\n"+id+",transit,external,Zayo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tenant := jsonNumber(srv.Tenants()[0].ID)
	for _, args := range [][]string{
		{"interfaces", "list"},
		{"interfaces", "get", id},
		{"interfaces", "update", id, "--set", "provider=Lab"},
		{"interfaces", "classify", "--file", plan, "--verify"},
		{"interfaces", "delete", srv.InterfaceIDs()[1], "--yes"},
		{"tenants", "list"},
		{"tenants", "get", tenant},
		{"tenants", "users", "add", tenant, "lab@example.com"},
		{"tenants", "users", "remove", tenant, "lab@example.com"},
		{"auth", "status", "--check"},
	} {
		if code, out, stderr := runKentik(t, env, nil, args...); code != ExitOK {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, stderr)
		}
	}
	if code, _, stderr := runKentik(t, map[string]string{"KENTIK_CONFIG": cfg}, nil, "--profile", "lab", "interfaces", "get", id); code != ExitOK {
		t.Errorf("--profile: exit %d\n%s", code, stderr)
	}
	writeConfig(t, dir, map[string]profile{"default": fakeProfile(t, srv, dir)})
	if code, _, stderr := runKentik(t, map[string]string{"KENTIK_CONFIG": cfg}, nil, "interfaces", "get", id); code != ExitOK {
		t.Errorf("the default profile: exit %d\n%s", code, stderr)
	}
	if it, _ := srv.Interface(id); it.GetProvider() != "Zayo" {
		t.Errorf("classify did not reach the fake: %v", it)
	}
}

// statusOf runs auth status -o json.
func statusOf(t *testing.T, env map[string]string, args ...string) authStatus {
	t.Helper()
	code, out, stderr := runKentik(t, env, nil, append(args, "auth", "status", "-o", "json")...)
	if code != ExitOK {
		t.Fatalf("%q: exit %d\n%s", args, code, stderr)
	}
	var st authStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return st
}

// TestProfilePrecedence: flag > environment > profile, setting by setting; the region
// and the endpoints are one choice, as kentik.Settings.Or makes them.
func TestProfilePrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, map[string]profile{"p": {
		Email: "profile@example.com", Token: "profile-token", Region: "eu", APIURL: "https://api.example.eu/api/v5", RateLimit: "query",
	}})
	env := map[string]string{"KENTIK_CONFIG": cfg, "KENTIK_PROFILE": "p", "KENTIK_EMAIL": "env@example.com", "KENTIK_RATE_LIMIT": "admin"}
	st := statusOf(t, env, "--rate-limit", "off")
	for key, want := range map[string]statusSetting{
		"email":         {"env@example.com", "KENTIK_EMAIL"},
		"token":         {"set (never shown)", "profile p's token"},
		"rate_limit":    {"off", "--rate-limit"},
		"region":        {"eu", "profile p's region"},
		"api_url":       {"https://api.example.eu/api/v5", "profile p's api_url"},
		"grpc_endpoint": {"grpc.api.kentik.eu:443", "region, profile p's region"},
	} {
		if got := st.Settings[key]; got != want {
			t.Errorf("%s = %+v, want %+v", key, got, want)
		}
	}
	if st.Profile != "p" || st.ConfigFile != cfg {
		t.Errorf("profile %q from %q", st.Profile, st.ConfigFile)
	}
	// An endpoint from the environment is a choice of where to connect: the profile's
	// region and V5 URL do not mix with it.
	st = statusOf(t, with(env, "KENTIK_GRPC_ENDPOINT", "grpc.example.com:443"))
	if st.Settings["region"].Value != "us" || st.Settings["api_url"].Value != kentik.US.V5BaseURL() || st.Settings["grpc_endpoint"].Source != "KENTIK_GRPC_ENDPOINT" {
		t.Errorf("location mixed across layers: %+v", st.Settings)
	}
	// And a --region flag wins over both.
	st = statusOf(t, with(env, "KENTIK_GRPC_ENDPOINT", "grpc.example.com:443"), "--region", "eu")
	if st.Settings["region"] != (statusSetting{"eu", "--region"}) || st.Settings["grpc_endpoint"].Value != kentik.EU.GRPCEndpoint() {
		t.Errorf("--region: %+v", st.Settings)
	}
}

// TestTokenSources: the token comes from --token or --token-file (not both), else
// KENTIK_API_TOKEN, KENTIK_API_TOKEN_FILE, KTAPI_AUTH_TOKEN, else the profile; a token
// file is read only when it is the one used, and must be private.
func TestTokenSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  file-token \nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	env := map[string]string{"KENTIK_EMAIL": "a@example.com"}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		from string
	}{
		{with(env, "KENTIK_API_TOKEN_FILE", missing), []string{"--token-file", file}, "--token-file"},
		{with(with(env, "KENTIK_API_TOKEN", "t"), "KENTIK_API_TOKEN_FILE", missing), nil, "KENTIK_API_TOKEN"},
		{with(with(env, "KTAPI_AUTH_TOKEN", "t"), "KENTIK_API_TOKEN_FILE", file), nil, "KENTIK_API_TOKEN_FILE"},
		{with(env, "KTAPI_AUTH_TOKEN", "t"), nil, "KTAPI_AUTH_TOKEN"},
	} {
		if st := statusOf(t, tc.env, tc.args...); st.Settings["token"].Source != tc.from {
			t.Errorf("%v %q: token from %q, want %q", tc.env, tc.args, st.Settings["token"].Source, tc.from)
		}
	}
	// The token read is the file's first line, trimmed: the fake accepts it.
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(1, 1),
		kentiktest.WithCredentials(kentik.Credentials{Email: "a@example.com", Token: "file-token"}))
	code, _, stderr := runKentik(t, with(env, "KENTIK_GRPC_ENDPOINT", srv.GRPCAddr()), nil, "--plaintext", "--token-file", file, "interfaces", "get", srv.InterfaceIDs()[0])
	if code != ExitOK {
		t.Errorf("--token-file against the fake: exit %d\n%s", code, stderr)
	}

	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env, []string{"--token", "t", "--token-file", file}, "[token token-file] were all set"},
		{env, []string{"--token-file", missing}, "--token-file: open " + missing},
		{env, []string{"--token-file", open}, "open to group or others (mode 0644): run chmod 600 " + open},
		{with(env, "KENTIK_API_TOKEN_FILE", open), nil, "KENTIK_API_TOKEN_FILE: " + open + " holds a Kentik API token but is open to group or others (mode 0644)"},
		{env, []string{"--token-file", empty}, "holds no token"},
		{env, []string{"--token-file", dir}, "is not a regular file"},
	} {
		if strings.Contains(tc.want, "mode 0644") && runtime.GOOS == "windows" {
			continue // ACLs, not mode bits, decide there
		}
		code, _, stderr := runKentik(t, tc.env, nil, append(tc.args, "auth", "status")...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want %q in\n%s", tc.args, code, tc.want, stderr)
		}
	}
}

// TestProfileErrors: a profile that is named must exist; a config file that others can
// read may not hold a token; a bad value names the profile setting it came from.
func TestProfileErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, map[string]profile{"a": {Email: "a@example.com", Token: "t"}, "b": {Region: "mars"}})
	env := map[string]string{"KENTIK_CONFIG": cfg}
	bad := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env, []string{"--profile", "c"}, "--profile c: " + cfg + " has no such profile (it has: a, b)"},
		{with(env, "KENTIK_PROFILE", "c"), nil, "KENTIK_PROFILE c: " + cfg + " has no such profile"},
		{with(env, "KENTIK_CONFIG", filepath.Join(dir, "none.json")), []string{"--profile", "a"}, "there is no config file"},
		{env, []string{"--profile", "b"}, `profile b's region "mars": want us or eu`},
		{env, []string{"--profile", "a b"}, "--profile: profile name \"a b\": want letters"},
		{with(env, "KENTIK_CONFIG", bad("unknown.json", `{"profiles":{"a":{"tokenfile":"x"}}}`, 0o600)), nil, `unknown field "tokenfile"`},
		{with(env, "KENTIK_CONFIG", bad("both.json", `{"profiles":{"a":{"token":"x","token_file":"y"}}}`, 0o600)), nil, "profile a has both token and token_file"},
		{with(env, "KENTIK_CONFIG", bad("open.json", `{"profiles":{"default":{"token":"x"}}}`, 0o644)), nil, "open to group or others (mode 0644)"},
		{with(env, "KENTIK_CONFIG", bad("two.json", `{"profiles":{}} {}`, 0o600)), nil, "more than one JSON value"},
		{with(env, "KENTIK_CONFIG", bad("limiter.json", `{"profiles":{"default":{"limiter":"redis://u:s3cret@[::1"}}}`, 0o600)), nil, `profile default's limiter: redislimit: bad Redis URL`},
	} {
		if strings.Contains(tc.want, "mode 0644") && runtime.GOOS == "windows" {
			continue // ACLs, not mode bits, decide there
		}
		code, _, stderr := runKentik(t, tc.env, nil, append(tc.args, "auth", "status")...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v %q: exit %d, want %q in\n%s", tc.env, tc.args, code, tc.want, stderr)
		}
	}
	// A config file without tokens (token files only) may be readable by others.
	open := bad("open-ok.json", `{"profiles":{"default":{"email":"a@example.com","token_file":"tok"}}}`, 0o644)
	bad("tok", "t\n", 0o600)
	if st := statusOf(t, map[string]string{"KENTIK_CONFIG": open}); st.Settings["token"].Source != "profile default's token_file" {
		t.Errorf("token from %q", st.Settings["token"].Source)
	}
	// Without a config file and without a profile named, nothing is required.
	if st := statusOf(t, map[string]string{"KENTIK_CONFIG": filepath.Join(dir, "none.json")}); st.Profile != "" {
		t.Errorf("profile %q without a config file", st.Profile)
	}
}

// FuzzParseConfig: no input makes parseConfig panic, and what it accepts survives a
// write and a read unchanged.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"profiles":{"default":{"email":"a@b","token_file":"~/t","region":"eu","plaintext":true}}}`,
		`{"profiles":{"x":{"token":"t","rate_limit":"concurrency=1,60/1m"}}}`,
		`{}`, `{"profiles":null}`, `[]`, `{"profiles":{"a b":{}}}`, `{"profiles":{"a":{"email":1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseConfig(out)
		if err != nil {
			t.Fatalf("%q accepted, its rewrite %q refused: %v", data, out, err)
		}
		if len(again.Profiles) != len(c.Profiles) {
			t.Fatalf("profiles %v became %v", c.Profiles, again.Profiles)
		}
		for name, p := range c.Profiles {
			if again.Profiles[name] != p {
				t.Fatalf("profile %s: %+v became %+v", name, p, again.Profiles[name])
			}
		}
	})
}
