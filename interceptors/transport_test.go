package interceptors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// rtStub lets a plain function stand in for a transport.
type rtStub func(*http.Request) (*http.Response, error)

func (f rtStub) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// rtFakeLimiter counts acquisitions and releases; it optionally fails Acquire and
// optionally records PushBack calls (when used through rtPushLimiter).
type rtFakeLimiter struct {
	acquired atomic.Int32
	released atomic.Int32
	err      error
}

func (l *rtFakeLimiter) Acquire(ctx context.Context) (func(), error) {
	if l.err != nil {
		return nil, l.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.acquired.Add(1)
	return func() { l.released.Add(1) }, nil
}

func (l *rtFakeLimiter) outstanding() int32 { return l.acquired.Load() - l.released.Load() }

type rtPushLimiter struct {
	rtFakeLimiter
	mu     sync.Mutex
	pushed []time.Duration
}

func (l *rtPushLimiter) PushBack(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pushed = append(l.pushed, d)
}

var (
	_ ratelimit.Limiter = (*rtFakeLimiter)(nil)
	_ ratelimit.Pusher  = (*rtPushLimiter)(nil)
)

// rtTrackedBody records whether it was closed.
type rtTrackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *rtTrackedBody) Close() error { b.closed.Store(true); return nil }

func TestAuthTransportSetsHeadersOnClone(t *testing.T) {
	var gotEmail, gotToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotEmail, gotToken = r.Header.Get(kentik.HeaderEmail), r.Header.Get(kentik.HeaderToken)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	// nil base: http.DefaultTransport carries the request to the real server.
	rt := NewAuthTransport(nil, kentik.Credentials{Email: "a@example.com", Token: "s3cret"})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Caller", "1")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotEmail != "a@example.com" || gotToken != "s3cret" {
		t.Errorf("server saw email %q token %q", gotEmail, gotToken)
	}
	if req.Header.Get(kentik.HeaderEmail) != "" || req.Header.Get(kentik.HeaderToken) != "" {
		t.Errorf("caller's request was modified: %v", req.Header)
	}
	if req.Header.Get("X-Caller") != "1" || len(req.Header) != 1 {
		t.Errorf("caller's headers changed: %v", req.Header)
	}
}

func TestAuthTransportNilHeaderAndOverwrite(t *testing.T) {
	var seen http.Header
	base := rtStub(func(r *http.Request) (*http.Response, error) {
		seen = r.Header
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
	})
	rt := NewAuthTransport(base, kentik.Credentials{Email: "e@x.io", Token: "tok"})

	req := &http.Request{Method: "GET", URL: rtMustURL(t, "http://127.0.0.1/x")} // Header is nil
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if seen.Get(kentik.HeaderEmail) != "e@x.io" || seen.Get(kentik.HeaderToken) != "tok" {
		t.Errorf("headers = %v", seen)
	}
	if req.Header != nil {
		t.Errorf("caller's nil header replaced: %v", req.Header)
	}

	// A stale token set by the caller is replaced, not duplicated.
	req2, _ := http.NewRequest("GET", "http://127.0.0.1/x", nil)
	req2.Header.Set(kentik.HeaderToken, "old")
	if _, err := rt.RoundTrip(req2); err != nil {
		t.Fatal(err)
	}
	if v := seen.Values(kentik.HeaderToken); len(v) != 1 || v[0] != "tok" {
		t.Errorf("token values = %q", v)
	}
	if req2.Header.Get(kentik.HeaderToken) != "old" {
		t.Errorf("caller's header modified")
	}
}

func TestAuthTransportMissingCredentials(t *testing.T) {
	var called atomic.Bool
	base := rtStub(func(r *http.Request) (*http.Response, error) {
		called.Store(true)
		return nil, errors.New("unreachable")
	})
	for _, c := range []kentik.Credentials{{}, {Email: "a@b.c"}, {Token: "secret-token"}} {
		body := &rtTrackedBody{Reader: strings.NewReader("x")}
		req, _ := http.NewRequest("POST", "https://api.kentik.com/api/v5/x?token=q", body)
		_, err := NewAuthTransport(base, c).RoundTrip(req)
		if !errors.Is(err, kentik.ErrMissingCredentials) {
			t.Errorf("%v: err = %v, want kentik.ErrMissingCredentials", c, err)
		}
		if err != nil && (strings.Contains(err.Error(), "secret-token") || strings.Contains(err.Error(), "token=q")) {
			t.Errorf("error leaks: %v", err)
		}
		if !body.closed.Load() {
			t.Errorf("%v: request body not closed", c)
		}
	}
	if called.Load() {
		t.Error("request sent without credentials")
	}
}

func TestRateLimitTransportHoldsSlotUntilBodyClosed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()

	l := &rtFakeLimiter{}
	rt := NewRateLimitTransport(nil, l)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.outstanding(); got != 1 {
		t.Fatalf("slot released before the body was consumed: outstanding = %d", got)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // a second close must not release twice
	if l.acquired.Load() != 1 || l.released.Load() != 1 {
		t.Errorf("acquired %d released %d", l.acquired.Load(), l.released.Load())
	}
}

