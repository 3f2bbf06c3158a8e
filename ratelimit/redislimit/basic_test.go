package redislimit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokentik/kentik/ratelimit"
)

func TestConcurrencyCapManyLimiters(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "concurrency=2,1000/1s")
	var log callLog
	var ls []*Limiter
	for range 3 {
		l := newTest(t, srv, p)
		log.hook(l)
		ls = append(ls, l)
	}
	var inflight, maxInflight atomic.Int64
	var wg sync.WaitGroup
	for i := range 24 {
		l := ls[i%len(ls)]
		wg.Go(func() {
			for range 8 {
				rel, err := l.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				start := time.Now()
				n := inflight.Add(1)
				for m := maxInflight.Load(); n > m && !maxInflight.CompareAndSwap(m, n); m = maxInflight.Load() {
				}
				time.Sleep(time.Millisecond)
				inflight.Add(-1)
				log.call(start, time.Now())
				rel()
			}
		})
	}
	wg.Wait()
	if m := maxInflight.Load(); m > 2 {
		t.Errorf("%d calls in flight at once, cap 2", m)
	}
	if m := maxOverlap(log.intervals); m > 2 {
		t.Errorf("%d call intervals overlap, cap 2", m)
	}
	if len(log.admits) != 24*8 {
		t.Errorf("%d admissions, want %d", len(log.admits), 24*8)
	}
	checkWindows(t, log.admits, p)
}

func TestDeadlineFailsAtOnce(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "1/1s")
	a, b := newTest(t, srv, p), newTest(t, srv, p)
	rel, err := a.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = b.Acquire(ctx) // another "process": its own local limiter is empty
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Acquire took %v to fail, want at once", d)
	}
	var we *ratelimit.WaitError
	if !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &we) {
		t.Fatalf("error %v: want ErrLimited and DeadlineExceeded", err)
	}
	if we.Wait < 900*time.Millisecond || we.Wait > 1010*time.Millisecond || we.Policy != "1/1s" {
		t.Errorf("WaitError %+v", we)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	rel, err = b.Acquire(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("second admission after %v, want >= 1s", waited)
	}
	if !strings.Contains(err2s(err), "") {
		t.Fatal()
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
