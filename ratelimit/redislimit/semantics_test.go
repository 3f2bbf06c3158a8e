package redislimit

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokentik/kentik/ratelimit"
)

// runWorkers runs workers goroutines spread over ls, calls each, holding
// every call for hold, and records them in log.
func runWorkers(t *testing.T, ls []*Limiter, log *callLog, workers, calls int, hold time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range workers {
		l := ls[i%len(ls)]
		wg.Go(func() {
			for range calls {
				rel, err := l.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				start := time.Now()
				time.Sleep(hold)
				log.call(start, time.Now())
				rel()
			}
		})
	}
	wg.Wait()
}

// Calls are paced to the tightest window, as the local limiter paces them,
// whichever of several limiters (processes) they go through.
func TestPacingToTightestWindow(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "concurrency=4,10/200ms,30/1s")
	var log callLog
	ls := []*Limiter{newTest(t, srv, p), newTest(t, srv, p)}
	for _, l := range ls {
		log.hook(l)
	}
	start := time.Now()
	runWorkers(t, ls, &log, 64, 1, time.Millisecond)
	elapsed := time.Since(start)
	checkWindows(t, log.admits, p)
	if m := maxOverlap(log.intervals); m > 4 {
		t.Errorf("%d calls in flight at once, cap 4", m)
	}
	// 64 calls: two full 30/1.005s periods, then 4 more.
	if ideal := 2010 * time.Millisecond; elapsed < ideal || elapsed > ideal+time.Second {
		t.Errorf("64 calls took %v, ideal %v", elapsed, ideal)
	}
}

// A call that waits only for a call in flight waits until its deadline.
func TestConcurrencyWaitsUntilDeadline(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "concurrency=1")
	a, b := newTest(t, srv, p), newTest(t, srv, p)
	rel, err := a.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = b.Acquire(ctx)
	if !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Errorf("returned after %v, before the deadline", d)
	}
	if n := srv.Client(t).ZCard(context.Background(), b.keys.all[kQueue]).Val(); n != 0 {
		t.Errorf("%d places left in the queue after the deadline", n)
	}
}

// Waiters cancelled leave nothing behind; the slot goes to the next in line.
func TestCancelWhileWaiting(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "concurrency=1,1000/1s")
	holder, waiters := newTest(t, srv, p), newTest(t, srv, p)
	rel, err := holder.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rdb := srv.Client(t)
	cctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := waiters.Acquire(cctx)
		errs <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); rdb.ZCard(context.Background(), holder.keys.all[kQueue]).Val() != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the waiter did not queue")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errs; !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	if n := rdb.ZCard(context.Background(), holder.keys.all[kQueue]).Val(); n != 0 {
		t.Errorf("%d places left in the queue", n)
	}
	// The next waiter is woken by the release, not by a timer: well within
	// a third of the lease TTL.
	got := make(chan time.Time, 1)
	go func() {
		rel, err := waiters.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		} else {
			rel()
		}
		got <- time.Now()
	}()
	for rdb.ZCard(context.Background(), holder.keys.all[kQueue]).Val() != 1 {
		time.Sleep(time.Millisecond)
	}
	released := time.Now()
	rel()
	rel() // a second release is ignored
	if d := (<-got).Sub(released); d > 500*time.Millisecond {
		t.Errorf("waiter admitted %v after the release", d)
	}
	if n := rdb.ZCard(context.Background(), holder.keys.all[kLease]).Val(); n != 0 {
		t.Errorf("%d leases left", n)
	}
}

// A push-back seen by one process holds back the others.
func TestPushBackShared(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "concurrency=4,1000/1s")
	a, b := newTest(t, srv, p), newTest(t, srv, p)
	a.PushBack(300 * time.Millisecond)
	a.PushBack(100 * time.Millisecond) // does not shorten it
	a.PushBack(-time.Second)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx); !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire during the push-back: %v", err)
	} else if time.Since(start) > 50*time.Millisecond {
		t.Errorf("took %v to fail", time.Since(start))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rel, err := b.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			if d := time.Since(start); d < 290*time.Millisecond {
				t.Errorf("call started %v after a 300ms push-back", d)
			}
			rel()
		})
	}
	wg.Wait()
	// A push-back while a call waits makes its deadline unreachable: it fails at once.
	rel, err := a.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	c := newTest(t, srv, mustParse(t, "concurrency=1"))
	crel, _ := c.Acquire(context.Background())
	res := make(chan error, 1)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	d := newTest(t, srv, mustParse(t, "concurrency=1"))
	go func() {
		_, err := d.Acquire(ctx2)
		res <- err
	}()
	time.Sleep(50 * time.Millisecond)
	pushed := time.Now()
	c.PushBack(time.Hour)
	if err := <-res; !errors.Is(err, context.DeadlineExceeded) || time.Since(pushed) > time.Second {
		t.Fatalf("waiter after a push-back: %v after %v", err, time.Since(pushed))
	}
	crel()
}

