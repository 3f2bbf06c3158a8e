package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	mkpv1 "github.com/gokentik/kentik/gen/kentik/mkp/v202407"
	"github.com/gokentik/kentik/internal/testserver"
	"github.com/gokentik/kentik/ratelimit"
)

// ListInterface through api call prints what interfaces list -o json prints, byte for
// byte, whichever way the method is named.
func TestAPICallListInterfaceMatchesInterfacesList(t *testing.T) {
	srv := startFake(t, 96)
	code, want, errOut := runCLI(t, srv, "", "interfaces", "list", "--device-id", "1001", "--connectivity-type", "transit", "-o", "json")
	if code != 0 || !strings.Contains(want, `"interfaces"`) {
		t.Fatalf("interfaces list: exit %d: %s%s", code, want, errOut)
	}
	req := `{"filters": {"deviceIds": ["1001"], "connectivityTypes": ["CONNECTIVITY_TYPE_TRANSIT"]}}`
	for _, name := range []string{
		"ListInterface",
		"listinterface",
		"InterfaceService.ListInterface",
		"kentik.interface.v202108alpha1.InterfaceService.ListInterface",
		"/kentik.interface.v202108alpha1.InterfaceService/ListInterface",
		"kentik.interface.v202108alpha1.InterfaceService/ListInterface",
	} {
		code, got, errOut := runCLI(t, srv, "", "api", "call", name, "-d", req)
		if code != 0 || got != want {
			t.Errorf("api call %s: exit %d\n%s\nwant:\n%.300s\n%s", name, code, got, want, errOut)
		}
	}
	// The proto field names and enum numbers are protojson too.
	code, got, errOut := runCLI(t, srv, "", "api", "call", "ListInterface", "-d", `{"filters": {"device_ids": ["1001"], "connectivity_types": [15]}}`)
	if code != 0 || got != want {
		t.Errorf("proto names: exit %d\n%.300s\n%s", code, got, errOut)
	}
	if n := srv.Stats().GRPC.Calls["ListInterface"]; n != 8 {
		t.Errorf("the fake counted %d ListInterface calls, want 8", n)
	}
}

