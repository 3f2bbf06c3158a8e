package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// PushBackLimiter wraps a Limiter so that a server's push-back ("retry in N ms": a gRPC
// RetryInfo, an HTTP 429 Retry-After) is honoured whatever the wrapped limiter does: its
// Acquire waits until the push-back has passed (failing at once, like any Limiter, when
// the context's deadline comes first), then asks the wrapped limiter. A push-back is
// forwarded to the wrapped limiter when it is a Pusher, so that every user of a shared
// limiter (another client in the process, or another process on a shared store) backs
// off too.
//
// It is hand-written because a limiter that paces nothing (policy off) must still hold
// back the next attempt after the server said when to come back, and the retry
// middleware's backoff function never sees the error that said so. The fast path is one
// atomic load.
type PushBackLimiter struct {
	inner     Limiter // nil: nothing but the push-back
	pusher    Pusher
	max       time.Duration
	notBefore atomic.Int64 // unix nanoseconds; 0: no push-back pending
}

// HonourPushBack returns l wrapped in a PushBackLimiter that holds calls for at most max
// per push-back (max <= 0 or above MaxPushBack means MaxPushBack). A nil l limits
// nothing but the push-back. l already a *PushBackLimiter is returned as it is.
func HonourPushBack(l Limiter, max time.Duration) *PushBackLimiter {
	if g, ok := l.(*PushBackLimiter); ok {
		return g
	}
	if max <= 0 || max > MaxPushBack {
		max = MaxPushBack
	}
	g := &PushBackLimiter{inner: l, max: max}
	g.pusher, _ = l.(Pusher)
	return g
}

// Max returns the longest push-back the limiter honours.
func (g *PushBackLimiter) Max() time.Duration { return g.max }

func noRelease() {}

// Acquire implements Limiter.
func (g *PushBackLimiter) Acquire(ctx context.Context) (func(), error) {
	// A push-back that grew while we waited holds us until its new end.
	for nb := g.notBefore.Load(); nb != 0; nb = g.notBefore.Load() {
		if err := g.wait(ctx, nb); err != nil {
			return nil, err
		}
	}
	if g.inner == nil {
		if err := ctx.Err(); err != nil {
			return nil, &WaitError{Policy: nameOff, Cause: err}
		}
		return noRelease, nil
	}
	return g.inner.Acquire(ctx)
}

// wait waits until nb (unix ns) has passed, then clears it unless a later push-back
// replaced it.
func (g *PushBackLimiter) wait(ctx context.Context, nb int64) error {
	d := time.Duration(nb - time.Now().UnixNano())
	if d <= 0 {
		g.notBefore.CompareAndSwap(nb, 0)
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return &WaitError{Wait: d, Policy: policyPushBack, Cause: context.DeadlineExceeded}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		g.notBefore.CompareAndSwap(nb, 0)
		return nil
	case <-ctx.Done():
		return &WaitError{Wait: d, Policy: policyPushBack, Cause: ctx.Err()}
	}
}

// policyPushBack is what a WaitError names as its policy when a server's push-back,
// not the client's policy, held the call.
const policyPushBack = "server push-back"

// PushBack implements Pusher: no call starts before now+d, d capped at Max.
func (g *PushBackLimiter) PushBack(d time.Duration) {
	if d <= 0 {
		return
	}
	d = min(d, g.max)
	end := time.Now().Add(d).UnixNano()
	for {
		cur := g.notBefore.Load()
		if cur >= end || g.notBefore.CompareAndSwap(cur, end) {
			break
		}
	}
	if g.pusher != nil {
		g.pusher.PushBack(d)
	}
}

// PushBackError reports that a server refused a call and asked to be left alone for
// longer than the client waits (PushBackLimiter.Max, set from the retry policy's
// MaxPushBack): the call is failed at once with the server's refusal, which Unwrap
// returns, and is not retried.
type PushBackError struct {
	Wait time.Duration // what the server asked for
	Max  time.Duration // the longest push-back the client waits out
	Err  error         // the server's refusal
}

// Error implements error.
func (e *PushBackError) Error() string {
	msg := fmt.Sprintf("the server asked to wait %v before trying again, longer than the %v this client waits (RetryPolicy.MaxPushBack), so the call was not retried", e.Wait.Round(time.Second), e.Max)
	if e.Err != nil {
		msg = e.Err.Error() + " (" + msg + ")"
	}
	return msg
}

// Unwrap returns the server's refusal.
func (e *PushBackError) Unwrap() error { return e.Err }
