package kentiktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gokentik/kentik"
	devicev1 "github.com/gokentik/kentik/gen/kentik/device/v202308beta1"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// These tests talk to the fake with buf curl and KENTIK'S published schema (the
// descriptor set beside the checkout), not the project's own .proto files or generated
// code: the requests are encoded and the answers decoded by a third-party client from
// Kentik's field numbers and JSON names, so they prove the fake is wire-compatible with
// what Kentik publishes.

const interfaceService = "kentik.interface.v202108alpha1.InterfaceService"

// bufRepoRoot is the checkout this test file sits in.
func bufRepoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..")
}

// kentikSchema returns Kentik's published descriptor set (KENTIK_SCHEMA_REFERENCE, or
// ../shared/kentik-api-v6/descriptor.json beside the checkout). Without it the test is
// skipped, or fails when CI is set.
func kentikSchema(t *testing.T) string {
	t.Helper()
	p := os.Getenv("KENTIK_SCHEMA_REFERENCE")
	if p == "" {
		p = filepath.Join(bufRepoRoot(), "..", "shared", "kentik-api-v6", "descriptor.json")
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Kentik's reference schema is missing (%v); CI must have it", err)
		}
		t.Skipf("Kentik's reference schema %s is absent: put it at ../shared/kentik-api-v6/descriptor.json beside the checkout, or set KENTIK_SCHEMA_REFERENCE, to run the buf curl wire tests", p)
	}
	return p
}

// goTool runs `go tool -modfile=tools/go.mod buf ARGS` in the checkout, bounded by
// timeout, and returns its stdout, stderr and exit code. A failure to run at all (no go
// command, the timeout) fails t.
func goTool(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "-modfile=tools/go.mod", "buf"}, args...)...)
	cmd.Dir = bufRepoRoot()
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("buf %s: no answer in %s\n%s", args[0], timeout, errb.String())
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("buf %s: %v\n%s", args[0], err, errb.String())
	}
	return out.String(), errb.String(), code
}

// bufCurl calls one InterfaceService method of srv with buf curl. schema is the
// descriptor set to use, or "" for server reflection; creds, when valid, are sent as
// Kentik's auth headers.
type bufCurl struct {
	srv     *kentiktest.Server
	schema  string
	creds   kentik.Credentials
	service string // the full service name; InterfaceService when empty
}

// bufStatus is the error buf curl prints on stderr for a failed RPC.
type bufStatus struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// call runs the method with body and decodes the answer into resp. It returns the RPC's
// error status, nil when the call succeeded.
func (b bufCurl) call(t *testing.T, method, body string, resp any) *bufStatus {
	t.Helper()
	args := []string{"curl", "--protocol", "grpc", "--http2-prior-knowledge"}
	if b.schema != "" {
		args = append(args, "--schema", b.schema)
	}
	if b.creds.Email != "" {
		args = append(args, "-H", kentik.HeaderEmail+": "+b.creds.Email)
	}
	if b.creds.Token != "" {
		args = append(args, "-H", kentik.HeaderToken+": "+b.creds.Token)
	}
	svc := interfaceService
	if b.service != "" {
		svc = b.service
	}
	args = append(args, "-d", body, "http://"+b.srv.GRPCAddr()+"/"+svc+"/"+method)
	stdout, stderr, code := goTool(t, 60*time.Second, args...)
	if code != 0 {
		var st bufStatus
		if err := json.Unmarshal([]byte(stderr), &st); err != nil || st.Code == "" {
			t.Fatalf("%s: buf curl exit %d without an RPC status:\n%s", method, code, stderr)
		}
		return &st
	}
	if err := json.Unmarshal([]byte(stdout), resp); err != nil {
		t.Fatalf("%s: answer is not the JSON expected: %v\n%s", method, err, stdout)
	}
	return nil
}

// mustCall is call for a method that must succeed.
func (b bufCurl) mustCall(t *testing.T, method, body string, resp any) {
	t.Helper()
	if st := b.call(t, method, body, resp); st != nil {
		t.Fatalf("%s: %s: %s", method, st.Code, st.Message)
	}
}

// The answers as Kentik's schema names them in JSON (lowerCamelCase, enums by name).
type (
	bufInterface struct {
		ID                   string `json:"id"`
		DeviceID             string `json:"deviceId"`
		SnmpID               string `json:"snmpId"`
		SnmpSpeed            int32  `json:"snmpSpeed"`
		SnmpAlias            string `json:"snmpAlias"`
		InterfaceIP          string `json:"interfaceIp"`
		InterfaceDescription string `json:"interfaceDescription"`
		Cdate                string `json:"cdate"`
		Edate                string `json:"edate"`
		ConnectivityType     string `json:"connectivityType"`
		NetworkBoundary      string `json:"networkBoundary"`
		Provider             string `json:"provider"`
	}
	bufOne struct {
		Interface *bufInterface `json:"interface"`
	}
	bufList struct {
		Interfaces []bufInterface `json:"interfaces"`
		TotalCount int            `json:"totalCount"`
	}
	bufClassified struct {
		DeviceIDs []string `json:"deviceIds"`
	}
)

