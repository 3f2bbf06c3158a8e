package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/gokentik/kentik"
	devicev1 "github.com/gokentik/kentik/gen/kentik/device/v202308beta1"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
)

// fakeOutput is a bytes.Buffer the command writes to while the test reads it.
type fakeOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *fakeOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *fakeOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runFakeCommand runs `kentik fake args...` until the test ends and returns the gRPC
// endpoint and V5 URL it printed, and its output.
func runFakeCommand(t *testing.T, env map[string]string, args ...string) (grpcAddr, v5URL string, out *fakeOutput) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &fakeOutput{}
	var errOut fakeOutput
	code := make(chan int, 1)
	args = append([]string{"fake", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"}, args...)
	go func() {
		code <- run(ctx, args, strings.NewReader(""), out, &errOut, func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-code:
			if c != ExitOK {
				t.Errorf("kentik fake exited %d: %s", c, errOut.String())
			}
			if !strings.Contains(out.String(), "kentik fake: stopped") {
				t.Errorf("no stop message in %q", out.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("kentik fake did not stop after its context was cancelled")
		}
	})
	re := regexp.MustCompile(`KENTIK_GRPC_ENDPOINT=(\S+) KENTIK_API_URL=(\S+)`)
	for i := 0; i < 1000; i++ {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], m[2], out
		}
		select {
		case c := <-code:
			t.Fatalf("kentik fake exited %d early: %s%s", c, out.String(), errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("kentik fake printed no endpoint: %q", out.String())
	return "", "", nil
}

func fakeListInterfaces(t *testing.T, addr string, c kentik.Credentials) (*ifacev1.ListInterfaceResponse, error) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, kentik.MetadataEmail, c.Email, kentik.MetadataToken, c.Token)
	return ifacev1.NewInterfaceServiceClient(cc).ListInterface(ctx, &ifacev1.ListInterfaceRequest{})
}

func TestFakeDefaults(t *testing.T) {
	addr, v5, out := runFakeCommand(t, nil, "--interfaces", "100", "--rate-limit", "off")
	banner := out.String()
	for _, want := range []string{kentiktest.DefaultEmail, kentiktest.DefaultToken, "built-in local token", "100 on 3 devices", "kentik --plaintext interfaces list", "rate limit off"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	resp, err := fakeListInterfaces(t, addr, kentik.Credentials{Email: kentiktest.DefaultEmail, Token: kentiktest.DefaultToken})
	if err != nil || resp.GetTotalCount() != 100 {
		t.Fatalf("list: %v %v", resp.GetTotalCount(), err)
	}
	req, _ := http.NewRequest("GET", v5+"/mykentik/tenants", nil)
	req.Header.Set(kentik.HeaderEmail, kentiktest.DefaultEmail)
	req.Header.Set(kentik.HeaderToken, kentiktest.DefaultToken)
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	r, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Errorf("V5 status %d", r.StatusCode)
	}
}

func TestFakeCredentialsFromEnvironment(t *testing.T) {
	env := map[string]string{"KENTIK_EMAIL": "me@example.com", "KENTIK_API_TOKEN": "env-secret-token"}
	addr, _, out := runFakeCommand(t, env, "--interfaces", "0")
	if strings.Contains(out.String(), "env-secret-token") {
		t.Errorf("banner shows the user's token:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "rate limit admin (concurrency=1,") {
		t.Errorf("banner does not describe the default policy:\n%s", out.String())
	}
	if _, err := fakeListInterfaces(t, addr, kentik.Credentials{Email: kentiktest.DefaultEmail, Token: kentiktest.DefaultToken}); err == nil {
		t.Error("the default credentials were accepted although others were configured")
	}
	if _, err := fakeListInterfaces(t, addr, kentik.Credentials{Email: "me@example.com", Token: "env-secret-token"}); err != nil {
		t.Errorf("configured credentials refused: %v", err)
	}
}

func TestFakeUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"any address":         {"fake", "--grpc-listen", "0.0.0.0:0", "--http-listen", "127.0.0.1:0"},
		"empty host":          {"fake", "--grpc-listen", "127.0.0.1:0", "--http-listen", ":0"},
		"no port":             {"fake", "--grpc-listen", "127.0.0.1"},
		"port out of range":   {"fake", "--grpc-listen", "127.0.0.1:99999", "--http-listen", "127.0.0.1:0"},
		"port not a number":   {"fake", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:nosuchport"},
		"listen-any bad port": {"fake", "--listen-any", "--email", "me@example.com", "--token", "t0ken", "--grpc-listen", "0.0.0.0:-1", "--http-listen", "127.0.0.1:0"},
		"listen-any defaults": {"fake", "--listen-any", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
		"negative":            {"fake", "--interfaces", "-1"},
		"bad v5 policy":       {"fake", "--v5-rate-limit", "fast", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
		"argument":            {"fake", "extra"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(""), &out, &errOut, func(string) string { return "" }); code != ExitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", name, code, ExitUsage, errOut.String())
		}
	}
}

func TestFakeListenAnyWithOwnCredentials(t *testing.T) {
	env := map[string]string{"KENTIK_EMAIL": "me@example.com", "KENTIK_API_TOKEN": "t0ken"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stop as soon as it started
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"fake", "--listen-any", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interfaces", "0"},
		strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	if code != ExitOK || !strings.Contains(out.String(), "stopped") {
		t.Errorf("exit %d: %s %s", code, out.String(), errOut.String())
	}
}

// The fake's public token never guards a fake that listens beyond loopback, wherever it
// comes from.
func TestFakeListenAnyRefusesBuiltInToken(t *testing.T) {
	base := []string{"fake", "--listen-any", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interfaces", "0"}
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"flags":       {[]string{"--email", "me@example.com", "--token", "kentiktest-token"}, nil},
		"environment": {nil, map[string]string{"KENTIK_EMAIL": "me@example.com", "KENTIK_API_TOKEN": "kentiktest-token"}},
		"sdk names":   {nil, map[string]string{"KTAPI_AUTH_EMAIL": "me@example.com", "KTAPI_AUTH_TOKEN": " kentiktest-token "}},
		"none":        {nil, nil},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a fake that starts stops at once
		var out, errOut bytes.Buffer
		code := run(ctx, append(tc.args, base...), strings.NewReader(""), &out, &errOut, func(k string) string { return tc.env[k] })
		if code != ExitUsage || !strings.Contains(errOut.String(), "--listen-any") {
			t.Errorf("%s: exit %d: %s", name, code, errOut.String())
		}
	}
}

func TestFakeDialable(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:9090":   "127.0.0.1:9090",
		"[::]:9090":      "[::1]:9090",
		"127.0.0.1:9090": "127.0.0.1:9090",
		"junk":           "junk",
	} {
		if got := fakeDialable(in); got != want {
			t.Errorf("fakeDialable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFakeJSON: with -o json the fake prints one JSON document on stdout (where to reach
// it) and nothing else there, so that a script can start it and read its addresses.
func TestFakeJSON(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut fakeOutput
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-o", "json", "fake", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interfaces", "10", "--rate-limit", "off"},
			strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	}()
	var doc struct {
		GRPCAddr string `json:"grpc_addr"`
		V5URL    string `json:"v5_url"`
		Email    string `json:"email"`
		Token    string `json:"token"`
	}
	for i := 0; !strings.HasSuffix(out.String(), "\n"); i++ {
		if i == 1000 {
			t.Fatalf("no output: %q %q", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out.String())
	}
	if resp, err := fakeListInterfaces(t, doc.GRPCAddr, kentik.Credentials{Email: doc.Email, Token: doc.Token}); err != nil || resp.GetTotalCount() != 10 {
		t.Errorf("list from the printed address: %v", err)
	}
	if !strings.HasSuffix(doc.V5URL, kentiktest.V5Prefix) {
		t.Errorf("v5_url %q", doc.V5URL)
	}
	cancel()
	select {
	case c := <-code:
		if c != ExitOK {
			t.Errorf("exit %d: %s", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("kentik fake did not stop")
	}
	var again map[string]any
	if err := json.Unmarshal([]byte(out.String()), &again); err != nil {
		t.Errorf("stdout after stopping is not one JSON document: %v\n%s", err, out.String())
	}
}

// --responses DIR answers methods with the canned protojson files under DIR; a bad file
// stops the fake before it listens, naming the file and the field.
func TestFakeResponses(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "kentik.device.v202308beta1.DeviceService")
	if err := os.MkdirAll(svc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(svc, "GetDevice.json"), []byte(`{"device": {"id": "42", "deviceName": "edge-1"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _, out := runFakeCommand(t, nil, "--interfaces", "0", "--rate-limit", "off", "--responses", dir)
	if !strings.Contains(out.String(), "canned responses       1 methods from "+dir) {
		t.Errorf("banner does not count the canned responses:\n%s", out.String())
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, kentik.MetadataEmail, kentiktest.DefaultEmail, kentik.MetadataToken, kentiktest.DefaultToken)
	resp, err := devicev1.NewDeviceServiceClient(cc).GetDevice(ctx, &devicev1.GetDeviceRequest{Id: "1"})
	if err != nil || resp.GetDevice().GetDeviceName() != "edge-1" {
		t.Fatalf("GetDevice: %v, %v", resp, err)
	}

	if err := os.WriteFile(filepath.Join(svc, "ListDevices.json"), []byte(`{"devices": [{"deviceNmae": "x"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"fake", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--responses", dir},
		strings.NewReader(""), &stdout, &stderr, func(string) string { return "" })
	if code != ExitFailure || !strings.Contains(stderr.String(), filepath.Join(svc, "ListDevices.json")) || !strings.Contains(stderr.String(), `unknown field "deviceNmae"`) {
		t.Errorf("bad file: exit %d, stderr %q", code, stderr.String())
	}
}
