package redislimit

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gokentik/kentik/ratelimit"
)

// benchPolicy has the admin row's shape (a cap and two windows) with limits
// so large that no call ever waits: the benchmarks measure the cost of an
// acquire and its release.
var benchPolicy = ratelimit.Policy{
	Name:        "custom",
	Concurrency: 1 << 20,
	Windows:     []ratelimit.Window{{Limit: 1 << 30, Period: time.Minute}, {Limit: 1 << 30, Period: time.Hour}},
}

// BenchmarkAcquireRelease compares, in one run, an acquire and release on
// Redis (a real redis-server on loopback) with the same on the in-process
// limiter. The "side-by-side" case alternates the two in one loop and
// reports their ratio.
func BenchmarkAcquireRelease(b *testing.B) {
	srv := startRedis(b)
	ctx := context.Background()
	local := ratelimit.New(benchPolicy)
	shared := newTest(b, srv, benchPolicy)
	once := func(b *testing.B, l ratelimit.Limiter) {
		rel, err := l.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rel()
	}
	serial := func(l ratelimit.Limiter) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				once(b, l)
			}
		}
	}
	parallel := func(l ratelimit.Limiter) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((16 + procs - 1) / procs) // 16 goroutines in all
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					once(b, l)
				}
			})
		}
	}
	b.Run("local", serial(local))
	b.Run("redis", serial(shared))
	b.Run("local-parallel16", parallel(local))
	b.Run("redis-parallel16", parallel(shared))
	b.Run("side-by-side", func(b *testing.B) {
		var tl, tr time.Duration
		for b.Loop() {
			t0 := time.Now()
			once(b, local)
			t1 := time.Now()
			once(b, shared)
			tr += time.Since(t1)
			tl += t1.Sub(t0)
		}
		n := float64(b.N)
		b.ReportMetric(float64(tl.Nanoseconds())/n, "local-ns/op")
		b.ReportMetric(float64(tr.Nanoseconds())/n, "redis-ns/op")
		b.ReportMetric(float64(tr)/float64(tl), "redis/local")
	})
}
