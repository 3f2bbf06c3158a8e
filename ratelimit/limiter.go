package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Limiter is what clients consult before each attempt. Implementations must
// be safe for concurrent use. Another implementation (e.g. one shared between
// machines through a store) can be plugged in.
type Limiter interface {
	// Acquire blocks until one call may start under the policy, or fails.
	// On success the caller must call release exactly once when the call has
	// finished (response received or failed).
	// If ctx is done, or ctx's deadline is earlier than the moment a slot
	// is known to be free (a rolling window or a push-back), Acquire returns
	// at once (it does not sleep until the deadline) with an error that
	// satisfies errors.Is(err, ErrLimited) (and errors.Is(err,
	// context.DeadlineExceeded) or context.Canceled where that was the
	// cause). A call that waits only for a call in flight to finish, whose
	// end cannot be known, waits until ctx is done.
	Acquire(ctx context.Context) (release func(), err error)
}

// Pusher is optionally implemented by limiters: the server told us to back
// off (e.g. a 429 Retry-After or gRPC RESOURCE_EXHAUSTED with RetryInfo). No
// call may start before now+d for every user of the limiter.
type Pusher interface {
	// PushBack forbids any call start before now+d (d <= 0 is ignored). The
	// limiters of this module cap d at MaxPushBack.
	PushBack(d time.Duration)
}

// MaxPushBack caps the server push-back a limiter honours. The longest window
// of Kentik's published limits is an hour: no retry delay beyond that can be
// right, and one from a broken server or proxy ("retry in 10 years") would
// otherwise stall every call of the account for the life of the process.
const MaxPushBack = time.Hour

// ClampPushBack returns d capped at MaxPushBack.
func ClampPushBack(d time.Duration) time.Duration { return min(d, MaxPushBack) }

// ErrLimited is the sentinel matched (with errors.Is) by every error a
// Limiter returns because no call slot could be had in time.
var ErrLimited = errors.New("ratelimit: no call slot available in time")

// WaitError is returned by Acquire when it cannot get a slot in time.
// errors.Is(err, ErrLimited) is true; Unwrap also yields the context error
// (or context.DeadlineExceeded when the deadline was too close to wait) when
// there is one.
type WaitError struct {
	Wait   time.Duration // how long a slot would take (a lower bound; 0 when unknown, e.g. waiting for a call in flight to finish)
	Policy string        // the policy, as Policy.String prints it
	Cause  error         // ctx.Err() (context.DeadlineExceeded or context.Canceled), context.DeadlineExceeded when the deadline is too close, or nil
}

// Error implements error.
func (e *WaitError) Error() string {
	msg := "ratelimit: no call slot of policy " + e.Policy
	if e.Policy == policyPushBack {
		msg = "ratelimit: no call slot: the server asked this account to wait (push-back)"
	}
	switch {
	case e.Cause == context.DeadlineExceeded && e.Wait > 0:
		msg += fmt.Sprintf(" before the context deadline (next slot in at least %v)", e.Wait)
	case e.Wait > 0:
		msg += fmt.Sprintf(" (next slot in at least %v)", e.Wait)
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns ErrLimited and, when there is one, the cause.
func (e *WaitError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrLimited}
	}
	return []error{ErrLimited, e.Cause}
}

// New returns the in-process Limiter for p. It also implements Pusher, except
// for an off policy (which paces nothing, so callers that must honour a
// server's push-back anyway have to do it themselves).
//
// Calls are admitted in FIFO order: a call starts only when the concurrency
// cap allows it and, for every window, fewer than Limit admissions happened
// in the last Period+margin (see WithMargin). An admission counts from the
// moment Acquire returns success. Soft limits are ignored.
//
// Off (any policy for which IsOff is true) gets a no-op limiter whose Acquire
// costs next to nothing and allocates nothing. An invalid policy (see
// Policy.Validate) gets a limiter whose Acquire always fails with the
// validation error.
func New(p Policy, opts ...Option) Limiter {
	if err := p.Validate(); err != nil {
		return invalidLimiter{err: err}
	}
	if p.IsOff() {
		return offLimiter{}
	}
	cf := buildConfig(opts)
	l := &limiter{
		clock:  cf.clock,
		policy: p.String(),
		conc:   p.Concurrency,
		wins:   make([]ring, len(p.Windows)),
	}
	if l.clock != nil {
		l.base = l.clock.Now()
	} else {
		l.base = time.Now()
	}
	for i, w := range p.Windows {
		l.wins[i] = newRing(w.Limit, cf.span(w.Period, true), 0)
	}
	return l
}