// A push-back beyond ratelimit.MaxPushBack is capped.
func TestPushBackCapped(t *testing.T) {
	srv := startRedis(t)
	l := newTest(t, srv, mustParse(t, "100/1s"))
	l.PushBack(time.Duration(math.MaxInt64))
	rdb := srv.Client(t)
	ctx := context.Background()
	ttl := rdb.PTTL(ctx, l.keys.all[kPush]).Val()
	nb, _ := rdb.Get(ctx, l.keys.all[kPush]).Int64()
	now := rdb.Time(ctx).Val().UnixMicro()
	if ttl > ratelimit.MaxPushBack+time.Second || ttl < ratelimit.MaxPushBack-time.Minute {
		t.Errorf("push-back key TTL %v, want about %v", ttl, ratelimit.MaxPushBack)
	}
	if d := micros(nb - now); d > ratelimit.MaxPushBack || d < ratelimit.MaxPushBack-time.Minute {
		t.Errorf("push-back ends in %v, want about %v", d, ratelimit.MaxPushBack)
	}
}

// A call that has to wait takes its place in one queue shared by every
// process: a process that releases and at once acquires again does not
// starve another one waiting.
func TestFIFOAcrossProcesses(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "concurrency=1")
	a, b := newTest(t, srv, p), newTest(t, srv, p)
	var na, nb atomic.Int64
	end := time.Now().Add(600 * time.Millisecond)
	var wg sync.WaitGroup
	for _, x := range []struct {
		l *Limiter
		n *atomic.Int64
	}{{a, &na}, {b, &nb}} {
		wg.Go(func() {
			for time.Now().Before(end) {
				rel, err := x.l.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				x.n.Add(1)
				time.Sleep(200 * time.Microsecond)
				rel()
			}
		})
	}
	wg.Wait()
	t.Logf("admissions: process a %d, process b %d", na.Load(), nb.Load())
	lo, hi := min(na.Load(), nb.Load()), max(na.Load(), nb.Load())
	if lo*10 < hi*8 { // they take turns: within one of each other, give or take the end
		t.Errorf("admissions a %d, b %d: not taking turns", na.Load(), nb.Load())
	}
}

// A waiter that vanished without cancelling (killed) holds up the queue for
// at most the lease TTL.
func TestVanishedWaiterExpires(t *testing.T) {
	srv := startRedis(t)
	const ttl = 300 * time.Millisecond
	l := newTest(t, srv, mustParse(t, "concurrency=1"), WithLeaseTTL(ttl))
	rdb := srv.Client(t)
	ctx := context.Background()
	now := rdb.Time(ctx).Val().UnixMicro()
	rdb.ZAdd(ctx, l.keys.all[kQueue], redisZ(0, "ghost"))
	rdb.ZAdd(ctx, l.keys.all[kExpiry], redisZ(float64(now+ttl.Microseconds()), "ghost"))
	start := time.Now()
	rel, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if d := time.Since(start); d < ttl-50*time.Millisecond || d > ttl+ttl/3+100*time.Millisecond {
		t.Errorf("admitted after %v behind a vanished waiter, want about the lease TTL %v", d, ttl)
	}
}

// Random deadlines and cancellations over several limiters neither leak
// slots nor break the limits, and patient calls always get through (no lost
// wake-up): a watchdog fails the test instead of letting it hang.
func TestChurnNoLostWakeup(t *testing.T) {
	srv := startRedis(t)
	p := mustParse(t, "concurrency=2,40/100ms")
	var log callLog
	ls := []*Limiter{newTest(t, srv, p), newTest(t, srv, p), newTest(t, srv, p)}
	for _, l := range ls {
		log.hook(l)
	}
	var patientOK, impatientOK, failed atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(time.Second)
	hold := func(rng *rand.Rand) (time.Time, time.Time) {
		s := time.Now()
		time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
		return s, time.Now()
	}
	for i := range 24 {
		l := ls[i%len(ls)]
		patient := i%3 == 0
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			for time.Now().Before(end) {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if !patient {
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(40))*time.Millisecond)
					if rng.IntN(4) == 0 {
						time.AfterFunc(time.Duration(rng.IntN(5))*time.Millisecond, cancel)
					}
				}
				rel, err := l.Acquire(ctx)
				if err != nil {
					if patient || !errors.Is(err, ratelimit.ErrLimited) || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
						t.Errorf("unexpected error %v", err)
					}
					failed.Add(1)
				} else {
					if patient {
						patientOK.Add(1)
					} else {
						impatientOK.Add(1)
					}
					s, e := hold(rng)
					log.call(s, e)
					rel()
				}
				cancel()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("stuck: patient %d impatient %d failed %d (a lost wake-up?)", patientOK.Load(), impatientOK.Load(), failed.Load())
	}
	t.Logf("patient %d, impatient %d admitted, %d failed", patientOK.Load(), impatientOK.Load(), failed.Load())
	if patientOK.Load() == 0 || impatientOK.Load() == 0 || failed.Load() == 0 {
		t.Error("the test did not exercise every path")
	}
	checkWindows(t, log.admits, p)
	if m := maxOverlap(log.intervals); m > 2 {
		t.Errorf("%d calls in flight at once, cap 2", m)
	}
	rdb := srv.Client(t)
	ctx := context.Background()
	if n := rdb.ZCard(ctx, ls[0].keys.all[kLease]).Val(); n != 0 {
		t.Errorf("%d leases left", n)
	}
	if n := rdb.ZCard(ctx, ls[0].keys.all[kQueue]).Val(); n != 0 {
		t.Errorf("%d places left in the queue", n)
	}
}

