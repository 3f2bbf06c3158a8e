package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustParse(t testing.TB, s string) Policy {
	t.Helper()
	p, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder keeps the admission times of a limiter (from its test hook) and
// feeds them to an Enforcer as if the server received every call at the
// instant it was admitted.
type recorder struct {
	l      *limiter
	times  []int64 // ns since l.base; appended under l.mu
	enf    *Enforcer
	dones  chan func()
	denied atomic.Int64
}

func newRecorder(t testing.TB, p Policy, opts ...Option) *recorder {
	t.Helper()
	l, ok := New(p, opts...).(*limiter)
	if !ok {
		t.Fatalf("New(%v) is not a *limiter", p)
	}
	r := &recorder{l: l, enf: NewEnforcer(p), dones: make(chan func(), 1<<16)}
	l.onAdmit = func(at int64) {
		r.times = append(r.times, at)
		d, done := r.enf.Admit(l.base.Add(time.Duration(at)))
		if !d.Allowed {
			r.denied.Add(1)
		}
		r.dones <- done
	}
	return r
}

// finish tells the server that one call was answered (the server does not
// know which call a client finishes, but only their number matters).
func (r *recorder) finish() { (<-r.dones)() }

func (r *recorder) snapshot() []int64 {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	return append([]int64(nil), r.times...)
}

// checkWindows verifies, by sliding over the sorted admission times, that no
// window ever held more than its Limit admissions within Period+margin.
func checkWindows(t *testing.T, times []int64, p Policy, margin func(time.Duration) time.Duration) {
	t.Helper()
	ts := append([]int64(nil), times...)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	for _, w := range p.Windows {
		span := int64(w.Period + margin(w.Period))
		for i := w.Limit; i < len(ts); i++ {
			if gap := ts[i] - ts[i-w.Limit]; gap < span {
				t.Fatalf("window %v: admissions %d and %d are %v apart, want >= %v", w, i-w.Limit, i, time.Duration(gap), time.Duration(span))
			}
		}
	}
}

func defaultMargin(p time.Duration) time.Duration { return min(p/200, 250*time.Millisecond) }

func (l *limiter) state() (inflight, queued int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight, l.queued
}

func TestNewKinds(t *testing.T) {
	if _, ok := New(Off).(offLimiter); !ok {
		t.Error("New(Off) is not the no-op limiter")
	}
	if _, ok := New(Policy{Soft: Admin.Soft}).(offLimiter); !ok {
		t.Error("a soft-only policy should be off for clients")
	}
	bad := New(Policy{Windows: []Window{{0, time.Second}}})
	if _, err := bad.Acquire(context.Background()); err == nil || !strings.Contains(err.Error(), "limit must be positive") {
		t.Errorf("invalid policy: Acquire error %v", err)
	}
	if _, ok := New(Admin).(Pusher); !ok {
		t.Error("limiter is not a Pusher")
	}
	var nilCtx context.Context // a nil context must not make Acquire panic
	rel, err := New(Admin).Acquire(nilCtx)
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

func TestOffAllocs(t *testing.T) {
	l := New(Off)
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		rel, _ := l.Acquire(ctx)
		rel()
	}); n != 0 {
		t.Errorf("Off Acquire allocates %v times", n)
	}
	l = New(Policy{Windows: []Window{{1 << 40, time.Hour}}})
	if n := testing.AllocsPerRun(100, func() {
		rel, _ := l.Acquire(ctx)
		rel()
	}); n != 0 {
		t.Errorf("windows-only Acquire (no wait) allocates %v times", n)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := New(Off).Acquire(canceled); !errors.Is(err, ErrLimited) || !errors.Is(err, context.Canceled) {
		t.Errorf("Off with a canceled context: %v", err)
	}
}

// The limiter admits exactly as early as the windows allow, and no earlier.
func TestLimiterExactFakeClock(t *testing.T) {
	clk := newFakeClock()
	r := newRecorder(t, mustParse(t, "2/1s,3/10s"), WithClock(clk), WithMargin(0))
	ctx := context.Background()
	acquireNow := func() {
		t.Helper()
		rel, err := r.l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rel()
		r.finish()
	}
	// refused tries a call that must not start yet (its deadline expires first).
	refused := func() {
		t.Helper()
		short, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		if rel, err := r.l.Acquire(short); err == nil {
			rel()
			r.finish()
			t.Fatalf("admitted at %v", clk.Now())
		}
	}
	acquireNow()
	acquireNow()
	refused()

	// The third call waits for the 1s window, and not a nanosecond less.
	clk.Advance(time.Second - 1)
	refused()
	got := make(chan error, 1)
	go func() {
		rel, err := r.l.Acquire(ctx)
		if err == nil {
			rel()
			r.finish()
		}
		got <- err
	}()
	clk.waitPending(t, 1)
	select {
	case err := <-got:
		t.Fatalf("admitted 1ns early (err %v)", err)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(1)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	refused()
	// The fourth waits for the 10s window: the first admission leaves it at 10s.
	go func() {
		rel, err := r.l.Acquire(ctx)
		if err == nil {
			rel()
			r.finish()
		}
		got <- err
	}()
	clk.waitPending(t, 1)
	clk.Advance(9*time.Second - 1)
	refused()
	clk.Advance(1)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 0, int64(time.Second), int64(10 * time.Second)}
	if ts := r.snapshot(); len(ts) != len(want) || ts[0] != want[0] || ts[1] != want[1] || ts[2] != want[2] || ts[3] != want[3] {
		t.Errorf("admission times %v, want %v", ts, want)
	}
	if r.denied.Load() != 0 {
		t.Errorf("the server rejected %d calls", r.denied.Load())
	}
}

func TestLimiterDefaultMargin(t *testing.T) {
	clk := newFakeClock()
	r := newRecorder(t, mustParse(t, "1/1s"), WithClock(clk))
	rel, err := r.l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if rel, err := r.l.Acquire(context.Background()); err == nil {
			rel()
		}
	}()
	clk.waitPending(t, 1)
	clk.Advance(time.Second)
	clk.waitPending(t, 1) // re-armed for the margin
	clk.Advance(5 * time.Millisecond)
	<-done
	if ts := r.snapshot(); ts[1] != int64(time.Second+5*time.Millisecond) {
		t.Errorf("second admission at %v, want 1.005s", time.Duration(ts[1]))
	}
}

