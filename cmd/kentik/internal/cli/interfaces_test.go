package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// runCLI runs the command against srv with its credentials from the
// environment and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, srv *kentiktest.Server, stdin string, args ...string) (int, string, string) {
	t.Helper()
	env := map[string]string{}
	if srv != nil {
		creds := srv.Credentials()
		env = map[string]string{
			"KENTIK_EMAIL": creds.Email, "KENTIK_API_TOKEN": creds.Token,
			"KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(), "KENTIK_RATE_LIMIT": "off",
		}
	}
	var out, errOut bytes.Buffer
	args = append([]string{"--plaintext", "--timeout", "10s"}, args...)
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func startFake(t *testing.T, n int) *kentiktest.Server {
	return kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithInterfaces(n, 7))
}

func TestInterfacesListTableAndJSON(t *testing.T) {
	srv := startFake(t, 96)
	code, out, errOut := runCLI(t, srv, "", "interfaces", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 97 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "CONNECTIVITY") {
		t.Fatalf("table has %d lines:\n%.500s", len(lines), out)
	}
	if !strings.Contains(errOut, "96 interfaces") {
		t.Errorf("stderr: %q", errOut)
	}

	code, out, errOut = runCLI(t, srv, "", "interfaces", "list", "--device-id", "1001", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var resp ifacev1.ListInterfaceResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("not protojson: %v\n%.300s", err, out)
	}
	if len(resp.GetInterfaces()) != 48 {
		t.Fatalf("device 1001 has %d interfaces, want 48", len(resp.GetInterfaces()))
	}
	for _, it := range resp.GetInterfaces() {
		if it.GetDeviceId() != "1001" {
			t.Fatalf("filter ignored: %v", it.GetDeviceId())
		}
	}
	// Stable bytes: the same call prints the same text, indented by two spaces.
	_, again, _ := runCLI(t, srv, "", "interfaces", "list", "--device-id", "1001", "-o", "json")
	if again != out || !strings.HasPrefix(out, "{\n  \"interfaces\": [\n    {\n      \"id\": ") {
		t.Errorf("json not stable or not indented:\n%.200s", out)
	}
}

func TestInterfacesListFilters(t *testing.T) {
	srv := startFake(t, 96)
	all := srv.AllInterfaces()
	var want int
	for _, it := range all {
		if it.GetConnectivityType() == ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT {
			want++
		}
	}
	for _, form := range []string{"transit", "TRANSIT", "CONNECTIVITY_TYPE_TRANSIT"} {
		code, out, errOut := runCLI(t, srv, "", "interfaces", "list", "--connectivity-type", form, "-o", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", form, code, errOut)
		}
		var resp ifacev1.ListInterfaceResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.GetInterfaces()) != want {
			t.Errorf("%s: %d interfaces, want %d", form, len(resp.GetInterfaces()), want)
		}
	}
	// Every filter flag is accepted.
	code, _, errOut := runCLI(t, srv, "", "interfaces", "list", "--text", "x", "--device-id", "1001,1002",
		"--connectivity-type", "ix", "--network-boundary", "external", "--provider", "A, Inc.", "--snmp-speed", "10000",
		"--ip-type", "public")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, bad := range [][]string{{"--connectivity-type", "transitt"}, {"--network-boundary", "inside"}, {"--ip-type", "v4"}, {"--snmp-speed", "fast"}} {
		code, _, errOut := runCLI(t, srv, "", append([]string{"interfaces", "list"}, bad...)...)
		if code != ExitUsage || !strings.Contains(errOut, bad[0]) {
			t.Errorf("%v: exit %d, %s", bad, code, errOut)
		}
	}
}

