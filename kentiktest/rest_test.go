package kentiktest_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gokentik/kentik"
	devicev2 "github.com/gokentik/kentik/gen/kentik/device/v202504beta2"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/services"
)

// restError is grpc-gateway's JSON error.
type restError struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Details []map[string]any `json:"details"`
}

func (r httpResult) restError(t testing.TB) restError {
	t.Helper()
	var e restError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Code == 0 {
		t.Fatalf("body %q is not a gateway error: %v", r.body, err)
	}
	return e
}

func (r httpResult) decode(t testing.TB, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// restInterface is an interface as Kentik's REST mapping sends it (lowerCamelCase).
type restInterface struct {
	ID               string `json:"id"`
	DeviceID         string `json:"deviceId"`
	SnmpID           string `json:"snmpId"`
	SnmpAlias        string `json:"snmpAlias"`
	ConnectivityType string `json:"connectivityType"`
	NetworkBoundary  string `json:"networkBoundary"`
	Provider         string `json:"provider"`
}

// InterfaceService's six methods through the REST mapping, with the verbs and paths of
// Kentik's Interface API reference (the 004 seed): GET and POST /interfaces, GET, PUT
// and DELETE /interfaces/{id}, POST /manual_classify.
func TestRESTInterfaceService(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(100, 3))
	cr := s.Credentials()
	base := s.RESTURL() + "/interface/v202108alpha1"
	seeded := s.AllInterfaces()

	// GET /interfaces with a filter as query parameters.
	dev := seeded[0].GetDeviceId()
	var list struct {
		Interfaces []restInterface `json:"interfaces"`
		TotalCount int             `json:"totalCount"`
	}
	do(t, "GET", base+"/interfaces?filters.deviceIds="+dev+"&filters.connectivityTypes=CONNECTIVITY_TYPE_UNSPECIFIED&filters.connectivityTypes=CONNECTIVITY_TYPE_TRANSIT", cr, "").decode(t, &list)
	var want []string
	for _, in := range seeded {
		if in.GetDeviceId() == dev && (in.GetConnectivityType() == 0 || in.GetConnectivityType() == ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT) {
			want = append(want, in.GetId())
		}
	}
	var got []string
	for _, in := range list.Interfaces {
		got = append(got, in.ID)
	}
	if !slices.Equal(got, want) || list.TotalCount != len(want) || len(want) == 0 {
		t.Errorf("GET /interfaces filtered: %v (total %d), want %v", got, list.TotalCount, want)
	}

	// POST /interfaces.
	var one struct {
		Interface restInterface `json:"interface"`
	}
	do(t, "POST", base+"/interfaces", cr, `{"interface": {"deviceId": "1001", "snmpId": "7", "snmpAlias": "created by REST"}}`).decode(t, &one)
	id := one.Interface.ID
	if id == "" || one.Interface.SnmpAlias != "created by REST" {
		t.Fatalf("POST /interfaces answered %+v", one.Interface)
	}
	// GET /interfaces/{id}.
	one.Interface = restInterface{}
	do(t, "GET", base+"/interfaces/"+id, cr, "").decode(t, &one)
	if one.Interface.ID != id || one.Interface.DeviceID != "1001" {
		t.Errorf("GET /interfaces/%s answered %+v", id, one.Interface)
	}
	// PUT /interfaces/{id}: the id comes from the path.
	do(t, "PUT", base+"/interfaces/"+id, cr, `{"interface": {"deviceId": "1002", "snmpAlias": "updated by REST"}}`).decode(t, &one)
	if in, _ := s.Interface(id); in.GetDeviceId() != "1002" || in.GetSnmpAlias() != "updated by REST" {
		t.Errorf("after PUT the fake holds %v", in)
	}
	// POST /manual_classify.
	var classified struct {
		DeviceIDs []string `json:"deviceIds"`
	}
	do(t, "POST", base+"/manual_classify", cr, fmt.Sprintf(`{"interfaceIds": [%q, %q], "connectivityType": "CONNECTIVITY_TYPE_TRANSIT", "provider": "REST"}`, id, seeded[0].GetId())).decode(t, &classified)
	if !slices.Equal(classified.DeviceIDs, []string{dev, "1002"}) && !slices.Equal(classified.DeviceIDs, []string{"1002", dev}) {
		t.Errorf("manual_classify answered devices %v", classified.DeviceIDs)
	}
	if in, _ := s.Interface(seeded[0].GetId()); in.GetProvider() != "REST" || in.GetConnectivityType() != ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT {
		t.Errorf("after manual_classify the fake holds %v", in)
	}
	// DELETE /interfaces/{id}, then it is gone: 404 with the gateway's error.
	if r := do(t, "DELETE", base+"/interfaces/"+id, cr, ""); r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != "{}" {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	r := do(t, "GET", base+"/interfaces/"+id, cr, "")
	if e := r.restError(t); r.status != http.StatusNotFound || e.Code != 5 {
		t.Errorf("GET of a deleted interface: %d %+v", r.status, e)
	}
	r = do(t, "GET", base+"/interfaces/abc", cr, "")
	if e := r.restError(t); r.status != http.StatusBadRequest || e.Code != 3 {
		t.Errorf("GET of a malformed id: %d %+v", r.status, e)
	}

	// Every call counted as the gRPC call it became, and recorded as REST.
	st := s.Stats().GRPC
	for m, n := range map[string]int{"ListInterface": 1, "CreateInterface": 1, "GetInterface": 3, "UpdateInterface": 1, "ManualClassify": 1, "DeleteInterface": 1} {
		if st.Calls[m] != n {
			t.Errorf("%s counted %d times, want %d (%v)", m, st.Calls[m], n, st.Calls)
		}
	}
	for _, rq := range s.Requests() {
		if rq.API != "rest" || rq.UserAgent != "Go-http-client/1.1" || len(rq.Header[kentik.MetadataEmail]) != 1 {
			t.Errorf("request %+v", rq)
		}
	}
}

// Authentication, limits and programs apply to REST as to gRPC, with the gateway's
// error shape and the gRPC code mapped to HTTP.
func TestRESTAuthLimitsAndPrograms(t *testing.T) {
	s := kentiktest.Start(t, kentiktest.WithPolicy(policy(t, "concurrency=1,3/1h")))
	cr := s.Credentials()
	url := s.RESTURL() + "/device/v202504beta2/device"

	r := do(t, "GET", url, kentik.Credentials{}, "")
	if e := r.restError(t); r.status != http.StatusUnauthorized || e.Code != 16 || !strings.Contains(e.Message, "missing credentials") {
		t.Errorf("without credentials: %d %+v", r.status, e)
	}
	r = do(t, "GET", url, kentik.Credentials{Email: cr.Email, Token: "guess"}, "")
	if e := r.restError(t); r.status != http.StatusUnauthorized || strings.Contains(string(r.body), "guess") {
		t.Errorf("wrong token: %d %+v", r.status, e)
	}
	r = do(t, "GET", url, cr, "")
	if e := r.restError(t); r.status != http.StatusNotImplemented || e.Code != 12 || !strings.Contains(e.Message, "Respond") {
		t.Errorf("unprogrammed: %d %+v", r.status, e)
	}
	if err := s.Respond("/kentik.device.v202504beta2.DeviceService/ListDevices", &devicev2.ListDevicesResponse{Devices: []*devicev2.DeviceDetailed{{Id: "5", DeviceName: "core-1"}}}); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Devices []struct {
			ID         string `json:"id"`
			DeviceName string `json:"deviceName"`
		} `json:"devices"`
	}
	// The trailing slash of Kentik's own curl example.
	do(t, "GET", url+"/", cr, "").decode(t, &list)
	if len(list.Devices) != 1 || list.Devices[0].DeviceName != "core-1" {
		t.Errorf("programmed ListDevices: %+v", list)
	}
	do(t, "GET", url, cr, "").decode(t, &list)
	// The fourth v6 call of the hour: 429 with Retry-After and the RetryInfo detail.
	r = do(t, "GET", url, cr, "")
	e := r.restError(t)
	if r.status != http.StatusTooManyRequests || e.Code != 8 || len(e.Details) != 1 || e.Details[0]["@type"] != "type.googleapis.com/google.rpc.RetryInfo" {
		t.Errorf("over the limit: %d %+v", r.status, e)
	}
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Unknown paths are the gateway's 404, V5 stays V5.
	if r := do(t, "GET", s.RESTURL()+"/nothing/here", cr, ""); r.status != http.StatusNotFound || r.restError(t).Code != 5 {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.V5URL()+"/mykentik/tenants", cr, ""); r.status != http.StatusOK {
		t.Errorf("V5 beside REST: %d %s", r.status, r.body)
	}
	st := s.Stats().GRPC
	if st.Rejected[kentiktest.RejectUnauthenticated] != 2 || st.Rejected[kentiktest.RejectRateLimit] != 1 || st.Limits.Admitted != 3 {
		t.Errorf("stats %+v", st)
	}
}