func TestLimiterDeadlineFailsAtOnce(t *testing.T) {
	l := New(mustParse(t, "1/1s"))
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = l.Acquire(ctx)
	elapsed := time.Since(start)
	if elapsed > 50*time.Millisecond {
		t.Errorf("Acquire took %v to fail, want at once", elapsed)
	}
	if !errors.Is(err, ErrLimited) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v: want ErrLimited and DeadlineExceeded", err)
	}
	var we *WaitError
	if !errors.As(err, &we) || we.Wait < 900*time.Millisecond || we.Wait > 1010*time.Millisecond || we.Policy != "1/1s" {
		t.Errorf("WaitError %+v", we)
	}
	if !strings.Contains(err.Error(), "deadline") || !strings.Contains(err.Error(), "1/1s") {
		t.Errorf("message %q", err)
	}
	// The failed call took nothing: with a long enough deadline it waits and succeeds.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if rel, err := l.Acquire(ctx2); err != nil {
		t.Fatal(err)
	} else {
		rel()
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("second admission after %v, want >= 1s", waited)
	}
}

// A waiter queued behind others fails at once when its deadline comes before
// its turn could.
func TestLimiterQueuedDeadline(t *testing.T) {
	clk := newFakeClock()
	l := New(mustParse(t, "1/1s"), WithClock(clk), WithMargin(0)).(*limiter)
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	first := make(chan error, 1)
	go func() {
		rel, err := l.Acquire(context.Background())
		if err == nil {
			rel()
		}
		first <- err
	}()
	clk.waitPending(t, 1) // the head waits for 1s (fake)
	// Second in line: its slot is 2s (fake) away; a 1.5s (real) deadline cannot make it.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = l.Acquire(ctx)
	var we *WaitError
	if !errors.As(err, &we) || we.Wait != 2*time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued Acquire: %v (%+v)", err, we)
	}
	if time.Since(start) > 50*time.Millisecond {
		t.Errorf("queued Acquire took %v to fail", time.Since(start))
	}
	if _, q := l.state(); q != 1 {
		t.Errorf("queue length %d, want 1", q)
	}
	clk.Advance(time.Second)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// A call arriving while others wait queues behind them, even if the slot
