// Package mykentik is a typed client for Kentik's V5 My Kentik API, which manages the
// tenants of the My Kentik Portal and the users assigned to them:
//
//	GET    /api/v5/mykentik/tenants                            ListTenants
//	GET    /api/v5/mykentik/tenant/{tenant_id}                 GetTenant
//	POST   /api/v5/mykentik/tenant/{tenant_id}/user            CreateTenantUser
//	DELETE /api/v5/mykentik/tenant/{tenant_id}/user/{user_id}  DeleteTenantUser
//
// Every request carries the X-CH-Auth-Email and X-CH-Auth-API-Token headers (see
// interceptors.NewAuthTransport) and goes through a rate limiter (see
// interceptors.NewRateLimitTransport) that by default applies Kentik's published limits
// for V5 admin calls, shared by every Client of the same account and region in the
// process. Responses 429 and 503 are retried with capped exponential backoff and jitter,
// honouring Retry-After, and so are 502 and 504 for idempotent methods (not for the POST
// that creates a user); other errors come back as *APIError.
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
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/ratelimit"
)

// Base URLs of the V5 API per region.
const (
	BaseURLUS = "https://api.kentik.com/api/v5"
	BaseURLEU = "https://api.kentik.eu/api/v5"
)

// Defaults applied by New.
const (
	DefaultMaxAttempts  = 4                      // first try plus three retries
	DefaultBaseBackoff  = 500 * time.Millisecond // wait before the first retry, doubled each time
	DefaultMaxBackoff   = 30 * time.Second       // cap on one wait, and on an honoured Retry-After
	DefaultMaxBodyBytes = 8 << 20                // 8 MiB
	// DefaultUserAgent is sent when WithUserAgent is not used, and after its value when it is.
	DefaultUserAgent = "gokentik-mykentik/1 (+https://github.com/gokentik/kentik)"
)

// maxErrorBody bounds how much of an error response is read for its message.
const maxErrorBody = 64 << 10

var regions = map[string]string{"us": BaseURLUS, "eu": BaseURLEU}

// Client calls the V5 My Kentik API. It is safe for concurrent use; make one per account
// and reuse it.
type Client struct {
	base        *url.URL
	hc          *http.Client
	userAgent   string
	maxAttempts int
	baseBackoff time.Duration
	maxBackoff  time.Duration
	maxBody     int64
	// secret returns the API token, kept only to redact server echoes of it. A func
	// because fmt prints a func as an address whatever the verb, so printing a Client
	// (%v, %+v, %#v, a %s that reaches it by reflection) cannot show the token.
	secret func() string
}

// Option configures New.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	region      string
	baseURL     string
	httpClient  *http.Client
	creds       interceptors.Credentials
	limiter     ratelimit.Limiter
	policy      *ratelimit.Policy // nil: ratelimit.Admin
	maxAttempts int
	baseBackoff time.Duration
	maxBackoff  time.Duration
	maxBody     int64
	userAgent   string
}

// WithRegion picks Kentik's US ("us", the default) or EU ("eu") cluster. Case and
// surrounding spaces are ignored; any other value makes New fail.
func WithRegion(region string) Option {
	return optionFunc(func(c *config) error {
		r := strings.ToLower(strings.TrimSpace(region))
		if r == "" {
			r = "us"
		}
		if _, ok := regions[r]; !ok {
			return fmt.Errorf("mykentik: unknown region %q: use \"us\" or \"eu\"", region)
		}
		c.region = r
		return nil
	})
}

// WithBaseURL overrides the region's V5 base URL, e.g. to reach a local fake. The URL
// normally includes the API prefix ("https://api.kentik.com/api/v5"); a URL with no path
// at all ("http://127.0.0.1:8080") gets "/api/v5" appended. Any other path is used as
// given, without a trailing slash. New refuses a URL with user info, a query or a
// fragment, and plain http to anything but a loopback address (the API token would cross
// the network in clear).
func WithBaseURL(u string) Option {
	return optionFunc(func(c *config) error {
		c.baseURL = u
		return nil
	})
}

// WithHTTPClient makes requests through a copy of hc: its Timeout, Jar and transport are
// kept, the transport is wrapped with authentication and rate limiting, and redirects to
// another host are refused so the credentials never follow them. hc itself is not
// modified. The default is a client with http.DefaultTransport and no timeout (use
// contexts).
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) error {
		c.httpClient = hc
		return nil
	})
}

// WithCredentials sets the Kentik user email and API token sent with every request. It
// is required: New fails without it, before any request is made.
func WithCredentials(creds interceptors.Credentials) Option {
	return optionFunc(func(c *config) error {
		c.creds = creds
		return nil
	})
}