func TestRateLimitTransportReleasesAtEOF(t *testing.T) {
	l := &rtFakeLimiter{}
	base := rtStub(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("hello")), Request: r}, nil
	})
	resp, err := NewRateLimitTransport(base, l).RoundTrip(httptest.NewRequest("GET", "http://127.0.0.1/", nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "hello" {
		t.Fatalf("body %q err %v", b, err)
	}
	if l.outstanding() != 0 {
		t.Errorf("slot still held after EOF")
	}
	resp.Body.Close()
	if l.released.Load() != 1 {
		t.Errorf("released %d times", l.released.Load())
	}
}

func TestRateLimitTransportReleasesAtOnce(t *testing.T) {
	boom := errors.New("connection refused")
	cases := map[string]rtStub{
		"error": func(r *http.Request) (*http.Response, error) { return nil, boom },
		"nil body": func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 204, Request: r}, nil
		},
		"NoBody": func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
		},
	}
	for name, base := range cases {
		t.Run(name, func(t *testing.T) {
			l := &rtFakeLimiter{}
			_, err := NewRateLimitTransport(base, l).RoundTrip(httptest.NewRequest("GET", "http://127.0.0.1/", nil))
			if name == "error" && !errors.Is(err, boom) {
				t.Errorf("err = %v", err)
			}
			if l.acquired.Load() != 1 || l.released.Load() != 1 {
				t.Errorf("acquired %d released %d", l.acquired.Load(), l.released.Load())
			}
		})
	}
}

func TestRateLimitTransportAcquireFails(t *testing.T) {
	var called atomic.Bool
	base := rtStub(func(r *http.Request) (*http.Response, error) {
		called.Store(true)
		return nil, errors.New("unreachable")
	})
	l := &rtFakeLimiter{err: ratelimit.ErrLimited}
	body := &rtTrackedBody{Reader: strings.NewReader("{}")}
	req := httptest.NewRequest("POST", "http://127.0.0.1/api/v5/x", body)
	_, err := NewRateLimitTransport(base, l).RoundTrip(req)
	if !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("err = %v, want ErrLimited", err)
	}
	if called.Load() {
		t.Error("request sent without a slot")
	}
	if !body.closed.Load() {
		t.Error("request body not closed")
	}

	// A cancelled context stops the wait for a slot.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req = httptest.NewRequest("GET", "http://127.0.0.1/", nil).WithContext(ctx)
	if _, err := NewRateLimitTransport(base, &rtFakeLimiter{}).RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestRateLimitTransportPushBack(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name   string
		status int
		header string
		want   []time.Duration
	}{
		{"seconds", 429, "7", []time.Duration{7 * time.Second}},
		{"date", 429, now.Add(30 * time.Second).Format(http.TimeFormat), []time.Duration{30 * time.Second}},
		{"no header", 429, "", nil},
		{"garbage", 429, "soon", nil},
		{"zero", 429, "0", nil},
		{"not 429", 503, "7", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := rtStub(func(r *http.Request) (*http.Response, error) {
				h := http.Header{}
				if tc.header != "" {
					h.Set("Retry-After", tc.header)
				}
				return &http.Response{StatusCode: tc.status, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
			})
			l := &rtPushLimiter{}
			rt := NewRateLimitTransport(base, l).(*rateLimitTransport)
			rt.now = func() time.Time { return now }
			resp, err := rt.RoundTrip(httptest.NewRequest("GET", "http://127.0.0.1/", nil))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(l.pushed) != len(tc.want) || (len(tc.want) == 1 && l.pushed[0] != tc.want[0]) {
				t.Errorf("pushed %v, want %v", l.pushed, tc.want)
			}
		})
	}

	// A limiter without PushBack is fine with a 429.
	base := rtStub(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3"}}, Body: http.NoBody, Request: r}, nil
	})
	if _, err := NewRateLimitTransport(base, &rtFakeLimiter{}).RoundTrip(httptest.NewRequest("GET", "http://127.0.0.1/", nil)); err != nil {
		t.Fatal(err)
	}
}

// TestRateLimitTransportConcurrency checks, against a real server, that a one-slot
// limiter keeps requests strictly one at a time even while bodies are being read.
func TestRateLimitTransportConcurrency(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	sem := &rtSemLimiter{ch: make(chan struct{}, 1)}
	client := &http.Client{Transport: NewRateLimitTransport(nil, sem)}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if got := maxInFlight.Load(); got != 1 {
		t.Errorf("max concurrent requests at the server = %d, want 1", got)
	}
	if len(sem.ch) != 0 {
		t.Errorf("%d slots leaked", len(sem.ch))
	}
}

type rtSemLimiter struct{ ch chan struct{} }