// they wait for is free at that instant.
func TestLimiterFIFO(t *testing.T) {
	clk := newFakeClock()
	l := New(mustParse(t, "1/1s"), WithClock(clk), WithMargin(0)).(*limiter)
	rel, _ := l.Acquire(context.Background())
	rel()
	first := make(chan error, 1)
	go func() {
		rel, err := l.Acquire(context.Background())
		if err == nil {
			rel()
		}
		first <- err
	}()
	clk.waitPending(t, 1)
	clk.Advance(time.Second) // the waiter's slot is free now, whether it has woken up or not
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if rel, err := l.Acquire(ctx); err == nil {
		rel()
		t.Fatal("a newcomer overtook the waiting call")
	} else if we := (*WaitError)(nil); !errors.As(err, &we) || we.Wait != time.Second {
		t.Fatalf("newcomer: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestLimiterConcurrencyWaitsUntilDeadline(t *testing.T) {
	l := New(mustParse(t, "concurrency=1"))
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	// How long a call in flight lasts is unknown: wait until the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = l.Acquire(ctx)
	if !errors.Is(err, ErrLimited) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Errorf("returned after %v, before the deadline", d)
	}
}

func TestLimiterCancelWhileWaiting(t *testing.T) {
	l := New(mustParse(t, "concurrency=2,1000/1s")).(*limiter)
	ctx := context.Background()
	rel1, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel2, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			rel, err := l.Acquire(cctx)
			if err == nil {
				rel()
				err = errors.New("admitted above the concurrency cap")
			}
			errs <- err
		})
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, q := l.state(); q == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("waiters did not queue")
		}
		time.Sleep(100 * time.Microsecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrLimited) || !errors.Is(err, context.Canceled) {
			t.Errorf("canceled waiter: %v", err)
		}
	}
	if in, q := l.state(); in != 2 || q != 0 {
		t.Fatalf("after cancel: inflight %d queued %d, want 2 and 0", in, q)
	}
	rel1()
	rel1() // a second release is ignored
	if in, _ := l.state(); in != 1 {
		t.Fatalf("inflight %d after release, want 1", in)
	}
	tctx, tcancel := context.WithTimeout(ctx, time.Second)
	defer tcancel()
	rel3, err := l.Acquire(tctx)
	if err != nil {
		t.Fatal(err)
	}
	short, scancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer scancel()
	if _, err := l.Acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third concurrent call: %v", err)
	}
	rel2()
	rel3()
	if in, q := l.state(); in != 0 || q != 0 {
		t.Errorf("at the end: inflight %d queued %d", in, q)
	}
}

// Canceling the head of the queue hands the turn to the next waiter.
func TestLimiterCancelHead(t *testing.T) {
	clk := newFakeClock()
	l := New(mustParse(t, "1/1s"), WithClock(clk), WithMargin(0)).(*limiter)
	rel, _ := l.Acquire(context.Background())
	rel()
	hctx, hcancel := context.WithCancel(context.Background())
	headErr := make(chan error, 1)
	go func() {
		_, err := l.Acquire(hctx)
		headErr <- err
	}()
	clk.waitPending(t, 1)
	nextErr := make(chan error, 1)
	go func() {
		rel, err := l.Acquire(context.Background())
		if err == nil {
			rel()
		}
		nextErr <- err
	}()
	for _, q := l.state(); q != 2; _, q = l.state() {
		time.Sleep(100 * time.Microsecond)
	}
	hcancel()
	if err := <-headErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("head: %v", err)
	}
	clk.waitPending(t, 2) // the new head armed its own timer
	clk.Advance(time.Second)
	if err := <-nextErr; err != nil {
		t.Fatal(err)
	}
}

func TestLimiterPushBack(t *testing.T) {
	clk := newFakeClock()
	l := New(mustParse(t, "100/1s"), WithClock(clk)).(*limiter)
	l.PushBack(5 * time.Second)
	l.PushBack(time.Second) // does not shorten it
	l.PushBack(-time.Second)

	// A deadline before the end of the push-back fails at once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, ErrLimited) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire during push-back: %v", err)
	}
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rel, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			admitted.Add(1)
			rel()
		})
	}
	clk.waitPending(t, 1)
	clk.Advance(4999 * time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	if n := admitted.Load(); n != 0 {
		t.Fatalf("%d calls started during the push-back", n)
	}
	clk.Advance(time.Millisecond)
	wg.Wait()

	// A push-back while the head waits makes a deadline unreachable: fail at once.
	l2 := New(mustParse(t, "1/100ms"), WithClock(clk)).(*limiter)
	rel, _ := l2.Acquire(context.Background())
	rel()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	res := make(chan error, 1)
	go func() {
		_, err := l2.Acquire(ctx2)
		res <- err
	}()
	clk.waitPending(t, 1)
	start := time.Now()
	l2.PushBack(time.Hour)
	err := <-res
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("head after push-back: %v after %v", err, time.Since(start))
	}
	// Off paces nothing, so it does not claim to honour push-backs.
	if _, ok := New(Off).(Pusher); ok {
		t.Error("the off limiter is a Pusher")
	}
}

