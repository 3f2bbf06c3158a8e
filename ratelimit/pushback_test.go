package ratelimit

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// recordingLimiter admits every call and records the push-backs it is told about.
type recordingLimiter struct {
	mu     sync.Mutex
	pushed []time.Duration
}

func (l *recordingLimiter) Acquire(context.Context) (func(), error) { return func() {}, nil }

func (l *recordingLimiter) PushBack(d time.Duration) {
	l.mu.Lock()
	l.pushed = append(l.pushed, d)
	l.mu.Unlock()
}

func (l *recordingLimiter) pushes() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.pushed...)
}

func TestHonourPushBackWrapsOnce(t *testing.T) {
	l := &recordingLimiter{}
	g := HonourPushBack(l, time.Minute)
	if HonourPushBack(g, time.Second) != g {
		t.Fatal("wrapping twice made a new limiter")
	}
	start := time.Now() // before the push-back: it runs from the moment it is given
	g.PushBack(20 * time.Millisecond)
	if got := l.pushes(); len(got) != 1 {
		t.Fatal("push-back not forwarded to the limiter")
	}
	rel, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Acquire did not wait for the push-back")
	}
	// A nil limiter still works.
	rel, err = HonourPushBack(nil, 0).Acquire(context.Background())
	if err != nil || rel == nil {
		t.Fatal(err)
	}
	rel()
}

// A huge push-back is capped at the limiter's Max (MaxPushBack when none is given), the
// capped value is forwarded, and a deadline that cannot be met says how long the wait is.
func TestHonourPushBackCapped(t *testing.T) {
	for _, tc := range []struct {
		max, want time.Duration
	}{{0, MaxPushBack}, {10 * MaxPushBack, MaxPushBack}, {time.Minute, time.Minute}} {
		l := &recordingLimiter{}
		g := HonourPushBack(l, tc.max)
		if g.Max() != tc.want {
			t.Errorf("Max() = %v, want %v", g.Max(), tc.want)
		}
		g.PushBack(time.Duration(math.MaxInt64))
		if got := l.pushes(); len(got) != 1 || got[0] != tc.want {
			t.Fatalf("forwarded %v, want [%v]", got, tc.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := g.Acquire(ctx)
		cancel()
		var we *WaitError
		if !errors.As(err, &we) || we.Wait > tc.want || we.Wait < tc.want-10*time.Second || we.Policy != policyPushBack {
			t.Fatalf("Acquire: %v", err)
		}
	}
}

// A push-back that grows while a call already waits for the previous one to pass holds
// that call until the new end too: with a limiter that paces nothing, the wrapper is all
// that stands between the server's "retry in N ms" and the next call.
func TestHonourPushBackExtendedWhileWaiting(t *testing.T) {
	g := HonourPushBack(New(Off), 0)
	start := time.Now()
	// Wide margins: the test is wrong only if the 10ms sleep below oversleeps by 200ms.
	g.PushBack(200 * time.Millisecond)
	done := make(chan time.Duration, 1)
	go func() {
		release, err := g.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		} else {
			release()
		}
		done <- time.Since(start)
	}()
	time.Sleep(10 * time.Millisecond)
	g.PushBack(500 * time.Millisecond) // ends at about 510ms
	if got := <-done; got < 500*time.Millisecond {
		t.Fatalf("Acquire returned after %v, before the extended push-back (about 510ms) ended", got)
	}
}

func TestPushBackErrorUnwraps(t *testing.T) {
	cause := errors.New("429")
	e := &PushBackError{Wait: 1000 * time.Hour, Max: time.Minute, Err: cause}
	if !errors.Is(e, cause) || errors.Is(e, ErrLimited) {
		t.Fatalf("%v: Is(cause) %v, Is(ErrLimited) %v", e, errors.Is(e, cause), errors.Is(e, ErrLimited))
	}
}
