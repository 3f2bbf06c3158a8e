package kentiktest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/kentiktest"
)

func TestV5Tenants(t *testing.T) {
	s := startOff(t)
	cr := s.Credentials()
	base := s.V5URL()

	// List: a JSON array of tenant objects with the documented field names.
	r := do(t, "GET", base+"/mykentik/tenants", cr, "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("list: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var raw []map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil || len(raw) != 3 {
		t.Fatalf("list body %s: %v", r.body, err)
	}
	// The dates as Kentik sends them (the documentation's JSON example, and what Kentik's
	// own SDKs decode), not as its field table names them.
	for _, k := range []string{"id", "company_id", "name", "description", "created_date", "updated_date", "users"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("tenant lacks %q: %v", k, raw[0])
		}
	}
	for _, k := range []string{"cdate", "edate"} {
		if _, ok := raw[0][k]; ok {
			t.Errorf("tenant has %q, which Kentik does not send: %v", k, raw[0])
		}
	}
	if d, _ := raw[0]["created_date"].(string); d != "2023-02-14T09:30:00.000Z" {
		t.Errorf("created_date %v, want 2023-02-14T09:30:00.000Z", raw[0]["created_date"])
	}
	if _, ok := raw[0]["id"].(float64); !ok {
		t.Errorf("tenant id %v is not a JSON number", raw[0]["id"])
	}
	user := raw[0]["users"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "company_id", "user_email", "user_name", "user_full_name", "tenant_id", "last_login"} {
		if _, ok := user[k]; !ok {
			t.Errorf("user lacks %q: %v", k, user)
		}
	}
	if _, ok := user["id"].(string); !ok {
		t.Errorf("user id %v is not a string", user["id"])
	}

	// Info.
	var tn kentiktest.Tenant
	r = do(t, "GET", base+"/mykentik/tenant/102", cr, "")
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tn) != nil || tn.ID != 102 || tn.Name != "Globex Hosting" {
		t.Errorf("info: %d %s", r.status, r.body)
	}
	for _, id := range []string{"999", "abc", "-1"} {
		r = do(t, "GET", base+"/mykentik/tenant/"+id, cr, "")
		if r.status != http.StatusNotFound || !strings.Contains(r.errorMessage(t), id) {
			t.Errorf("tenant %s: %d %s", id, r.status, r.body)
		}
	}

	// Create a user, both body forms.
	var u kentiktest.TenantUser
	r = do(t, "POST", base+"/mykentik/tenant/103/user", cr, `{"user_email": "dave@initech.example"}`)
	if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil || u.UserEmail != "dave@initech.example" || u.TenantID != "103" || u.ID == "" || u.UserName != "dave" || u.LastLogin != nil {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = do(t, "POST", base+"/mykentik/tenant/103/user", cr, `{"user": {"user_email": "erin@initech.example"}}`)
	if r.status != http.StatusOK {
		t.Errorf("create (envelope): %d %s", r.status, r.body)
	}
	got, _ := s.Tenant(103)
	if len(got.Users) != 2 || got.Users[0].ID != u.ID {
		t.Errorf("tenant 103 users: %+v", got.Users)
	}
	for name, c := range map[string]struct {
		path, body string
		status     int
	}{
		"missing email":  {"/mykentik/tenant/103/user", `{}`, http.StatusBadRequest},
		"invalid email":  {"/mykentik/tenant/103/user", `{"user_email": "not-an-email"}`, http.StatusBadRequest},
		"display name":   {"/mykentik/tenant/103/user", `{"user_email": "Dave <d@x.example>"}`, http.StatusBadRequest},
		"bad json":       {"/mykentik/tenant/103/user", `{"user_email":`, http.StatusBadRequest},
		"no body":        {"/mykentik/tenant/103/user", ``, http.StatusBadRequest},
		"duplicate":      {"/mykentik/tenant/103/user", `{"user_email": "DAVE@initech.example"}`, http.StatusConflict},
		"unknown tenant": {"/mykentik/tenant/999/user", `{"user_email": "x@y.example"}`, http.StatusNotFound},
	} {
		r = do(t, "POST", base+c.path, cr, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.body, c.status)
		} else {
			r.errorMessage(t)
		}
	}

	// Delete.
	r = do(t, "DELETE", base+"/mykentik/tenant/103/user/"+u.ID, cr, "")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("delete: %d %q", r.status, r.body)
	}
	r = do(t, "DELETE", base+"/mykentik/tenant/103/user/"+u.ID, cr, "")
	if r.status != http.StatusNotFound {
		t.Errorf("delete again: %d %s", r.status, r.body)
	}
	r = do(t, "DELETE", base+"/mykentik/tenant/101/user/300003", cr, "") // user of tenant 102
	if r.status != http.StatusNotFound {
		t.Errorf("delete other tenant's user: %d %s", r.status, r.body)
	}

	// Unknown paths and wrong methods: JSON errors.
	r = do(t, "GET", base+"/mykentik/nothing", cr, "")
	if r.status != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.status)
	}
	r.errorMessage(t)
	r = do(t, "DELETE", base+"/mykentik/tenants", cr, "")
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET" {
		t.Errorf("wrong method: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	r.errorMessage(t)
	r = do(t, "GET", strings.TrimSuffix(base, "/api/v5")+"/other", kentik.Credentials{}, "")
	if r.status != http.StatusNotFound {
		t.Errorf("outside /api/v5: %d", r.status)
	}

	calls := s.Stats().V5.Calls
	if calls[kentiktest.V5TenantList] != 1 || calls[kentiktest.V5TenantUserCreate] != 9 || calls["Other"] != 2 {
		t.Errorf("calls %v", calls)
	}
}