// offLimiter never waits.
type offLimiter struct{}

func noop() {}

// Acquire returns at once; it fails only if ctx is already done.
func (offLimiter) Acquire(ctx context.Context) (func(), error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, &WaitError{Policy: nameOff, Cause: err}
		}
	}
	return noop, nil
}

// invalidLimiter is what New returns for an invalid policy.
type invalidLimiter struct{ err error }

func (l invalidLimiter) Acquire(context.Context) (func(), error) { return nil, l.err }

// limiter is the in-process Limiter. All state is guarded by mu. Waiting
// calls queue in FIFO order; only the head of the queue watches the clock and
// the concurrency slots, the others sleep until they become the head, so
// that a freed slot wakes one goroutine, not all of them.
type limiter struct {
	clock  Clock     // nil: real time
	base   time.Time // time origin of the ns timestamps
	policy string
	conc   int // concurrency cap, 0: none

	mu        sync.Mutex
	last      int64 // latest time read, ns since base (keeps time monotonic)
	inflight  int
	wins      []ring
	notBefore int64 // PushBack: no admission before this time
	head      *waiter
	tail      *waiter
	queued    int

	onAdmit func(t int64) // test hook, called under mu with the admission time
}

type waiter struct {
	next, prev *waiter
	wake       chan struct{} // buffered(1): "you are the head, or something changed"
}

// now returns the current time as ns since base, never decreasing. mu held.
func (l *limiter) now() int64 {
	var t int64
	if l.clock == nil {
		t = int64(time.Since(l.base))
	} else {
		t = int64(l.clock.Now().Sub(l.base))
	}
	if t < l.last {
		return l.last
	}
	l.last = t
	return t
}

// ready reports how long a call must wait for the windows and push-back
// (0 if none), and whether the concurrency cap is reached. mu held.
func (l *limiter) ready(now int64) (wait int64, full bool) {
	if l.notBefore > now {
		wait = l.notBefore - now
	}
	for i := range l.wins {
		if w := l.wins[i].wait(now); w > wait {
			wait = w
		}
	}
	return wait, l.conc > 0 && l.inflight >= l.conc
}

// estimate returns a lower bound of the wait of a call with ahead calls
// queued before it (0 when only the concurrency cap is in the way). mu held.
func (l *limiter) estimate(now int64, ahead int) int64 {
	at := max(now, l.notBefore)
	for i := range l.wins {
		at = max(at, l.wins[i].estimate(now, int64(ahead)))
	}
	return at - now
}

// admit records an admission at now and returns the release function. mu held.
func (l *limiter) admit(now int64) func() {
	for i := range l.wins {
		l.wins[i].record(now)
	}
	if l.onAdmit != nil {
		l.onAdmit(now)
	}
	if l.conc == 0 {
		return noop
	}
	l.inflight++
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			l.release()
		}
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	if l.inflight > 0 {
		l.inflight--
	}
	l.signalHead()
	l.mu.Unlock()
}

// signalHead wakes the head of the queue, if any. mu held.
func (l *limiter) signalHead() {
	if l.head != nil {
		select {
		case l.head.wake <- struct{}{}:
		default:
		}
	}
}

func (l *limiter) enqueue(w *waiter) {
	w.prev = l.tail
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.next = w
	}
	l.tail = w
	l.queued++
}

