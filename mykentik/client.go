// Package mykentik is a typed client for Kentik's V5 My Kentik API, which manages the
// tenants of the My Kentik Portal and the users assigned to them:
//
//	GET    /api/v5/mykentik/tenants                            ListTenants
//	GET    /api/v5/mykentik/tenant/{tenant_id}                 GetTenant
//	POST   /api/v5/mykentik/tenant/{tenant_id}/user            CreateTenantUser
//	DELETE /api/v5/mykentik/tenant/{tenant_id}/user/{user_id}  DeleteTenantUser
//
// It is built like package client, with the same option shape, the same reading of the
// environment (see kentik.Settings) and the same retry model (kentik.RetryPolicy, with
// kentik.Retryable deciding what may be sent again): every request carries the
// X-CH-Auth-Email and X-CH-Auth-API-Token headers (interceptors.NewAuthTransport), goes
// through a rate limiter (interceptors.NewRateLimitTransport) that by default applies
// Kentik's published limits for V5 admin calls, shared by every Client of the same
// account and region in the process, and is retried by interceptors.NewRetryTransport:
// 429 and 503 for every method, 502 and 504 for idempotent ones (not for the POST that
// creates a user), honouring Retry-After. Failures come back as *APIError, which the
// checks of package kentik (kentik.IsNotFound, kentik.IsRateLimited, ...) read.
//
// Kentik documents the response bodies in more than one shape; the models decode all of
// them and write one canonical JSON form back (see Tenant).
package mykentik

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/ratelimit"
)

// DefaultMaxBodyBytes is the largest response body a Client reads unless
// WithMaxBodyBytes says otherwise: 8 MiB.
const DefaultMaxBodyBytes = 8 << 20

// maxErrorBody bounds how much of an error response is read for its message.
const maxErrorBody = 64 << 10

// Client calls the V5 My Kentik API. It is safe for concurrent use; make one per account
// and reuse it.
type Client struct {
	base      *url.URL
	hc        *http.Client
	userAgent string
	maxBody   int64
	limiter   ratelimit.Limiter
	owned     io.Closer       // the limiter a ratelimit.Factory made, or nil
	obs       kentik.Observer // nil: none
	// secret returns the API token, kept only to redact server echoes of it. A func
	// because fmt prints a func as an address whatever the verb, so printing a Client
	// (%v, %+v, %#v, a %s that reaches it by reflection) cannot show the token.
	secret func() string
}

// Option configures New. Options are applied in order; a later one overrides an earlier
// one of the same kind. New reports an option's bad value.
type Option interface {
	apply(*settings)
}

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

type settings struct {
	region     string
	baseURL    string
	httpClient *http.Client
	creds      kentik.Credentials
	limiter    ratelimit.Limiter
	policy     *ratelimit.Policy // nil: ratelimit.Admin
	retry      *kentik.RetryPolicy
	onRetry    []func(kentik.RetryEvent)
	maxBody    int64
	userAgent  string
	getenv     func(string) string
	factory    ratelimit.Factory
	observers  []kentik.Observer
	wrappers   []func(http.RoundTripper) http.RoundTripper
}

// WithRegion picks Kentik's US ("us", the default) or EU ("eu") cluster. Case and
// surrounding blanks are ignored; any other value makes New fail. Without it (and
// without WithBaseURL) New reads KENTIK_REGION and KENTIK_API_URL.
func WithRegion(region string) Option {
	return optionFunc(func(s *settings) { s.region = region })
}

// WithBaseURL overrides the region's V5 base URL, e.g. to reach a local fake. The URL
// normally includes the API prefix ("https://api.kentik.com/api/v5"); a URL with no path
// at all ("http://127.0.0.1:8080") gets "/api/v5" appended. Any other path is used as
// given, without a trailing slash. New refuses a URL with user info, a query or a
// fragment, and plain http to anything but a loopback address (kentik.IsLoopback: the
// API token would cross the network in clear). Requests to a loopback address never go
// through a proxy, however its host is spelled.
func WithBaseURL(u string) Option {
	return optionFunc(func(s *settings) { s.baseURL = u })
}

