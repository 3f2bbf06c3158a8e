package cli

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

// TestInterfaceJSONLenientEnums: create and update take the enum spellings plans and
// flags take; a bad value lists the accepted ones.
func TestInterfaceJSONLenientEnums(t *testing.T) {
	srv := startFake(t, 0)
	code, out, stderr := runCLI(t, srv, `{"deviceId":"1001","snmpId":"5","connectivityType":"paid-pni","network_boundary":"External","initialConnectivityType":"CONNECTIVITY_TYPE_IX"}`,
		"interfaces", "create", "-f", "-", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var resp ifacev1.CreateInterfaceResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	it := resp.GetInterface()
	if it.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_PAID_PNI || it.GetNetworkBoundary() != ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL ||
		it.GetInitialConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX {
		t.Errorf("created %v", it)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"deviceId":"1001","connectivityType":"transitt"}`, `connectivityType: unknown connectivity type "transitt" (want one of: aggregation_interconnect, available, backbone`},
		{`{"deviceId":"1001","networkBoundary":"outside"}`, `networkBoundary: unknown network boundary "outside" (want one of: auto, external, internal, none, unspecified)`},
	} {
		code, _, stderr := runCLI(t, srv, tc.in, "interfaces", "create", "-f", "-")
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want %q in\n%s", tc.in, code, tc.want, stderr)
		}
	}
	code, _, stderr = runCLI(t, srv, `{"deviceId":"1001","snmpId":"5","connectivityType":"ix","networkBoundary":"external","initialConnectivityType":"ix"}`, "interfaces", "update", it.GetId(), "-f", "-")
	if code != ExitOK {
		t.Fatalf("update: exit %d\n%s", code, stderr)
	}
	if got, _ := srv.Interface(it.GetId()); got.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX {
		t.Errorf("updated %v", got)
	}
}

// TestLenientEnums: only enum values change; order, other values and what protojson
// must refuse (unknown and repeated fields, bad JSON) are left for protojson.
func TestLenientEnums(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"provider":"x","connectivityType":"transit","snmpSpeed":10}`, `{"provider":"x","connectivityType":"CONNECTIVITY_TYPE_TRANSIT","snmpSpeed":10}`},
		{` { "connectivity_type" : 15 , "networkBoundary" : null } `, `{"connectivity_type":15,"networkBoundary":null}`},
		{`{"vrf":{"name":"blue"},"cdate":"2026-01-01T00:00:00Z"}`, `{"vrf":{"name":"blue"},"cdate":"2026-01-01T00:00:00Z"}`},
		{`{"noSuch":"transit","provider":"a","provider":"b"}`, `{"noSuch":"transit","provider":"a","provider":"b"}`},
		{`not json`, `not json`},
		{`{"provider":"x"} trailing`, `{"provider":"x"} trailing`},
		{`[1]`, `[1]`},
	} {
		got, err := lenientEnums(interfaceDesc, []byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzLenientEnums: no input makes lenientEnums panic, and on input protojson already
// takes, the rewrite means the same interface.
func FuzzLenientEnums(f *testing.F) {
	for _, s := range []string{
		`{"connectivityType":"paid-pni","networkBoundary":"EXTERNAL"}`,
		`{"connectivityType":"CONNECTIVITY_TYPE_IX","snmpSpeed":100,"vrf":{"name":"v"}}`,
		`{"topNexthopAsns":[1,2],"interfaceKvs":{"a":"b"}}`,
		`{"a":`, `{}`, `null`, `{"connectivityType":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := lenientEnums(interfaceDesc, data)
		var direct ifacev1.Interface
		if protojson.Unmarshal(data, &direct) != nil {
			return
		}
		if err != nil {
			t.Fatalf("protojson takes %q, lenientEnums refuses it: %v", data, err)
		}
		var rewritten ifacev1.Interface
		if err := protojson.Unmarshal(out, &rewritten); err != nil {
			t.Fatalf("%q rewritten to %q, which protojson refuses: %v", data, out, err)
		}
		if !proto.Equal(&direct, &rewritten) {
			t.Fatalf("%q means %v, rewritten %q means %v", data, &direct, out, &rewritten)
		}
	})
}

// FuzzSetField: no assignment makes --set panic, and one it accepts sets a single
// value that is not Kentik's to set, to what a second reading of the same text sets.
func FuzzSetField(f *testing.F) {
	for _, s := range []string{"provider=Zayo", "connectivity_type=paid-pni", "snmpSpeed=100", "id=1", "vrf=x", "=", "x", "snmp_speed=-2147483649", "network_boundary= EXTERNAL "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var a, b ifacev1.Interface
		fd, err := setField(&a, s)
		if err != nil {
			return
		}
		if !settable(fd) {
			t.Fatalf("%q set %s, which --set must refuse", s, fd.Name())
		}
		if _, err := setField(&b, s); err != nil || !proto.Equal(&a, &b) {
			t.Fatalf("%q: a second reading differs: %v", s, err)
		}
	})
}