// dequeue removes w from the queue and wakes the new head if w was the head.
func (l *limiter) dequeue(w *waiter) {
	wasHead := l.head == w
	if w.prev == nil {
		l.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		l.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.next, w.prev = nil, nil
	l.queued--
	if wasHead {
		l.signalHead()
	}
}

// PushBack forbids any admission before now+d (d <= 0 is ignored). A later
// PushBack with an earlier end does not shorten an earlier one.
func (l *limiter) PushBack(d time.Duration) {
	if d <= 0 {
		return
	}
	d = ClampPushBack(d)
	l.mu.Lock()
	if nb := addSat(l.now(), int64(d)); nb > l.notBefore {
		l.notBefore = nb
		l.signalHead() // so that it can re-check its deadline at once
	}
	l.mu.Unlock()
}

// Acquire implements Limiter.
func (l *limiter) Acquire(ctx context.Context) (func(), error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, &WaitError{Policy: l.policy, Cause: err}
	}
	l.mu.Lock()
	now := l.now()
	if l.head == nil {
		if wait, full := l.ready(now); wait == 0 && !full {
			rel := l.admit(now)
			l.mu.Unlock()
			return rel, nil
		}
	}
	// Fail at once if the deadline comes before the earliest possible slot.
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		if est := l.estimate(now, l.queued); est > 0 && time.Until(deadline) <= time.Duration(est) {
			l.mu.Unlock()
			return nil, &WaitError{Wait: time.Duration(est), Policy: l.policy, Cause: context.DeadlineExceeded}
		}
	}
	w := &waiter{wake: make(chan struct{}, 1)}
	l.enqueue(w)
	return l.wait(ctx, w, deadline, hasDeadline, now)
}

// wait runs the queue protocol for w until it is admitted or gives up.
// Called with mu held; returns with it released.
func (l *limiter) wait(ctx context.Context, w *waiter, deadline time.Time, hasDeadline bool, now int64) (func(), error) {
	var (
		realTimer *time.Timer
		timerC    <-chan time.Time
		lastWait  int64
	)
	defer func() {
		if realTimer != nil {
			realTimer.Stop()
		}
	}()
	for {
		timerC = nil
		if l.head == w {
			if err := ctx.Err(); err != nil {
				l.dequeue(w)
				l.mu.Unlock()
				return nil, &WaitError{Wait: time.Duration(lastWait), Policy: l.policy, Cause: err}
			}
			wait, full := l.ready(now)
			if wait == 0 && !full {
				l.dequeue(w)
				rel := l.admit(now)
				l.mu.Unlock()
				return rel, nil
			}
			lastWait = wait
			if hasDeadline && wait > 0 && time.Until(deadline) <= time.Duration(wait) {
				l.dequeue(w)
				l.mu.Unlock()
				return nil, &WaitError{Wait: time.Duration(wait), Policy: l.policy, Cause: context.DeadlineExceeded}
			}
			if wait > 0 {
				d := time.Duration(wait)
				if l.clock != nil {
					timerC = l.clock.After(d)
				} else if realTimer == nil {
					realTimer = time.NewTimer(d)
					timerC = realTimer.C
				} else {
					realTimer.Reset(d)
					timerC = realTimer.C
				}
			}
		}
		l.mu.Unlock()

		select {
		case <-w.wake:
		case <-timerC:
		case <-ctx.Done():
			l.mu.Lock()
			if l.head == w {
				lastWait, _ = l.ready(l.now())
			} else {
				lastWait = l.estimate(l.now(), l.position(w))
			}
			l.dequeue(w)
			l.mu.Unlock()
			return nil, &WaitError{Wait: time.Duration(lastWait), Policy: l.policy, Cause: ctx.Err()}
		}

		l.mu.Lock()
		now = l.now()
	}
}

// position returns the number of waiters ahead of w. mu held.
func (l *limiter) position(w *waiter) int {
	n := 0
	for x := l.head; x != nil && x != w; x = x.next {
		n++
	}
	return n
}

// AccountKey is the key of an account's limiter for one class of calls: Kentik counts
// each customer's calls per API class ("v6-admin", "v5-admin", ...), so the key names
// where the calls go (a region, or an endpoint that overrides it), the account's email
// (trimmed and in lower case: the same user however it is typed) and the class. Both
// clients key Shared with it.
func AccountKey(place, email, class string) string {
	return place + "|" + strings.ToLower(strings.TrimSpace(email)) + "|" + class
}