// My Kentik's v6 REST mapping over the tenants V5 serves.
func TestRESTMyKentik(t *testing.T) {
	s := startOff(t)
	cr := s.Credentials()
	if r := do(t, "POST", s.V5URL()+"/mykentik/tenant/102/user", cr, `{"user_email": "v5@globex.example"}`); r.status != http.StatusOK {
		t.Fatalf("V5 add: %d %s", r.status, r.body)
	}
	var created struct {
		User struct {
			ID       string `json:"id"`
			TenantID string `json:"tenantId"`
		} `json:"user"`
	}
	do(t, "POST", s.RESTURL()+"/mkp/v202407/tenants/102/users", cr, `{"user": {"userEmail": "rest@globex.example", "userFullName": "Rest User"}}`).decode(t, &created)
	if created.User.ID == "" || created.User.TenantID != "102" {
		t.Errorf("POST users answered %+v", created)
	}
	var users struct {
		Users []struct {
			UserEmail string `json:"userEmail"`
		} `json:"users"`
	}
	do(t, "GET", s.RESTURL()+"/mkp/v202407/tenants/102/users", cr, "").decode(t, &users)
	var emails []string
	for _, u := range users.Users {
		emails = append(emails, u.UserEmail)
	}
	if want := []string{"carol@globex.example", "v5@globex.example", "rest@globex.example"}; !slices.Equal(emails, want) {
		t.Errorf("GET users: %v, want %v", emails, want)
	}
	if tn, _ := s.Tenant(102); len(tn.Users) != 3 || tn.Users[2].UserFullName != "Rest User" {
		t.Errorf("V5 store holds %+v", tn.Users)
	}
}

