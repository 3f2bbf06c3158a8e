// Package client connects Go programs to Kentik's v6 gRPC APIs.
//
// A Client owns one gRPC connection (or wraps one you give it) on which every
// call carries the account's credentials, waits for a slot of the account's
// rate-limit policy, is retried when that is safe, is logged if you asked for
// it, and fails with a *Error that says what went wrong and what to do next:
//
//	c, err := client.New(ctx, client.WithRegion("eu"))
//	if err != nil { ... }
//	defer c.Close()
//	resp, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "42"})
//
// The interceptors are, from the outside in: typed errors, logging, retry,
// rate limit, and the removal of the API token from any error message that
// echoes it; the credentials are per-RPC credentials of the connection, so
// every attempt carries them.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/ratelimit"
)

// Version is this library's version, sent in the user agent as kentik-go/Version.
const Version = "0.1.0"

// Kentik's gRPC endpoints per region.
const (
	EndpointUS = "grpc.api.kentik.com:443"
	EndpointEU = "grpc.api.kentik.eu:443"
)

// ErrPlaintextNotLoopback is returned by New when WithPlaintext is asked for
// an endpoint that is not a loopback address.
var ErrPlaintextNotLoopback = errors.New("kentik: plaintext (no TLS) is only allowed to a loopback endpoint (127.0.0.0/8, ::1, localhost): the API token would travel in clear text")

// Client is a connection to Kentik's v6 gRPC APIs. It is safe for concurrent
// use; make one per account and share it.
type Client struct {
	conn     grpc.ClientConnInterface
	owned    *grpc.ClientConn // nil with WithConn
	ifaces   ifacev1.InterfaceServiceClient
	region   string
	endpoint string
	limiter  ratelimit.Limiter
	closed   sync.Once
	closeErr error
}

// New builds a Client. It checks everything it can before any connection is
// attempted: the region, the credentials (errors.Is(err,
// interceptors.ErrMissingCredentials) when missing), the rate-limit policy and
// that plaintext goes only to a loopback endpoint. The connection itself is
// made lazily, on the first call (grpc.NewClient), so ctx is not used to dial;
// it is kept for future use and symmetry with other clients.
//
// Without options New reads the environment: KENTIK_EMAIL and
// KENTIK_API_TOKEN (then KTAPI_AUTH_EMAIL and KTAPI_AUTH_TOKEN),
// KENTIK_GRPC_ENDPOINT and KENTIK_REGION. Explicit options win over it.
func New(ctx context.Context, opts ...Option) (*Client, error) {
	_ = ctx
	s := &settings{getenv: os.Getenv}
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	region, endpoint, err := s.resolveEndpoint()
	if err != nil {
		return nil, err
	}
	creds, haveCreds, err := s.resolveCredentials()
	if err != nil {
		return nil, err
	}
	if s.conn == nil && s.plaintext && !isLoopback(endpoint) {
		return nil, fmt.Errorf("%w (endpoint %q)", ErrPlaintextNotLoopback, endpoint)
	}
	limiter := s.limiter
	if limiter == nil {
		p := ratelimit.Admin
		if s.policy != nil {
			p = *s.policy
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("kentik: rate-limit policy: %w", err)
		}
		// Kentik counts per account: an email typed with other capitals is
		// the same account, so it must get the same limiter.
		email := strings.ToLower(strings.TrimSpace(creds.Email))
		limiter = ratelimit.Shared(endpoint+"|"+email+"|v6-admin", p)
	}
	// One pushback state for unary and stream calls.
	limiter = interceptors.HonourPushback(limiter)

	rp := interceptors.DefaultRetryPolicy
	if s.retry != nil {
		rp = *s.retry
	}
	rp.OnRetry = s.onRetryHook(rp.OnRetry)

	// Typed errors and logging share the outermost interceptor: one link
	// less in grpc's chain is one closure less per call.
	unary := []grpc.UnaryClientInterceptor{
		errorUnaryInterceptor(interceptors.LoggingUnaryClientInterceptor(s.logger)),
		interceptors.RetryUnaryClientInterceptor(rp),
		interceptors.RateLimitUnaryClientInterceptor(limiter),
	}
	stream := []grpc.StreamClientInterceptor{
		errorStreamInterceptor(interceptors.LoggingStreamClientInterceptor(s.logger)),
		interceptors.RetryStreamClientInterceptor(rp),
		interceptors.RateLimitStreamClientInterceptor(limiter),
	}
	if haveCreds {
		// Innermost, so that the retry hooks, the logs and the *Error all see
		// the redacted message.
		unary = append(unary, redactUnaryInterceptor(creds.Token))
		stream = append(stream, redactStreamInterceptor(creds.Token))
	}

	c := &Client{region: region, endpoint: endpoint, limiter: limiter}
	if s.conn != nil {
		if haveCreds {
			unary = append(unary, interceptors.AuthUnaryClientInterceptor(creds))
			stream = append(stream, interceptors.AuthStreamClientInterceptor(creds))
		}
		c.conn = newChainedConn(s.conn, unary, stream)
	} else {
		cc, err := grpc.NewClient(endpoint, s.dialOptions(creds, unary, stream)...)
		if err != nil {
			return nil, fmt.Errorf("kentik: connect to %s: %w", endpoint, err)
		}
		c.conn, c.owned = cc, cc
	}
	c.ifaces = ifacev1.NewInterfaceServiceClient(c.conn)
	return c, nil
}

