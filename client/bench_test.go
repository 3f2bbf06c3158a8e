package client

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/internal/testserver"
	"github.com/gokentik/kentik/ratelimit"
)

// The benchmarks compare the generated client on a plain connection ("bare")
// with the full Client ("chain": typed errors, logging at a level that drops
// every line, retry, a limiter with policy off, per-RPC credentials) against
// the same loopback server, which checks the credentials on both. Run:
//
//	go test -run '^$' -bench Unary -benchmem -count 5 ./client
//
// bare and chain run one after the other, so on a shared machine their ratio
// carries the drift between the two runs (±10 % is common). The "ratio"
// sub-benchmarks cancel it: every iteration makes one bare and one chain call,
// bare first on even iterations and chain first on odd ones, and times each,
// so both clients see the same machine at the same moment. They report:
//
//	chain/bare                 total chain time / total bare time, without the 5 % slowest pairs (see keepPairs); target <= 1.05
//	chain/bare-p50             median chain call / median bare call
//	chain/bare-all             as chain/bare, over all pairs (at the mercy of the machine's stalls)
//	bare-ns/call chain-ns/call mean time of one call of each, over the pairs chain/bare keeps
//	extra-allocs/call extra-B/call  what a chain call allocates beyond a bare one; target <= 30
//	chain-throughput/bare      (parallel) total bare time / total chain time, trimmed the same way; target >= 0.95
//	chain-throughput/bare-p50, chain-throughput/bare-all  (parallel) as above

// benchPair is a bare and a full client of one loopback server.
type benchPair struct {
	bare, chain ifacev1.InterfaceServiceClient
}

