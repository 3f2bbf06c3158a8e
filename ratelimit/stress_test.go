package ratelimit

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimiterNoLostWakeup hammers the FIFO queue from every side at once:
// patient callers that never give up (a lost wake-up strands them for good),
// impatient ones whose deadlines expire or whose contexts are cancelled while
// they are the head or deep in the queue, and concurrent push-backs. Every
// patient call must get through, and at the end nothing may be in flight or
// queued. A watchdog fails the test, with the limiter's state, instead of
// letting a stuck queue hang it until go test's timeout.
func TestLimiterNoLostWakeup(t *testing.T) {
	for _, tc := range []struct {
		policy          string
		patient, calls  int
		impatient       int
		hold, pushEvery time.Duration
	}{
		// Only the concurrency cap: every wake-up comes from a release.
		{policy: "concurrency=1", patient: 16, calls: 150, impatient: 16, hold: 20 * time.Microsecond},
		{policy: "concurrency=3", patient: 24, calls: 150, impatient: 16, hold: 50 * time.Microsecond},
		// Windows and the cap together, plus push-backs: wake-ups come from
		// timers, releases, dequeues of a cancelled head and PushBack.
		{policy: "concurrency=2,200/20ms", patient: 16, calls: 40, impatient: 16, hold: 20 * time.Microsecond, pushEvery: 7 * time.Millisecond},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			l := New(p).(*limiter)
			var inflight, maxInflight atomic.Int64
			hold := func(rng *rand.Rand) {
				n := inflight.Add(1)
				for m := maxInflight.Load(); n > m && !maxInflight.CompareAndSwap(m, n); m = maxInflight.Load() {
				}
				if rng.IntN(2) == 0 {
					runtime.Gosched()
				} else {
					time.Sleep(time.Duration(rng.Int64N(int64(tc.hold) + 1)))
				}
				inflight.Add(-1)
			}

			stop := make(chan struct{})
			var patientDone, others sync.WaitGroup
			var admitted atomic.Int64
			for i := range tc.patient {
				patientDone.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(i), 7))
					for range tc.calls {
						rel, err := l.Acquire(context.Background())
						if err != nil {
							t.Error(err)
							return
						}
						admitted.Add(1)
						hold(rng)
						rel()
					}
				})
			}
			for i := range tc.impatient {
				others.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(i), 11))
					for {
						select {
						case <-stop:
							return
						default:
						}
						ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(3000))*time.Microsecond)
						if rng.IntN(3) == 0 {
							time.AfterFunc(time.Duration(rng.IntN(500))*time.Microsecond, cancel)
						}
						rel, err := l.Acquire(ctx)
						if err == nil {
							hold(rng)
							rel()
						} else if !errors.Is(err, ErrLimited) {
							t.Errorf("impatient caller: %v", err)
						}
						cancel()
					}
				})
			}
			if tc.pushEvery > 0 {
				others.Go(func() {
					tick := time.NewTicker(tc.pushEvery)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							l.PushBack(time.Millisecond)
						}
					}
				})
			}

			finished := make(chan struct{})
			go func() { patientDone.Wait(); close(finished) }()
			// Every window here is far shorter than the stall bound, so two
			// seconds without a single patient admission means a stuck queue.
			tick := time.NewTicker(2 * time.Second)
			defer tick.Stop()
			for last := int64(-1); ; {
				select {
				case <-finished:
				case <-tick.C:
					if n := admitted.Load(); n != last {
						last = n
						continue
					}
					in, q := l.state()
					close(stop)
					t.Fatalf("stuck: %d of %d patient calls admitted, none for 2s; limiter inflight %d queued %d (a lost wake-up)",
						admitted.Load(), tc.patient*tc.calls, in, q)
				}
				break
			}
			close(stop)
			others.Wait()
			if got, want := admitted.Load(), int64(tc.patient*tc.calls); got != want {
				t.Errorf("%d patient calls admitted, want %d", got, want)
			}
			if maxInflight.Load() > int64(p.Concurrency) {
				t.Errorf("%d calls in flight at once, cap %d", maxInflight.Load(), p.Concurrency)
			}
			if in, q := l.state(); in != 0 || q != 0 {
				t.Errorf("at the end: inflight %d queued %d, want 0 and 0", in, q)
			}
		})
	}
}
