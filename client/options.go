package client

import (
	"crypto/tls"
	"io"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// Option configures New. Options are applied in order; a later one overrides
// an earlier one of the same kind.
type Option interface {
	apply(*settings)
}

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

type settings struct {
	region     string
	endpoint   string
	creds      kentik.Credentials
	tlsConfig  *tls.Config
	plaintext  bool
	policy     *ratelimit.Policy
	limiter    ratelimit.Limiter
	retry      *kentik.RetryPolicy
	logger     *slog.Logger
	dialOpts   []grpc.DialOption
	userAgent  string
	onRetry    []func(kentik.RetryEvent)
	conn       grpc.ClientConnInterface
	getenv     func(string) string
	maxRecvMsg int
	observers  []kentik.Observer
	unary      []grpc.UnaryClientInterceptor  // WithInterceptors, outermost first
	stream     []grpc.StreamClientInterceptor // WithInterceptors, outermost first

	hostEndpoints map[string]string
	classes       []limitClass
	factory       ratelimit.Factory
	owned         []io.Closer
}

type limitClass struct {
	name     string
	policy   ratelimit.Policy
	patterns []string
}

// WithRegion picks Kentik's region: "us" (grpc.api.kentik.com:443, the default)
// or "eu" (grpc.api.kentik.eu:443). Case does not matter; anything else makes
// New fail. Without it New reads KENTIK_REGION (see kentik.Settings for the
// precedence).
func WithRegion(region string) Option {
	return optionFunc(func(s *settings) { s.region = region })
}

// WithEndpoint sends every call, whatever host serves its service, to one gRPC
// endpoint, HOST:PORT (or any grpc target such as "dns:///host:port"): a local
// fake, or a proxy of your own. Without it New reads KENTIK_GRPC_ENDPOINT. The
// region's own endpoint (grpc.api.kentik.com:443) leaves each service to its
// host.
func WithEndpoint(hostPort string) Option {
	return optionFunc(func(s *settings) { s.endpoint = hostPort })
}

// WithCredentials sets the email and API token sent on every call. A field left
// empty is read from the environment: KENTIK_EMAIL and KENTIK_API_TOKEN, then
// KTAPI_AUTH_EMAIL and KTAPI_AUTH_TOKEN (see kentik.Settings).
func WithCredentials(c kentik.Credentials) Option {
	return optionFunc(func(s *settings) { s.creds = c })
}

// WithHostEndpoint sends the calls of the services Kentik serves on host (its US
// name as google.api.default_host gives it: "mkp.api.kentik.com") to target
// instead, HOST:PORT or any grpc target; it wins over WithEndpoint for that host.
func WithHostEndpoint(host, target string) Option {
	return optionFunc(func(s *settings) {
		if s.hostEndpoints == nil {
			s.hostEndpoints = map[string]string{}
		}
		s.hostEndpoints[host] = target
	})
}

// WithLimitClass counts the calls of the methods matched by patterns in a limit class
// of their own, under policy p, apart from the default class (WithRateLimit's policy,
// ratelimit.Admin by default). A pattern is a package ("kentik.synthetics.v202309"), a
// service ("kentik.synthetics.v202309.SyntheticsDataService") or a method
// ("/kentik.synthetics.v202309.SyntheticsDataService/GetResultsForTests"); the most
// specific one that matches wins. Like the default class's, a class's limiter is shared
// by every client of the account in the process.
//
// Kentik publishes no limits for v6 and counts per customer, so by default every v6
// call of an account shares the admin row. Use this when you know your account's
// limits, e.g. to apply the query row (ratelimit.Query) to data services:
//
//	client.WithLimitClass("query", ratelimit.Query, "kentik.synthetics.v202309.SyntheticsDataService")
func WithLimitClass(class string, p ratelimit.Policy, patterns ...string) Option {
	return optionFunc(func(s *settings) {
		s.classes = append(s.classes, limitClass{name: class, policy: p, patterns: patterns})
	})
}

// WithTLSConfig sets the TLS configuration (it is cloned). The default is the
// system's roots with TLS 1.2 or later.
func WithTLSConfig(cfg *tls.Config) Option {
	return optionFunc(func(s *settings) {
		if cfg != nil {
			cfg = cfg.Clone()
		}
		s.tlsConfig = cfg
	})
}

// WithPlaintext connects without TLS. New accepts it only when the endpoint's
// host is a loopback address (kentik.IsLoopback: 127.0.0.0/8, ::1 or
// "localhost" in any case), such as a local fake, and refuses it otherwise
// with kentik.ErrPlaintextNotLoopback before anything is dialled: the API
// token never travels in clear text over a network. A connection to a loopback
// endpoint never goes through a proxy (HTTPS_PROXY), however its host is
// spelled.
func WithPlaintext() Option {
	return optionFunc(func(s *settings) { s.plaintext = true })
}

// WithRateLimit sets the rate-limit policy. The default is ratelimit.Admin, the
// row of Kentik's published table that applies to v6 admin services such as
// InterfaceService. The limiter is shared, through ratelimit.Shared, by every
// client of the same endpoint and email in the process whose policy sets the
// same concurrency and windows, since Kentik counts per account. Use
// ratelimit.Off to let calls through unpaced (server pushback is still
// honoured).
func WithRateLimit(p ratelimit.Policy) Option {
	return optionFunc(func(s *settings) { s.policy = &p })
}

// WithLimiter plugs in a limiter of your own (for example one shared between
// machines), replacing the policy's. If it implements ratelimit.Pusher it is
// told about server pushback. A nil l keeps the default; use
// WithRateLimit(ratelimit.Off) to turn client-side limiting off.
func WithLimiter(l ratelimit.Limiter) Option {
	return optionFunc(func(s *settings) { s.limiter = l })
}

// WithLimiterFactory makes the account's limiters with f, one per class (the default
// class "v6-admin" and each WithLimitClass), instead of sharing them within the process
// only: with redislimit.Factory every process of the account, on every machine, shares
// its limits through Redis. New fails when f does (Redis unreachable, say); Close closes
// the limiters f made. WithLimiter, when given, wins for the default class.
func WithLimiterFactory(f ratelimit.Factory) Option {
	return optionFunc(func(s *settings) { s.factory = f })
}

// WithRetry sets the retry policy (kentik.DefaultRetryPolicy by default; zero
// fields take its values). kentik.NoRetry makes every call a single attempt.
// What may be retried is not the policy's choice: see kentik.Retryable.
func WithRetry(p kentik.RetryPolicy) Option {
	return optionFunc(func(s *settings) { s.retry = &p })
}

// WithOnRetry adds a function called before each retry attempt (for example to
// count retries in a batch job). It runs on the calling goroutine and must be
// quick and safe for concurrent use.
func WithOnRetry(f func(kentik.RetryEvent)) Option {
	return optionFunc(func(s *settings) {
		if f != nil {
			s.onRetry = append(s.onRetry, f)
		}
	})
}

// WithLogger logs every finished call (method, code, duration, attempts; never
// payloads, metadata or the token) and every retry (at Debug) through l. By
// default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(s *settings) { s.logger = l })
}