func (s *rtSemLimiter) Acquire(ctx context.Context) (func(), error) {
	select {
	case s.ch <- struct{}{}:
		return func() { <-s.ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestNewRateLimitTransportNilLimiter(t *testing.T) {
	base := rtStub(func(r *http.Request) (*http.Response, error) { return nil, errors.New("x") })
	if rt := NewRateLimitTransport(base, nil); rt == nil {
		t.Fatal("nil transport")
	}
	if rt := NewRateLimitTransport(nil, nil); rt != http.DefaultTransport {
		t.Errorf("nil base and limiter: got %T", rt)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	cases := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 120 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"+3", 0, false},
		{"1e3", 0, false},
		{"soon", 0, false},
		{"99999999999999999999999", time.Duration(1<<63 - 1), true},
		{"9223372036", 9223372036 * time.Second, true},
		{"9223372037", time.Duration(1<<63 - 1), true},
		{"Wed, 21 Oct 2015 07:28:30 GMT", 30 * time.Second, true},         // IMF-fixdate
		{"Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute, true},          // RFC 850
		{"Wed Oct 21 07:28:10 2015", 10 * time.Second, true},              // asctime
		{"Wed, 21 Oct 2015 07:00:00 GMT", 0, true},                        // past
		{"Wed, 21 Oct 2015 07:28:30 +0000", 0, false},                     // not an HTTP date
		{"2015-10-21T07:28:30Z", 0, false},                                // not an HTTP date
		{"Fri, 31 Dec 9999 23:59:59 GMT", time.Duration(1<<63 - 1), true}, // saturates
	}
	for _, tc := range cases {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", "-5", "1.5", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT",
		"Wednesday, 21-Oct-15 07:28:00 GMT", "Wed Oct 21 07:28:00 2015", "Mon, 01 Jan 0001 00:00:00 GMT"} {
		f.Add(s, int64(1445412480))
	}
	f.Fuzz(func(t *testing.T, v string, unix int64) {
		now := time.Unix(unix%(1<<40), 0)
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("negative delay %v for %q", d, v)
		}
		if !ok && d != 0 {
			t.Fatalf("not ok but delay %v for %q", d, v)
		}
		if ok && strings.TrimSpace(v) == "" {
			t.Fatalf("ok for blank %q", v)
		}
	})
}

func rtMustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRateLimitTransportRealLimiter runs the transport with the ratelimit package's own
// limiters: a 429's Retry-After holds back every later call through the transport, with
// a pacing policy and with off (which paces nothing), as the gRPC interceptors do.
func TestRateLimitTransportRealLimiter(t *testing.T) {
	p, err := ratelimit.Parse("concurrency=1,100/1m")
	if err != nil {
		t.Fatal(err)
	}
	for _, policy := range []ratelimit.Policy{p, ratelimit.Off} {
		t.Run(policy.String(), func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			defer srv.Close()

			client := &http.Client{Transport: NewRateLimitTransport(nil, ratelimit.New(policy))}
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			start := time.Now()
			_, err = client.Do(req)
			if !errors.Is(err, ratelimit.ErrLimited) {
				t.Errorf("err = %v, want ErrLimited after the push-back", err)
			}
			if time.Since(start) > 2*time.Second || calls.Load() != 1 {
				t.Errorf("calls %d after %v", calls.Load(), time.Since(start))
			}
		})
	}
}

// A panicking base transport (recovered by the caller, as net/http's server
// does for a handler) must not keep the slot.
func TestRateLimitTransportPanicReleases(t *testing.T) {
	l := &rtFakeLimiter{}
	base := rtStub(func(*http.Request) (*http.Response, error) { panic("boom") })
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		_, _ = NewRateLimitTransport(base, l).RoundTrip(httptest.NewRequest("GET", "http://127.0.0.1/", nil))
	}()
	if l.acquired.Load() != 1 || l.released.Load() != 1 {
		t.Fatalf("acquired %d released %d: the slot leaked through the panic", l.acquired.Load(), l.released.Load())
	}
}

// The transports end up in structs that get printed (an http.Client in a
// debug dump, a slog attribute); the token must not show in any verb.
func TestTransportsNeverPrintToken(t *testing.T) {
	creds := kentik.Credentials{Email: "ops@example.com", Token: "tok-0123456789abcdef"}
	// Not http.DefaultTransport: printing its insides races with its users.
	base := rtStub(func(*http.Request) (*http.Response, error) { return nil, errors.New("unused") })
	auth := NewAuthTransport(base, creds)
	for _, rt := range []http.RoundTripper{auth, NewRateLimitTransport(auth, &rtFakeLimiter{}), NewAuthTransport(NewRateLimitTransport(base, &rtFakeLimiter{}), creds)} {
		for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x"} {
			if out := fmt.Sprintf(verb, rt); strings.Contains(out, creds.Token) || strings.Contains(out, fmt.Sprintf("%x", creds.Token)) {
				t.Errorf("%s printed the token: %s", verb, out)
			}
		}
	}
}
