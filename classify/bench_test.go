package classify

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeBigPlan writes a CSV plan of n rows (ids 1000001...) over 8 groups, streaming.
func writeBigPlan(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	groups := []string{"transit,external,Acme", "transit,external,Zayo", "ix,external,DE-CIX", "ix,external,AMS-IX",
		"paid_pni,external,Beta", "free_pni,external,Gamma", "backbone,internal,", "customer,external,"}
	fmt.Fprintln(w, "interface_id,connectivity_type,network_boundary,provider")
	for i := range n {
		fmt.Fprintf(w, "%d,%s\n", 1000001+i, groups[(i*31)%len(groups)])
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// heapSampler records the largest live heap (objects plus unused spans kept by the
// runtime, i.e. heap in use) seen every few milliseconds.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() {
		metrics.Read(samples)
		v := samples[0].Value.Uint64() + samples[1].Value.Uint64()
		for {
			old := h.peak.Load()
			if v <= old || h.peak.CompareAndSwap(old, v) {
				return
			}
		}
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-h.stop:
				read()
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) done() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak.Load()
}

// BenchmarkPlanMillion parses, validates and plans a 1,000,000-row plan (pass 1) and
// cuts it into batches (pass 2), reporting time, allocations and the peak heap in use.
//
//	go test -run '^$' -bench PlanMillion -benchtime 3x -benchmem ./classify/
func BenchmarkPlanMillion(b *testing.B) {
	path := filepath.Join(b.TempDir(), "million.csv")
	writeBigPlan(b, path, 1_000_000)
	ctx := context.Background()
	runtime.GC()
	h := startHeapSampler()
	b.ReportAllocs()
	var loadTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		p, err := Load(ctx, path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		loadTime += time.Since(t0)
		n := 0
		if err := p.Batches(ctx, func(bt Batch) error { n += len(bt.IDs); return nil }); err != nil {
			b.Fatal(err)
		}
		if n != 1_000_000 || p.Requests() != 1000 {
			b.Fatalf("%d ids in %d requests", n, p.Requests())
		}
	}
	peak := h.done()
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(loadTime.Seconds()/float64(b.N), "pass1-s/op")
}
