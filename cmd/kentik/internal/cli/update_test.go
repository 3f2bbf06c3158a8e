package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
)

// runTerminal runs the command against srv as runCLI does, deciding that stdin and
// stderr are a terminal when term is true.
func runTerminal(t *testing.T, srv *kentiktest.Server, term bool, stdin string, args ...string) (int, string, string) {
	t.Helper()
	creds := srv.Credentials()
	env := map[string]string{
		"KENTIK_EMAIL": creds.Email, "KENTIK_API_TOKEN": creds.Token,
		"KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(), "KENTIK_RATE_LIMIT": "off",
	}
	var out, errOut bytes.Buffer
	g := &Globals{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		getenv:     func(k string) string { return env[k] },
		isTerminal: func(any) bool { return term },
	}
	code := g.execute(context.Background(), append([]string{"--plaintext", "--timeout", "10s"}, args...))
	return code, out.String(), errOut.String()
}

// richInterface adds an interface with every field a partial file would clear.
func richInterface(t *testing.T, srv *kentiktest.Server) *ifacev1.Interface {
	t.Helper()
	it, err := srv.AddInterface(&ifacev1.Interface{
		DeviceId: "1001", SnmpId: "77", InterfaceDescription: "uplink to ExampleNet", SnmpAlias: "core-1 et-0/0/1",
		InterfaceIp: "192.0.2.1", InterfaceIpNetmask: "255.255.255.252", SnmpSpeed: 100000,
		ConnectivityType: ifacev1.ConnectivityType_CONNECTIVITY_TYPE_FREE_PNI,
		NetworkBoundary:  ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL, Provider: "Old Carrier",
	})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// sameExcept reports whether a and b agree on every field but edate and those named.
func sameExcept(a, b *ifacev1.Interface, fields ...string) bool {
	a, b = proto.CloneOf(a), proto.CloneOf(b)
	a.Edate, b.Edate = nil, nil
	for _, f := range fields {
		fd := interfaceField(f)
		a.ProtoReflect().Clear(fd)
		b.ProtoReflect().Clear(fd)
	}
	return proto.Equal(a, b)
}

// TestUpdateSet: --set changes only the fields it names (any spelling of the name and
// of enum values) and keeps every other one.
func TestUpdateSet(t *testing.T) {
	srv := startFake(t, 0)
	before := richInterface(t, srv)
	code, out, stderr := runCLI(t, srv, "", "interfaces", "update", before.GetId(),
		"--set", "provider=Zayo", "--set", "connectivity_type=paid-pni", "--set", "networkBoundary=INTERNAL", "--set", "snmp_speed= 400000 ")
	if code != ExitOK || !strings.Contains(out, "Zayo") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	after, _ := srv.Interface(before.GetId())
	if after.GetProvider() != "Zayo" || after.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_PAID_PNI ||
		after.GetNetworkBoundary() != ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL || after.GetSnmpSpeed() != 400000 {
		t.Errorf("not changed as asked: %v", after)
	}
	if !sameExcept(before, after, "provider", "connectivity_type", "network_boundary", "snmp_speed") {
		t.Errorf("other fields changed:\nbefore %v\nafter  %v", before, after)
	}
	// An empty value clears the field, whatever its kind.
	if code, _, stderr := runCLI(t, srv, "", "interfaces", "update", before.GetId(), "--set", "snmp_alias=",
		"--set", "connectivity_type=", "--set", "snmp_speed= "); code != ExitOK {
		t.Fatalf("clear: exit %d\n%s", code, stderr)
	}
	it, _ := srv.Interface(before.GetId())
	if it.GetSnmpAlias() != "" || it.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_UNSPECIFIED || it.GetSnmpSpeed() != 0 {
		t.Errorf("after clearing snmp_alias, connectivity_type and snmp_speed: %v", it)
	}
	if !sameExcept(after, it, "snmp_alias", "connectivity_type", "snmp_speed") {
		t.Errorf("other fields changed:\nbefore %v\nafter  %v", after, it)
	}
}

// TestUpdateSetErrors: bad assignments are usage errors before any call, and say what
// is accepted.
func TestUpdateSetErrors(t *testing.T) {
	srv := startFake(t, 0)
	id := richInterface(t, srv).GetId()
	file := filepath.Join(t.TempDir(), "iface.json")
	if err := os.WriteFile(file, []byte(`{"deviceId":"1001"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "colour=blue"}, "Interface has no such field (fields: device_id, snmp_id"},
		{[]string{"--set", "provider"}, "want FIELD=VALUE"},
		{[]string{"--set", "id=5"}, "Kentik maintains id itself"},
		{[]string{"--set", "vrf=x"}, "not a single value; change it with --file"},
		{[]string{"--set", "interface_kvs=a"}, "not a single value"},
		{[]string{"--set", "snmp_speed=fast"}, "want a whole number"},
		{[]string{"--set", "connectivity_type=transitt"}, `unknown connectivity type "transitt" (want one of: aggregation_interconnect`},
		{[]string{"--set", "provider=a", "--set", "provider=b"}, "--set provider is given twice"},
		{[]string{"--set", "provider=a", "--file", file}, "none of the others can be"},
		{nil, "at least one of the flags in the group [set file] is required"},
		{[]string{"--set", "provider=a", "--replace"}, "--replace goes with --file"},
	} {
		args := append([]string{"interfaces", "update", id}, tc.args...)
		code, _, stderr := runCLI(t, srv, "", args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want %q in\n%s", tc.args, code, tc.want, stderr)
		}
	}
	if n := len(srv.Stats().GRPC.Calls); n != 0 {
		t.Errorf("calls were sent: %v", srv.Stats().GRPC.Calls)
	}
}

// TestUpdateFileCannotClearUnasked is the case: a file holding only the changed
// fields would blank every other attribute. It is refused, naming the fields, unless
// --replace.
func TestUpdateFileCannotClearUnasked(t *testing.T) {
	srv := startFake(t, 0)
	before := richInterface(t, srv)
	partial := `{"deviceId":"1001","snmpId":"77","provider":"X"}`
	code, _, stderr := runCLI(t, srv, partial, "interfaces", "update", before.GetId(), "-f", "-")
	want := "the file would clear 7 fields the interface has: snmp_speed, snmp_alias, interface_ip, interface_description, interface_ip_netmask, connectivity_type, network_boundary"
	if code != ExitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--replace") {
		t.Fatalf("exit %d, want %q in\n%s", code, want, stderr)
	}
	if after, _ := srv.Interface(before.GetId()); !proto.Equal(after, before) {
		t.Fatalf("the interface changed: %v", after)
	}
	if n := srv.Stats().GRPC.Calls["UpdateInterface"]; n != 0 {
		t.Fatalf("%d UpdateInterface calls", n)
	}
	// A whole file (as get -o json prints it, with lenient enum names) is accepted.
	whole := `{"deviceId":"1001","snmpId":"77","interfaceDescription":"uplink to ExampleNet","snmpAlias":"core-1 et-0/0/1",
		"interfaceIp":"192.0.2.1","interfaceIpNetmask":"255.255.255.252","snmpSpeed":100000,
		"connectivityType":"transit","networkBoundary":"external","provider":"X"}`
	if code, _, stderr := runCLI(t, srv, whole, "interfaces", "update", before.GetId(), "-f", "-"); code != ExitOK {
		t.Fatalf("whole file: exit %d\n%s", code, stderr)
	}
	if after, _ := srv.Interface(before.GetId()); after.GetProvider() != "X" || !sameExcept(before, after, "provider", "connectivity_type") {
		t.Fatalf("whole file: %v", after)
	}
	// --replace clears on purpose.
	if code, _, stderr := runCLI(t, srv, partial, "interfaces", "update", before.GetId(), "-f", "-", "--replace"); code != ExitOK {
		t.Fatalf("--replace: exit %d\n%s", code, stderr)
	}
	if after, _ := srv.Interface(before.GetId()); after.GetSnmpAlias() != "" || after.GetProvider() != "X" {
		t.Fatalf("--replace: %v", after)
	}
}

// TestUpdateNothingToChange: an update that changes nothing is not sent.
func TestUpdateNothingToChange(t *testing.T) {
	srv := startFake(t, 0)
	it := richInterface(t, srv)
	code, out, stderr := runCLI(t, srv, "", "interfaces", "update", it.GetId(), "--set", "provider=Old Carrier", "--set", "connectivity_type=FREE_PNI")
	if code != ExitOK || !strings.Contains(stderr, "nothing to change") || !strings.Contains(out, "Old Carrier") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if n := srv.Stats().GRPC.Calls["UpdateInterface"]; n != 0 {
		t.Errorf("%d UpdateInterface calls", n)
	}
}

// TestUpdateAsksOnTerminal: on a terminal the change is shown and only "y" or "yes"
// writes it; --yes skips the question; without a terminal nothing is asked.
func TestUpdateAsksOnTerminal(t *testing.T) {
	srv := startFake(t, 0)
	id := richInterface(t, srv).GetId()
	args := []string{"interfaces", "update", id, "--set", "provider=Zayo"}
	for _, answer := range []string{"n\n", "\n", "nope\n", ""} {
		code, out, stderr := runTerminal(t, srv, true, answer, args...)
		if code != ExitFailure || out != "" || !strings.Contains(stderr, `provider  "Old Carrier"  -> "Zayo"`) ||
			!strings.Contains(stderr, "Update interface "+id+"? [y/N]") {
			t.Errorf("answer %q: exit %d\n%s%s", answer, code, out, stderr)
		}
	}
	if n := srv.Stats().GRPC.Calls["UpdateInterface"]; n != 0 {
		t.Fatalf("%d updates sent without a yes", n)
	}
	if code, _, stderr := runTerminal(t, srv, true, "YES\n", args...); code != ExitOK {
		t.Fatalf("yes: exit %d\n%s", code, stderr)
	}
	if it, _ := srv.Interface(id); it.GetProvider() != "Zayo" {
		t.Fatalf("not updated: %v", it)
	}
	if code, _, stderr := runTerminal(t, srv, true, "", "interfaces", "update", id, "--set", "provider=A", "--yes"); code != ExitOK || strings.Contains(stderr, "[y/N]") {
		t.Fatalf("--yes: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runTerminal(t, srv, false, "", "interfaces", "update", id, "--set", "provider=B"); code != ExitOK || strings.Contains(stderr, "[y/N]") {
		t.Fatalf("no terminal: exit %d\n%s", code, stderr)
	}
}

// TestDeleteConfirmation: without a terminal delete needs --yes; on one it asks.
func TestDeleteConfirmation(t *testing.T) {
	srv := startFake(t, 0)
	id := richInterface(t, srv).GetId()
	code, _, stderr := runTerminal(t, srv, false, "y\n", "interfaces", "delete", id)
	if code != ExitUsage || !strings.Contains(stderr, "add --yes") {
		t.Fatalf("no terminal: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runTerminal(t, srv, true, "n\n", "interfaces", "delete", id)
	if code != ExitFailure || !strings.Contains(stderr, `uplink to ExampleNet`) || !strings.Contains(stderr, "Delete interface "+id+"? [y/N]") {
		t.Fatalf("declined: exit %d\n%s", code, stderr)
	}
	if _, ok := srv.Interface(id); !ok || srv.Stats().GRPC.Calls["DeleteInterface"] != 0 {
		t.Fatal("deleted without a yes")
	}
	if code, out, stderr := runTerminal(t, srv, true, "y\n", "interfaces", "delete", id); code != ExitOK || out != "deleted interface "+id+"\n" {
		t.Fatalf("confirmed: exit %d\n%s%s", code, out, stderr)
	}
	if _, ok := srv.Interface(id); ok {
		t.Fatal("not deleted")
	}
	id = richInterface(t, srv).GetId()
	if code, _, stderr := runTerminal(t, srv, false, "", "interfaces", "delete", id, "--yes"); code != ExitOK {
		t.Fatalf("--yes: exit %d\n%s", code, stderr)
	}
}