// WithHTTPClient makes requests through a copy of hc: its Timeout, Jar and transport are
// kept, the transport is wrapped with retries, authentication and rate limiting, and
// redirects to another host are refused so the credentials never follow them. hc itself
// is not modified. An *http.Transport is cloned so that loopback requests can bypass its
// proxy; another RoundTripper is used as it is. The default is a clone of
// http.DefaultTransport and no timeout (use contexts).
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(s *settings) { s.httpClient = hc })
}

// WithCredentials sets the Kentik user email and API token sent with every request. A
// field left empty is read from the environment as package client reads it
// (KENTIK_EMAIL, KENTIK_API_TOKEN, then KTAPI_AUTH_EMAIL, KTAPI_AUTH_TOKEN); New fails
// when either is still missing, before any request is made.
func WithCredentials(c kentik.Credentials) Option {
	return optionFunc(func(s *settings) { s.creds = c })
}

// WithRateLimit sets the policy of the default limiter, which is ratelimit.Admin, the
// row of Kentik's published table for V5 admin calls. The limiter is shared, through
// ratelimit.Shared, by every Client in the process for the same region (or base URL)
// and email, because Kentik counts V5 admin calls per customer, apart from gRPC calls
// and V5 query calls. ratelimit.Off lets requests through unpaced (the server's limits
// still apply, and its 429s are still retried).
func WithRateLimit(p ratelimit.Policy) Option {
	return optionFunc(func(s *settings) { s.policy = &p })
}

// WithLimiter plugs in a limiter of your own (for example one shared between machines),
// replacing the policy's. If it implements ratelimit.Pusher it is told about server
// push-back. A nil l keeps the default, as it does for client.WithLimiter; use
// WithRateLimit(ratelimit.Off) to turn client-side limiting off.
func WithLimiter(l ratelimit.Limiter) Option {
	return optionFunc(func(s *settings) { s.limiter = l })
}

// WithLimiterFactory makes the account's V5 limiter (class "v5-admin") with f instead of
// sharing it within the process only, as client.WithLimiterFactory does: with
// redislimit.Factory every process of the account shares its limits through Redis. New
// fails when f does; Close closes the limiter f made. WithLimiter, when given, wins.
func WithLimiterFactory(f ratelimit.Factory) Option {
	return optionFunc(func(s *settings) { s.factory = f })
}

// WithRetry sets the retry policy (kentik.DefaultRetryPolicy by default; zero fields
// take its values), as client.WithRetry does. kentik.NoRetry makes every request a
// single attempt. A Retry-After longer than the policy's MaxPushBack is not waited
// out: the call fails at once with an *APIError whose RetryAfter says when to come
// back.
func WithRetry(p kentik.RetryPolicy) Option {
	return optionFunc(func(s *settings) { s.retry = &p })
}

// WithOnRetry adds a function called before each retry (for example to count them). It
// runs on the calling goroutine and must be quick and safe for concurrent use.
func WithOnRetry(f func(kentik.RetryEvent)) Option {
	return optionFunc(func(s *settings) {
		if f != nil {
			s.onRetry = append(s.onRetry, f)
		}
	})
}

// WithMaxBodyBytes caps the size of a response body the client reads (default
// DefaultMaxBodyBytes). A larger body fails the call with an error wrapping
// ErrBodyTooLarge.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(s *settings) { s.maxBody = n })
}

// WithUserAgent adds extra to the User-Agent header, after "kentik-go/VERSION", as
// client.WithUserAgent does.
func WithUserAgent(extra string) Option {
	return optionFunc(func(s *settings) { s.userAgent = strings.TrimSpace(extra) })
}

// WithObserver tells o what the client's middleware does with each request, as
// client.WithObserver does: the waits for the rate limiter (class kentik.ClassV5Admin),
// the slots given back, 429s and their Retry-After, the retries, and each call's outcome
// (kentik.Observer.V5Request). Requests are named by their method and path template
// ("GET /mykentik/tenant/{id}"), never by a path with ids. Several WithObserver options
// add up; without one the client makes no observer calls.
func WithObserver(o kentik.Observer) Option {
	return optionFunc(func(s *settings) {
		if o != nil {
			s.observers = append(s.observers, o)
		}
	})
}