// WithDialOptions adds grpc dial options, applied after the client's own (so
// they can override them). Ignored with WithConn.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(s *settings) { s.dialOpts = append(s.dialOpts, opts...) })
}

// WithUserAgent adds extra to the user agent, after "kentik-go/VERSION".
func WithUserAgent(extra string) Option {
	return optionFunc(func(s *settings) { s.userAgent = extra })
}

// WithConn makes the client use conn instead of dialling one. The caller owns
// conn: Close does not close it. The client's interceptors (retry, rate limit,
// logging, typed errors) still apply, and the credentials are added to each
// call's metadata by an interceptor. With WithConn the credentials are
// optional (conn may carry its own); give them to the client or to conn, not
// both, since grpc would send the headers twice and Kentik would see two
// values. The endpoint, TLS, plaintext and dial options are not used.
func WithConn(conn grpc.ClientConnInterface) Option {
	return optionFunc(func(s *settings) { s.conn = conn })
}

// WithMaxRecvMsgSize sets the largest response accepted, in bytes (default
// 64 MiB: a ListInterface of a large network is far beyond grpc's 4 MiB).
func WithMaxRecvMsgSize(n int) Option {
	return optionFunc(func(s *settings) { s.maxRecvMsg = n })
}

// withGetenv replaces os.Getenv (tests).
func withGetenv(f func(string) string) Option {
	return optionFunc(func(s *settings) { s.getenv = f })
}

// WithObserver tells o what the client's middleware does with each call: the waits for
// the rate limiter (class kentik.ClassV6Admin, or "v6-" and a WithLimitClass's name), the
// slots given back, the server's push-backs and the retries (see kentik.Observer).
// Several WithObserver options add up. Without one the client makes no observer calls
// and reads no clock for them. Packages kentikprom and kentikotel build metrics and
// traces on it.
func WithObserver(o kentik.Observer) Option {
	return optionFunc(func(s *settings) {
		if o != nil {
			s.observers = append(s.observers, o)
		}
	})
}

// WithInterceptors adds gRPC interceptors outside the client's own: they see each call
// once, as the caller makes it (its retries and limiter waits within it), and its error
// as the caller gets it (a *Error). Either may be nil. Several WithInterceptors options
// add up, the first outermost. Unlike WithDialOptions they also apply with WithConn.
func WithInterceptors(unary grpc.UnaryClientInterceptor, stream grpc.StreamClientInterceptor) Option {
	return optionFunc(func(s *settings) {
		if unary != nil {
			s.unary = append(s.unary, unary)
		}
		if stream != nil {
			s.stream = append(s.stream, stream)
		}
	})
}

// WithOptions bundles options into one, applied in order: an integration (kentikprom,
// kentikotel) hands over everything it needs as a single Option.
func WithOptions(opts ...Option) Option {
	return optionFunc(func(s *settings) {
		for _, o := range opts {
			if o != nil {
				o.apply(s)
			}
		}
	})
}