// PushBack with real time delays every user of the limiter.
func TestLimiterPushBackRealTime(t *testing.T) {
	l := New(mustParse(t, "concurrency=4,1000/1s"))
	l.(Pusher).PushBack(100 * time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			rel, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			if d := time.Since(start); d < 95*time.Millisecond {
				t.Errorf("call started %v after a 100ms push-back", d)
			}
			rel()
		})
	}
	wg.Wait()
}

func runWorkers(t *testing.T, r *recorder, workers, calls int, hold func()) {
	t.Helper()
	var inflight, maxInflight atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				rel, err := r.l.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				n := inflight.Add(1)
				for m := maxInflight.Load(); n > m && !maxInflight.CompareAndSwap(m, n); m = maxInflight.Load() {
				}
				hold()
				inflight.Add(-1)
				r.finish()
				rel()
			}
		})
	}
	wg.Wait()
	if c := int64(r.l.conc); c > 0 && maxInflight.Load() > c {
		t.Errorf("%d calls in flight at once, cap %d", maxInflight.Load(), c)
	}
}

func checkServer(t *testing.T, r *recorder, calls int) {
	t.Helper()
	if n := r.denied.Load(); n != 0 {
		t.Errorf("the server rejected %d of the calls", n)
	}
	st := r.enf.Stats()
	if st.Exceeded() || st.Admitted != int64(calls) || st.InFlight != 0 {
		t.Errorf("server stats %+v", st)
	}
	if in, q := r.l.state(); in != 0 || q != 0 {
		t.Errorf("limiter left with inflight %d queued %d", in, q)
	}
}

func TestLimiter64FakeClock(t *testing.T) {
	clk := newFakeClock()
	p := mustParse(t, "concurrency=4,10/200ms,25/1s")
	r := newRecorder(t, p, WithClock(clk))
	stop := make(chan struct{})
	go func() { // drive time: jump to the next timer whenever some are pending
		for {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(200 * time.Microsecond)
			clk.AdvanceToNext()
		}
	}()
	const workers, calls = 64, 3
	runWorkers(t, r, workers, calls, func() { <-clk.After(5 * time.Millisecond) })
	close(stop)
	ts := r.snapshot()
	if len(ts) != workers*calls {
		t.Fatalf("%d admissions, want %d", len(ts), workers*calls)
	}
	checkWindows(t, ts, p, defaultMargin)
	checkServer(t, r, workers*calls)
	// Close to the policy: 192 calls need 7 full 25/1.005s periods, then
	// 10 + 7 calls 201ms apart; allow some slack for scheduling.
	ideal := 7*1005*time.Millisecond + 201*time.Millisecond
	if last := time.Duration(ts[len(ts)-1]); last > ideal+100*time.Millisecond {
		t.Errorf("last admission at %v, ideal %v", last, ideal)
	}
}

func TestLimiter64RealTime(t *testing.T) {
	p := mustParse(t, "concurrency=4,10/200ms,30/1s")
	r := newRecorder(t, p)
	const workers = 64
	start := time.Now()
	runWorkers(t, r, workers, 1, func() { time.Sleep(time.Millisecond) })
	elapsed := time.Since(start)
	ts := r.snapshot()
	checkWindows(t, ts, p, defaultMargin)
	checkServer(t, r, workers)
	// 64 calls: two full 30/1.005s periods, then 4 more.
	if ideal := 2010 * time.Millisecond; elapsed < ideal || elapsed > ideal+time.Second {
		t.Errorf("64 calls took %v, ideal %v", elapsed, ideal)
	}
}

