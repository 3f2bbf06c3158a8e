package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Enforcer is the SERVER side of a policy: it decides about each received
// request the way Kentik does. Hard windows and the concurrency cap reject
// (HTTP 429 / RESOURCE_EXHAUSTED); soft limits only delay the answer.
//
// Rejected requests are not counted against the windows: only admitted
// requests use up window capacity, so a client that keeps retrying too early
// is not locked out any longer than the admitted traffic justifies (and
// RetryAfter stays exact). Soft limits count admitted requests too.
//
// An Enforcer is safe for concurrent use. A nil *Enforcer admits everything.
type Enforcer struct {
	policy Policy
	err    error // invalid policy: every request is rejected with it

	mu        sync.Mutex
	started   bool
	base      time.Time
	last      int64
	inflight  int
	hard      []ring
	soft      []ring
	stats     EnforcerStats
	hardNames []string
	softNames []string
}

// Decision is what the server should do with one received request.
type Decision struct {
	Allowed    bool          // whether to serve the request (else answer HTTP 429 / RESOURCE_EXHAUSTED)
	Delay      time.Duration // soft-limit delay to add before answering (when Allowed)
	RetryAfter time.Duration // when !Allowed: when a retry could succeed (0 for a concurrency rejection when the windows have room: as soon as a request in flight is answered)
	Reason     string        // why it was rejected or delayed, e.g. "concurrency limit 1", "per-window hard limit 60/1m0s", "soft limit 20/1m0s"
}

// EnforcerStats are an Enforcer's counters, for tests.
type EnforcerStats struct {
	Admitted            int64 // requests allowed
	Rejected            int64 // requests rejected (all reasons)
	RejectedConcurrency int64 // of which because of the concurrency cap
	RejectedWindow      int64 // of which because of a hard window
	Delayed             int64 // allowed requests given a soft-limit delay
	InFlight            int   // requests allowed and not yet done
	MaxConcurrent       int   // the most requests ever in flight at once
	// WindowPeak has one entry per hard window of the policy: the most
	// admitted requests ever seen within one rolling Period (values above
	// the window's Limit are only known to be above it).
	WindowPeak []int

	limits      []int
	concurrency int
}

// Exceeded reports whether any hard window or the concurrency cap was ever
// exceeded by admitted requests. An Enforcer should never let that happen;
// tests check it.
func (s EnforcerStats) Exceeded() bool {
	if s.concurrency > 0 && s.MaxConcurrent > s.concurrency {
		return true
	}
	for i, peak := range s.WindowPeak {
		if i < len(s.limits) && peak > s.limits[i] {
			return true
		}
	}
	return false
}

// NewEnforcer returns an Enforcer of p. Options: WithMargin makes every
// window longer (a stricter server); WithClock is ignored since Admit is
// given the time. An invalid policy yields an Enforcer that rejects every
// request, saying why.
func NewEnforcer(p Policy, opts ...Option) *Enforcer {
	cf := buildConfig(opts)
	e := &Enforcer{policy: p.Scale(1), err: p.Validate()}
	if e.err != nil {
		return e
	}
	e.hard = make([]ring, len(p.Windows))
	e.hardNames = make([]string, len(p.Windows))
	e.stats.WindowPeak = make([]int, len(p.Windows))
	e.stats.limits = make([]int, len(p.Windows))
	e.stats.concurrency = p.Concurrency
	for i, w := range p.Windows {
		// keep one more than the limit, to be able to tell an excess.
		e.hard[i] = newRing(w.Limit, cf.span(w.Period, false), 1)
		e.hardNames[i] = fmt.Sprintf("per-window hard limit %d/%v", w.Limit, w.Period)
		e.stats.limits[i] = w.Limit
	}
	e.soft = make([]ring, len(p.Soft))
	e.softNames = make([]string, len(p.Soft))
	for i, s := range p.Soft {
		e.soft[i] = newRing(s.Limit, int64(s.Period), 0)
		e.softNames[i] = fmt.Sprintf("soft limit %d/%v", s.Limit, s.Period)
	}
	return e
}

// Policy returns (a copy of) the policy e enforces.
func (e *Enforcer) Policy() Policy {
	if e == nil {
		return offPolicy()
	}
	return e.policy.Scale(1)
}

// ts converts now into ns since the first request, never decreasing: a
// request stamped earlier than one already seen counts as received at the
// same time as that one. mu held.
func (e *Enforcer) ts(now time.Time) int64 {
	if !e.started {
		e.started, e.base = true, now
	}
	t := int64(now.Sub(e.base))
	if t < e.last {
		return e.last
	}
	e.last = t
	return t
}

// Admit is called when a request is received, at time now. When the
// Decision is Allowed, the caller must call done once it has answered (which
// releases the concurrency slot; further calls of done do nothing);
// otherwise done is a no-op.
//
// A request is rejected when the concurrency cap is reached (it is not
// queued) or when a hard window already holds Limit admitted requests; the
// RetryAfter is then the time until every hard window has room again.
// Rejected requests are not counted against any window. An admitted request
// is delayed by the largest Delay of the soft limits whose window, this
// request included, holds more than their Limit admitted requests.
func (e *Enforcer) Admit(now time.Time) (d Decision, done func()) {
	if e == nil {
		return Decision{Allowed: true}, noop
	}
	if e.err != nil {
		e.mu.Lock()
		e.stats.Rejected++
		e.mu.Unlock()
		return Decision{Reason: e.err.Error()}, noop
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.ts(now)

	var retry int64
	binding := -1
	for i := range e.hard {
		if w := e.hard[i].wait(t); w > retry {
			retry, binding = w, i
		}
	}
	if c := e.policy.Concurrency; c > 0 && e.inflight >= c {
		e.stats.Rejected++
		e.stats.RejectedConcurrency++
		return Decision{RetryAfter: time.Duration(retry), Reason: fmt.Sprintf("concurrency limit %d", c)}, noop
	}
	if binding >= 0 {
		e.stats.Rejected++
		e.stats.RejectedWindow++
		return Decision{RetryAfter: time.Duration(retry), Reason: e.hardNames[binding]}, noop
	}

	d.Allowed = true
	for i := range e.soft {
		if e.soft[i].wait(t) > 0 { // Limit admissions already in the window: this one is beyond
			if delay := e.policy.Soft[i].Delay; delay > d.Delay {
				d.Delay, d.Reason = delay, e.softNames[i]
			}
		}
		e.soft[i].record(t)
	}
	for i := range e.hard {
		e.hard[i].record(t)
		if n := int(min(e.hard[i].count(t), int64(1<<31-1))); n > e.stats.WindowPeak[i] {
			e.stats.WindowPeak[i] = n
		}
	}
	e.stats.Admitted++
	if d.Delay > 0 {
		e.stats.Delayed++
	}
	e.inflight++
	e.stats.MaxConcurrent = max(e.stats.MaxConcurrent, e.inflight)
	var finished atomic.Bool
	return d, func() {
		if finished.CompareAndSwap(false, true) {
			e.mu.Lock()
			e.inflight--
			e.mu.Unlock()
		}
	}
}

// Stats returns a snapshot of e's counters.
func (e *Enforcer) Stats() EnforcerStats {
	if e == nil {
		return EnforcerStats{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stats
	s.InFlight = e.inflight
	s.WindowPeak = append([]int(nil), e.stats.WindowPeak...)
	return s
}