func TestV5Auth(t *testing.T) {
	s := kentiktest.Start(t, kentiktest.WithV5Policy(policy(t, "1/1h")))
	good := s.Credentials()
	for name, cr := range map[string]kentik.Credentials{
		"missing":     {},
		"wrong email": {Email: "x@example.com", Token: good.Token},
		"wrong token": {Email: good.Email, Token: "guess"},
	} {
		r := do(t, "GET", s.V5URL()+"/mykentik/tenants", cr, "")
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, r.status)
			continue
		}
		if msg := r.errorMessage(t); strings.Contains(msg, "guess") || strings.Contains(msg, good.Token) {
			t.Errorf("%s: message echoes a token: %q", name, msg)
		}
	}
	// Unauthenticated requests did not use the one call of the hour.
	if r := do(t, "GET", s.V5URL()+"/mykentik/tenants", good, ""); r.status != http.StatusOK {
		t.Errorf("authenticated: %d %s", r.status, r.body)
	}
	reqs := s.Requests()
	last := reqs[len(reqs)-1]
	if last.API != "v5" || last.Method != kentiktest.V5TenantList || last.Header["x-ch-auth-email"][0] != good.Email || last.UserAgent == "" {
		t.Errorf("request %+v", last)
	}
}

func TestV5RateLimit(t *testing.T) {
	// gRPC is off: V5 calls are counted apart.
	s := kentiktest.Start(t, kentiktest.WithV5Policy(policy(t, "2/3s")))
	var r httpResult
	for range 3 {
		r = do(t, "GET", s.V5URL()+"/mykentik/tenants", s.Credentials(), "")
	}
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third call: %d %s", r.status, r.body)
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 3 {
		t.Errorf("Retry-After %q: want whole seconds, rounded up from at most 3s", r.header.Get("Retry-After"))
	}
	if !strings.Contains(r.errorMessage(t), "rate limit") {
		t.Errorf("message %s", r.body)
	}
	st := s.Stats()
	if st.V5.Rejected[kentiktest.RejectRateLimit] != 1 || st.V5.Limits.Admitted != 2 || st.GRPC.Limits.Admitted != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestV5Faults(t *testing.T) {
	s := startOff(t)
	if err := s.FailNext("GET /api/v5/mykentik/tenants", 1, codes.Unavailable); err != nil {
		t.Fatal(err)
	}
	if err := s.FailNext(kentiktest.V5TenantUserDelete, 1, codes.PermissionDenied); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", s.V5URL()+"/mykentik/tenants", s.Credentials(), ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("injected: %d", r.status)
	}
	if r := do(t, "GET", s.V5URL()+"/mykentik/tenants", s.Credentials(), ""); r.status != http.StatusOK {
		t.Errorf("after: %d", r.status)
	}
	if r := do(t, "DELETE", s.V5URL()+"/mykentik/tenant/101/user/300001", s.Credentials(), ""); r.status != http.StatusForbidden {
		t.Errorf("injected delete: %d", r.status)
	}
	if got, _ := s.Tenant(101); len(got.Users) != 2 {
		t.Error("a failed delete removed the user")
	}
}

func TestV5HandlerWithHTTPTest(t *testing.T) {
	s := startOff(t, kentiktest.WithTenants(kentiktest.Tenant{ID: 7, Name: "Only"}))
	hs := httptest.NewServer(s.V5Handler())
	defer hs.Close()
	r := do(t, "GET", hs.URL+"/api/v5/mykentik/tenants", s.Credentials(), "")
	var ts []kentiktest.Tenant
	if r.status != http.StatusOK || json.Unmarshal(r.body, &ts) != nil || len(ts) != 1 || ts[0].ID != 7 || ts[0].CDate == "" || ts[0].Users == nil {
		t.Errorf("%d %s", r.status, r.body)
	}
	if !slices.Equal([]int64{7}, []int64{s.Tenants()[0].ID}) {
		t.Error("Tenants()")
	}
}
