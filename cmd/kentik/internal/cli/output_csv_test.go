package cli

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gokentik/kentik/enums"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%.300s", err, s)
	}
	return recs
}

// TestListCSV: list commands write CSV with a header; other commands refuse -o csv.
func TestListCSV(t *testing.T) {
	srv := startFake(t, 96)
	if _, err := srv.AddInterface(&ifacev1.Interface{DeviceId: "1001", SnmpId: "9", InterfaceDescription: "to \"B\", via X\nsecond line", Provider: "A, Inc."}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, srv, "", "interfaces", "list", "--device-id", "1001", "-o", "csv")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	recs := readCSV(t, out)
	if strings.Join(recs[0], ",") != "id,device_id,snmp_id,interface_description,snmp_alias,interface_ip,interface_ip_netmask,snmp_speed,connectivity_type,network_boundary,provider,interface_status" || len(recs) != 50 {
		t.Fatalf("%d records, header %q", len(recs), recs[0])
	}
	byID := map[string][]string{}
	for _, r := range recs[1:] {
		byID[r[0]] = r
	}
	for _, it := range srv.AllInterfaces() {
		if it.GetDeviceId() != "1001" {
			continue
		}
		r := byID[it.GetId()]
		if r == nil || r[3] != it.GetInterfaceDescription() || r[8] != enums.ConnectivityTypeName(it.GetConnectivityType()) || r[10] != it.GetProvider() {
			t.Errorf("interface %s: %q", it.GetId(), r)
		}
	}

	_, env := startTenantsFake(t)
	code, out, stderr = runKentik(t, env, nil, "tenants", "list", "-o", "csv")
	if recs := readCSV(t, out); code != ExitOK || strings.Join(recs[0], ",") != "id,name,users,created,description" || len(recs) < 2 {
		t.Fatalf("tenants: exit %d\n%s%s", code, out, stderr)
	}

	for _, args := range [][]string{
		{"interfaces", "get", "1", "-o", "csv"},
		{"tenants", "list", "-o", "plan"},
		{"interfaces", "list", "-o", "yaml"},
	} {
		code, _, stderr := runCLI(t, srv, "", args...)
		if code != ExitUsage || !strings.Contains(stderr, "writes table") {
			t.Errorf("%q: exit %d\n%s", args, code, stderr)
		}
	}
}

// TestPlanRoundTrip: interfaces list -o plan writes the current classifications as a
// plan; the plan as it is changes nothing, and an edited plan classifies as edited.
func TestPlanRoundTrip(t *testing.T) {
	srv := startFake(t, 96)
	before := map[string]*ifacev1.Interface{}
	for _, it := range srv.AllInterfaces() {
		before[it.GetId()] = it
	}
	code, plan, stderr := runCLI(t, srv, "", "interfaces", "list", "-o", "plan")
	if code != ExitOK || !strings.HasPrefix(plan, "interface_id,connectivity_type,network_boundary,provider\n") {
		t.Fatalf("exit %d\n%.300s%s", code, plan, stderr)
	}
	if n := len(readCSV(t, plan)); n != 97 {
		t.Fatalf("%d records", n)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "plan.csv")
	if err := os.WriteFile(file, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, srv, "", "interfaces", "classify", "--file", file, "--verify"); code != ExitOK {
		t.Fatalf("classify the plan as exported: exit %d\n%s", code, stderr)
	}
	for _, it := range srv.AllInterfaces() {
		if b := before[it.GetId()]; b.GetConnectivityType() != it.GetConnectivityType() || b.GetNetworkBoundary() != it.GetNetworkBoundary() || b.GetProvider() != it.GetProvider() {
			t.Fatalf("interface %s changed: %v -> %v", it.GetId(), b, it)
		}
	}

	// Edit: every interface of device 1002 becomes an IX port of DE-CIX.
	recs := readCSV(t, plan)
	edited := map[string]bool{}
	for _, r := range recs[1:] {
		if before[r[0]].GetDeviceId() == "1002" {
			r[1], r[2], r[3] = "ix", "external", "DE-CIX, Frankfurt"
			edited[r[0]] = true
		}
	}
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := csv.NewWriter(f).WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, _, stderr := runCLI(t, srv, "", "interfaces", "classify", "--file", file, "--verify"); code != ExitOK {
		t.Fatalf("classify the edited plan: exit %d\n%s", code, stderr)
	}
	for _, it := range srv.AllInterfaces() {
		b := before[it.GetId()]
		if edited[it.GetId()] {
			if it.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX || it.GetProvider() != "DE-CIX, Frankfurt" {
				t.Errorf("interface %s not reclassified: %v", it.GetId(), it)
			}
			continue
		}
		b, it = proto.CloneOf(b), proto.CloneOf(it)
		b.Edate, it.Edate = nil, nil
		if !proto.Equal(b, it) {
			t.Errorf("interface %s changed: %v -> %v", it.GetId(), b, it)
		}
	}
	if len(edited) != 48 {
		t.Errorf("%d edited", len(edited))
	}
}

// TestCompletion: shell completion offers enum values for enum flags, the formats a
// command writes, the profiles of the config file and the fields --set takes; the
// environment's settings do not matter to it.
func TestCompletion(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), map[string]profile{"prod": {}, "lab": {}})
	env := map[string]string{"KENTIK_REGION": "mars", "KENTIK_CONFIG": cfg}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"interfaces", "list", "--connectivity-type", ""}, enums.ConnectivityTypeNames()},
		{[]string{"interfaces", "list", "--network-boundary", ""}, enums.NetworkBoundaryNames()},
		{[]string{"interfaces", "list", "--ip-type", ""}, enums.IPFilterNames()},
		{[]string{"interfaces", "list", "-o", ""}, []string{"table", "json", "csv", "plan"}},
		{[]string{"interfaces", "get", "1", "-o", ""}, []string{"table", "json"}},
		{[]string{"--region", ""}, []string{"us", "eu"}},
		{[]string{"--rate-limit", ""}, []string{"off", "admin", "query", "concurrency=1,60/1m,3750/1h"}},
		{[]string{"--profile", ""}, []string{"lab", "prod"}},
		{[]string{"interfaces", "classify", "--format", ""}, []string{"auto", "csv", "jsonl"}},
		{[]string{"interfaces", "update", "1", "--set", "network_boundary="}, []string{"network_boundary=auto", "network_boundary=external", "network_boundary=internal", "network_boundary=none", "network_boundary=unspecified"}},
	} {
		code, out, stderr := runKentik(t, env, nil, append([]string{"__complete"}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != ExitOK || len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
			t.Errorf("%q: exit %d\n%s%s", tc.args, code, out, stderr)
			continue
		}
		if got := strings.Join(lines[:len(lines)-1], " "); got != strings.Join(tc.want, " ") {
			t.Errorf("%q offers %q, want %q", tc.args, got, tc.want)
		}
	}
}
