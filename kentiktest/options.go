package kentiktest

import (
	"errors"
	"log/slog"
	"net"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// Default credentials of a fake that was given none. They are for a local fake only and
// open nothing anywhere else.
const (
	DefaultEmail = "demo@kentik.local"
	DefaultToken = "kentiktest-token"
)

// DefaultRequestLog is how many requests Requests remembers unless WithRequestLog says
// otherwise.
const DefaultRequestLog = 1000

// An Option configures NewServer.
type Option func(*config) error

type config struct {
	creds        kentik.Credentials
	grpcPolicy   ratelimit.Policy
	v5Policy     ratelimit.Policy
	interfaces   int
	seed         int64
	logger       *slog.Logger
	grpcAddr     string
	httpAddr     string
	grpcListener net.Listener
	httpListener net.Listener
	faultSeed    int64
	requestLog   int
	hook         func(Request)
	tenants      []Tenant
	tenantsSet   bool
	programs     []program
}

func defaultConfig() config {
	return config{
		creds:      kentik.Credentials{Email: DefaultEmail, Token: DefaultToken},
		grpcPolicy: ratelimit.Admin.Scale(1),
		v5Policy:   ratelimit.Admin.Scale(1),
		logger:     slog.New(slog.DiscardHandler),
		grpcAddr:   "127.0.0.1:0",
		httpAddr:   "127.0.0.1:0",
		faultSeed:  1,
		requestLog: DefaultRequestLog,
	}
}

// WithCredentials sets the only email and token the fake accepts (default DefaultEmail
// and DefaultToken). Both must be non-empty.
func WithCredentials(c kentik.Credentials) Option {
	return func(cf *config) error {
		if err := c.Validate(); err != nil {
			return err
		}
		cf.creds = c
		return nil
	}
}

// WithPolicy sets the rate-limit policy of the v6 APIs, every service's gRPC calls and
// REST requests counted in one class (default ratelimit.Admin, as Kentik applies to
// admin APIs). Use ratelimit.Off for tests that do
// not care, or a compressed policy (Parse("concurrency=1,10/300ms,soft=5/300ms:20ms"),
// Policy.Scale) for tests that do.
func WithPolicy(p ratelimit.Policy) Option {
	return func(cf *config) error {
		if err := p.Validate(); err != nil {
			return err
		}
		cf.grpcPolicy = p.Scale(1)
		return nil
	}
}

// WithV5Policy sets the rate-limit policy of the V5 REST API (default ratelimit.Admin).
// V5 calls are counted apart from gRPC calls, as Kentik counts them.
func WithV5Policy(p ratelimit.Policy) Option {
	return func(cf *config) error {
		if err := p.Validate(); err != nil {
			return err
		}
		cf.v5Policy = p.Scale(1)
		return nil
	}
}

// WithInterfaces seeds the store with n generated interfaces (default none). The same
// seed always gives the same interfaces, ids included: ids start at 1000001 and devices
// at 1001, with 48 interfaces per device.
func WithInterfaces(n int, seed int64) Option {
	return func(cf *config) error {
		if n < 0 {
			return errors.New("kentiktest: WithInterfaces: n must not be negative")
		}
		cf.interfaces, cf.seed = n, seed
		return nil
	}
}

// WithTenants replaces the default My Kentik tenants (three tenants with a few users).
// Ids of tenants and users must be unique; empty dates are set to the server's start, an
// empty company_id to the fake customer's and a user's empty tenant_id to its tenant's
// id, since Kentik always sends them.
func WithTenants(ts ...Tenant) Option {
	return func(cf *config) error {
		cf.tenants = cloneTenants(ts)
		cf.tenantsSet = true
		return nil
	}
}

// WithLogger sets where the fake logs (default: nowhere). It logs listening addresses,
// unknown ids in ManualClassify and rejected calls, never a token.
func WithLogger(l *slog.Logger) Option {
	return func(cf *config) error {
		if l != nil {
			cf.logger = l
		}
		return nil
	}
}

// WithGRPCAddr sets the address the gRPC server listens on (default "127.0.0.1:0").
func WithGRPCAddr(addr string) Option {
	return func(cf *config) error { cf.grpcAddr = addr; return nil }
}

// WithHTTPAddr sets the address the HTTP server (V5 and the v6 REST mapping) listens on
// (default "127.0.0.1:0").
func WithHTTPAddr(addr string) Option {
	return func(cf *config) error { cf.httpAddr = addr; return nil }
}

// WithGRPCListener serves gRPC on l (for example a bufconn listener) instead of
// listening on an address. The server closes l when it stops.
func WithGRPCListener(l net.Listener) Option {
	return func(cf *config) error { cf.grpcListener = l; return nil }
}

// WithHTTPListener serves the V5 REST API and the v6 REST mapping on l instead of
// listening on an address. The server closes l when it stops.
func WithHTTPListener(l net.Listener) Option {
	return func(cf *config) error { cf.httpListener = l; return nil }
}

// WithFaultSeed seeds the random draws of SetErrorRate (default 1), so that a sequence of
// calls fails the same way on every run.
func WithFaultSeed(seed int64) Option {
	return func(cf *config) error { cf.faultSeed = seed; return nil }
}

// WithRequestLog sets how many of the latest requests Requests keeps (default
// DefaultRequestLog; 0 keeps none).
func WithRequestLog(n int) Option {
	return func(cf *config) error {
		if n < 0 {
			return errors.New("kentiktest: WithRequestLog: n must not be negative")
		}
		cf.requestLog = n
		return nil
	}
}

// WithRequestHook calls f with every request the fake receives, on the request's own
// goroutine, before authentication. f must be safe for concurrent use and quick.
func WithRequestHook(f func(Request)) Option {
	return func(cf *config) error { cf.hook = f; return nil }
}
