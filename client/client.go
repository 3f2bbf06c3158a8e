// Package client connects Go programs to every public service of Kentik's v6 gRPC APIs.
//
// A Client sends each call to the host that serves its service, over one
// connection per host made on first use (or over a connection you give it), and
// on every call it puts the account's credentials, waits for a slot of the
// account's rate-limit policy, retries when the schema says that is safe, logs
// if you asked for it, and fails with a *Error that says what went wrong and
// what to do next:
//
//	c, err := client.New(ctx, client.WithRegion("eu"))
//	if err != nil { ... }
//	defer c.Close()
//	resp, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "42"})
//	devices, err := devicev.NewDeviceServiceClient(c.Conn()).ListDevices(ctx, &devicev.ListDevicesRequest{})
//
// The interceptors are, from the outside in: yours (WithInterceptors), typed
// errors, logging, retry, rate limit, and the removal of the API token from
// any error message that echoes it; the credentials are per-RPC credentials of
// each connection, so every attempt carries them. WithObserver sees inside
// them: limiter waits, push-backs, retries.
package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/ratelimit"
)

// Client is a connection to Kentik's v6 gRPC APIs, every public service of them: it
// routes each call to the host that serves its service. It is safe for concurrent use;
// make one per account and share it.
type Client struct {
	conn     grpc.ClientConnInterface
	router   *router // nil with WithConn
	ifaces   ifacev1.InterfaceServiceClient
	region   string
	endpoint string
	limiter  *ratelimit.PushBackLimiter
	owned    []io.Closer // limiters a ratelimit.Factory made for the client
	closed   sync.Once
	closeErr error
}

// New builds a Client. It checks everything it can before any connection is
// attempted: the region, the credentials (errors.Is(err,
// kentik.ErrMissingCredentials) when missing), the rate-limit policies and that
// plaintext goes only to loopback endpoints (kentik.ErrPlaintextNotLoopback).
// Connections are made lazily, one per host on the first call that needs it
// (grpc.NewClient): ctx bounds New's own work only, and New fails with ctx's
// error if it is done.
//
// Settings the options leave unset are read from the environment, with the
// precedence kentik.Settings documents: KENTIK_EMAIL and KENTIK_API_TOKEN (then
// KTAPI_AUTH_EMAIL and KTAPI_AUTH_TOKEN), KENTIK_REGION, KENTIK_GRPC_ENDPOINT.
func New(ctx context.Context, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kentik: %w", err)
	}
	s := &settings{getenv: os.Getenv}
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	resolved, region, err := kentik.Resolve(kentik.Settings{Credentials: s.creds, Region: s.region, GRPCEndpoint: s.endpoint}, s.getenv)
	if err != nil {
		return nil, err
	}
	// An endpoint other than the region's sends every service there (a fake, a proxy);
	// the region's own endpoint leaves each service to its host.
	all := resolved.GRPCEndpoint
	if all == region.GRPCEndpoint() {
		all = ""
	}
	endpoint := cmp.Or(all, region.GRPCEndpoint())
	creds, haveCreds, err := s.checkCredentials(resolved.Credentials)
	if err != nil {
		return nil, err
	}
	if s.conn == nil && s.plaintext {
		if err := checkPlaintext(all, s.hostEndpoints); err != nil {
			return nil, err
		}
	}
	rp := kentik.DefaultRetryPolicy
	if s.retry != nil {
		rp = s.retry.WithDefaults()
	}
	// Kentik counts an account's calls whatever host serves them: one limiter per
	// account and class, wherever the calls go (the region, or the one endpoint that
	// replaces it).
	place := cmp.Or(all, region.String())
	gate, err := s.limiterFor(ctx, place, creds.Email, kentik.ClassV6Admin, s.limiter, s.policy, rp)
	if err != nil {
		return nil, err
	}
	rateUnary := func(o ...interceptors.Option) grpc.UnaryClientInterceptor {
		return interceptors.RateLimitUnaryClientInterceptor(gate, o...)
	}
	rateStream := func(o ...interceptors.Option) grpc.StreamClientInterceptor {
		return interceptors.RateLimitStreamClientInterceptor(gate, o...)
	}
	if len(s.classes) > 0 {
		pick, err := s.classLimiters(ctx, place, creds.Email, gate, rp)
		if err != nil {
			s.closeOwned()
			return nil, err
		}
		rateUnary = func(o ...interceptors.Option) grpc.UnaryClientInterceptor {
			return interceptors.RateLimitUnaryClientInterceptorFor(pick, o...)
		}
		rateStream = func(o ...interceptors.Option) grpc.StreamClientInterceptor {
			return interceptors.RateLimitStreamClientInterceptorFor(pick, o...)
		}
	}
	onRetry := s.onRetryHook()
	var observe []interceptors.Option
	if obs := kentik.Observers(s.observers...); obs != nil {
		observe = append(observe, interceptors.WithObserver(obs), interceptors.WithClass(kentik.ClassV6Admin))
	}

	// The caller's interceptors (WithInterceptors) come first. Typed errors and
	// logging share the next interceptor: one link less in the chain is one
	// closure less per call.
	unary := append(slices.Clip(s.unary),
		errorUnaryInterceptor(interceptors.LoggingUnaryClientInterceptor(s.logger)),
		interceptors.RetryUnaryClientInterceptor(rp, onRetry, observe...),
		rateUnary(observe...),
	)
	stream := append(slices.Clip(s.stream),
		errorStreamInterceptor(interceptors.LoggingStreamClientInterceptor(s.logger)),
		interceptors.RetryStreamClientInterceptor(rp, onRetry, observe...),
		rateStream(observe...),
	)
	if haveCreds {
		// Innermost, so that the retry hooks, the logs and the *Error all see
		// the redacted message.
		unary = append(unary, redactUnaryInterceptor(creds.Token))
		stream = append(stream, redactStreamInterceptor(creds.Token))
	}

	c := &Client{region: region.String(), endpoint: endpoint, limiter: gate, owned: s.owned}
	if s.conn != nil {
		if haveCreds {
			unary = append(unary, interceptors.AuthUnaryClientInterceptor(creds))
			stream = append(stream, interceptors.AuthStreamClientInterceptor(creds))
		}
		c.conn = newChainedConn(s.conn, unary, stream)
	} else {
		c.router = &router{
			region:    region,
			all:       all,
			overrides: s.hostEndpoints,
			conns:     map[string]*grpc.ClientConn{},
			dial: func(target string) (*grpc.ClientConn, error) {
				return grpc.NewClient(target, s.dialOptions(target, creds)...)
			},
		}
		// One chain of interceptors above the router, whatever host a call goes to.
		c.conn = newChainedConn(c.router, unary, stream)
	}
	c.ifaces = ifacev1.NewInterfaceServiceClient(c.conn)
	return c, nil
}

