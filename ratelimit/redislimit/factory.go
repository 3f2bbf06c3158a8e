package redislimit

import (
	"context"
	"crypto/tls"

	"github.com/redis/go-redis/v9"

	"github.com/gokentik/kentik/ratelimit"
)

// Factory returns a ratelimit.Factory that makes a Limiter on rdb for each class of an
// account's calls, for the clients' WithLimiterFactory options: every client of the
// account, in every process given the same factory settings, then shares the account's
// limits. The limiters share rdb's connections; the caller closes rdb after the clients.
func Factory(rdb redis.UniversalClient, opts ...Option) ratelimit.Factory {
	return func(ctx context.Context, account, class string, p ratelimit.Policy) (ratelimit.Limiter, error) {
		return New(ctx, rdb, Scope{Account: account, Class: class}, p, opts...)
	}
}

// Client returns a go-redis client for a Redis URL as NewFromURL reads it
// (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], rediss:// with cfg's TLS settings when cfg
// is not nil, unix:///PATH), for Factory. Its errors never include the password.
func Client(rawURL string, cfg *tls.Config) (*redis.Client, error) {
	o, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if o.TLSConfig != nil && cfg != nil {
		c := cfg.Clone()
		if c.ServerName == "" {
			c.ServerName = o.TLSConfig.ServerName
		}
		o.TLSConfig = c
	}
	return redis.NewClient(o), nil
}
