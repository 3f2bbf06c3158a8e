package ratelimit

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// hugePolicy has windows and a cap so large that no call ever waits: the
// benchmarks measure the bookkeeping cost of Acquire and release.
func hugePolicy(concurrency int) Policy {
	return Policy{
		Name:        "custom",
		Concurrency: concurrency,
		Windows:     []Window{{Limit: 1 << 40, Period: time.Minute}, {Limit: 1 << 40, Period: time.Hour}},
	}
}

func BenchmarkLimiter(b *testing.B) {
	ctx := context.Background()
	serial := func(l Limiter) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rel, err := l.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				rel()
			}
		}
	}
	parallel64 := func(l Limiter) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((64 + procs - 1) / procs) // 64 goroutines in all
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rel, err := l.Acquire(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					rel()
				}
			})
		}
	}
	b.Run("off", serial(New(Off)))
	b.Run("off-parallel64", parallel64(New(Off)))
	b.Run("windows", serial(New(hugePolicy(0))))
	b.Run("windows-parallel64", parallel64(New(hugePolicy(0))))
	b.Run("concurrency-windows-parallel64", parallel64(New(hugePolicy(1<<30))))
}

func BenchmarkEnforcer(b *testing.B) {
	e := NewEnforcer(Query.Scale(1e6)) // windows of 60µs and 3.6ms: some admitted, some rejected
	b.ReportAllocs()
	for b.Loop() {
		_, done := e.Admit(time.Now())
		done()
	}
}
