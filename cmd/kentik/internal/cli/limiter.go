package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/gokentik/kentik/ratelimit"
	"github.com/gokentik/kentik/ratelimit/redislimit"
)

// limiterFactory returns the factory of the account's limiters shared through the Redis of
// --limiter (KENTIK_LIMITER), or nil when none was given. The Redis client is made once per
// command and closed when the command ends.
func (g *Globals) limiterFactory() (ratelimit.Factory, error) {
	if g.Limiter == "" {
		return nil, nil
	}
	if g.redisFactory == nil {
		redis.SetLogger(redisLog{g.logger()}) // go-redis has one logger per process
		rdb, err := redislimit.Client(g.Limiter, g.tlsConfig)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("%s: %w", g.source("limiter"), err)}
		}
		g.onExit(func() { _ = rdb.Close() })
		opts := []redislimit.Option{redislimit.WithLogger(g.logger())}
		if g.LimiterFallback {
			opts = append(opts, redislimit.WithFallback())
		}
		g.redisFactory = redislimit.Factory(rdb, opts...)
	}
	return g.redisFactory, nil
}

// onExit registers f to run when the command has ended.
func (g *Globals) onExit(f func()) { g.exits = append(g.exits, f) }

// closeOnExit closes c when the command has ended.
func (g *Globals) closeOnExit(c io.Closer) { g.onExit(func() { _ = c.Close() }) }

func (g *Globals) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// redisLog sends go-redis's own log lines (a dial that failed, a pool that gave up) to the
// command's logger at debug level: the command reports Redis being unreachable itself,
// once and with what to do, and these would otherwise reach stderr unasked, several per
// second.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