// WithRateLimit sets the policy of the default limiter, which is ratelimit.Admin, the
// row of Kentik's published table for V5 admin calls. The limiter is shared, through
// ratelimit.Shared, by every Client in the process for the same region (or base URL)
// and email, because Kentik counts V5 admin calls per customer, apart from gRPC calls
// and V5 query calls. ratelimit.Off lets requests through unpaced (the server's limits
// still apply, and its 429s are still retried).
func WithRateLimit(p ratelimit.Policy) Option {
	return optionFunc(func(c *config) error {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("mykentik: %w", err)
		}
		c.policy = &p
		return nil
	})
}

// WithLimiter plugs in a limiter of your own (for example one shared between machines),
// replacing the policy's. If it implements ratelimit.Pusher it is told about server
// push-back. A nil l keeps the default, as it does for client.WithLimiter; use
// WithRateLimit(ratelimit.Off) to turn client-side limiting off.
func WithLimiter(l ratelimit.Limiter) Option {
	return optionFunc(func(c *config) error {
		c.limiter = l
		return nil
	})
}

// WithRetry sets how retryable responses are retried: at most maxAttempts attempts in all
// (1 disables retries), waiting base before the first retry, doubling each time up to
// maxBackoff, with jitter. A Retry-After from the server replaces the computed wait; one
// longer than maxBackoff is not waited out: the call fails at once with an *APIError
// whose RetryAfter says when to come back. Defaults: DefaultMaxAttempts,
// DefaultBaseBackoff, DefaultMaxBackoff.
func WithRetry(maxAttempts int, base, maxBackoff time.Duration) Option {
	return optionFunc(func(c *config) error {
		if maxAttempts < 1 {
			return fmt.Errorf("mykentik: WithRetry: maxAttempts must be at least 1, got %d", maxAttempts)
		}
		if base <= 0 || maxBackoff < base {
			return fmt.Errorf("mykentik: WithRetry: need 0 < base <= maxBackoff, got base %s, max %s", base, maxBackoff)
		}
		c.maxAttempts, c.baseBackoff, c.maxBackoff = maxAttempts, base, maxBackoff
		return nil
	})
}

// WithMaxBodyBytes caps the size of a response body the client reads (default
// DefaultMaxBodyBytes). A larger body fails the call with an error wrapping
// ErrBodyTooLarge.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("mykentik: WithMaxBodyBytes: need a positive size, got %d", n)
		}
		c.maxBody = n
		return nil
	})
}

// WithUserAgent puts ua in front of DefaultUserAgent in the User-Agent header, e.g.
// "kentik-cli/0.3 gokentik-mykentik/1 (...)".
func WithUserAgent(ua string) Option {
	return optionFunc(func(c *config) error {
		c.userAgent = strings.TrimSpace(ua)
		return nil
	})
}

