package mykentik

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/interceptors"
)

type v5Recorder struct {
	kentik.NopObserver
	mu       sync.Mutex
	requests []kentik.V5RequestEvent
	routes   []string
}

func (r *v5Recorder) V5Request(_ context.Context, e kentik.V5RequestEvent) {
	r.mu.Lock()
	r.requests = append(r.requests, e)
	r.mu.Unlock()
}

func (r *v5Recorder) LimiterWaitStart(_ context.Context, e kentik.LimiterEvent) {
	r.mu.Lock()
	r.routes = append(r.routes, e.Class+" "+e.Route)
	r.mu.Unlock()
}

// TestObserverAndWrapper: each call is reported once with its path template and last
// status; the limiter events carry the template, never the ids; a transport wrapper sees
// every attempt, inside the limiter (after the credentials are set).
func TestObserverAndWrapper(t *testing.T) {
	f := newFake(t,
		reply{status: 429, header: map[string]string{"Retry-After": "0"}, body: `{"error":"slow"}`},
		reply{status: 204},
		reply{status: 404, body: `{"error":"no such tenant"}`},
	)
	rec := &v5Recorder{}
	var attempts []string
	var mu sync.Mutex
	wrap := func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			attempts = append(attempts, r.Method+" "+r.URL.Path+" "+interceptors.PathTemplate(r.Context())+" "+r.Header.Get(kentik.HeaderEmail))
			mu.Unlock()
			return next.RoundTrip(r)
		})
	}
	c := newClient(t, f, WithOptions(WithObserver(rec), WithTransportWrapper(wrap), WithTransportWrapper(nil)))
	if err := c.DeleteTenantUser(context.Background(), 101, "7"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTenant(context.Background(), 102); !kentik.IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	if len(rec.requests) != 2 {
		t.Fatalf("requests %+v", rec.requests)
	}
	r0, r1 := rec.requests[0], rec.requests[1]
	if r0.Method != "DELETE" || r0.Path != pathTenantUser || r0.Status != 204 || r0.Err != nil || r0.Duration <= 0 {
		t.Errorf("first event %+v", r0)
	}
	if r1.Method != "GET" || r1.Path != pathTenant || r1.Status != 404 || r1.Err == nil {
		t.Errorf("second event %+v", r1)
	}
	wantRoutes := []string{"v5-admin DELETE " + pathTenantUser, "v5-admin DELETE " + pathTenantUser, "v5-admin GET " + pathTenant}
	if len(rec.routes) != 3 || rec.routes[0] != wantRoutes[0] || rec.routes[1] != wantRoutes[1] || rec.routes[2] != wantRoutes[2] {
		t.Errorf("limiter routes %q, want %q", rec.routes, wantRoutes)
	}
	want := []string{
		"DELETE /api/v5/mykentik/tenant/101/user/7 " + pathTenantUser + " " + testEmail,
		"DELETE /api/v5/mykentik/tenant/101/user/7 " + pathTenantUser + " " + testEmail,
		"GET /api/v5/mykentik/tenant/102 " + pathTenant + " " + testEmail,
	}
	if len(attempts) != 3 || attempts[0] != want[0] || attempts[1] != want[1] || attempts[2] != want[2] {
		t.Errorf("the wrapper saw %q, want %q", attempts, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