// Random deadlines and cancellations must neither leak slots nor break the limits.
func TestLimiterChurn(t *testing.T) {
	p := mustParse(t, "concurrency=3,20/100ms")
	r := newRecorder(t, p)
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(400 * time.Millisecond)
	for i := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(40))*time.Millisecond)
				if rng.IntN(4) == 0 {
					after := time.Duration(rng.IntN(5)) * time.Millisecond
					go func() {
						time.Sleep(after)
						cancel()
					}()
				}
				rel, err := r.l.Acquire(ctx)
				if err != nil {
					if !errors.Is(err, ErrLimited) || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
						t.Errorf("unexpected error %v", err)
					}
					failed.Add(1)
				} else {
					ok.Add(1)
					time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
					r.finish()
					rel()
				}
				cancel()
			}
		})
	}
	wg.Wait()
	if ok.Load() == 0 || failed.Load() == 0 {
		t.Errorf("ok %d failed %d: the test did not exercise both paths", ok.Load(), failed.Load())
	}
	checkWindows(t, r.snapshot(), p, defaultMargin)
	checkServer(t, r, int(ok.Load()))
	// Nothing leaked: a fresh call gets through within the window.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rel, err := r.l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

func TestShared(t *testing.T) {
	a := Shared("us|a@example.com|admin", Admin)
	if b := Shared("us|a@example.com|admin", mustParse(t, " ADMIN ")); a != b {
		t.Error("same key and policy: different limiters")
	}
	if c := Shared("us|b@example.com|admin", Admin); a == c {
		t.Error("different keys: same limiter")
	}
	if d := Shared("us|a@example.com|admin", Admin.Scale(30)); a == d {
		t.Error("different policies: same limiter")
	}
	var wg sync.WaitGroup
	got := make([]Limiter, 32)
	for i := range got {
		wg.Go(func() { got[i] = Shared("eu|x|query", Query) })
	}
	wg.Wait()
	for _, l := range got {
		if l != got[0] {
			t.Fatal("concurrent Shared calls returned different limiters")
		}
	}
}

func TestWaitError(t *testing.T) {
	e := &WaitError{Wait: time.Second, Policy: "admin"}
	if !errors.Is(e, ErrLimited) || errors.Is(e, context.Canceled) {
		t.Error("Is")
	}
	if !strings.Contains(e.Error(), "admin") || !strings.Contains(e.Error(), "1s") {
		t.Errorf("message %q", e)
	}
	e.Cause = context.Canceled
	if !errors.Is(e, ErrLimited) || !errors.Is(e, context.Canceled) {
		t.Error("Is with cause")
	}
}

// Huge limits keep memory bounded and still count correctly.
func TestRingHugeLimit(t *testing.T) {
	r := newRing(1<<40, int64(time.Hour), 0)
	for i := range int64(1_000_000) {
		r.record(i * 1000) // 1 per µs, 1s in all
	}
	if r.n > 1<<16+2 {
		t.Errorf("%d buckets", r.n)
	}
	if got := r.count(int64(time.Second)); got != 1_000_000 {
		t.Errorf("count %d", got)
	}
	if r.wait(int64(time.Second)) != 0 {
		t.Error("waits below the limit")
	}
	// Beyond 1<<16, buckets may merge admissions: waits may only err on the long side.
	const limit = 70000
	h := newRing(limit, int64(time.Second), 0)
	for i := range int64(limit + 300) {
		h.record(i * 1000) // admission i at i µs
		n := i + 1
		if n < limit {
			continue
		}
		now := n * 1000
		exact := (n-limit)*1000 + int64(time.Second) - now // admission n-limit leaves the window
		if w := h.wait(now); w < exact || w > exact+h.gran {
			t.Fatalf("after %d admissions: wait %d, exact %d, granularity %d", n, w, exact, h.gran)
		}
	}
	// A small limit reached within one bucket.
	s := newRing(3, 100, 0)
	s.record(0)
	s.record(0)
	s.record(0)
	if w := s.wait(0); w != 100 {
		t.Errorf("wait %d, want 100", w)
	}
	if at := s.estimate(0, 3); at != 200 {
		t.Errorf("estimate for the 4th next call %d, want 200", at)
	}
}

