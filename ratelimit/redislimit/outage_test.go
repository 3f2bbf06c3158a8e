package redislimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gokentik/kentik/internal/redisserver"
	"github.com/gokentik/kentik/ratelimit"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Redis restarted in the middle of a run (without persistence: it comes back
// empty): no limit is exceeded, calls fail with the clear error while it is
// away, and the limiters recover, putting back what they knew.
func TestRedisRestartedMidRun(t *testing.T) {
	srv := startRedis(t)
	const ttl = 300 * time.Millisecond
	// The window outlasts the outage, so the admissions made before it
	// still count after it: Redis comes back empty, the limiters must put
	// them back.
	p := mustParse(t, "concurrency=2,10/1500ms")
	var log callLog
	var ls []*Limiter
	for range 3 {
		l := newTest(t, srv, p, WithLeaseTTL(ttl))
		log.hook(l)
		ls = append(ls, l)
	}
	var before, after, unavailable atomic.Int64
	var restarted atomic.Bool
	var wg sync.WaitGroup
	end := time.Now().Add(2200 * time.Millisecond)
	for i := range 9 {
		l := ls[i%len(ls)]
		wg.Go(func() {
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Until(end))
				rel, err := l.Acquire(ctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					return
				}
				if err != nil {
					var ue *UnavailableError
					if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.Addr != srv.Addr() {
						t.Errorf("error %v: want an UnavailableError naming %s", err, srv.Addr())
						return
					}
					unavailable.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if restarted.Load() {
					after.Add(1)
				} else {
					before.Add(1)
				}
				s := time.Now()
				time.Sleep(5 * time.Millisecond)
				log.call(s, time.Now())
				rel()
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	srv.Stop()
	time.Sleep(time.Second) // longer than go-redis's own dial retries (5 x 100ms)
	srv.Restart()
	restarted.Store(true)
	wg.Wait()
	t.Logf("admitted %d before the restart, %d after; %d calls failed while Redis was away", before.Load(), after.Load(), unavailable.Load())
	if before.Load() == 0 || after.Load() == 0 || unavailable.Load() == 0 {
		t.Error("the run did not go through every phase")
	}
	checkWindows(t, log.admits, p)
	if m := maxOverlap(log.intervals); m > 2 {
		t.Errorf("%d calls in flight at once, cap 2", m)
	}
}

// A restart while a call is in flight: its lease is put back by the renewer,
// so no other process takes the slot the running call still uses.
func TestRestartKeepsHeldLease(t *testing.T) {
	srv := startRedis(t)
	const ttl = 300 * time.Millisecond
	p := mustParse(t, "concurrency=1")
	holder, other := newTest(t, srv, p, WithLeaseTTL(ttl)), newTest(t, srv, p, WithLeaseTTL(ttl))
	rel, err := holder.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Restart()
	// After the restart, the first script to run finds no epoch: admissions
	// pause for the lease TTL while the holder's renewer puts its lease back.
	ctx, cancel := context.WithTimeout(context.Background(), 3*ttl)
	defer cancel()
	if r2, err := other.Acquire(ctx); err == nil {
		r2()
		t.Fatal("another process took the slot of a call in flight after Redis restarted")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for the held slot: %v", err)
	}
	rel()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	r3, err := other.Acquire(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	r3()
}

// Redis down at the start: New fails with an error that names Redis, the
// address and what to check; with WithFallback it logs a warning, calls go
// on under the in-process limiter, and the limiter goes back to Redis once
// it answers.
func TestRedisDownAtStart(t *testing.T) {
	redisserver.Require(t, pkgName)
	addr := closedAddr(t)
	p := mustParse(t, "concurrency=1,5/200ms")
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: "s3cret-pw", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	_, err := New(context.Background(), rdb, testScope, p)
	var ue *UnavailableError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) {
		t.Fatalf("New with Redis down: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"Redis", addr, "check", "WithFallback"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret-pw") || errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("message %q shows the password, or claims a rate limit", msg)
	}

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	const ttl = 150 * time.Millisecond
	l, err := New(context.Background(), rdb, testScope, p, WithFallback(), WithLogger(logger), WithLeaseTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "falling back") || !strings.Contains(logs.String(), addr) {
		t.Errorf("no fallback warning naming %s: %s", addr, logs.String())
	}
	// The fallback is the same policy in-process: never unlimited.
	var log callLog
	log.hook(l)
	start := time.Now()
	for range 10 {
		rel, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("10 calls under 5/200ms took %v in fallback: not limited", d)
	}

	// Redis comes up at that address: the limiter goes back to it and puts
	// back its recent admissions.
	srv := redisserver.StartAt(t, pkgName, addr, redisserver.Options{Password: "s3cret-pw"})
	for deadline := time.Now().Add(5 * time.Second); l.inFallback(); {
		if time.Now().After(deadline) {
			t.Fatalf("still in fallback 5s after Redis came up; logs: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "Redis answers again") {
		t.Errorf("no log of the return to Redis: %s", logs.String())
	}
	n := srv.Client(t).ZCard(context.Background(), l.keys.all[kWindow]).Val()
	if n == 0 {
		t.Error("the fallback's recent admissions were not put back into Redis")
	}
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	checkWindows(t, log.admits, p)
}