func TestInterfacesCRUD(t *testing.T) {
	srv := startFake(t, 0)
	dir := t.TempDir()
	file := filepath.Join(dir, "iface.json")
	if err := os.WriteFile(file, []byte(`{"deviceId":"1001","snmpId":"12","interfaceDescription":"uplink to ExampleNet","connectivityType":"CONNECTIVITY_TYPE_TRANSIT"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, srv, "", "interfaces", "create", "--file", file, "-o", "json")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	var created ifacev1.CreateInterfaceResponse
	if err := protojson.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	id := created.GetInterface().GetId()
	if id == "" || created.GetInterface().GetInterfaceDescription() != "uplink to ExampleNet" {
		t.Fatalf("created %v", created.GetInterface())
	}

	code, out, errOut = runCLI(t, srv, "", "interfaces", "get", id)
	if code != 0 || !strings.Contains(out, "uplink to ExampleNet") || !strings.Contains(out, "transit") {
		t.Fatalf("get: exit %d: %s%s", code, out, errOut)
	}

	// update from stdin; the id comes from the argument.
	code, out, errOut = runCLI(t, srv, `{"deviceId":"1001","snmpId":"12","interfaceDescription":"uplink","provider":"ExampleNet","connectivityType":"transit"}`,
		"interfaces", "update", id, "--file", "-")
	if code != 0 || !strings.Contains(out, "ExampleNet") {
		t.Fatalf("update: exit %d: %s%s", code, out, errOut)
	}
	if it, ok := srv.Interface(id); !ok || it.GetProvider() != "ExampleNet" {
		t.Fatalf("server has %v", it)
	}
	code, _, errOut = runCLI(t, srv, `{"id":"999"}`, "interfaces", "update", id, "-f", "-")
	if code != ExitUsage || !strings.Contains(errOut, "999") {
		t.Errorf("mismatched id: exit %d: %s", code, errOut)
	}

	code, out, _ = runCLI(t, srv, "", "interfaces", "delete", id, "--yes")
	if code != 0 || out != "deleted interface "+id+"\n" {
		t.Fatalf("delete: exit %d: %q", code, out)
	}
	code, _, errOut = runCLI(t, srv, "", "interfaces", "get", id)
	if code != ExitFailure || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("get after delete: exit %d: %s", code, errOut)
	}
}

func TestInterfacesErrors(t *testing.T) {
	srv := startFake(t, 0)
	// Bad input files are usage errors.
	for _, in := range []string{"not json", `{"noSuchField":1}`} {
		code, _, errOut := runCLI(t, srv, in, "interfaces", "create", "-f", "-")
		if code != ExitUsage || !strings.Contains(errOut, "stdin") {
			t.Errorf("%q: exit %d: %s", in, code, errOut)
		}
	}
	if code, _, _ := runCLI(t, srv, "", "interfaces", "get"); code != ExitUsage {
		t.Errorf("get without id: exit %d", code)
	}
	if code, _, errOut := runCLI(t, srv, "", "interfaces", "create", "-f", filepath.Join(t.TempDir(), "missing.json")); code != ExitUsage {
		t.Errorf("missing file: exit %d: %s", code, errOut)
	}

	// A wrong token: one clear line, exit 1, the token never printed.
	var out, errOut bytes.Buffer
	env := map[string]string{"KENTIK_EMAIL": srv.Credentials().Email, "KENTIK_API_TOKEN": "wrong-secret", "KENTIK_GRPC_ENDPOINT": srv.GRPCAddr()}
	code := run(context.Background(), []string{"--plaintext", "interfaces", "get", "1"}, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	if code != ExitFailure || !strings.Contains(errOut.String(), "Unauthenticated") || !strings.Contains(errOut.String(), "the token (from KENTIK_API_TOKEN)") || strings.Contains(errOut.String(), "wrong-secret") {
		t.Errorf("wrong token: exit %d: %s", code, errOut.String())
	}

	// Missing credentials and plaintext to a remote host fail before dialling, as usage errors.
	code = run(context.Background(), []string{"interfaces", "get", "1"}, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	if code != ExitUsage {
		t.Errorf("no credentials: exit %d", code)
	}
	errOut.Reset()
	code = run(context.Background(), []string{"--plaintext", "--grpc-endpoint", "grpc.api.kentik.com:443", "--email", "a@b", "--token", "t", "interfaces", "get", "1"},
		strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	if code != ExitUsage || !strings.Contains(errOut.String(), "loopback") {
		t.Errorf("remote plaintext: exit %d: %s", code, errOut.String())
	}
}

func TestInterfacesVerboseLogsWithoutToken(t *testing.T) {
	srv := startFake(t, 3)
	if err := srv.FailNext("GetInterface", 1, codes.Unavailable); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, srv, "", "-v", "interfaces", "get", srv.InterfaceIDs()[0])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "grpc.method=GetInterface") || !strings.Contains(errOut, "grpc.attempts=2") {
		t.Errorf("verbose log lacks the call:\n%s", errOut)
	}
	if strings.Contains(errOut, srv.Credentials().Token) {
		t.Error("the token was logged")
	}
}

func TestWriteProtoJSONStable(t *testing.T) {
	m := &ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: "1", ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX, InterfaceKvs: map[string]string{"b": "2", "a": "1"}}}
	var b bytes.Buffer
	if err := writeProtoJSON(&b, m); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"interface\": {\n    \"id\": \"1\",\n    \"connectivityType\": \"CONNECTIVITY_TYPE_IX\",\n    \"interfaceKvs\": {\n      \"a\": \"1\",\n      \"b\": \"2\"\n    }\n  }\n}\n"
	if b.String() != want {
		t.Errorf("got\n%s", b.String())
	}
	if !json.Valid(b.Bytes()) {
		t.Error("invalid JSON")
	}
	var tb bytes.Buffer
	_ = writeTable(&tb, []string{"A", "B"}, [][]string{{"x\ty", ""}})
	if tb.String() != "A    B\nx y  -\n" {
		t.Errorf("table: %q", tb.String())
	}
}

// TestInterfaceIDsChecked: an id that is not a Kentik interface id is a usage error before
// any call, not INVALID_ARGUMENT (exit 1) after one that counts against the rate limit.
func TestInterfaceIDsChecked(t *testing.T) {
	srv := startFake(t, 1)
	file := filepath.Join(t.TempDir(), "iface.json")
	if err := os.WriteFile(file, []byte(`{"provider":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"abc", "-1", "0", "007", "1e5", "1000001x", "+1000001", "18446744073709551616", " "} {
		for _, args := range [][]string{
			{"interfaces", "get", "--", id},
			{"interfaces", "delete", "--", id},
			{"interfaces", "update", "-f", file, "--", id},
		} {
			code, stdout, stderr := runCLI(t, srv, "", args...)
			if code != ExitUsage || stdout != "" || !strings.Contains(stderr, "interface id") {
				t.Errorf("%q: exit %d, want %d\n%s%s", args, code, ExitUsage, stdout, stderr)
			}
		}
	}
	if calls := srv.Stats().GRPC.Calls; len(calls) != 0 {
		t.Errorf("calls sent for bad ids: %v", calls)
	}
	// The largest 64-bit id is well formed: the server answers it.
	if code, _, stderr := runCLI(t, srv, "", "interfaces", "get", "18446744073709551615"); code != ExitFailure || !strings.Contains(stderr, "NotFound") {
		t.Errorf("64-bit id: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, srv, "", "interfaces", "get", " "+srv.InterfaceIDs()[0]+" "); code != ExitOK {
		t.Errorf("id with blanks around it: exit %d\n%s", code, stderr)
	}
}

// TestInterfaceFileIsDirectory: a directory given as --file is a bad flag (exit 2), as a
// missing file is.
func TestInterfaceFileIsDirectory(t *testing.T) {
	srv := startFake(t, 1)
	if code, _, stderr := runCLI(t, srv, "", "interfaces", "create", "-f", t.TempDir()); code != ExitUsage || !strings.Contains(stderr, "directory") {
		t.Errorf("exit %d, want %d\n%s", code, ExitUsage, stderr)
	}
}

// TestStdinInterrupted: Ctrl-C while the command waits for stdin (a terminal, or a pipe
// whose writer ignores the signal) stops it at once, as the first Ctrl-C must; a read that
// never returns must not leave only the second, killing one. The spooled plan is removed.
func TestStdinInterrupted(t *testing.T) {
	srv := startFake(t, 1)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the classify job spools stdin
	creds := srv.Credentials()
	env := map[string]string{"KENTIK_EMAIL": creds.Email, "KENTIK_API_TOKEN": creds.Token, "KENTIK_GRPC_ENDPOINT": srv.GRPCAddr()}
	for _, args := range [][]string{
		{"--plaintext", "interfaces", "classify", "--file", "-", "-o", "json"},
		{"--plaintext", "interfaces", "create", "--file", "-"},
		{"--plaintext", "interfaces", "update", "1000001", "--file", "-"},
	} {
		stdinR, stdinW := io.Pipe() // a writer that never writes nor closes
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		var out, errOut bytes.Buffer
		go func() {
			done <- run(ctx, args, stdinR, &out, &errOut, func(k string) string { return env[k] })
		}()
		time.Sleep(100 * time.Millisecond)
		cancel()
		select {
		case code := <-done:
			if code != ExitFailure || out.Len() != 0 {
				t.Errorf("%q: exit %d, want %d\n%s%s", args, code, ExitFailure, out.String(), errOut.String())
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: still waiting for stdin 5s after the interrupt", args)
			stdinW.Close()
			<-done
		}
		stdinW.Close()
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}