func (s *settings) dialOptions(creds interceptors.Credentials, unary []grpc.UnaryClientInterceptor, stream []grpc.StreamClientInterceptor) []grpc.DialOption {
	ua := "kentik-go/" + Version
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
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
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

func (s *settings) resolveEndpoint() (region, endpoint string, err error) {
	region = s.region
	if region == "" && s.endpoint == "" {
		region = strings.TrimSpace(s.getenv("KENTIK_REGION"))
	}
	region = strings.ToLower(strings.TrimSpace(region))
	if region == "" {
		region = "us"
	}
	var regional string
	switch region {
	case "us":
		regional = EndpointUS
	case "eu":
		regional = EndpointEU
	default:
		return "", "", fmt.Errorf("kentik: unknown region %q: want us or eu", region)
	}
	endpoint = strings.TrimSpace(s.endpoint)
	if endpoint == "" && s.region == "" {
		endpoint = strings.TrimSpace(s.getenv("KENTIK_GRPC_ENDPOINT"))
	}
	if endpoint == "" {
		endpoint = regional
	}
	return region, endpoint, nil
}

func (s *settings) resolveCredentials() (c interceptors.Credentials, ok bool, err error) {
	if s.creds != nil {
		c = *s.creds
	} else {
		c.Email = firstEnv(s.getenv, "KENTIK_EMAIL", "KTAPI_AUTH_EMAIL")
		c.Token = firstEnv(s.getenv, "KENTIK_API_TOKEN", "KTAPI_AUTH_TOKEN")
	}
	if s.conn != nil && c.Email == "" && c.Token == "" {
		return c, false, nil // the caller's connection may carry its own
	}
	if err := c.Validate(); err != nil {
		return c, false, err
	}
	return c, true, nil
}

func firstEnv(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

// onRetryHook combines the retry policy's own hook, the WithOnRetry hooks and
// a Debug log line.
func (s *settings) onRetryHook(own func(RetryEvent)) func(RetryEvent) {
	hooks := append([]func(RetryEvent){}, s.onRetry...)
	if own != nil {
		hooks = append(hooks, own)
	}
	log := s.logger
	if len(hooks) == 0 && log == nil {
		return nil
	}
	return func(e RetryEvent) {
		if log != nil {
			log.Debug("retrying call", "grpc.method", e.Method, "grpc.attempt", e.Attempt, "grpc.code", e.Code.String())
		}
		for _, h := range hooks {
			h(e)
		}
	}
}

// isLoopback reports whether a grpc target names a loopback host: 127.0.0.0/8,
// ::1 or localhost, or a unix socket.
func isLoopback(target string) bool {
	hostPort := target
	if i := strings.Index(target, ":"); i > 0 && !strings.Contains(target[:i], ".") {
		scheme := strings.ToLower(target[:i])
		switch scheme {
		case "unix", "unix-abstract":
			return true
		case "dns", "passthrough":
			u, err := url.Parse(target)
			if err != nil || u.Host != "" {
				// An authority names a DNS server that would resolve the host.
				return false
			}
			hostPort = strings.TrimPrefix(u.Path, "/")
			if hostPort == "" {
				hostPort = u.Opaque
			}
		}
	}
	host := hostPort
	if h, _, err := net.SplitHostPort(hostPort); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Interfaces returns the client of Kentik's InterfaceService (v202108alpha1).
func (c *Client) Interfaces() ifacev1.InterfaceServiceClient { return c.ifaces }

// Conn returns the connection with the client's interceptors, for building
// other generated service clients that share them (and the rate limit).
func (c *Client) Conn() grpc.ClientConnInterface { return c.conn }

// Region returns "us" or "eu".
func (c *Client) Region() string { return c.region }

// Endpoint returns the gRPC target the client talks to.
func (c *Client) Endpoint() string { return c.endpoint }

// Limiter returns the limiter every call goes through.
func (c *Client) Limiter() ratelimit.Limiter { return c.limiter }

// Close closes the connection the client dialled (not one given with
// WithConn). Calls in flight fail; calling Close again returns the first result.
func (c *Client) Close() error {
	c.closed.Do(func() {
		if c.owned != nil {
			c.closeErr = c.owned.Close()
		}
	})
	return c.closeErr
}