var pathVar = regexp.MustCompile(`\{([^}=]*)[^}]*\}`)

// samplePath fills the variables of an HTTP path template with values of their fields'
// types: a timestamp for a google.protobuf.Timestamp, "1" for the rest.
func samplePath(in protoreflect.MessageDescriptor, template string) string {
	return pathVar.ReplaceAllStringFunc(template, func(v string) string {
		md := in
		var fd protoreflect.FieldDescriptor
		for _, name := range strings.Split(pathVar.FindStringSubmatch(v)[1], ".") {
			if md == nil {
				break
			}
			if fd = md.Fields().ByName(protoreflect.Name(name)); fd == nil {
				break
			}
			md = fd.Message()
		}
		if fd != nil && fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Timestamp" {
			return "2024-01-01T00:00:00Z"
		}
		return "1"
	})
}

// shadowed are bindings that another binding of the same service answers first, as in
// any grpc-gateway server (its mux tries the routes of a service from the last
// registered, and a variable segment matches a literal): Kentik's schema binds
// GetCapacityPlan to .../capacity_plan/{id}, which also matches ListCapacitySummaries'
// .../capacity_plan/summary.
var shadowed = map[string]string{
	"/kentik.capacity_plan.v202212.CapacityPlanService/ListCapacitySummaries": "/kentik.capacity_plan.v202212.CapacityPlanService/GetCapacityPlan",
}

// Every method with an HTTP binding answers at its path and verb, as the method it
// binds (counted under its name), and no two bindings share a path and verb.
func TestRESTEveryBinding(t *testing.T) {
	s := startOff(t)
	cr := s.Credentials()
	seen := map[string]string{}
	bound := 0
	for _, svc := range services.All() {
		for _, m := range svc.Methods {
			if m.HTTPMethod == "" {
				continue
			}
			bound++
			key := m.HTTPMethod + " " + pathVar.ReplaceAllString(m.HTTPPath, "{}")
			if other, dup := seen[key]; dup {
				t.Errorf("%s and %s both bind %s", other, m.FullMethod, key)
			}
			seen[key] = m.FullMethod
			body := ""
			if m.HTTPMethod != http.MethodGet && m.HTTPMethod != http.MethodDelete {
				body = "{}"
			}
			before := s.Stats().GRPC.Calls
			r := do(t, m.HTTPMethod, s.RESTURL()+samplePath(m.Desc.Input(), m.HTTPPath), cr, body)
			after := s.Stats().GRPC.Calls
			counted := ""
			for k, n := range after {
				if n != before[k] {
					counted = k
				}
			}
			wantMethod := cmp.Or(shadowed[m.FullMethod], m.FullMethod)
			if counted == "" || !strings.HasSuffix(wantMethod, counted) {
				t.Errorf("%s %s: reached %q (%d %s), want %s", m.HTTPMethod, m.HTTPPath, counted, r.status, r.body, wantMethod)
			}
		}
	}
	// Every method but those of the two services Kentik serves over gRPC only
	// (DeviceConfigurationService, KptrService).
	if bound != 276 {
		t.Errorf("%d methods have an HTTP binding, want 276", bound)
	}
	t.Logf("%d bound methods answered at their paths", bound)
}

// Kentik's own v6 curl example (the 000 seed), run with curl against the fake.
func TestRESTWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl on this machine")
	}
	s := startOff(t, kentiktest.WithResponse("/kentik.device.v202504beta2.DeviceService/ListDevices",
		&devicev2.ListDevicesResponse{Devices: []*devicev2.DeviceDetailed{{Id: "5"}}}))
	cr := s.Credentials()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "--silent", "--show-error", "--location", "--request", "GET",
		s.RESTURL()+"/device/v202504beta2/device/",
		"-H", "X-CH-Auth-Email: "+cr.Email, "-H", "X-CH-Auth-API-Token: "+cr.Token)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	if !strings.Contains(string(out), `"devices":[{"id":"5"`) {
		t.Errorf("curl printed %s", out)
	}
}
