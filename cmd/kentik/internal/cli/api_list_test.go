package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gokentik/kentik/services"
)

// api list and describe need no credentials, no endpoint and no network.
var noSettings = map[string]string{}

func TestAPIListTable(t *testing.T) {
	code, out, errOut := runKentikArgs(noSettings, "", "api", "list", "manualclassify")
	want := `kentik.interface.v202108alpha1.InterfaceService (alpha, grpc.api.kentik.com)
  METHOD          ACCESS  IDEMPOTENT  SCOPE                  LIMIT     HTTP
  ManualClassify  write   yes         admin.interface:write  v6-admin  POST /interface/v202108alpha1/manual_classify
`
	if code != 0 || out != want || errOut != "1 method of 1 service\n" {
		t.Errorf("exit %d:\n%s\nwant:\n%s\n%s", code, out, want, errOut)
	}
	// The region's host; a glob on the service's full name lists all its methods.
	code, out, _ = runKentikArgs(map[string]string{"KENTIK_REGION": "eu"}, "", "api", "list", "kentik.mkp.v202407.TenantService")
	want = `kentik.mkp.v202407.TenantService (GA, mkp.api.kentik.eu)
  METHOD        ACCESS  IDEMPOTENT  SCOPE            LIMIT     HTTP
  ListTenant    read    yes         admin.mkp:read   v6-admin  GET /mkp/v202407/tenants
  GetTenant     read    yes         admin.mkp:read   v6-admin  GET /mkp/v202407/tenants/{id}
  CreateTenant  write   no          admin.mkp:write  v6-admin  POST /mkp/v202407/tenants
  UpdateTenant  write   yes         admin.mkp:write  v6-admin  PUT /mkp/v202407/tenants/{tenant.id}
  DeleteTenant  write   yes         admin.mkp:write  v6-admin  DELETE /mkp/v202407/tenants/{id}
`
	if code != 0 || out != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", code, out, want)
	}
}