// WithTransportWrapper wraps the transport that reaches the network: wrap sees every
// attempt (each retry again) once the limiter has admitted it, as it is sent, the
// credential headers included (it must not record them), and its response before the
// limiter and the retries read it. It serves tracing (otelhttp.NewTransport) and
// recording. Several wrappers nest, the first outermost; a nil wrap is ignored.
func WithTransportWrapper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return optionFunc(func(s *settings) {
		if wrap != nil {
			s.wrappers = append(s.wrappers, wrap)
		}
	})
}

// WithOptions bundles options into one, applied in order, as client.WithOptions does:
// an integration (kentikprom, kentikotel) hands over everything it needs as one Option.
func WithOptions(opts ...Option) Option {
	return optionFunc(func(s *settings) {
		for _, o := range opts {
			if o != nil {
				o.apply(s)
			}
		}
	})
}

// withGetenv replaces os.Getenv (tests).
func withGetenv(f func(string) string) Option {
	return optionFunc(func(s *settings) { s.getenv = f })
}

// New returns a Client. It fails, before any request, when the credentials are missing
// (errors.Is(err, kentik.ErrMissingCredentials)) or an option is invalid. ctx bounds
// New's own work only: New makes no request, and fails with ctx's error if it is done.
func New(ctx context.Context, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mykentik: %w", err)
	}
	s := settings{maxBody: DefaultMaxBodyBytes, getenv: os.Getenv}
	for _, o := range opts {
		if o != nil {
			o.apply(&s)
		}
	}
	resolved, region, err := kentik.Resolve(kentik.Settings{Credentials: s.creds, Region: s.region, V5BaseURL: s.baseURL}, s.getenv)
	if err != nil {
		return nil, fmt.Errorf("mykentik: %w", err)
	}
	creds := resolved.Credentials
	if err := creds.Validate(); err != nil {
		return nil, fmt.Errorf("mykentik: %w", err)
	}
	if s.maxBody <= 0 {
		return nil, fmt.Errorf("mykentik: WithMaxBodyBytes: need a positive size, got %d", s.maxBody)
	}
	base, place, err := resolveBase(region, resolved.V5BaseURL)
	if err != nil {
		return nil, err
	}
	rp := kentik.DefaultRetryPolicy
	if s.retry != nil {
		rp = s.retry.WithDefaults()
	}
	limiter := s.limiter
	var owned io.Closer // a limiter the factory made, closed with the client
	if limiter == nil {
		p := ratelimit.Admin
		if s.policy != nil {
			p = *s.policy
		}
		limiter, err = ratelimit.ForAccount(ctx, s.factory, place, creds.Email, kentik.ClassV5Admin, p)
		if err != nil {
			return nil, fmt.Errorf("mykentik: limiter: %w", err)
		}
		if c, ok := limiter.(io.Closer); ok && s.factory != nil {
			owned = c
		}
	}
	gate := ratelimit.HonourPushBack(limiter, rp.MaxPushBack)

	var hc http.Client
	if s.httpClient != nil {
		hc = *s.httpClient // a shallow copy: Transport and CheckRedirect are replaced below
	}
	// Innermost first: the limiter wraps the network, authentication wraps the limiter
	// (a request waiting for a slot holds no credentials yet, and every redirect hop is
	// both counted and authenticated), and retries wrap both, so that every attempt
	// takes a slot of its own.
	obs := kentik.Observers(s.observers...)
	var observe []interceptors.Option
	if obs != nil {
		observe = append(observe, interceptors.WithObserver(obs), interceptors.WithClass(kentik.ClassV5Admin))
	}
	network := bypassLoopbackProxy(hc.Transport)
	for i := len(s.wrappers) - 1; i >= 0; i-- {
		network = s.wrappers[i](network)
	}
	hc.Transport = interceptors.NewRetryTransport(
		interceptors.NewAuthTransport(
			interceptors.NewRateLimitTransport(network, gate, observe...), creds),
		rp, onRetryHook(s.onRetry), observe...)
	hc.CheckRedirect = sameHostRedirects(hc.CheckRedirect)

	ua := kentik.UserAgent
	if s.userAgent != "" {
		ua += " " + s.userAgent
	}
	return &Client{
		base:      base,
		hc:        &hc,
		userAgent: ua,
		maxBody:   s.maxBody,
		limiter:   gate,
		owned:     owned,
		obs:       obs,
		secret:    func() string { return creds.Token },
	}, nil
}

