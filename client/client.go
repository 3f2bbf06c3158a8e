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
// The interceptors are, from the outside in: yours (WithInterceptors), typed
// errors, logging, retry, rate limit, and the removal of the API token from
// any error message that echoes it; the credentials are per-RPC credentials of
// the connection, so every attempt carries them. WithObserver sees inside
// them: limiter waits, push-backs, retries.
package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/ratelimit"
)

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
// kentik.ErrMissingCredentials) when missing), the rate-limit policy and that
// plaintext goes only to a loopback endpoint (kentik.ErrPlaintextNotLoopback).
// The connection itself is made lazily, on the first call (grpc.NewClient): ctx
// bounds New's own work only, and New fails with ctx's error if it is done.
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
	endpoint := resolved.GRPCEndpoint
	creds, haveCreds, err := s.checkCredentials(resolved.Credentials)
	if err != nil {
		return nil, err
	}
	if s.conn == nil && s.plaintext && !kentik.IsLoopback(endpoint) {
		return nil, fmt.Errorf("%w (endpoint %q)", kentik.ErrPlaintextNotLoopback, endpoint)
	}
	rp := kentik.DefaultRetryPolicy
	if s.retry != nil {
		rp = s.retry.WithDefaults()
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
		limiter = ratelimit.Shared(ratelimit.AccountKey(endpoint, creds.Email, "v6-admin"), p)
	}
	// One push-back state for unary and stream calls, capped as the retry policy says.
	gate := ratelimit.HonourPushBack(limiter, rp.MaxPushBack)
	onRetry := s.onRetryHook()
	var observe []interceptors.Option
	if obs := kentik.Observers(s.observers...); obs != nil {
		observe = append(observe, interceptors.WithObserver(obs), interceptors.WithClass(kentik.ClassV6Admin))
	}

	// The caller's interceptors (WithInterceptors) come first. Typed errors and
	// logging share the next interceptor: one link less in grpc's chain is one
	// closure less per call.
	unary := append(slices.Clip(s.unary),
		errorUnaryInterceptor(interceptors.LoggingUnaryClientInterceptor(s.logger)),
		interceptors.RetryUnaryClientInterceptor(rp, onRetry, observe...),
		interceptors.RateLimitUnaryClientInterceptor(gate, observe...),
	)
	stream := append(slices.Clip(s.stream),
		errorStreamInterceptor(interceptors.LoggingStreamClientInterceptor(s.logger)),
		interceptors.RetryStreamClientInterceptor(rp, onRetry, observe...),
		interceptors.RateLimitStreamClientInterceptor(gate, observe...),
	)
	if haveCreds {
		// Innermost, so that the retry hooks, the logs and the *Error all see
		// the redacted message.
		unary = append(unary, redactUnaryInterceptor(creds.Token))
		stream = append(stream, redactStreamInterceptor(creds.Token))
	}

	c := &Client{region: region.String(), endpoint: endpoint, limiter: gate}
	if s.conn != nil {
		if haveCreds {
			unary = append(unary, interceptors.AuthUnaryClientInterceptor(creds))
			stream = append(stream, interceptors.AuthStreamClientInterceptor(creds))
		}
		c.conn = newChainedConn(s.conn, unary, stream)
	} else {
		cc, err := grpc.NewClient(endpoint, s.dialOptions(endpoint, creds, unary, stream)...)
		if err != nil {
			return nil, fmt.Errorf("kentik: connect to %s: %w", endpoint, err)
		}
		c.conn, c.owned = cc, cc
	}
	c.ifaces = ifacev1.NewInterfaceServiceClient(c.conn)
	return c, nil
}

func (s *settings) dialOptions(endpoint string, creds kentik.Credentials, unary []grpc.UnaryClientInterceptor, stream []grpc.StreamClientInterceptor) []grpc.DialOption {
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
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
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
