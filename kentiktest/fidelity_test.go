package kentiktest_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
)

// An empty filter message lists everything, like no filter; ids that are not canonical
// positive decimals are INVALID_ARGUMENT on every method that takes one, well-formed
// unknown ones NOT_FOUND.
func TestEmptyFilterAndIDCodes(t *testing.T) {
	s := startOff(t, kentiktest.WithInterfaces(60, 1))
	c := client(t, s, s.Credentials())
	for _, f := range []*ifacev1.InterfaceFilter{{}, {Text: "  "}, {IpTypes: []ifacev1.IpFilter{ifacev1.IpFilter_IP_FILTER_UNSPECIFIED}}} {
		resp, err := c.ListInterface(ctx(t), &ifacev1.ListInterfaceRequest{Filters: f})
		if err != nil || len(resp.GetInterfaces()) != 60 || resp.GetTotalCount() != 60 {
			t.Errorf("filter %v: %d interfaces (total %d), %v; want all 60", f, len(resp.GetInterfaces()), resp.GetTotalCount(), err)
		}
	}
	for id, want := range map[string]codes.Code{
		"": codes.InvalidArgument, "abc": codes.InvalidArgument, "0": codes.InvalidArgument,
		"-1": codes.InvalidArgument, "+1000001": codes.InvalidArgument, "01000001": codes.InvalidArgument,
		" 1000001": codes.InvalidArgument, "99999999999999999999999": codes.InvalidArgument,
		"9999999": codes.NotFound,
	} {
		_, err := c.GetInterface(ctx(t), &ifacev1.GetInterfaceRequest{Id: id})
		wantCode(t, "Get "+id, err, want)
		_, err = c.UpdateInterface(ctx(t), &ifacev1.UpdateInterfaceRequest{Interface: &ifacev1.Interface{Id: id, DeviceId: "1"}})
		wantCode(t, "Update "+id, err, want)
		_, err = c.DeleteInterface(ctx(t), &ifacev1.DeleteInterfaceRequest{Id: id})
		wantCode(t, "Delete "+id, err, want)
	}
	if n := s.NumInterfaces(); n != 60 {
		t.Errorf("%d interfaces left, want 60", n)
	}
}

// Tenants given without company or tenant ids still answer them as Kentik does: every
// tenant and user object carries a non-empty company_id, every user its tenant_id, also
// users created later (Kentik's SDKs turn these ids into numbers and fail on "").
func TestV5WithTenantsFillsKentikIDs(t *testing.T) {
	s := startOff(t, kentiktest.WithTenants(kentiktest.Tenant{ID: 7, Name: "Only", Users: []kentiktest.TenantUser{{ID: "11", UserEmail: "a@b.example"}}}))
	r := do(t, "POST", s.V5URL()+"/mykentik/tenant/7/user", s.Credentials(), `{"user": {"user_email": "new@b.example"}}`)
	if r.status != http.StatusOK {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created map[string]any
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	r = do(t, "GET", s.V5URL()+"/mykentik/tenant/7", s.Credentials(), "")
	var tn struct {
		CompanyID string           `json:"company_id"`
		Users     []map[string]any `json:"users"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tn) != nil || len(tn.Users) != 2 {
		t.Fatalf("info: %d %s", r.status, r.body)
	}
	if tn.CompanyID == "" {
		t.Errorf("tenant company_id is empty: %s", r.body)
	}
	for _, u := range append(tn.Users, created) {
		if c, _ := u["company_id"].(string); c != tn.CompanyID {
			t.Errorf("user %v: company_id %q, want the tenant's %q", u["id"], c, tn.CompanyID)
		}
		if id, _ := u["tenant_id"].(string); id != "7" {
			t.Errorf("user %v: tenant_id %q, want \"7\"", u["id"], id)
		}
	}
}