// Close closes the limiter WithLimiterFactory made, if any, and the idle connections of
// the client's transport. Calls made afterwards may fail.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	if c.owned != nil {
		return c.owned.Close()
	}
	return nil
}

func onRetryHook(hooks []func(kentik.RetryEvent)) func(kentik.RetryEvent) {
	if len(hooks) == 0 {
		return nil
	}
	return func(e kentik.RetryEvent) {
		for _, h := range hooks {
			h(e)
		}
	}
}

// bypassLoopbackProxy returns rt (http.DefaultTransport when nil) so that requests to a
// loopback host never use a proxy: an *http.Transport is cloned with its Proxy wrapped
// in kentik.BypassProxy; another RoundTripper is returned as it is.
func bypassLoopbackProxy(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok || t.Proxy == nil {
		return rt
	}
	t = t.Clone()
	t.Proxy = kentik.BypassProxy(t.Proxy)
	return t
}

// Limiter returns the limiter every request goes through.
func (c *Client) Limiter() ratelimit.Limiter { return c.limiter }

// BaseURL returns the V5 base URL the client sends requests to, e.g.
// "https://api.kentik.com/api/v5".
func (c *Client) BaseURL() string { return c.base.String() }

// resolveBase checks the base URL and returns it with the name that keys the shared
// default limiter: the region, or the base URL when it is not the region's.
func resolveBase(region kentik.Region, raw string) (*url.URL, string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, "", fmt.Errorf("mykentik: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "", fmt.Errorf("mykentik: base URL %q: want an http or https URL such as %s", raw, kentik.US.V5BaseURL())
	case u.Host == "":
		return nil, "", fmt.Errorf("mykentik: base URL %q has no host", raw)
	case u.User != nil:
		return nil, "", errors.New("mykentik: base URL must not carry user info: use WithCredentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, "", fmt.Errorf("mykentik: base URL %q must not have a query or fragment", u.Redacted())
	case u.Scheme == "http" && !kentik.IsLoopbackHost(u.Hostname()):
		return nil, "", fmt.Errorf("%w: refusing plain http to %s; use https", kentik.ErrPlaintextNotLoopback, u.Host)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = "/api/v5", ""
	} else {
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = strings.TrimRight(u.RawPath, "/")
	}
	if u.String() == region.V5BaseURL() {
		return u, region.String(), nil
	}
	return u, u.String(), nil
}

// sameHostRedirects refuses redirects that leave the original scheme and host: the
// authentication transport adds the credentials to every hop, so following one would
// hand the token to another server. Other redirects go to next (the caller's own policy)
// or Go's default limit of 10.
func sameHostRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
			return fmt.Errorf("mykentik: refusing redirect from %s://%s to %s://%s: the credentials would follow it",
				first.Scheme, first.Host, req.URL.Scheme, req.URL.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("mykentik: stopped after 10 redirects")
		}
		return nil
	}
}

// endpoint joins escaped path segments to the base URL.
func (c *Client) endpoint(segments ...string) *url.URL {
	u := *c.base
	raw := u.EscapedPath()
	for _, s := range segments {
		raw += "/" + url.PathEscape(s)
	}
	// Path is the decoded form; RawPath keeps escapes such as %2F that Path cannot.
	p, err := url.PathUnescape(raw)
	if err != nil {
		p = raw // cannot happen: raw was produced by escaping
	}
	u.Path, u.RawPath = p, raw
	return &u
}

