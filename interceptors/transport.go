package interceptors

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// NewAuthTransport returns an http.RoundTripper that sends every request through base with
// Kentik's credential headers (X-CH-Auth-Email and X-CH-Auth-API-Token) set. The headers
// are set on a clone: the caller's request is never modified. A nil base means
// http.DefaultTransport.
//
// Credentials are checked when a request is made, not here, so that this constructor
// cannot fail: with an empty email or token every round trip fails with an error wrapping
// kentik.ErrMissingCredentials and nothing is sent. Callers that want to fail early (before any
// request) call c.Validate themselves.
func NewAuthTransport(base http.RoundTripper, c kentik.Credentials) http.RoundTripper {
	return &authTransport{base: transportOrDefault(base), creds: func() kentik.Credentials { return c }}
}

type authTransport struct {
	base http.RoundTripper
	// creds sits behind a func because fmt prints a func as an address
	// whatever the verb, while it prints a struct field it reaches by
	// reflection (a %+v of the transport, a %s of a wrapper) without calling
	// Credentials.Format.
	creds func() kentik.Credentials
}

// RoundTrip implements http.RoundTripper.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	creds := t.creds()
	if err := creds.Validate(); err != nil {
		closeRequestBody(req)
		return nil, fmt.Errorf("interceptors: %s %s: %w", req.Method, requestURLForError(req), err)
	}
	out := req.Clone(req.Context())
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	out.Header.Set(kentik.HeaderEmail, creds.Email)
	out.Header.Set(kentik.HeaderToken, creds.Token)
	return t.base.RoundTrip(out)
}

// CloseIdleConnections forwards to the wrapped transport when it supports it, so that
// http.Client.CloseIdleConnections keeps working through the wrapper.
func (t *authTransport) CloseIdleConnections() { closeIdleOf(t.base) }

// NewRateLimitTransport returns an http.RoundTripper that takes a slot from l before each
// round trip through base and gives it back once the exchange is over: when the response
// body reaches EOF (or any read error), when it is closed, or at once when the round trip
// fails or the response has no body. The slot therefore covers the whole request,
// including the time the caller spends reading the body, which is what Kentik's
// "concurrent requests" limit counts.
//
// When a response is 429 Too Many Requests with a Retry-After header, no request through
// the transport starts before the delay has passed (capped as the gRPC interceptors cap
// it: see RateLimitUnaryClientInterceptor), whatever l is (ratelimit.Off included); when l
// implements ratelimit.Pusher the delay is pushed into it too, so that every caller
// sharing it waits, not only the one that was refused.
//
// A nil base means http.DefaultTransport. A nil l means no limiting: base itself is
// returned. With WithObserver the observer is told of every wait, release and 429 (class
// kentik.ClassV5Admin unless WithClass says otherwise; requests are named by their
// WithPathTemplate).
func NewRateLimitTransport(base http.RoundTripper, l ratelimit.Limiter, options ...Option) http.RoundTripper {
	base = transportOrDefault(base)
	if l == nil {
		return base
	}
	return &rateLimitTransport{base: base, limiter: honourPushBack(l), now: time.Now, opts: buildOptions(options, kentik.ClassV5Admin)}
}

type rateLimitTransport struct {
	base    http.RoundTripper
	limiter *ratelimit.PushBackLimiter
	now     func() time.Time
	opts    options
}

// RoundTrip implements http.RoundTripper.
func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var w waitObserver
	if t.opts.obs != nil {
		w = t.opts.begin(ctx, httpRoute(req))
	}
	release, err := t.limiter.Acquire(ctx)
	if w.obs != nil {
		w.end(ctx, err)
	}
	if err != nil {
		closeRequestBody(req)
		return nil, fmt.Errorf("interceptors: rate limit: %s %s: %w", req.Method, requestURLForError(req), err)
	}
	done := releaseOnce(w.wrapRelease(ctx, release))

	resp, err := t.roundTrip(req, done)
	if err != nil {
		done()
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), t.now())
		if ok && d > 0 {
			t.limiter.PushBack(d)
		}
		if w.obs != nil {
			w.httpPushBack(ctx, d, t.limiter.Max())
		}
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		done()
		return resp, nil
	}
	body := &releasingBody{rc: resp.Body, release: done}
	if w, ok := resp.Body.(io.Writer); ok {
		// 101 Switching Protocols hands back a read-write body; keep it writable.
		resp.Body = &releasingRWBody{releasingBody: body, w: w}
	} else {
		resp.Body = body
	}
	return resp, nil
}

// roundTrip is base.RoundTrip, giving the slot back if it panics (a caller
// that recovers, as net/http's server does for a handler, would otherwise
// leave the slot taken for good).
func (t *rateLimitTransport) roundTrip(req *http.Request, done func()) (*http.Response, error) {
	returned := false
	defer func() {
		if !returned {
			done()
		}
	}()
	resp, err := t.base.RoundTrip(req)
	returned = true
	return resp, err
}

// CloseIdleConnections forwards to the wrapped transport when it supports it.
func (t *rateLimitTransport) CloseIdleConnections() { closeIdleOf(t.base) }

// releasingBody gives the limiter slot back the first time the body ends or is closed.
type releasingBody struct {
	rc      io.ReadCloser
	release func()
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		// io.EOF or a broken connection: either way the exchange is over.
		b.release()
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}

type releasingRWBody struct {
	*releasingBody
	w io.Writer
}

func (b *releasingRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// releaseOnce makes release safe to call many times and from many goroutines; a nil release
// (a limiter with nothing to give back) becomes a no-op.
func releaseOnce(release func()) func() {
	if release == nil {
		return func() {}
	}
	var once sync.Once
	return func() { once.Do(release) }
}

// ParseRetryAfter reads an HTTP Retry-After header value (RFC 9110, section 10.2.3): either
// a whole number of seconds ("120") or an HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT", or
// the obsolete RFC 850 and asctime forms). A date is turned into a delay relative to now; a
// date in the past gives 0. ok is false for an empty or malformed value (including
// negative or fractional seconds, which the RFC does not allow). Very large values are
// clamped to the largest time.Duration rather than overflowing.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if allDigits(v) {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(math.MaxInt64/int64(time.Second)) {
			// Only overflow can fail here: the value is all digits.
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now) // Sub saturates instead of overflowing.
	if d < 0 {
		d = 0
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func transportOrDefault(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

func closeIdleOf(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// closeRequestBody honours the http.RoundTripper contract that the request body is closed even
// when the round trip fails before it is sent.
func closeRequestBody(req *http.Request) {
	if req != nil && req.Body != nil {
		_ = req.Body.Close()
	}
}

// requestURLForError names the request in errors without user info or query string.
func requestURLForError(req *http.Request) string {
	if req == nil || req.URL == nil {
		return ""
	}
	u := *req.URL
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}