// The patterns: a substring of the full name, or a glob on any of its parts.
func TestAPIListPatterns(t *testing.T) {
	count := func(args ...string) int {
		t.Helper()
		code, out, errOut := runKentikArgs(noSettings, "", append([]string{"api", "list", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		var l apiListJSON
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range l.Services {
			n += len(s.Methods)
		}
		return n
	}
	for _, tc := range []struct {
		pattern string
		want    int
	}{
		{"", 289},
		{"InterfaceService", 6},
		{"INTERFACESERVICE.LIST", 1},
		{"kentik.device.*", 19},              // a package glob: both versions of DeviceService
		{"DeviceService", 19},                // a substring
		{"ListDevices", 2},                   // a method name in two services
		{"kentik.device.v202308beta1", 9},    // a package
		{"*.DeviceService.ListDevices", 2},   // a glob on the full name
		{"DeviceService.List*", 2},           // a glob on Service.Method
		{"Get?nterface", 1},                  // a glob on the method's name
		{"kentik.mkp.v202407.TenantSer*", 5}, // a glob on the service's full name
		{"nothing-like-it", 0},
	} {
		if got := count(tc.pattern); got != tc.want {
			t.Errorf("%q: %d methods, want %d", tc.pattern, got, tc.want)
		}
	}
	code, _, errOut := runKentikArgs(noSettings, "", "api", "list", "[")
	if code != ExitUsage || !strings.Contains(errOut, `PATTERN "["`) {
		t.Errorf("bad glob: exit %d: %s", code, errOut)
	}
	code, _, errOut = runKentikArgs(noSettings, "", "api", "list", "a", "b")
	if code != ExitUsage {
		t.Errorf("two patterns: exit %d: %s", code, errOut)
	}
}

// api list -o json: every public service and method, with what the schema says of each.
func TestAPIListJSON(t *testing.T) {
	code, out, errOut := runKentikArgs(noSettings, "", "api", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var l apiListJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		t.Fatal(err)
	}
	if l.Region != "us" || len(l.Services) != len(services.All()) || len(l.Services) != 60 {
		t.Fatalf("region %q, %d services", l.Region, len(l.Services))
	}
	var found bool
	for _, s := range l.Services {
		for _, m := range s.Methods {
			if m.FullMethod != "/kentik.interface.v202108alpha1.InterfaceService/ListInterface" {
				continue
			}
			found = true
			want := apiMethodJSON{
				Name: "ListInterface", FullMethod: m.FullMethod,
				Input: "kentik.interface.v202108alpha1.ListInterfaceRequest", Output: "kentik.interface.v202108alpha1.ListInterfaceResponse",
				Access: "read", Idempotent: true, Scope: "admin.interface:read", LimitClass: "v6-admin",
				HTTP: &apiHTTPJSON{Method: "GET", Path: "/interface/v202108alpha1/interfaces"},
			}
			if got, _ := json.Marshal(m); string(got) != mustJSON(want) {
				t.Errorf("ListInterface:\n%s\nwant\n%s", got, mustJSON(want))
			}
			if s.Stability != "alpha" || s.Host != "grpc.api.kentik.com" || s.Package != "kentik.interface.v202108alpha1" {
				t.Errorf("service: %+v", s)
			}
		}
	}
	if !found {
		t.Error("no ListInterface")
	}
	// The raw keys, as scripts read them.
	if !strings.Contains(out, `"full_method": "/kentik.mkp.v202407.TenantService/ListTenant"`) || !strings.Contains(out, `"limit_class": "v6-admin"`) ||
		!strings.Contains(out, `"name": "ExecuteCommand",`) || !strings.Contains(out, `"private": true`) {
		t.Error("keys missing from the JSON")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestAPIDescribeMethod(t *testing.T) {
	code, out, errOut := runKentikArgs(noSettings, "", "api", "describe", "ListInterface")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	head := `package kentik.interface.v202108alpha1;

// alpha; served by grpc.api.kentik.com (grpc.api.kentik.eu in the EU); scope admin.interface
service InterfaceService {
  // read, idempotent; scope admin.interface:read; GET /interface/v202108alpha1/interfaces; limit class v6-admin
  rpc ListInterface(ListInterfaceRequest) returns (ListInterfaceResponse);
}

message ListInterfaceRequest {
  InterfaceFilter filters = 1;
}

message InterfaceFilter {
  string text = 1;
  repeated string device_ids = 2;
  repeated ConnectivityType connectivity_types = 3;
  repeated NetworkBoundary network_boundaries = 4;
  repeated string providers = 5;
  repeated int32 snmp_speeds = 6;
  repeated IpFilter ip_types = 7;
}

enum ConnectivityType {
  CONNECTIVITY_TYPE_UNSPECIFIED = 0;
`
	tail := `enum IpFilter {
  IP_FILTER_UNSPECIFIED = 0;
  IP_FILTER_PRIVATE = 1;
  IP_FILTER_PUBLIC = 2;
  IP_FILTER_UNSET = 3;
}

message ListInterfaceResponse {
  repeated Interface interfaces = 1;
  int32 total_count = 2;
  int32 invalid_count = 3;
}
`
	if !strings.HasPrefix(out, head) || !strings.HasSuffix(out, tail) || strings.Count(out, "enum ") != 3 {
		t.Errorf("describe ListInterface:\n%s", out)
	}
	// A method whose request has a body and that is idempotent by meaning.
	_, out, _ = runKentikArgs(noSettings, "", "api", "describe", "/kentik.interface.v202108alpha1.InterfaceService/ManualClassify")
	if !strings.Contains(out, "  // write, idempotent; scope admin.interface:write; POST /interface/v202108alpha1/manual_classify (body *); limit class v6-admin\n  rpc ManualClassify(ManualClassifyRequest) returns (ManualClassifyResponse);\n") {
		t.Errorf("describe ManualClassify:\n%s", out)
	}
}

func TestAPIDescribeKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"InterfaceService", []string{"service InterfaceService {\n", "  rpc ManualClassify(", "  rpc DeleteInterface(DeleteInterfaceRequest) returns (DeleteInterfaceResponse);\n}\n"}},
		{"kentik.interface.v202108alpha1.ConnectivityType", []string{"enum ConnectivityType {\n  CONNECTIVITY_TYPE_UNSPECIFIED = 0;\n", "  CONNECTIVITY_TYPE_MGT = 21;\n}\n"}},
		{"ManualClassifyRequest", []string{"message ManualClassifyRequest {\n  repeated string interface_ids = 1;\n  ConnectivityType connectivity_type = 2;\n  NetworkBoundary network_boundary = 3;\n  string provider = 4;\n}\n"}},
		{"kentik.interface.v202108alpha1.Interface.provider", []string{"message Interface {\n  string id = 1;\n"}}, // a field: its message
		{"kentik.interface.v202108alpha1.CONNECTIVITY_TYPE_IX", []string{"enum ConnectivityType {\n"}},             // an enum value: its enum
		{"google.protobuf.Timestamp", []string{"package google.protobuf;\n\n// in JSON: an RFC 3339 time in a string, e.g. \"2024-05-01T12:00:00Z\"\nmessage Timestamp {\n  int64 seconds = 1;\n  int32 nanos = 2;\n}\n"}},
		{"v202407.TenantService", []string{"// GA; served by mkp.api.kentik.com (mkp.api.kentik.eu in the EU); scope admin.mkp\nservice TenantService {\n"}},
	} {
		code, out, errOut := runKentikArgs(noSettings, "", "api", "describe", tc.name)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", tc.name, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: lacks %q:\n%s", tc.name, w, out)
			}
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"ListDevices", `"ListDevices" is ambiguous: it may be kentik.device.v202308beta1.DeviceService.ListDevices or kentik.device.v202504beta2.DeviceService.ListDevices`},
		{"ConectivityType", `no service, method, message or enum "ConectivityType" in this program's schema; did you mean ConnectivityType?`},
	} {
		code, _, errOut := runKentikArgs(noSettings, "", "api", "describe", tc.name)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d: %s", tc.name, code, errOut)
		}
	}
}