// do sends one call (the transport retries it as the policy allows) and returns the
// body of a 2xx response. payload, when not nil, is sent as the JSON body. tmpl is the
// path template below the base URL ("/mykentik/tenant/{id}"), which names the call to the
// observer.
func (c *Client) do(ctx context.Context, method, tmpl string, u *url.URL, payload []byte) ([]byte, error) {
	if c.obs == nil {
		body, _, err := c.exchange(ctx, method, u, payload)
		return body, err
	}
	start := time.Now()
	body, status, err := c.exchange(interceptors.WithPathTemplate(ctx, tmpl), method, u, payload)
	c.obs.V5Request(ctx, kentik.V5RequestEvent{Method: method, Path: tmpl, Status: status, Duration: time.Since(start), Err: err})
	return body, err
}

// exchange is do without the observer; status is the response's, 0 when there was none.
func (c *Client) exchange(ctx context.Context, method string, u *url.URL, payload []byte) (body []byte, status int, err error) {
	path := u.EscapedPath()
	resp, err := c.send(ctx, method, u, payload)
	if err != nil {
		return nil, 0, fmt.Errorf("mykentik: %s %s: %w", method, path, unwrapURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		apiErr := c.apiError(method, path, resp)
		if err := ctx.Err(); err != nil {
			return nil, resp.StatusCode, fmt.Errorf("%w (retry abandoned: %w)", apiErr, err)
		}
		return nil, resp.StatusCode, apiErr
	}
	body, err = readBody(resp, c.maxBody)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("mykentik: %s %s: %d response: %w", method, path, resp.StatusCode, err)
	}
	return body, resp.StatusCode, nil
}

// send sends the request. http.NewRequest sets GetBody for the in-memory payload, so the
// retry transport and redirects can replay it.
func (c *Client) send(ctx context.Context, method string, u *url.URL, payload []byte) (*http.Response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	// Kentik's documented requests carry Content-Type: application/json on every method.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	return c.hc.Do(req)
}

func (c *Client) apiError(method, path string, resp *http.Response) *APIError {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, min(c.maxBody, maxErrorBody)))
	// A body cut at the limit may end in part of an echoed token, which the
	// redaction of whole tokens cannot see: drop as much as a token could hold.
	truncated := len(raw) == int(min(c.maxBody, maxErrorBody))
	e := &APIError{
		StatusCode: resp.StatusCode,
		Method:     method,
		Path:       path,
		Message:    errorMessage(raw, c.secret(), truncated),
	}
	if d, ok := interceptors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

// readBody reads and closes a response body, refusing one larger than limit.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes announced, the limit is %d (see WithMaxBodyBytes)", ErrBodyTooLarge, resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes (see WithMaxBodyBytes)", ErrBodyTooLarge, limit)
	}
	return b, nil
}

// unwrapURLError drops *url.Error's "Get \"https://...\":" prefix: the caller's message
// already names the method and path.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// decodeJSON wraps a decode failure with what was expected, and says so plainly when the
// body was not JSON at all (an HTML error page from a proxy, say).
func decodeJSON[T any](c *Client, method string, u *url.URL, body []byte, decode func([]byte) (T, error)) (T, error) {
	v, err := decode(body)
	if err != nil {
		var zero T
		path := u.EscapedPath()
		if !json.Valid(body) {
			snippet := cleanText(string(body))
			if secret := c.secret(); secret != "" {
				snippet = redactSecret(snippet, secret)
			}
			return zero, fmt.Errorf("mykentik: %s %s: %w: body is not JSON: %q", method, path, ErrNotJSON, truncate(snippet, 120))
		}
		if secret := c.secret(); secret != "" && redactSecret(err.Error(), secret) != err.Error() {
			// The decoders quote a bad value back ("unrecognized timestamp %q"); one
			// that echoes the token must not carry it into the error, so the text is
			// redacted and the decoder's error (which holds it) is not wrapped.
			return zero, fmt.Errorf("mykentik: %s %s: %w: %s", method, path, ErrNotJSON, redactSecret(err.Error(), secret))
		}
		return zero, fmt.Errorf("mykentik: %s %s: %w: %w", method, path, ErrNotJSON, err)
	}
	return v, nil
}