// An off policy never talks to Redis: not even a client that points nowhere
// makes it fail.
func TestOffNoTraffic(t *testing.T) {
	rdb := newNowhereClient(t)
	l, err := New(context.Background(), rdb, testScope, ratelimit.Off)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 3 {
		rel, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
	l.PushBack(time.Second)
	if l.Key() != "" {
		t.Errorf("Key %q for an off policy", l.Key())
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(canceled); !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, context.Canceled) {
		t.Errorf("off with a cancelled context: %v", err)
	}
}

// The account is stored only as a hash, equivalent policies share keys and
// different ones do not, and every key but the epoch expires.
func TestKeys(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	admin := newTest(t, srv, ratelimit.Admin)
	same := newTest(t, srv, mustParse(t, "3750/1h, concurrency=1, 60/1m, soft=20/1m:1.5s"))
	other := newTest(t, srv, mustParse(t, "concurrency=2,60/1m,3750/1h"))
	if admin.Key() != same.Key() {
		t.Errorf("equivalent policies: keys %q and %q", admin.Key(), same.Key())
	}
	if admin.Key() == other.Key() {
		t.Error("different policies share keys")
	}
	l2, err := New(ctx, rdb, Scope{Account: " OPS@example.com ", Class: "admin"}, ratelimit.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Key() != admin.Key() {
		t.Errorf("the account's case and spaces change the key: %q, %q", l2.Key(), admin.Key())
	}
	rel, err := admin.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin.PushBack(time.Millisecond)
	all, _ := rdb.Keys(ctx, "*").Result()
	for _, k := range all {
		if strings.Contains(strings.ToLower(k), "ops") || strings.Contains(k, "example") {
			t.Errorf("key %q shows the account", k)
		}
		if !strings.HasPrefix(k, "kentik:ratelimit:{") {
			t.Errorf("key %q outside the prefix", k)
		}
		if ttl := rdb.PTTL(ctx, k).Val(); ttl < 0 && !strings.HasSuffix(k, ":epoch") {
			t.Errorf("key %q does not expire", k)
		}
	}
	rel()
	for _, bad := range []Scope{{Account: "", Class: "admin"}, {Account: "a@b", Class: ""}, {Account: "a@b", Class: "ad{min}"}, {Account: "a@b", Class: strings.Repeat("x", 65)}} {
		if _, err := New(ctx, rdb, bad, ratelimit.Admin); err == nil {
			t.Errorf("scope %+v accepted", bad)
		}
	}
	if _, err := New(ctx, rdb, testScope, ratelimit.Policy{Windows: []ratelimit.Window{{Limit: 0, Period: time.Second}}}); err == nil {
		t.Error("an invalid policy accepted")
	}
	if _, err := New(ctx, rdb, testScope, ratelimit.Admin, WithLeaseTTL(time.Millisecond)); err == nil {
		t.Error("a 1ms lease TTL accepted")
	}
	if _, err := New(ctx, rdb, testScope, ratelimit.Admin.Scale(1e12)); err == nil {
		t.Error("sub-microsecond windows accepted")
	}
	if _, err := New(ctx, nil, testScope, ratelimit.Admin); err == nil {
		t.Error("a nil client accepted")
	}
}

// After Close, Acquire fails with ErrClosed; Close is idempotent, and stops
// the limiter's goroutines.
func TestClose(t *testing.T) {
	srv := startRedis(t)
	l, err := New(context.Background(), srv.Client(t), testScope, mustParse(t, "concurrency=1"), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	l.wake.ensure() // a subscription to stop too
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: %v", err)
	}
	select {
	case <-l.done:
	default:
		t.Error("the renewer still runs after Close")
	}
}