func benchClients(b *testing.B, logLevel slog.Level, extra ...Option) benchPair {
	f := testserver.Start(b, testserver.Config{Token: testToken, NoRecord: true})
	cc, err := grpc.NewClient(f.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(interceptors.InsecurePerRPCCredentials(testCreds)),
		// The Client's user agent, so that the server receives the same
		// headers from both and does the same work for each.
		grpc.WithUserAgent("kentik-go/"+kentik.Version))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	logger := slog.New(slog.NewTextHandler(nopWriter{}, &slog.HandlerOptions{Level: logLevel}))
	opts := append([]Option{WithEndpoint(f.Addr), WithPlaintext(), WithCredentials(testCreds),
		WithRateLimit(ratelimit.Off), WithLogger(logger)}, extra...)
	c, err := New(context.Background(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return benchPair{bare: ifacev1.NewInterfaceServiceClient(cc), chain: c.Interfaces()}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

var benchReq = &ifacev1.GetInterfaceRequest{Id: "42"}

// warm connects both clients and runs a few calls through each, outside any
// timing.
func (p benchPair) warm(b *testing.B) {
	ctx := context.Background()
	for range 20 {
		for _, ic := range []ifacev1.InterfaceServiceClient{p.bare, p.chain} {
			if _, err := ic.GetInterface(ctx, benchReq); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// call makes one bare and one chain call, bare first when i is even and chain
// first when i is odd, and returns how long each took. The three clock reads
// are shared, so whatever a read costs falls on both sides alike.
func (p benchPair) call(ctx context.Context, i int) (bare, chain time.Duration, err error) {
	first, second := p.bare, p.chain
	if i&1 == 1 {
		first, second = second, first
	}
	t0 := time.Now()
	if _, err = first.GetInterface(ctx, benchReq); err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	if _, err = second.GetInterface(ctx, benchReq); err != nil {
		return 0, 0, err
	}
	t2 := time.Now()
	if i&1 == 1 {
		return t2.Sub(t1), t1.Sub(t0), nil
	}
	return t1.Sub(t0), t2.Sub(t1), nil
}

// pairTimes collects the durations of the bare and the chain calls. Appending
// happens between calls, outside the timed windows.
type pairTimes struct {
	bare, chain []time.Duration
}

func (t *pairTimes) add(bare, chain time.Duration) {
	t.bare = append(t.bare, bare)
	t.chain = append(t.chain, chain)
}

func (t *pairTimes) merge(o *pairTimes) {
	t.bare = append(t.bare, o.bare...)
	t.chain = append(t.chain, o.chain...)
}

// keepPairs is the share of pairs the trimmed figures keep: the pairs with
// the longest combined time are dropped. On a shared machine about 1 % of
// calls are stalled for 1-7 ms (another process has the core), against about
// 60 µs for a normal call, and those few decide a plain mean. A stall lands on
// whichever call happens to run, and a pair is dropped for its combined time,
// never for which of its two calls was slow, so trimming favours neither
// client.
const keepPairs = 0.95

// pairStats are the figures of a run of pairs.
type pairStats struct {
	bareNs, chainNs float64 // mean time of one call, over the kept pairs
	ratio           float64 // chain/bare of the total times, over the kept pairs
	median          float64 // median chain call / median bare call
	all             float64 // chain/bare of the total times, over all pairs
}

func (t *pairTimes) stats() pairStats {
	n := len(t.bare)
	if n == 0 {
		return pairStats{}
	}
	tot := make([]time.Duration, n)
	for i := range n {
		tot[i] = t.bare[i] + t.chain[i]
	}
	slices.Sort(tot)
	cut := tot[min(n-1, int(keepPairs*float64(n)))]
	var sb, sc, ab, ac float64
	kept := 0
	for i := range n {
		b, c := float64(t.bare[i]), float64(t.chain[i])
		ab += b
		ac += c
		if t.bare[i]+t.chain[i] <= cut {
			sb += b
			sc += c
			kept++
		}
	}
	med := func(ds []time.Duration) float64 {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		if len(ds)%2 == 1 {
			return float64(ds[len(ds)/2])
		}
		return (float64(ds[len(ds)/2-1]) + float64(ds[len(ds)/2])) / 2
	}
	return pairStats{
		bareNs:  sb / float64(kept),
		chainNs: sc / float64(kept),
		ratio:   sc / sb,
		median:  med(t.chain) / med(t.bare),
		all:     ac / ab,
	}
}

// extraAllocs measures what a chain call allocates beyond a bare one,
// process-wide (the in-process server's and transports' allocations are the
// same for both clients and cancel in the difference). Each round runs a block
// of bare calls and a block of chain calls, in alternating order, and the
// result is the median over the rounds of the difference: a sync.Pool emptied
// by a GC makes the next block refill it, which would otherwise put tens of
// kilobytes on whichever client runs then. Not timed.
func (p benchPair) extraAllocs(b *testing.B) (allocs, bytes float64) {
	const rounds, perBlock = 9, 50
	ctx := context.Background()
	var ms runtime.MemStats
	block := func(ic ifacev1.InterfaceServiceClient) (allocs, bytes float64) {
		runtime.ReadMemStats(&ms)
		m0, b0 := ms.Mallocs, ms.TotalAlloc
		for range perBlock {
			if _, err := ic.GetInterface(ctx, benchReq); err != nil {
				b.Fatal(err)
			}
		}
		runtime.ReadMemStats(&ms)
		return float64(ms.Mallocs-m0) / perBlock, float64(ms.TotalAlloc-b0) / perBlock
	}
	var da, db []float64
	for i := range rounds {
		var ba, bb, ca, cb float64
		if i&1 == 0 {
			ba, bb = block(p.bare)
			ca, cb = block(p.chain)
		} else {
			ca, cb = block(p.chain)
			ba, bb = block(p.bare)
		}
		da = append(da, ca-ba)
		db = append(db, cb-bb)
	}
	slices.Sort(da)
	slices.Sort(db)
	return da[rounds/2], db[rounds/2]
}

func unaryLoop(ic ifacev1.InterfaceServiceClient) func(*testing.B) {
	return func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ic.GetInterface(ctx, benchReq); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkUnary(b *testing.B) {
	quiet := benchClients(b, slog.LevelError+4)
	infolog := benchClients(b, slog.LevelInfo)
	b.Run("bare", unaryLoop(quiet.bare))
	b.Run("chain", unaryLoop(quiet.chain))
	b.Run("chain-infolog", unaryLoop(infolog.chain))
	b.Run("ratio", quiet.ratio)
}

// ratio is the interleaved ratio benchmark of p (see the top of this file).
func (p benchPair) ratio(b *testing.B) {
	p.warm(b)
	ctx := context.Background()
	var t pairTimes
	b.ReportAllocs() // per iteration: one bare and one chain call
	i := 0
	for b.Loop() {
		bd, cd, err := p.call(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		t.add(bd, cd)
		i++
	}
	// b.Loop has stopped the timer.
	st := t.stats()
	b.ReportMetric(st.ratio, "chain/bare")
	b.ReportMetric(st.median, "chain/bare-p50")
	b.ReportMetric(st.all, "chain/bare-all")
	b.ReportMetric(st.bareNs, "bare-ns/call")
	b.ReportMetric(st.chainNs, "chain-ns/call")
	extraAllocs, extraBytes := p.extraAllocs(b)
	b.ReportMetric(extraAllocs, "extra-allocs/call")
	b.ReportMetric(extraBytes, "extra-B/call")
}

func BenchmarkUnaryParallel(b *testing.B) {
	clients := benchClients(b, slog.LevelError+4)
	for _, name := range []string{"bare", "chain"} {
		ic := clients.bare
		if name == "chain" {
			ic = clients.chain
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := ic.GetInterface(ctx, benchReq); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	// Every goroutine alternates the two clients as BenchmarkUnary/ratio does,
	// starting on a parity of its own so that at any moment about as many bare
	// as chain calls are in flight. The time of a goroutine's calls through a
	// client is what that client's throughput costs it, so total bare time /
	// total chain time is chain's throughput relative to bare.
	b.Run("ratio", func(b *testing.B) {
		clients.warm(b)
		var (
			mu   sync.Mutex
			all  pairTimes
			next atomic.Int64
		)
		b.ReportAllocs() // per iteration: one bare and one chain call
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			var mine pairTimes
			i := int(next.Add(1))
			for pb.Next() {
				bd, cd, err := clients.call(ctx, i)
				if err != nil {
					b.Error(err)
					return
				}
				mine.add(bd, cd)
				i++
			}
			mu.Lock()
			all.merge(&mine)
			mu.Unlock()
		})
		b.StopTimer()
		if len(all.bare) == 0 {
			return
		}
		st := all.stats()
		b.ReportMetric(1/st.ratio, "chain-throughput/bare")
		b.ReportMetric(1/st.median, "chain-throughput/bare-p50")
		b.ReportMetric(1/st.all, "chain-throughput/bare-all")
		b.ReportMetric(st.bareNs, "bare-ns/call")
		b.ReportMetric(st.chainNs, "chain-ns/call")
	})
}