// Shared returns the process-wide limiter for an account key (see AccountKey) and
// policy: every caller with the same key and a policy that limits clients alike (the
// same concurrency cap and hard windows, whatever the policy's name, soft limits or
// order of windows) gets the same Limiter, so all clients of one account in a process
// share it. Safe for concurrent use.
//
// A shared limiter is freed once no caller holds it any more and it remembers nothing a
// new one would not (no call in flight or waiting, no push-back pending, every window
// empty), so a process that makes clients for many accounts over time keeps only the
// limiters that still matter.
func Shared(key string, p Policy) Limiter {
	k := sharedKey{key: key, policy: p.ClientPart().String()}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	e, ok := sharedLimiters[k]
	if ok {
		if h := e.handle.Value(); h != nil {
			return h
		}
	} else {
		if len(sharedLimiters) >= sharedSweepAt {
			sweepShared()
		}
		e = &sharedEntry{l: New(p)}
		sharedLimiters[k] = e
	}
	// A handle of its own, whose life says whether anyone still holds the limiter: the
	// map keeps the limiter's state, weakly its handle.
	h := &sharedLimiter{Limiter: e.l}
	h.pusher, _ = e.l.(Pusher)
	e.handle = weak.Make(h)
	return h
}

// sweepShared forgets the shared limiters no one holds that remember nothing. sharedMu
// held.
func sweepShared() {
	for k, e := range sharedLimiters {
		if e.handle.Value() == nil && idle(e.l) {
			delete(sharedLimiters, k)
		}
	}
	sharedSweepAt = max(minSharedSweep, 2*len(sharedLimiters))
}

// minSharedSweep is how many shared limiters a process keeps before it first looks for
// ones to free.
const minSharedSweep = 64

var (
	sharedMu       sync.Mutex
	sharedLimiters = map[sharedKey]*sharedEntry{}
	sharedSweepAt  = minSharedSweep
)

type sharedEntry struct {
	l      Limiter
	handle weak.Pointer[sharedLimiter]
}

// sharedLimiter is what Shared hands out: the shared limiter, and push-back for it.
type sharedLimiter struct {
	Limiter
	pusher Pusher
}

// PushBack implements Pusher when the shared limiter does.
func (s *sharedLimiter) PushBack(d time.Duration) {
	if s.pusher != nil {
		s.pusher.PushBack(d)
	}
}

// idle reports whether l holds no state a new limiter of its policy would lack.
func idle(l Limiter) bool {
	rl, ok := l.(*limiter)
	if !ok {
		return true // off and invalid limiters keep no state
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	now := rl.now()
	if rl.inflight > 0 || rl.head != nil || rl.notBefore > now {
		return false
	}
	for i := range rl.wins {
		if rl.wins[i].count(now) > 0 {
			return false
		}
	}
	return true
}

type sharedKey struct{ key, policy string }

var _ Pusher = (*limiter)(nil)

// Factory makes the limiter of one class of an account's calls ("v6-admin", "v5-admin",
// or a class of the client's WithLimitClass) under policy p. The clients take one
// (client.WithLimiterFactory, mykentik.WithLimiterFactory) to share the account's limits
// beyond the process: redislimit.Factory makes limiters shared through Redis. A client
// calls it once per class when it is made (ctx is New's), with its credentials' email as
// account whatever its region or endpoint (unlike the key of Shared, see AccountKey), and
// closes the limiters it made that are io.Closers when it is closed.
type Factory func(ctx context.Context, account, class string, p Policy) (Limiter, error)

// ForAccount returns the limiter of one class of an account's calls under p: the one f
// makes when f is not nil (a limiter shared beyond the process), else the process's
// shared one (Shared under AccountKey(place, email, class)). An invalid p is refused
// before anything is made. Both clients and the command get their limiters here.
func ForAccount(ctx context.Context, f Factory, place, email, class string, p Policy) (Limiter, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if f != nil {
		return f(ctx, email, class, p)
	}
	return Shared(AccountKey(place, email, class), p), nil
}
