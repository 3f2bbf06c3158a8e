package redislimit

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Option configures New and NewFromURL. Options are applied in order; a later
// one overrides an earlier one of the same kind.
type Option interface {
	apply(*settings)
}

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

type settings struct {
	leaseTTL time.Duration
	fallback bool
	logger   *slog.Logger
	prefix   string
	tls      *tls.Config
}

// DefaultLeaseTTL is the lease TTL when WithLeaseTTL is not given. A holder
// renews its leases every third of it, so it keeps its slot through a pause
// (GC, a slow Redis) of up to two thirds of it; a holder killed with SIGKILL
// frees its slot at most this long after its last renewal. Ten seconds is a
// sixth of the admin row's rolling minute: a crash costs the account a few
// calls, not a window, and renewal costs one small script every 3.3 s per
// limiter that has calls in flight.
const DefaultLeaseTTL = 10 * time.Second

// MinLeaseTTL is the shortest lease TTL WithLeaseTTL accepts.
const MinLeaseTTL = 30 * time.Millisecond

// WithLeaseTTL sets how long a concurrency slot outlives the last renewal of
// its holder (default DefaultLeaseTTL, at least MinLeaseTTL, or New fails).
// The same bound applies to a waiter's place in the queue, and to the pause
// after Redis lost its state. Limiters of one Scope may use different TTLs.
func WithLeaseTTL(d time.Duration) Option {
	return optionFunc(func(s *settings) { s.leaseTTL = d })
}

// WithFallback makes the limiter fall back to an in-process limiter of the
// same policy when Redis cannot be used, with a warning logged, instead of
// failing calls with an UnavailableError. The fallback limits this process
// alone: processes of one account together may then exceed the account's
// limits, which is why it is not the default. The limiter tries Redis again
// every third of the lease TTL, and goes back to it, with an info log, once
// it answers (see the package documentation).
func WithFallback() Option {
	return optionFunc(func(s *settings) { s.fallback = true })
}

// WithLogger sets the logger of warnings (fallback, lost leases) and infos
// (Redis back); nil (the default) means slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(s *settings) { s.logger = l })
}

// WithPrefix sets the prefix of every key and channel (default
// "kentik:ratelimit"), e.g. to keep two deployments apart on one Redis.
func WithPrefix(prefix string) Option {
	return optionFunc(func(s *settings) { s.prefix = prefix })
}

// WithTLSConfig sets the TLS configuration NewFromURL uses for a rediss://
// URL (e.g. to trust a private CA); its ServerName defaults to the URL's
// host. New ignores it: the client given to New carries its own.
func WithTLSConfig(c *tls.Config) Option {
	return optionFunc(func(s *settings) { s.tls = c })
}

const defaultPrefix = "kentik:ratelimit"

func buildSettings(opts []Option) settings {
	s := settings{leaseTTL: DefaultLeaseTTL, prefix: defaultPrefix}
	for _, o := range opts {
		if o != nil {
			o.apply(&s)
		}
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}