// checkPlaintext refuses plaintext unless every target a call may go to is a loopback
// address: the one endpoint for all hosts, and each host's own.
func checkPlaintext(all string, hosts map[string]string) error {
	if all == "" {
		return fmt.Errorf("%w (Kentik's own endpoints need TLS; WithEndpoint names a local one)", kentik.ErrPlaintextNotLoopback)
	}
	if !kentik.IsLoopback(all) {
		return fmt.Errorf("%w (endpoint %q)", kentik.ErrPlaintextNotLoopback, all)
	}
	for h, t := range hosts {
		if !kentik.IsLoopback(t) {
			return fmt.Errorf("%w (endpoint %q for %s)", kentik.ErrPlaintextNotLoopback, t, h)
		}
	}
	return nil
}

// limiterFor returns the push-back wrapper of the limiter of one class: l when given,
// else the WithLimiterFactory's limiter of the account's class under p
// (ratelimit.Admin when nil), else the process's shared one.
func (s *settings) limiterFor(ctx context.Context, place, email, class string, l ratelimit.Limiter, p *ratelimit.Policy, rp kentik.RetryPolicy) (*ratelimit.PushBackLimiter, error) {
	if l == nil {
		pol := ratelimit.Admin
		if p != nil {
			pol = *p
		}
		made, err := ratelimit.ForAccount(ctx, s.factory, place, email, class, pol)
		if err != nil {
			return nil, fmt.Errorf("kentik: limiter of class %s: %w", class, err)
		}
		if c, ok := made.(io.Closer); ok && s.factory != nil {
			s.owned = append(s.owned, c)
		}
		l = made
	}
	return ratelimit.HonourPushBack(l, rp.MaxPushBack), nil
}

// closeOwned closes the limiters the factory made, when New fails after making them.
func (s *settings) closeOwned() {
	for _, c := range s.owned {
		_ = c.Close()
	}
	s.owned = nil
}

// classLimiters returns the limiter chooser for WithLimitClass: the most specific
// pattern matching a method (method, then service, then package) names its class; other
// methods go to def.
func (s *settings) classLimiters(ctx context.Context, place, email string, def *ratelimit.PushBackLimiter, rp kentik.RetryPolicy) (func(string) (ratelimit.Limiter, string), error) {
	type classGate struct {
		g     *ratelimit.PushBackLimiter
		class string
	}
	byPattern := map[string]classGate{}
	for _, lc := range s.classes {
		if lc.name == "" || lc.name == "admin" {
			return nil, fmt.Errorf("kentik: WithLimitClass: class name %q: want a name other than admin, the default class", lc.name)
		}
		p := lc.policy
		g, err := s.limiterFor(ctx, place, email, "v6-"+lc.name, nil, &p, rp)
		if err != nil {
			return nil, err
		}
		for _, pat := range lc.patterns {
			byPattern[strings.Trim(pat, "/ ")] = classGate{g, "v6-" + lc.name}
		}
	}
	var cache sync.Map
	return func(method string) (ratelimit.Limiter, string) {
		if cg, ok := cache.Load(method); ok {
			return cg.(classGate).g, cg.(classGate).class
		}
		cg := classGate{def, kentik.ClassV6Admin}
		svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
		pkg := svc[:max(strings.LastIndexByte(svc, '.'), 0)]
		for _, k := range []string{strings.TrimPrefix(method, "/"), svc, pkg} {
			if c, ok := byPattern[k]; ok {
				cg = c
				break
			}
		}
		cache.Store(method, cg)
		return cg.g, cg.class
	}, nil
}