// ManualClassify through api call leaves the fake as interfaces classify leaves it.
func TestAPICallManualClassifyMatchesClassify(t *testing.T) {
	viaClassify, viaCall := startFake(t, 40), startFake(t, 40) // the same seed: the same interfaces
	ids := viaClassify.InterfaceIDs()[3:9]
	dir := t.TempDir()
	var plan strings.Builder
	plan.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for _, id := range ids {
		plan.WriteString(id + ",paid-pni,external,Zayo\n")
	}
	planFile := filepath.Join(dir, "plan.csv")
	if err := os.WriteFile(planFile, []byte(plan.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, viaClassify, "", "interfaces", "classify", "--file", planFile); code != 0 {
		t.Fatalf("classify: exit %d: %s%s", code, out, errOut)
	}

	body, _ := json.Marshal(map[string]any{
		"interfaceIds":     ids,
		"connectivityType": "CONNECTIVITY_TYPE_PAID_PNI",
		"networkBoundary":  "NETWORK_BOUNDARY_EXTERNAL",
		"provider":         "Zayo",
	})
	reqFile := filepath.Join(dir, "classify.json")
	if err := os.WriteFile(reqFile, body, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, viaCall, "", "api", "call", "ManualClassify", "-d", "@"+reqFile)
	if code != 0 {
		t.Fatalf("api call: exit %d: %s%s", code, out, errOut)
	}
	var resp ifacev1.ManualClassifyResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil || len(resp.GetDeviceIds()) == 0 {
		t.Fatalf("response %q: %v", out, err)
	}

	a, b := viaClassify.AllInterfaces(), viaCall.AllInterfaces()
	if len(a) != len(b) {
		t.Fatalf("%d and %d interfaces", len(a), len(b))
	}
	changed := 0
	for i := range a {
		x, y := proto.Clone(a[i]).(*ifacev1.Interface), proto.Clone(b[i]).(*ifacev1.Interface)
		x.Edate, y.Edate = nil, nil // the time of the change
		if !proto.Equal(x, y) {
			t.Errorf("interface %s differs:\nclassify: %v\napi call: %v", a[i].GetId(), x, y)
		}
		if slices.Contains(ids, a[i].GetId()) && y.GetProvider() == "Zayo" && y.GetConnectivityType() == ifacev1.ConnectivityType_CONNECTIVITY_TYPE_PAID_PNI {
			changed++
		}
	}
	if changed != len(ids) {
		t.Errorf("%d interfaces classified, want %d", changed, len(ids))
	}
}

// -d takes the request as JSON, from a file (@FILE) or from stdin (@-); without -d the
// request is empty.
func TestAPICallDataSources(t *testing.T) {
	srv := startFake(t, 10)
	id := srv.InterfaceIDs()[4]
	req := `{"id": "` + id + `"}`
	file := filepath.Join(t.TempDir(), "req.json")
	if err := os.WriteFile(file, []byte(req), 0o600); err != nil {
		t.Fatal(err)
	}
	code, want, errOut := runCLI(t, srv, "", "interfaces", "get", id, "-o", "json")
	if code != 0 {
		t.Fatalf("interfaces get: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"-d", req}},
		{"", []string{"--data", req}},
		{"", []string{"-d", "@" + file}},
		{req, []string{"-d", "@-"}},
	} {
		code, got, errOut := runCLI(t, srv, tc.stdin, append([]string{"api", "call", "GetInterface"}, tc.args...)...)
		if code != 0 || got != want {
			t.Errorf("%q: exit %d\n%s\nwant\n%s\n%s", tc.args, code, got, want, errOut)
		}
	}
	// No -d: the empty request. The fake lists every interface for an empty filter.
	code, out, errOut := runCLI(t, srv, "", "api", "call", "ListInterface")
	var resp ifacev1.ListInterfaceResponse
	if code != 0 || protojson.Unmarshal([]byte(out), &resp) != nil || len(resp.GetInterfaces()) != 10 {
		t.Errorf("no -d: exit %d, %d interfaces: %s", code, len(resp.GetInterfaces()), errOut)
	}
}

// A METHOD that names no method, or several, and a request that is not the method's
// JSON, are usage errors (exit 2) that say what is wrong, and nothing is sent.
func TestAPICallUsageErrors(t *testing.T) {
	srv := startFake(t, 1)
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  []string
	}{
		{"ambiguous", []string{"ListDevices"}, "", []string{`"ListDevices" is ambiguous`,
			"kentik.device.v202308beta1.DeviceService.ListDevices", "kentik.device.v202504beta2.DeviceService.ListDevices"}},
		{"ambiguous service", []string{"DeviceService.GetDevice"}, "", []string{"is ambiguous", "v202308beta1", "v202504beta2"}},
		{"unknown", []string{"ListInterfaces"}, "", []string{`no method "ListInterfaces"`, "did you mean ListInterface?"}},
		{"not a method", []string{"InterfaceService"}, "", []string{`no method "InterfaceService"`}},
		{"unknown field", []string{"ListInterface", "-d", `{"filter": {}}`}, "", []string{
			"-d: not a kentik.interface.v202108alpha1.ListInterfaceRequest: filter", "filter: no such field", "did you mean filters?"}},
		{"nested unknown field", []string{"ListInterface", "-d", `{"filters": {"connectivity": []}}`}, "", []string{
			"filters.connectivity: no such field in kentik.interface.v202108alpha1.InterfaceFilter", "connectivityTypes"}},
		{"enum value", []string{"ListInterface", "-d", `{"filters": {"connectivityTypes": ["CONNECTIVITY_TYPE_TRANSIT", "transit"]}}`}, "", []string{
			`filters.connectivityTypes[1]: "transit" is not a value of enum kentik.interface.v202108alpha1.ConnectivityType`,
			"CONNECTIVITY_TYPE_TRANSIT", "CONNECTIVITY_TYPE_PAID_PNI"}},
		{"single enum", []string{"ManualClassify", "-d", `{"networkBoundary": "outside"}`}, "", []string{
			`networkBoundary: "outside" is not a value of enum kentik.interface.v202108alpha1.NetworkBoundary, which takes NETWORK_BOUNDARY_UNSPECIFIED, NETWORK_BOUNDARY_AUTO, NETWORK_BOUNDARY_INTERNAL, NETWORK_BOUNDARY_EXTERNAL and NETWORK_BOUNDARY_NONE`}},
		{"scalar type", []string{"ListInterface", "-d", `{"filters": {"snmpSpeeds": [100, "fast"]}}`}, "", []string{
			`filters.snmpSpeeds[1]: want a whole number from -2147483648 to 2147483647`, `got "fast"`}},
		{"message type", []string{"ListInterface", "-d", `{"filters": "1001"}`}, "", []string{
			`filters: want a JSON object (a kentik.interface.v202108alpha1.InterfaceFilter), got a string "1001"`}},
		{"syntax", []string{"ListInterface", "-d", "{\n  \"filters\": {,}\n}"}, "", []string{"not valid JSON: line 2, column 15"}},
		{"two values", []string{"ListInterface", "-d", `{} {}`}, "", []string{"more than one JSON value (the second at line 1, column 4)"}},
		{"not an object", []string{"ListInterface", "-d", `[]`}, "", []string{"want a JSON object (a kentik.interface.v202108alpha1.ListInterfaceRequest), got an array"}},
		{"twice", []string{"ListInterface", "-d", `{"filters": {"device_ids": [], "deviceIds": []}}`}, "", []string{`filters.deviceIds: field device_ids is given twice (as "device_ids" and "deviceIds")`}},
		{"empty", []string{"ListInterface", "-d", " "}, "", []string{"-d is empty: want the request as a JSON object ({} for an empty request)"}},
		{"empty stdin", []string{"ListInterface", "-d", "@-"}, "", []string{"stdin (-d @-) is empty"}},
		{"bad stdin", []string{"ListInterface", "-d", "@-"}, `{"filters": {"text": 5}}`, []string{"stdin (-d @-): not a", "filters.text: want a string, got 5"}},
		{"no file", []string{"ListInterface", "-d", "@" + filepath.Join(dir, "missing.json")}, "", []string{"-d: open ", "no such file"}},
		{"directory", []string{"ListInterface", "-d", "@" + dir}, "", []string{"is a directory"}},
		{"no method", nil, "", []string{"missing METHOD"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, srv, tc.stdin, append([]string{"api", "call"}, tc.args...)...)
			if code != ExitUsage || out != "" {
				t.Errorf("exit %d, want %d; stdout %q", code, ExitUsage, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
	if st := srv.Stats(); len(st.GRPC.Calls) != 0 {
		t.Errorf("the fake received calls: %v", st.GRPC.Calls)
	}
	// A bad METHOD is said before missing credentials are.
	code, _, errOut := runCLI(t, nil, "", "api", "call", "ListDevices")
	if code != ExitUsage || !strings.Contains(errOut, "ambiguous") {
		t.Errorf("without credentials: exit %d: %s", code, errOut)
	}
	code, _, errOut = runCLI(t, nil, "", "api", "call", "ListInterface")
	if code != ExitUsage || !strings.Contains(errOut, "kentik auth login") {
		t.Errorf("without credentials: exit %d: %s", code, errOut)
	}
}

// A call the server refuses fails with exit 1 and the server's status: NOT_FOUND from
// the fake, UNIMPLEMENTED for a service the fake does not serve, UNAUTHENTICATED for a
// wrong token.
func TestAPICallFailures(t *testing.T) {
	srv := startFake(t, 1)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"GetInterface", "-d", `{"id": "999"}`}, nil, "NotFound"},
		{[]string{"v202504beta2.DeviceService.ListDevices"}, nil, "Unimplemented"},
		{[]string{"GetInterface", "-d", `{"id": "1"}`}, map[string]string{"KENTIK_API_TOKEN": "wrong"}, "Unauthenticated"},
	} {
		creds := srv.Credentials()
		env := map[string]string{"KENTIK_EMAIL": creds.Email, "KENTIK_API_TOKEN": creds.Token, "KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(), "KENTIK_RATE_LIMIT": "off"}
		for k, v := range tc.env {
			env[k] = v
		}
		code, out, errOut := runKentikArgs(env, "", append([]string{"--plaintext", "api", "call"}, tc.args...)...)
		if code != ExitFailure || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, want 1 with %s; stdout %q\n%s", tc.args, code, tc.want, out, errOut)
		}
		if strings.Contains(errOut, srv.Credentials().Token) && tc.env == nil {
			t.Errorf("the token is in the error: %s", errOut)
		}
	}
}

// runKentikArgs runs the command with env as its whole environment.
func runKentikArgs(env map[string]string, stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// tenantServer is a My Kentik TenantService of the test's own, on a host of its own
// (mkp.api.kentik.com in Kentik's schema): it answers ListTenant with one tenant and
// records the credentials of each call.
type tenantServer struct {
	mkpv1.UnimplementedTenantServiceServer
	addr string

	mu    sync.Mutex
	calls []metadata.MD
}

func startTenantServer(t *testing.T) *tenantServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tenantServer{addr: lis.Addr().String()}
	gs := grpc.NewServer()
	mkpv1.RegisterTenantServiceServer(gs, s)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return s
}

func (s *tenantServer) ListTenant(ctx context.Context, _ *mkpv1.ListTenantRequest) (*mkpv1.ListTenantResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.calls = append(s.calls, md)
	s.mu.Unlock()
	if len(md.Get("x-ch-auth-email")) != 1 || len(md.Get("x-ch-auth-api-token")) != 1 {
		return nil, status.Error(codes.Unauthenticated, "no credentials")
	}
	return &mkpv1.ListTenantResponse{Tenants: []*mkpv1.Tenant{{Id: "42", Name: "Acme"}}}, nil
}

func (s *tenantServer) recorded() []metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// runWithAPIOptions runs the command as run does, but with opts given to api call's
// client (client.WithHostEndpoint), and returns the command's error.
func runWithAPIOptions(env map[string]string, opts []client.Option, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	g := &Globals{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, getenv: func(k string) string { return env[k] }}
	root := newRoot(g)
	for _, c := range root.Commands() {
		if c.Name() == "api" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newAPICmd(g, opts...))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	for i := len(g.exits) - 1; i >= 0; i-- {
		g.exits[i]()
	}
	return out.String(), err
}

// A method is sent to the host that serves its service: My Kentik's TenantService to
// mkp.api.kentik.com (here a server of the test's), InterfaceService to the default host
// (here the fake), each with the credentials.
func TestAPICallRoutesByHost(t *testing.T) {
	fake := startFake(t, 3)
	mkp := startTenantServer(t)
	creds := fake.Credentials()
	env := map[string]string{"KENTIK_EMAIL": creds.Email, "KENTIK_API_TOKEN": creds.Token, "KENTIK_GRPC_ENDPOINT": fake.GRPCAddr(), "KENTIK_RATE_LIMIT": "off"}
	route := []client.Option{client.WithHostEndpoint("mkp.api.kentik.com", mkp.addr)}

	out, err := runWithAPIOptions(env, route, "--plaintext", "api", "call", "v202407.TenantService.ListTenant")
	if err != nil {
		t.Fatal(err)
	}
	var resp mkpv1.ListTenantResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil || len(resp.GetTenants()) != 1 || resp.GetTenants()[0].GetName() != "Acme" {
		t.Fatalf("ListTenant: %q, %v", out, err)
	}
	if _, err := runWithAPIOptions(env, route, "--plaintext", "api", "call", "ListInterface"); err != nil {
		t.Fatal(err)
	}
	calls := mkp.recorded()
	if len(calls) != 1 || calls[0].Get("x-ch-auth-email")[0] != creds.Email || calls[0].Get("x-ch-auth-api-token")[0] != creds.Token {
		t.Errorf("the mkp host got %d calls: %v", len(calls), calls)
	}
	if st := fake.Stats().GRPC.Calls; st["ListInterface"] != 1 || len(st) != 1 {
		t.Errorf("the default host got %v", st)
	}

	// --grpc-endpoint sends every host's calls to one address.
	code, out, errOut := runKentikArgs(map[string]string{"KENTIK_EMAIL": "a@example.com", "KENTIK_API_TOKEN": "t"}, "",
		"--plaintext", "--grpc-endpoint", mkp.addr, "api", "call", "/kentik.mkp.v202407.TenantService/ListTenant")
	if code != 0 || !strings.Contains(out, `"Acme"`) {
		t.Errorf("--grpc-endpoint: exit %d: %s%s", code, out, errOut)
	}
	if n := len(mkp.recorded()); n != 2 {
		t.Errorf("the mkp host got %d calls, want 2", n)
	}
}

// A method that streams its responses prints one JSON document per message.
func TestInvokeServerStream(t *testing.T) {
	ts := testserver.Start(t, testserver.Config{})
	c, err := client.New(context.Background(), client.WithEndpoint(ts.Addr), client.WithPlaintext(),
		client.WithCredentials(kentik.Credentials{Email: "a@example.com", Token: "t"}), client.WithRateLimit(ratelimit.Off))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := kentik.LookupMethod(testserver.StreamMethod)
	if err != nil {
		t.Fatal(err)
	}
	req, err := parseRequest(m.Desc.Input(), []byte(`{"id": "7"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = invokeMethod(context.Background(), c.Conn(), m.FullMethod, m.Desc, req, func(resp proto.Message) error {
		return writeProtoJSON(&out, resp)
	})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&out)
	n := 0
	for dec.More() {
		var doc struct {
			Interface struct{ ID string } `json:"interface"`
		}
		if err := dec.Decode(&doc); err != nil || doc.Interface.ID != "7" {
			t.Fatalf("document %d: %+v, %v", n, doc, err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d documents, want 3", n)
	}

	// A failure mid-stream comes after the messages before it.
	ts.SetStreamBeforeFail(2)
	ts.SetFail(func(_ context.Context, method string, _ int64) error {
		if method == "Repeat" {
			return status.Error(codes.DataLoss, "cut")
		}
		return nil
	})
	n = 0
	err = invokeMethod(context.Background(), c.Conn(), m.FullMethod, m.Desc, req, func(proto.Message) error { n++; return nil })
	if status.Code(err) != codes.DataLoss || n != 2 {
		t.Errorf("%d messages, then %v", n, err)
	}
}