// describe -o json writes the descriptor.
func TestAPIDescribeJSON(t *testing.T) {
	code, out, errOut := runKentikArgs(noSettings, "", "api", "describe", "ConnectivityType", "-o", "json")
	var ed descriptorpb.EnumDescriptorProto
	if code != 0 || protojson.Unmarshal([]byte(out), &ed) != nil || ed.GetName() != "ConnectivityType" || ed.GetValue()[15].GetName() != "CONNECTIVITY_TYPE_TRANSIT" {
		t.Fatalf("exit %d: %.300s\n%s", code, out, errOut)
	}
	code, out, _ = runKentikArgs(noSettings, "", "api", "describe", "ListInterface", "-o", "json")
	var md descriptorpb.MethodDescriptorProto
	if code != 0 || protojson.Unmarshal([]byte(out), &md) != nil || md.GetInputType() != ".kentik.interface.v202108alpha1.ListInterfaceRequest" {
		t.Fatalf("exit %d: %.300s", code, out)
	}
}

// The schema text of a message with every shape of field: maps (their entry messages
// are not shown), a oneof, a proto3 optional, nested types, other packages' types.
func TestDescribeSchemaShapes(t *testing.T) {
	got := describeSchema(testRequest(t))
	want := `package clitest;

message Req {
  string s = 1;
  int32 i32 = 2;
  int64 i64 = 3;
  uint32 u32 = 4;
  double d = 5;
  bool b = 6;
  bytes by = 7;
  Color color = 8;
  repeated Color colors = 9;
  repeated int32 nums = 10;
  Sub sub = 11;
  repeated Sub subs = 12;
  map<string, Sub> subm = 13;
  map<int32, string> im = 14;
  oneof choice {
    string x = 15;
    Sub y = 16;
  }
  google.protobuf.Timestamp ts = 17;
  google.protobuf.Value v = 18;
  optional string opt = 19;
  float f = 20;
  map<string, Color> cm = 21;
  google.protobuf.Empty e = 22;
  map<int32, google.protobuf.Timestamp> tsm = 23;
}
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Shell completion offers method names, and files after -d @.
func TestAPICompletion(t *testing.T) {
	complete := func(args ...string) string {
		t.Helper()
		code, out, errOut := runKentikArgs(noSettings, "", append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		return out
	}
	if out := complete("api", "call", "ListI"); out != "ListInterface\tkentik.interface.v202108alpha1.InterfaceService (alpha)\n:4\n" {
		t.Errorf("ListI: %q", out)
	}
	out := complete("api", "call", "")
	if n := strings.Count(out, "\n"); n != 290 { // every method, and the directive
		t.Errorf("%d lines", n)
	}
	for _, w := range []string{"\nManualClassify\t", "\nv202308beta1.DeviceService.ListDevices\t", "\nv202504beta2.DeviceService.ListDevices\t"} {
		if !strings.Contains(out, w) {
			t.Errorf("lacks %q", w)
		}
	}
	if out := complete("api", "call", "ListDevice"); !strings.Contains(out, "ListDevices\tambiguous: 2 methods have this name\n") {
		t.Errorf("ListDevice: %q", out)
	}
	if out := complete("api", "call", "/kentik.mkp.v202407.TenantService/L"); out != "/kentik.mkp.v202407.TenantService/ListTenant\tkentik.mkp.v202407.TenantService (GA)\n:4\n" {
		t.Errorf("full: %q", out)
	}
	if out := complete("api", "call", "ListInterface", ""); out != ":4\n" {
		t.Errorf("second argument: %q", out)
	}
	if out := complete("api", "describe", "ConnectivityT"); out != "ConnectivityType\n:4\n" {
		t.Errorf("describe: %q", out)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "req.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "reqs"), 0o700); err != nil {
		t.Fatal(err)
	}
	prefix := "@" + dir + string(filepath.Separator) + "re"
	if out := complete("api", "call", "ListInterface", "-d", prefix); out != prefix+"q.json\n"+prefix+"qs"+string(filepath.Separator)+"\n:6\n" {
		t.Errorf("-d @: %q", out)
	}
	if out := complete("api", "call", "ListInterface", "-d", "{"); out != ":4\n" {
		t.Errorf("-d JSON: %q", out)
	}
}
