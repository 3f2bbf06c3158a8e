package mykentik

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

const (
	testEmail = "ops@example.com"
	testToken = "tok-0123456789abcdef"
)

var testCreds = kentik.Credentials{Email: testEmail, Token: testToken}

// fakeV5 is a tiny scripted V5 server: it checks the credentials, records every request
// and answers with the next scripted response (the last one repeats).
type fakeV5 struct {
	t     *testing.T
	srv   *httptest.Server
	calls atomic.Int32

	mu       sync.Mutex
	script   []reply
	requests []seen
}

type reply struct {
	status int
	header map[string]string
	body   string
}

type seen struct {
	method, path, rawPath string
	header                http.Header
	body                  string
}

func newFake(t *testing.T, script ...reply) *fakeV5 {
	t.Helper()
	f := &fakeV5{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeV5) serve(w http.ResponseWriter, r *http.Request) {
	n := int(f.calls.Add(1))
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, seen{r.Method, r.URL.Path, r.URL.RawPath, r.Header.Clone(), string(b)})
	rep := reply{status: 500, body: `{"error":"no script"}`}
	if len(f.script) > 0 {
		rep = f.script[min(n, len(f.script))-1]
	}
	f.mu.Unlock()

	if r.Header.Get(kentik.HeaderEmail) != testEmail || r.Header.Get(kentik.HeaderToken) != testToken {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		// Echo the token back, as a careless server might: the client must redact it.
		fmt.Fprintf(w, `{"error":"Invalid credentials for token %s"}`, r.Header.Get(kentik.HeaderToken))
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.status == 0 {
		rep.status = 200
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (f *fakeV5) last() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

// newClient builds a client for f with fast retries and no client-side limiting.
func newClient(t *testing.T, f *fakeV5, opts ...Option) *Client {
	t.Helper()
	base := []Option{
		WithBaseURL(f.srv.URL),
		WithCredentials(testCreds),
		WithLimiter(ratelimit.New(ratelimit.Off)),
		WithRetry(kentik.RetryPolicy{MaxAttempts: 4, Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}),
	}
	c, err := New(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCallsAndHeaders(t *testing.T) {
	f := newFake(t,
		reply{body: `{"tenants":[` + tenantForms["doc example"] + `]}`},
		reply{body: `{"tenant":` + tenantForms["field table"] + `}`},
		reply{status: 201, body: `{"user":{"id":43,"user_email":"new@example.com","tenant_id":7}}`},
		reply{status: 204},
	)
	c := newClient(t, f, WithUserAgent("kentik-cli/0.1"))
	ctx := context.Background()

	ts, err := c.ListTenants(ctx)
	if err != nil || len(ts) != 1 || ts[0].Name != "acme" {
		t.Fatalf("ListTenants = %+v, %v", ts, err)
	}
	r := f.last()
	if r.method != "GET" || r.path != "/api/v5/mykentik/tenants" {
		t.Errorf("list: %s %s", r.method, r.path)
	}
	for k, want := range map[string]string{
		kentik.HeaderEmail: testEmail,
		kentik.HeaderToken: testToken,
		"Accept":           "application/json",
		"Content-Type":     "application/json",
		"User-Agent":       kentik.UserAgent + " kentik-cli/0.1",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}

	tn, err := c.GetTenant(ctx, 7)
	if err != nil || tn.ID != 7 || len(tn.Users) != 1 {
		t.Fatalf("GetTenant = %+v, %v", tn, err)
	}
	if r := f.last(); r.method != "GET" || r.path != "/api/v5/mykentik/tenant/7" {
		t.Errorf("get: %s %s", r.method, r.path)
	}

	u, err := c.CreateTenantUser(ctx, 7, " new@example.com ")
	if err != nil || u.ID != "43" || u.TenantID != "7" || u.Email != "new@example.com" {
		t.Fatalf("CreateTenantUser = %+v, %v", u, err)
	}
	if r := f.last(); r.method != "POST" || r.path != "/api/v5/mykentik/tenant/7/user" || r.body != `{"user_email":"new@example.com"}` {
		t.Errorf("create: %s %s %s", r.method, r.path, r.body)
	}

	if err := c.DeleteTenantUser(ctx, 7, "43"); err != nil {
		t.Fatal(err)
	}
	if r := f.last(); r.method != "DELETE" || r.path != "/api/v5/mykentik/tenant/7/user/43" || r.body != "" {
		t.Errorf("delete: %s %s %q", r.method, r.path, r.body)
	}
}

// TestEveryFormOverHTTP runs each documented body through a real HTTP exchange.
func TestEveryFormOverHTTP(t *testing.T) {
	want := wantTenant()
	for name, body := range tenantForms {
		for _, list := range []string{"[" + body + "]", `{"tenants":[` + body + `]}`} {
			f := newFake(t, reply{body: list})
			ts, err := newClient(t, f).ListTenants(context.Background())
			if err != nil || len(ts) != 1 || fmt.Sprint(ts[0]) != fmt.Sprint(want) {
				t.Errorf("%s list: %+v, %v", name, ts, err)
			}
		}
		for _, one := range []string{body, `{"tenant":` + body + `}`} {
			f := newFake(t, reply{body: one})
			tn, err := newClient(t, f).GetTenant(context.Background(), 7)
			if err != nil || fmt.Sprint(*tn) != fmt.Sprint(want) {
				t.Errorf("%s get: %+v, %v", name, tn, err)
			}
		}
	}
}

func TestDeleteEscapesUserID(t *testing.T) {
	f := newFake(t, reply{status: 204})
	if err := newClient(t, f).DeleteTenantUser(context.Background(), 7, "a/b?c"); err != nil {
		t.Fatal(err)
	}
	if r := f.last(); r.path != "/api/v5/mykentik/tenant/7/user/a/b?c" || r.rawPath != "/api/v5/mykentik/tenant/7/user/a%2Fb%3Fc" {
		t.Errorf("path %q raw %q", r.path, r.rawPath)
	}
}

func TestCreateUserEmptyBody(t *testing.T) {
	f := newFake(t, reply{status: 201})
	u, err := newClient(t, f).CreateTenantUser(context.Background(), 7, "x@example.com")
	if err != nil || u.Email != "x@example.com" || u.TenantID != "7" || u.ID != "" {
		t.Errorf("got %+v, %v", u, err)
	}
}

func TestWrongCredentials(t *testing.T) {
	f := newFake(t, reply{body: `[]`})
	c, err := New(context.Background(), WithBaseURL(f.srv.URL), WithCredentials(kentik.Credentials{Email: testEmail, Token: "wrong-token-xyz"}),
		WithRateLimit(ratelimit.Off), WithRetry(kentik.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTenants(context.Background())
	if !kentik.IsUnauthenticated(err) || kentik.IsNotFound(err) || kentik.IsRateLimited(err) {
		t.Fatalf("err = %v, want 401", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Method != "GET" || apiErr.Path != "/api/v5/mykentik/tenants" {
		t.Fatalf("APIError = %+v", apiErr)
	}
	if strings.Contains(err.Error(), "wrong-token-xyz") || strings.Contains(fmt.Sprintf("%+v %#v", err, apiErr), "wrong-token-xyz") {
		t.Errorf("token leaked: %v", err)
	}
	if !strings.Contains(apiErr.Message, "Invalid credentials for token <redacted>") {
		t.Errorf("message = %q", apiErr.Message)
	}
	if f.calls.Load() != 1 {
		t.Errorf("401 was retried: %d calls", f.calls.Load())
	}
}

func TestNotFound(t *testing.T) {
	f := newFake(t, reply{status: 404, header: map[string]string{"Content-Type": "application/json"}, body: `{"error":"Tenant not found"}`})
	_, err := newClient(t, f).GetTenant(context.Background(), 7)
	if !kentik.IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	const want = "mykentik: GET /api/v5/mykentik/tenant/7: 404 Not Found: Tenant not found"
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
	}
	if f.calls.Load() != 1 {
		t.Errorf("404 was retried")
	}
}

func TestErrorMessages(t *testing.T) {
	long := strings.Repeat("é", 400)
	cases := []struct{ body, want string }{
		{`{"error":"Tenant not found"}`, "Tenant not found"},
		{`{"message":"bad thing"}`, "bad thing"},
		{`{"error":{"message":"nested","code":3}}`, "nested"},
		{`{"errors":[{"message":"a"},"b"]}`, "a; b"},
		{`"just a string"`, "just a string"},
		{"plain\ttext\x1b[31m with\ncontrol", "plain text [31m with control"},
		{"<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>", "502 Bad Gateway 502"},
		{`{"code":7}`, `{"code":7}`},
		{"", ""},
		{long, strings.Repeat("é", (maxMessageLen-3)/2) + "…"},
		{"token " + testToken + " rejected", "token <redacted> rejected"},
	}
	for _, tc := range cases {
		if got := errorMessage([]byte(tc.body), testToken, false); got != tc.want {
			t.Errorf("errorMessage(%.40q) = %q, want %q", tc.body, got, tc.want)
		}
	}
	e := &APIError{StatusCode: 599, Method: "GET", Path: "/x", RetryAfter: 1500 * time.Millisecond}
	if got := e.Error(); got != "mykentik: GET /x: 599 (retry after 2s)" {
		t.Errorf("Error() = %q", got)
	}
}

// TestRetryAfterWaitedOut is the one test that really waits: 429 with Retry-After: 1.
func TestRetryAfterWaitedOut(t *testing.T) {
	f := newFake(t,
		reply{status: 429, header: map[string]string{"Retry-After": "1"}, body: `{"error":"Too many requests"}`},
		reply{body: `[]`},
	)
	start := time.Now()
	ts, err := newClient(t, f, WithRetry(kentik.RetryPolicy{MaxAttempts: 3, Initial: 5 * time.Millisecond, Max: 5 * time.Second})).ListTenants(context.Background())
	if err != nil || len(ts) != 0 {
		t.Fatalf("got %v, %v", ts, err)
	}
	if el := time.Since(start); el < 950*time.Millisecond {
		t.Errorf("retried after %v, before the 1s Retry-After", el)
	}
	if f.calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", f.calls.Load())
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	// A date in the past: retry at once.
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	f := newFake(t, reply{status: 429, header: map[string]string{"Retry-After": past}}, reply{body: `[]`})
	if _, err := newClient(t, f).ListTenants(context.Background()); err != nil || f.calls.Load() != 2 {
		t.Fatalf("err %v, calls %d", err, f.calls.Load())
	}

	// A date an hour away: longer than the backoff cap, so the call fails at once and
	// says when to come back.
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	f = newFake(t, reply{status: 429, header: map[string]string{"Retry-After": future}, body: `{"error":"hourly limit"}`})
	start := time.Now()
	_, err := newClient(t, f).ListTenants(context.Background())
	var apiErr *APIError
	if !kentik.IsRateLimited(err) || !errors.As(err, &apiErr) {
		t.Fatalf("err = %v", err)
	}
	if apiErr.RetryAfter < 59*time.Minute || apiErr.RetryAfter > time.Hour {
		t.Errorf("RetryAfter = %v", apiErr.RetryAfter)
	}
	if f.calls.Load() != 1 || time.Since(start) > 2*time.Second {
		t.Errorf("calls %d after %v", f.calls.Load(), time.Since(start))
	}
	if !strings.Contains(err.Error(), "hourly limit") || !strings.Contains(err.Error(), "retry after") {
		t.Errorf("Error() = %q", err)
	}
}

func TestRetries(t *testing.T) {
	const createBody = `{"user_email":"x@example.com"}`
	list := func(c *Client) error { _, err := c.ListTenants(context.Background()); return err }
	create := func(c *Client) error {
		_, err := c.CreateTenantUser(context.Background(), 7, "x@example.com")
		return err
	}
	del := func(c *Client) error { return c.DeleteTenantUser(context.Background(), 7, "1") }
	cases := []struct {
		name      string
		status    int
		call      func(*Client) error
		post      bool
		wantCalls int32
	}{
		{"503 GET retried", 503, list, false, 3},
		{"503 POST retried", 503, create, true, 3},
		{"429 no Retry-After", 429, list, false, 3},
		{"502 GET retried", 502, list, false, 3},
		{"504 DELETE retried", 504, del, false, 3},
		{"502 POST not retried", 502, create, true, 1},
		{"504 POST not retried", 504, create, true, 1},
		{"400 not retried", 400, list, false, 1},
		{"403 not retried", 403, del, false, 1},
		{"409 not retried", 409, create, true, 1},
		{"500 not retried", 500, list, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok := reply{status: 200, body: `[]`}
			if tc.post {
				ok.body = `{"id":"1","user_email":"x@example.com"}`
			}
			fail := reply{status: tc.status, body: `{"error":"nope"}`}
			f := newFake(t, fail, fail, ok)
			err := tc.call(newClient(t, f))
			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			var apiErr *APIError
			switch {
			case tc.wantCalls > 1 && err != nil:
				t.Errorf("err = %v", err)
			case tc.wantCalls == 1 && (!errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || apiErr.Message != "nope"):
				t.Errorf("err = %v, want APIError %d", err, tc.status)
			}
			if tc.post {
				// The POST body is replayed intact on every attempt.
				f.mu.Lock()
				defer f.mu.Unlock()
				for _, r := range f.requests {
					if r.body != createBody {
						t.Errorf("attempt body = %q", r.body)
					}
				}
			}
		})
	}
}

func TestAttemptsBounded(t *testing.T) {
	f := newFake(t, reply{status: 503, body: "down"})
	_, err := newClient(t, f, WithRetry(kentik.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond})).ListTenants(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Message != "down" {
		t.Fatalf("err = %v", err)
	}
	if f.calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", f.calls.Load())
	}
	f = newFake(t, reply{status: 503})
	_, _ = newClient(t, f, WithRetry(kentik.RetryPolicy{MaxAttempts: 1, Initial: time.Millisecond, Max: time.Millisecond})).ListTenants(context.Background())
	if f.calls.Load() != 1 {
		t.Errorf("WithRetry(1): calls = %d", f.calls.Load())
	}
}

func TestContextHonouredInWaits(t *testing.T) {
	f := newFake(t, reply{status: 503})
	c := newClient(t, f, WithRetry(kentik.RetryPolicy{MaxAttempts: 5, Initial: 10 * time.Second, Max: 20 * time.Second}))

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.ListTenants(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "503") {
		t.Errorf("err = %v", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Errorf("the last API error is lost: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancellation ignored for %v", time.Since(start))
	}

	// A deadline that comes before the next attempt: give up at once.
	ctx, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	start = time.Now()
	if _, err := c.ListTenants(ctx); !errors.As(err, &apiErr) || time.Since(start) > time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}

	// A context already done never reaches the server.
	n := f.calls.Load()
	done, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := c.GetTenant(done, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if f.calls.Load() != n {
		t.Errorf("request sent with a cancelled context")
	}
}

func TestBodies(t *testing.T) {
	big := "[" + strings.Repeat(`{"id":1},`, 300) + `{"id":1}]`
	t.Run("oversized with length", func(t *testing.T) {
		f := newFake(t, reply{body: big})
		_, err := newClient(t, f, WithMaxBodyBytes(1024)).ListTenants(context.Background())
		if !errors.Is(err, ErrBodyTooLarge) || !strings.Contains(err.Error(), "1024") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("oversized chunked", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := range 50 {
				fmt.Fprintf(w, "%050d", i)
				w.(http.Flusher).Flush()
			}
		}))
		defer srv.Close()
		c, err := New(context.Background(), WithBaseURL(srv.URL), WithCredentials(testCreds), WithRateLimit(ratelimit.Off), WithMaxBodyBytes(1000))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListTenants(context.Background()); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("within limit", func(t *testing.T) {
		f := newFake(t, reply{body: big})
		ts, err := newClient(t, f, WithMaxBodyBytes(int64(len(big)))).ListTenants(context.Background())
		if err != nil || len(ts) != 301 {
			t.Errorf("got %d, %v", len(ts), err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		f := newFake(t, reply{header: map[string]string{"Content-Type": "text/html"}, body: "<html>maintenance " + testToken + "</html>"})
		_, err := newClient(t, f).ListTenants(context.Background())
		if !errors.Is(err, ErrNotJSON) || !strings.Contains(err.Error(), "maintenance") || strings.Contains(err.Error(), testToken) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("wrong JSON", func(t *testing.T) {
		f := newFake(t, reply{body: `{"id":"x"}`})
		_, err := newClient(t, f).GetTenant(context.Background(), 1)
		if !errors.Is(err, ErrNotJSON) || !strings.Contains(err.Error(), `"id"`) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestLocalValidation(t *testing.T) {
	f := newFake(t, reply{body: `{}`})
	c := newClient(t, f)
	ctx := context.Background()
	for _, email := range []string{"", "  ", "jane", "jane@", "@example.com", "Jane <jane@example.com>",
		"jane@localhost", "a@b.", "jane@example.com, bob@example.com", strings.Repeat("a", 250) + "@example.com"} {
		if _, err := c.CreateTenantUser(ctx, 7, email); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("email %q: err = %v", email, err)
		}
	}
	if _, err := c.GetTenant(ctx, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("tenant 0: %v", err)
	}
	if _, err := c.CreateTenantUser(ctx, -1, "a@example.com"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("tenant -1: %v", err)
	}
	for _, id := range []string{"", " ", ".", "..", "a\nb"} {
		if err := c.DeleteTenantUser(ctx, 7, id); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("user id %q: %v", id, err)
		}
	}
	//lint:ignore SA1012 checking that a nil context is refused, not a panic
	if _, err := c.ListTenants(nil); !errors.Is(err, ErrInvalidArgument) { //nolint:staticcheck
		t.Errorf("nil ctx: %v", err)
	}
	if f.calls.Load() != 0 {
		t.Errorf("%d requests sent for invalid input", f.calls.Load())
	}
}

func TestNewOptions(t *testing.T) {
	creds := WithCredentials(testCreds)
	bad := map[string][]Option{
		"no credentials":    {},
		"no token":          {WithCredentials(kentik.Credentials{Email: testEmail})},
		"region":            {creds, WithRegion("apac")},
		"scheme":            {creds, WithBaseURL("ftp://127.0.0.1")},
		"no host":           {creds, WithBaseURL("http:///api/v5")},
		"plain http remote": {creds, WithBaseURL("http://api.kentik.com/api/v5")},
		"user info":         {creds, WithBaseURL("https://u:p@api.kentik.com/api/v5")},
		"query":             {creds, WithBaseURL("https://api.kentik.com/api/v5?x=1")},
		"unparsable":        {creds, WithBaseURL("https://[::1")},
		"body size":         {creds, WithMaxBodyBytes(0)},
	}
	for name, opts := range bad {
		if c, err := New(context.Background(), opts...); err == nil {
			t.Errorf("%s: New succeeded: %v", name, c.BaseURL())
		} else if strings.Contains(err.Error(), "u:p@") {
			t.Errorf("%s: error leaks user info: %v", name, err)
		}
	}
	if _, err := New(context.Background()); !errors.Is(err, kentik.ErrMissingCredentials) {
		t.Errorf("missing credentials: %v", err)
	}

	good := map[string]struct {
		opts []Option
		want string
	}{
		"default":       {nil, kentik.US.V5BaseURL()},
		"eu":            {[]Option{WithRegion(" EU ")}, kentik.EU.V5BaseURL()},
		"us":            {[]Option{WithRegion("us")}, kentik.US.V5BaseURL()},
		"bare host":     {[]Option{WithBaseURL("http://127.0.0.1:8080")}, "http://127.0.0.1:8080/api/v5"},
		"bare slash":    {[]Option{WithBaseURL("http://localhost:8080/")}, "http://localhost:8080/api/v5"},
		"ipv6 loopback": {[]Option{WithBaseURL("http://[::1]:9")}, "http://[::1]:9/api/v5"},
		"full":          {[]Option{WithBaseURL("https://api.kentik.eu/api/v5/")}, kentik.EU.V5BaseURL()},
		"custom path":   {[]Option{WithBaseURL("https://proxy.example.com/kentik/api/v5")}, "https://proxy.example.com/kentik/api/v5"},
		"override wins": {[]Option{WithRegion("eu"), WithBaseURL("https://api.kentik.com/api/v5")}, kentik.US.V5BaseURL()},
	}
	for name, tc := range good {
		c, err := New(context.Background(), append([]Option{creds, nil}, tc.opts...)...)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.BaseURL() != tc.want {
			t.Errorf("%s: BaseURL = %q, want %q", name, c.BaseURL(), tc.want)
		}
	}
}

// TestHTTPClientNotModified checks that WithHTTPClient works on a copy.
func TestHTTPClientNotModified(t *testing.T) {
	f := newFake(t, reply{body: `[]`})
	hc := &http.Client{Timeout: 5 * time.Second}
	c := newClient(t, f, WithHTTPClient(hc))
	if _, err := c.ListTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil || hc.CheckRedirect != nil {
		t.Errorf("caller's http.Client was modified")
	}
}

// countingLimiter counts slots taken and given back.
type countingLimiter struct{ acquired, released atomic.Int32 }

func (l *countingLimiter) Acquire(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ratelimit.ErrLimited, err)
	}
	l.acquired.Add(1)
	return func() { l.released.Add(1) }, nil
}

func TestEveryAttemptThroughLimiter(t *testing.T) {
	f := newFake(t, reply{status: 503}, reply{status: 429}, reply{body: `[]`})
	l := &countingLimiter{}
	if _, err := newClient(t, f, WithLimiter(l)).ListTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.acquired.Load() != 3 || l.released.Load() != 3 {
		t.Errorf("acquired %d released %d, want 3 and 3", l.acquired.Load(), l.released.Load())
	}
}

func TestLimiterRefusal(t *testing.T) {
	f := newFake(t, reply{body: `[]`})
	// One call per hour, and a context that cannot wait that long.
	p, err := ratelimit.Parse("concurrency=1,1/1h")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, WithLimiter(ratelimit.New(p)))
	if _, err := c.ListTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = c.ListTenants(ctx)
	if !kentik.IsRateLimited(err) || !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("err = %v", err)
	}
	if f.calls.Load() != 1 {
		t.Errorf("calls = %d", f.calls.Load())
	}
}

// TestDefaultLimiterShared checks that two clients of one account share the default
// limiter (Kentik's admin policy: one request in flight per customer).
func TestDefaultLimiterShared(t *testing.T) {
	var inFlight, maxInFlight, calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, `[]`)
	}))
	defer srv.Close()
	c1, err := New(context.Background(), WithBaseURL(srv.URL), WithCredentials(testCreds))
	if err != nil {
		t.Fatal(err)
	}
	// Same account, email spelled differently.
	c2, err := New(context.Background(), WithBaseURL(srv.URL), WithCredentials(kentik.Credentials{Email: strings.ToUpper(testEmail), Token: testToken}))
	if err != nil {
		t.Fatal(err)
	}
	// A stuck limiter fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range []*Client{c1, c2, c1, c2} {
		wg.Go(func() {
			if _, err := c.ListTenants(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 4 || maxInFlight.Load() != 1 {
		t.Errorf("calls %d, max in flight %d; want 4 and 1", calls.Load(), maxInFlight.Load())
	}
}

func TestTransientConnectionErrorRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// Drop the connection without answering.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		io.WriteString(w, `[]`)
	}))
	defer srv.Close()
	c, err := New(context.Background(), WithBaseURL(srv.URL), WithCredentials(testCreds), WithRateLimit(ratelimit.Off), WithRetry(kentik.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTenants(context.Background()); err != nil {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() < 2 {
		t.Errorf("calls = %d", calls.Load())
	}
}

func TestCrossHostRedirectRefused(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(kentik.HeaderToken) != "" {
			leaked.Store(true)
		}
		io.WriteString(w, `[]`)
	}))
	defer other.Close()
	// Same IP, another port: another origin.
	f := newFake(t, reply{status: 302, header: map[string]string{"Location": other.URL + "/api/v5/mykentik/tenants"}})
	_, err := newClient(t, f).ListTenants(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refusing redirect") {
		t.Errorf("err = %v", err)
	}
	if leaked.Load() {
		t.Error("credentials followed the redirect")
	}
}

// A Client ends up printed (a debug dump, a slog attribute of a struct that
// holds it); no verb may show the token.
func TestClientNeverPrintsToken(t *testing.T) {
	f := newFake(t, reply{body: `[]`})
	c := newClient(t, f)
	for _, v := range []any{c, *c, struct{ c *Client }{c}} {
		for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, testToken) || strings.Contains(out, fmt.Sprintf("%x", testToken)) {
				t.Errorf("%s printed the token: %s", verb, out)
			}
		}
	}
}

// WithRateLimit paces with the policy given, through the limiter shared per account
// (two clients of one account, the second with other capitals in the email, share one
// window), and refuses an invalid policy before any request.
func TestWithRateLimitShared(t *testing.T) {
	f := newFake(t, reply{body: `[]`})
	p, err := ratelimit.Parse("concurrency=1,1/1h")
	if err != nil {
		t.Fatal(err)
	}
	c1, err := New(context.Background(), WithBaseURL(f.srv.URL), WithCredentials(testCreds), WithRateLimit(p))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.ListTenants(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2, err := New(context.Background(), WithBaseURL(f.srv.URL), WithCredentials(kentik.Credentials{Email: " " + strings.ToUpper(testEmail), Token: testToken}), WithRateLimit(p), WithLimiter(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c2.ListTenants(ctx); !kentik.IsRateLimited(err) {
		t.Errorf("second client of the account: err = %v, want the shared window to refuse", err)
	}
	if _, err := New(context.Background(), WithBaseURL(f.srv.URL), WithCredentials(testCreds), WithRateLimit(ratelimit.Policy{Concurrency: -1})); err == nil {
		t.Error("an invalid policy was accepted")
	}
}