func bufIDs(ins []bufInterface) []string {
	ids := make([]string, len(ins))
	for i, in := range ins {
		ids[i] = in.ID
	}
	return ids
}

// TestBufCurl drives all six InterfaceService methods of the fake with buf curl and
// Kentik's published schema, then checks credentials and server reflection the same way.
func TestBufCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("runs buf (and may build it first); skipped with -short")
	}
	schema := kentikSchema(t)
	// The first `go tool buf` may compile buf (about 70 s cold); do it once, with room.
	t0 := time.Now()
	if out, errOut, code := goTool(t, 3*time.Minute, "--version"); code != 0 {
		t.Fatalf("buf --version: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("buf ready in %s", time.Since(t0).Round(time.Millisecond))

	srv := kentiktest.Start(t, kentiktest.WithInterfaces(100, 7), kentiktest.WithPolicy(ratelimit.Off))
	b := bufCurl{srv: srv, schema: schema, creds: srv.Credentials()}
	seeded := srv.AllInterfaces()
	calls := 0

	t.Run("ListInterface with a filter", func(t *testing.T) {
		dev := seeded[0].GetDeviceId()
		var want []string
		for _, in := range seeded {
			if in.GetDeviceId() == dev {
				want = append(want, in.GetId())
			}
		}
		var resp bufList
		b.mustCall(t, "ListInterface", fmt.Sprintf(`{"filters":{"deviceIds":[%q]}}`, dev), &resp)
		calls++
		if got := bufIDs(resp.Interfaces); !slices.Equal(got, want) || resp.TotalCount != len(want) {
			t.Errorf("device %s: ids %v, totalCount %d; want %v", dev, got, resp.TotalCount, want)
		}
		for _, in := range resp.Interfaces {
			if in.DeviceID != dev {
				t.Errorf("interface %s of device %s in a list filtered by device %s", in.ID, in.DeviceID, dev)
			}
		}
	})

	t.Run("GetInterface", func(t *testing.T) {
		// A classified interface with an address, so that enums and strings are on the
		// wire (JSON leaves out zero values).
		i := slices.IndexFunc(seeded, func(in *ifacev1.Interface) bool {
			return in.GetConnectivityType() != 0 && in.GetNetworkBoundary() != 0 && in.GetInterfaceIp() != ""
		})
		if i < 0 {
			t.Fatal("no classified interface with an address among the seeded ones")
		}
		want := seeded[i]
		var resp bufOne
		b.mustCall(t, "GetInterface", fmt.Sprintf(`{"id":%q}`, want.GetId()), &resp)
		calls++
		got := resp.Interface
		if got == nil || got.ID != want.GetId() || got.DeviceID != want.GetDeviceId() || got.SnmpID != want.GetSnmpId() ||
			got.SnmpSpeed != want.GetSnmpSpeed() || got.InterfaceIP != want.GetInterfaceIp() ||
			got.InterfaceDescription != want.GetInterfaceDescription() || got.Provider != want.GetProvider() ||
			got.ConnectivityType != want.GetConnectivityType().String() || got.NetworkBoundary != want.GetNetworkBoundary().String() {
			t.Errorf("GetInterface %s: %+v\nwant %v", want.GetId(), got, want)
		}
		if got != nil {
			for name, ts := range map[string]struct {
				got  string
				want time.Time
			}{"cdate": {got.Cdate, want.GetCdate().AsTime()}, "edate": {got.Edate, want.GetEdate().AsTime()}} {
				if at, err := time.Parse(time.RFC3339Nano, ts.got); err != nil || !at.Equal(ts.want) {
					t.Errorf("%s %q, want %s", name, ts.got, ts.want.Format(time.RFC3339Nano))
				}
			}
		}
	})

	var created string
	t.Run("CreateInterface", func(t *testing.T) {
		var resp bufOne
		b.mustCall(t, "CreateInterface", `{"interface":{"deviceId":"1001","snmpId":"90001","snmpSpeed":10000,`+
			`"snmpAlias":"created by buf curl","interfaceIp":"192.0.2.10","interfaceIpNetmask":"255.255.255.0",`+
			`"connectivityType":"CONNECTIVITY_TYPE_CUSTOMER","networkBoundary":"NETWORK_BOUNDARY_EXTERNAL","provider":"Example Co"}}`, &resp)
		calls++
		got := resp.Interface
		if got == nil || got.ID == "" || got.DeviceID != "1001" || got.SnmpAlias != "created by buf curl" || got.SnmpSpeed != 10000 ||
			got.ConnectivityType != "CONNECTIVITY_TYPE_CUSTOMER" || got.Provider != "Example Co" || got.Cdate == "" {
			t.Fatalf("CreateInterface answered %+v", got)
		}
		created = got.ID
		in, ok := srv.Interface(created)
		if !ok || in.GetSnmpId() != "90001" || in.GetNetworkBoundary() != ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL {
			t.Errorf("the fake holds %v for new id %s", in, created)
		}
	})
	if created == "" {
		t.Fatal("no interface was created; the rest depends on it")
	}

	t.Run("UpdateInterface", func(t *testing.T) {
		var resp bufOne
		b.mustCall(t, "UpdateInterface", fmt.Sprintf(`{"interface":{"id":%q,"deviceId":"1001","snmpId":"90001",`+
			`"snmpAlias":"updated by buf curl","interfaceDescription":"xe-0/0/9","connectivityType":"CONNECTIVITY_TYPE_PAID_PNI"}}`, created), &resp)
		calls++
		got := resp.Interface
		if got == nil || got.ID != created || got.SnmpAlias != "updated by buf curl" || got.InterfaceDescription != "xe-0/0/9" ||
			got.ConnectivityType != "CONNECTIVITY_TYPE_PAID_PNI" || got.Provider != "" {
			t.Errorf("UpdateInterface answered %+v", got)
		}
		if in, _ := srv.Interface(created); in.GetSnmpAlias() != "updated by buf curl" {
			t.Errorf("the fake holds %v after the update", in)
		}
	})

	t.Run("ManualClassify", func(t *testing.T) {
		ids := []string{seeded[10].GetId(), seeded[60].GetId(), created}
		body, _ := json.Marshal(map[string]any{
			"interfaceIds":     ids,
			"connectivityType": "CONNECTIVITY_TYPE_TRANSIT",
			"networkBoundary":  "NETWORK_BOUNDARY_EXTERNAL",
			"provider":         "buf-curl-transit",
		})
		var resp bufClassified
		b.mustCall(t, "ManualClassify", string(body), &resp)
		calls++
		wantDevices := []string{seeded[10].GetDeviceId(), seeded[60].GetDeviceId(), "1001"}
		slices.Sort(wantDevices)
		wantDevices = slices.Compact(wantDevices)
		gotDevices := slices.Sorted(slices.Values(resp.DeviceIDs))
		if !slices.Equal(gotDevices, wantDevices) {
			t.Errorf("deviceIds %v, want the devices of the classified interfaces %v", resp.DeviceIDs, wantDevices)
		}
		for _, id := range ids {
			in, _ := srv.Interface(id)
			if in.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT ||
				in.GetNetworkBoundary() != ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL || in.GetProvider() != "buf-curl-transit" {
				t.Errorf("interface %s after ManualClassify: %v", id, in)
			}
		}
		// And read back through the schema: a list filtered by the classification.
		var list bufList
		b.mustCall(t, "ListInterface", `{"filters":{"connectivityTypes":["CONNECTIVITY_TYPE_TRANSIT"],"providers":["buf-curl-transit"]}}`, &list)
		calls++
		if got := bufIDs(list.Interfaces); !slices.Equal(got, ids) || list.TotalCount != len(ids) {
			t.Errorf("classified interfaces listed as %v (totalCount %d), want %v", got, list.TotalCount, ids)
		}
	})

	t.Run("DeleteInterface", func(t *testing.T) {
		var resp map[string]any
		b.mustCall(t, "DeleteInterface", fmt.Sprintf(`{"id":%q}`, created), &resp)
		calls++
		if len(resp) != 0 {
			t.Errorf("DeleteInterface answered %v, want {}", resp)
		}
		if _, ok := srv.Interface(created); ok {
			t.Errorf("interface %s still in the fake", created)
		}
		for _, method := range []string{"GetInterface", "DeleteInterface"} {
			st := b.call(t, method, fmt.Sprintf(`{"id":%q}`, created), &resp)
			calls++
			if st == nil || st.Code != "not_found" {
				t.Errorf("%s of the deleted interface: %+v, want not_found", method, st)
			}
		}
	})

	t.Run("without credentials", func(t *testing.T) {
		nb := b
		nb.creds = kentik.Credentials{}
		var resp bufOne
		st := nb.call(t, "GetInterface", fmt.Sprintf(`{"id":%q}`, seeded[0].GetId()), &resp)
		calls++
		if st == nil || st.Code != "unauthenticated" {
			t.Errorf("GetInterface without credentials: %+v, want unauthenticated", st)
		}
		nb.creds = kentik.Credentials{Email: srv.Credentials().Email, Token: "not-the-token"}
		st = nb.call(t, "GetInterface", fmt.Sprintf(`{"id":%q}`, seeded[0].GetId()), &resp)
		calls++
		if st == nil || st.Code != "unauthenticated" {
			t.Errorf("GetInterface with a wrong token: %+v, want unauthenticated", st)
		}
		if st != nil && strings.Contains(st.Message, "not-the-token") {
			t.Errorf("the error echoes the token: %s", st.Message)
		}
	})

	t.Run("server reflection", func(t *testing.T) {
		rb := b
		rb.schema = "" // buf curl asks the server for the schema
		var resp bufOne
		rb.mustCall(t, "GetInterface", fmt.Sprintf(`{"id":%q}`, seeded[5].GetId()), &resp)
		calls++
		if resp.Interface == nil || resp.Interface.ID != seeded[5].GetId() || resp.Interface.DeviceID != seeded[5].GetDeviceId() {
			t.Errorf("GetInterface through reflection answered %+v", resp.Interface)
		}
	})

	// Every call reached the service (reflection is not counted), none was refused for
	// a limit, and nothing but the credential checks was rejected.
	st := srv.Stats().GRPC
	got := 0
	for _, n := range st.Calls {
		got += n
	}
	if got != calls || st.Rejected[kentiktest.RejectUnauthenticated] != 2 || len(st.Rejected) != 1 {
		t.Errorf("the fake counted %d calls (%v), rejected %v; want %d calls, 2 unauthenticated", got, st.Calls, st.Rejected, calls)
	}
	t.Logf("%d buf curl calls in %s", calls, time.Since(t0).Round(time.Millisecond))
}

// buf curl with Kentik's published schema reaches methods of other services too: a
// programmed DeviceService method (the handler sees the request as buf encoded it from
// Kentik's schema) and My Kentik's v6 tenant users, which the fake implements.
func TestBufCurlOtherServices(t *testing.T) {
	if testing.Short() {
		t.Skip("runs buf (and may build it first); skipped with -short")
	}
	schema := kentikSchema(t)
	if out, errOut, code := goTool(t, 3*time.Minute, "--version"); code != 0 {
		t.Fatalf("buf --version: exit %d\n%s%s", code, out, errOut)
	}
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off))
	err := srv.Handle("/kentik.device.v202308beta1.DeviceService/GetDevice", func(_ context.Context, req proto.Message) (proto.Message, error) {
		r := req.(*devicev1.GetDeviceRequest)
		return &devicev1.GetDeviceResponse{Device: &devicev1.DeviceDetailed{Id: r.GetId(), DeviceName: "edge-" + r.GetId(),
			Labels: []*devicev1.Label{{Id: "7", Name: "prod"}}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := bufCurl{srv: srv, schema: schema, creds: srv.Credentials(), service: "kentik.device.v202308beta1.DeviceService"}
	var dev struct {
		Device struct {
			ID         string `json:"id"`
			DeviceName string `json:"deviceName"`
			Labels     []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"labels"`
		} `json:"device"`
	}
	b.mustCall(t, "GetDevice", `{"id": "42"}`, &dev)
	if dev.Device.ID != "42" || dev.Device.DeviceName != "edge-42" || len(dev.Device.Labels) != 1 || dev.Device.Labels[0].Name != "prod" {
		t.Errorf("GetDevice answered %+v", dev)
	}
	// Unprogrammed: UNIMPLEMENTED, saying how to program it.
	var none map[string]any
	if st := b.call(t, "ListDevices", `{}`, &none); st == nil || st.Code != "unimplemented" || !strings.Contains(st.Message, "Respond") {
		t.Errorf("ListDevices: %+v", st)
	}
	// My Kentik v6, on Kentik's mkp host in the schema, on the fake's one endpoint.
	b.service = "kentik.mkp.v202407.TenantUserService"
	var users struct {
		Users []struct {
			ID        string `json:"id"`
			TenantID  string `json:"tenantId"`
			UserEmail string `json:"userEmail"`
		} `json:"users"`
	}
	b.mustCall(t, "ListTenantUser", `{"tenantId": "101"}`, &users)
	if len(users.Users) != 2 || users.Users[0].UserEmail != "alice@acme.example" || users.Users[0].TenantID != "101" {
		t.Errorf("ListTenantUser answered %+v", users)
	}
	if n := srv.Stats().GRPC.Calls["/kentik.device.v202308beta1.DeviceService/GetDevice"]; n != 1 {
		t.Errorf("GetDevice counted %d times", n)
	}
}
