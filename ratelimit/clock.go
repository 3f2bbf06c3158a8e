package ratelimit

import "time"

// Clock is the source of time of a Limiter, replaceable for deterministic
// tests. The default is the real clock (time.Now and timers).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has elapsed.
	// The Limiter may abandon the channel without reading from it.
	After(d time.Duration) <-chan time.Time
}

// Option configures New and NewEnforcer.
type Option func(*config)

type config struct {
	clock     Clock
	margin    time.Duration
	marginSet bool
}

// WithClock makes the limiter read time from c instead of the real clock
// (nil means the real clock). Context deadlines stay in real time: Acquire
// compares the time left before the deadline (time.Until) with the wait
// measured on c. The Enforcer is given the time by its caller and ignores
// this option.
func WithClock(c Clock) Option {
	return func(cf *config) { cf.clock = c }
}

// WithMargin sets the extra safety added to each window's Period, which
// absorbs the transit jitter between the client's admission of a call and the
// server's receipt of it: a Limiter never admits more than Limit calls in any
// Period+margin. A negative d counts as 0.
//
// The default for New is ClientMargin: Period/200 for each window, at most 250ms. The
// default for NewEnforcer is 0 (a server enforces the exact policy); a margin
// given to NewEnforcer makes it stricter by as much.
func WithMargin(d time.Duration) Option {
	if d < 0 {
		d = 0
	}
	return func(cf *config) { cf.margin, cf.marginSet = d, true }
}

// ClientMargin is the margin New adds to a window's Period unless WithMargin says
// otherwise: Period/200, at most 250ms. Limiters of other stores (package redislimit)
// count their windows with it too.
func ClientMargin(period time.Duration) time.Duration {
	return min(period/200, 250*time.Millisecond)
}

func buildConfig(opts []Option) config {
	var cf config
	for _, o := range opts {
		if o != nil {
			o(&cf)
		}
	}
	return cf
}

// span returns period plus the configured margin, in ns.
func (cf *config) span(period time.Duration, client bool) int64 {
	m := cf.margin
	if !cf.marginSet {
		m = 0
		if client {
			m = ClientMargin(period)
		}
	}
	return addSat(int64(period), int64(m))
}