// New returns a Client. It fails, before any request, when the credentials are missing or
// an option is invalid.
func New(opts ...Option) (*Client, error) {
	cfg := config{
		region:      "us",
		maxAttempts: DefaultMaxAttempts,
		baseBackoff: DefaultBaseBackoff,
		maxBackoff:  DefaultMaxBackoff,
		maxBody:     DefaultMaxBodyBytes,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.creds.Validate(); err != nil {
		return nil, fmt.Errorf("mykentik: %w", err)
	}
	base, key, err := resolveBase(cfg.region, cfg.baseURL)
	if err != nil {
		return nil, err
	}

	limiter := cfg.limiter
	if limiter == nil {
		p := ratelimit.Admin
		if cfg.policy != nil {
			p = *cfg.policy
		}
		// Kentik counts per account: an email typed with other capitals is the same
		// account, so it must get the same limiter.
		email := strings.ToLower(strings.TrimSpace(cfg.creds.Email))
		limiter = ratelimit.Shared(key+"|"+email+"|v5-admin", p)
	}

	var hc http.Client
	if cfg.httpClient != nil {
		hc = *cfg.httpClient // a shallow copy: Transport and CheckRedirect are replaced below
	}
	// Innermost first: the limiter wraps the network, authentication wraps the limiter,
	// so a request waiting for a slot holds no credentials yet and every redirect hop is
	// both counted and authenticated.
	hc.Transport = interceptors.NewAuthTransport(
		interceptors.NewRateLimitTransport(hc.Transport, limiter), cfg.creds)
	hc.CheckRedirect = sameHostRedirects(hc.CheckRedirect)

	ua := DefaultUserAgent
	if cfg.userAgent != "" {
		ua = cfg.userAgent + " " + DefaultUserAgent
	}
	return &Client{
		base:        base,
		hc:          &hc,
		userAgent:   ua,
		maxAttempts: cfg.maxAttempts,
		baseBackoff: cfg.baseBackoff,
		maxBackoff:  cfg.maxBackoff,
		maxBody:     cfg.maxBody,
		secret:      func() string { return cfg.creds.Token },
	}, nil
}

// BaseURL returns the V5 base URL the client sends requests to, e.g.
// "https://api.kentik.com/api/v5".
func (c *Client) BaseURL() string { return c.base.String() }

// resolveBase returns the base URL and the name that keys the shared default limiter:
// the region, or the base URL when it is not one of the regions'.
func resolveBase(region, override string) (*url.URL, string, error) {
	if override == "" {
		u, _ := url.Parse(regions[region])
		return u, region, nil
	}
	u, err := url.Parse(strings.TrimSpace(override))
	if err != nil {
		return nil, "", fmt.Errorf("mykentik: base URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "", fmt.Errorf("mykentik: base URL %q: want an http or https URL such as %s", override, BaseURLUS)
	case u.Host == "":
		return nil, "", fmt.Errorf("mykentik: base URL %q has no host", override)
	case u.User != nil:
		return nil, "", errors.New("mykentik: base URL must not carry user info: use WithCredentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, "", fmt.Errorf("mykentik: base URL %q must not have a query or fragment", u.Redacted())
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, "", fmt.Errorf("mykentik: refusing plain http to %s: the API token would cross the network unencrypted; use https (plain http is accepted only for loopback addresses)", u.Host)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = "/api/v5", ""
	} else {
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = strings.TrimRight(u.RawPath, "/")
	}
	s := u.String()
	for r, v := range regions {
		if s == v {
			return u, r, nil
		}
	}
	return u, s, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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

// do sends one logical call, retrying as configured, and returns the body of a 2xx
// response. payload, when not nil, is sent as the JSON body of every attempt.
func (c *Client) do(ctx context.Context, method string, u *url.URL, payload []byte) ([]byte, error) {
	path := u.EscapedPath()
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, method, u, payload)
		if err != nil {
			if ctx.Err() == nil && attempt < c.maxAttempts && transientNetErr(err) && idempotent(method) {
				if werr := sleep(ctx, c.backoff(attempt)); werr != nil {
					return nil, fmt.Errorf("kentik v5: %s %s: %w (retry abandoned: %w)", method, path, err, werr)
				}
				continue
			}
			return nil, fmt.Errorf("kentik v5: %s %s: %w", method, path, unwrapURLError(err))
		}

		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			body, err := readBody(resp, c.maxBody)
			if err != nil {
				return nil, fmt.Errorf("kentik v5: %s %s: %d response: %w", method, path, resp.StatusCode, err)
			}
			return body, nil
		}

		apiErr := c.apiError(method, path, resp)
		if attempt >= c.maxAttempts || !retryableStatus(resp.StatusCode, method) {
			return nil, apiErr
		}
		wait := c.backoff(attempt)
		if apiErr.RetryAfter > 0 {
			if apiErr.RetryAfter > c.maxBackoff {
				// Longer than we are willing to block; the caller gets RetryAfter and decides.
				return nil, apiErr
			}
			// Never earlier than asked; a little jitter spreads callers that were all
			// refused at the same moment.
			wait = apiErr.RetryAfter + rand.N(c.baseBackoff/4+1)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, fmt.Errorf("%w (not retried: the context deadline comes before the next attempt)", apiErr)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w (retry abandoned: %w)", apiErr, err)
		}
	}
}

// send makes one attempt. The body is rebuilt from payload each time, so it can be
// replayed across retries (and GetBody is set for redirects).
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
	e := &APIError{
		StatusCode: resp.StatusCode,
		Method:     method,
		Path:       path,
		Message:    errorMessage(raw, c.secret()),
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

// backoff is the wait before retry number attempt (1-based): base doubled per attempt,
// capped, with "equal jitter" (half fixed, half random) so a wait is never near zero.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseBackoff
	for i := 1; i < attempt && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryableStatus: 429 and 503 say the server did not act on the request, so any method
// may be retried. 502 and 504 come from a gateway that may have passed the request on
// before failing, so only idempotent methods are retried: retrying the POST that creates
// a tenant user could create it (and send its invitation email) twice.
func retryableStatus(code int, method string) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return idempotent(method)
	}
	return false
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// transientNetErr reports connection failures worth another try: a kept-alive connection
// closed or reset under us. Refused connections, timeouts, limiter refusals and redirect
// refusals are not retried.
func transientNetErr(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
				snippet = strings.ReplaceAll(snippet, secret, "<redacted>")
			}
			return zero, fmt.Errorf("kentik v5: %s %s: %w: body is not JSON: %q", method, path, ErrNotJSON, truncate(snippet, 120))
		}
		if secret := c.secret(); secret != "" && strings.Contains(err.Error(), secret) {
			// The decoders quote a bad value back ("unrecognized timestamp %q"); one
			// that echoes the token must not carry it into the error, so the text is
			// redacted and the decoder's error (which holds it) is not wrapped.
			return zero, fmt.Errorf("kentik v5: %s %s: %w: %s", method, path, ErrNotJSON, strings.ReplaceAll(err.Error(), secret, "<redacted>"))
		}
		return zero, fmt.Errorf("kentik v5: %s %s: %w: %w", method, path, ErrNotJSON, err)
	}
	return v, nil
}