func (s *settings) dialOptions(endpoint string, creds kentik.Credentials) []grpc.DialOption {
	ua := kentik.UserAgent
	if s.userAgent != "" {
		ua += " " + s.userAgent
	}
	maxRecv := s.maxRecvMsg
	if maxRecv <= 0 {
		maxRecv = 64 << 20
	}
	opts := []grpc.DialOption{
		grpc.WithUserAgent(ua),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			// Ping after 30 s without activity while calls are in flight, so that
			// a connection silently dropped by a load balancer is noticed; no
			// pings on an idle connection, which servers may punish.
			Time:                30 * time.Second,
			Timeout:             10 * time.Second,
			PermitWithoutStream: false,
		}),
		// Retries are the retry interceptor's job only: ignore any service
		// config a resolver might carry (it could add grpc's own retry policy).
		// grpc's transparent retry of requests that never left the client stays.
		grpc.WithDisableServiceConfig(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecv)),
		// grpc's reconnect backoff grows to two minutes by default: after a long outage
		// a connection would come back up to two minutes after Kentik did, while a batch
		// job waits (and spends its outage budget). Ten seconds at most keeps the
		// reconnect attempts few and the recovery quick.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 10 * time.Second},
			MinConnectTimeout: 20 * time.Second,
		}),
	}
	if kentik.IsLoopback(endpoint) {
		// Go's proxy rules (which grpc follows) skip only the lower-case
		// "localhost": a plaintext call to LOCALHOST would reach HTTPS_PROXY,
		// token and all.
		opts = append(opts, grpc.WithNoProxy())
	}
	if s.plaintext {
		opts = append(opts,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(interceptors.InsecurePerRPCCredentials(creds)))
	} else {
		cfg := s.tlsConfig
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts = append(opts,
			grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
			grpc.WithPerRPCCredentials(interceptors.PerRPCCredentials(creds)))
	}
	return append(opts, s.dialOpts...)
}

// checkCredentials validates the resolved credentials. With WithConn they are
// optional: the caller's connection may carry its own.
func (s *settings) checkCredentials(c kentik.Credentials) (kentik.Credentials, bool, error) {
	if s.conn != nil && c.Email == "" && c.Token == "" {
		return c, false, nil
	}
	if err := c.Validate(); err != nil {
		return c, false, err
	}
	return c, true, nil
}

// onRetryHook combines the WithOnRetry hooks and a Debug log line.
func (s *settings) onRetryHook() func(kentik.RetryEvent) {
	hooks := s.onRetry
	log := s.logger
	if len(hooks) == 0 && log == nil {
		return nil
	}
	return func(e kentik.RetryEvent) {
		if log != nil {
			log.Debug("retrying call", "grpc.method", e.Method, "grpc.attempt", e.Attempt, "grpc.code", e.Code.String())
		}
		for _, h := range hooks {
			h(e)
		}
	}
}

// Interfaces returns the client of Kentik's InterfaceService (v202108alpha1).
func (c *Client) Interfaces() ifacev1.InterfaceServiceClient { return c.ifaces }

// Conn returns the connection every call of the client goes through, for any
// generated service client of package gen: devicev.NewDeviceServiceClient(c.Conn()).
// Each call is routed to the host that serves its service (its
// google.api.default_host in the client's region, unless WithEndpoint or
// WithHostEndpoint say otherwise), carries the credentials, and shares the
// account's limiter and retries with every other call. A method whose service
// is not in the program's schema (its generated package not imported, or not a
// Kentik method) fails with an error wrapping kentik.ErrUnknownMethod.
func (c *Client) Conn() grpc.ClientConnInterface { return c.conn }

// Region returns "us" or "eu".
func (c *Client) Region() string { return c.region }

// Endpoint returns the gRPC target of the region's default host
// (grpc.api.kentik.com:443), or the one endpoint WithEndpoint sends every call to.
func (c *Client) Endpoint() string { return c.endpoint }

// Targets returns the targets the client has connected to so far, one per host
// its calls needed.
func (c *Client) Targets() []string {
	if c.router == nil {
		return nil
	}
	return c.router.targets()
}

// Limiter returns the limiter of the account's default class, which every call goes
// through unless WithLimitClass puts it in another.
func (c *Client) Limiter() ratelimit.Limiter { return c.limiter }

// Close closes the connections the client dialled (not one given with WithConn)
// and the limiters WithLimiterFactory made for it. Calls in flight fail; calling
// Close again returns the first result.
func (c *Client) Close() error {
	c.closed.Do(func() {
		if c.router != nil {
			c.closeErr = c.router.close()
		}
		for _, l := range c.owned {
			if err := l.Close(); err != nil && c.closeErr == nil {
				c.closeErr = err
			}
		}
	})
	return c.closeErr
}