// A push-back beyond MaxPushBack (a broken server's "retry in 290 years") holds calls
// back for MaxPushBack, not for the life of the process.
func TestLimiterPushBackCapped(t *testing.T) {
	clk := newFakeClock()
	l := New(mustParse(t, "100/1s"), WithClock(clk)).(*limiter)
	l.PushBack(time.Duration(math.MaxInt64))
	res := make(chan error, 1)
	go func() {
		rel, err := l.Acquire(context.Background())
		if err == nil {
			rel()
		}
		res <- err
	}()
	clk.waitPending(t, 1)
	clk.Advance(MaxPushBack - time.Millisecond)
	select {
	case err := <-res:
		t.Fatalf("admitted before MaxPushBack: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	clk.Advance(time.Millisecond)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// Policies that limit clients alike (same concurrency and windows, whatever
// their name, soft limits or order of windows) share one limiter per key:
// otherwise two clients of one account, one given "admin" and one the same
// limits written out, would each admit a full policy's worth of calls.
func TestSharedEquivalentPolicies(t *testing.T) {
	const key = "us|equivalent@example.com|admin"
	a := Shared(key, Admin)
	for _, s := range []string{
		"concurrency=1,60/1m,3750/1h,soft=20/1m:1.5s",
		"concurrency=1,60/1m,3750/1h",
		"3750/1h, concurrency=1, 60/1m",
	} {
		if b := Shared(key, mustParse(t, s)); a != b {
			t.Errorf("Shared(%q) is not the limiter of Admin", s)
		}
	}
	if c := Shared(key, mustParse(t, "concurrency=2,60/1m,3750/1h")); a == c {
		t.Error("a different concurrency: same limiter")
	}
}

// Shared limiters no one holds and that remember nothing are freed: a process that makes
// clients for 100k accounts over time does not keep 100k limiters (46 MB before).
func TestSharedFreesUnheld(t *testing.T) {
	count := func(prefix string) int {
		sharedMu.Lock()
		defer sharedMu.Unlock()
		n := 0
		for k := range sharedLimiters {
			if strings.HasPrefix(k.key, prefix) {
				n++
			}
		}
		return n
	}
	for i := range 100_000 {
		// A client made, used (its window empties at once) and dropped.
		rel, err := Shared(fmt.Sprintf("us|idle%d@example.com|v6-admin", i), mustParse(t, "concurrency=1,5/1ns")).Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rel()
		if i%1000 == 999 {
			runtime.GC()
		}
	}
	n := count("us|idle")
	if n > 4096 {
		t.Fatalf("%d idle, unheld shared limiters kept", n)
	}
	t.Logf("%d of 100000 idle, unheld shared limiters kept", n)
	// Limiters whose hour's window still remembers a call stay, held or not.
	for i := range 2000 {
		rel, err := Shared(fmt.Sprintf("us|busy%d@example.com|v6-admin", i), Admin).Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rel()
		if i%100 == 99 {
			runtime.GC()
		}
	}
	if n := count("us|busy"); n != 2000 {
		t.Fatalf("%d of 2000 limiters with recent calls kept", n)
	}
}

// A limiter no one holds but that remembers calls is not forgotten: the next client of
// the account gets its state, so the account's window is not reset by a client's end.
func TestSharedKeepsStateWhenUnheld(t *testing.T) {
	p := mustParse(t, "1/1h")
	key := "us|state@example.com|v6-admin"
	held := Shared(key, p)
	rel, err := held.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	held = nil
	runtime.GC()
	for i := range 3 * minSharedSweep {
		Shared(fmt.Sprintf("us|filler%d@example.com|v6-admin", i), Off)
	}
	runtime.GC()
	Shared("us|trigger3@example.com|v6-admin", Off)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := Shared(key, p).Acquire(ctx); !errors.Is(err, ErrLimited) {
		t.Fatalf("a new client of the account was admitted (%v): the hour's window was forgotten", err)
	}
	_ = held
}

// ForAccount refuses a bad policy before anything is made, asks the factory when there is
// one, and otherwise hands out the process's shared limiter of the account's class.
func TestForAccount(t *testing.T) {
	var asked []string
	made := New(Admin)
	f := func(_ context.Context, account, class string, _ Policy) (Limiter, error) {
		asked = append(asked, account+"|"+class)
		return made, nil
	}
	if _, err := ForAccount(context.Background(), f, "us", "a@example.com", "v6-admin", Policy{Concurrency: -1}); err == nil || len(asked) != 0 {
		t.Fatalf("bad policy: %v, factory asked %v", err, asked)
	}
	if l, err := ForAccount(context.Background(), f, "us", "a@example.com", "v6-admin", Admin); err != nil || l != made || len(asked) != 1 || asked[0] != "a@example.com|v6-admin" {
		t.Fatalf("factory: %v %v %v", l, err, asked)
	}
	a, err := ForAccount(context.Background(), nil, "us", "b@example.com", "v5-admin", Admin)
	if err != nil || a != Shared(AccountKey("us", " B@example.com ", "v5-admin"), Admin) {
		t.Fatalf("shared: %v", err)
	}
}
