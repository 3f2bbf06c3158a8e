package classify

import (
	"time"

	"github.com/gokentik/kentik/ratelimit"
)

// Estimate returns the least time that requests calls take under p, each taking latency
// on the server before any soft-limit delay: a simulation of a client that starts every
// call as soon as every hard window has room and the concurrency cap allows (as
// ratelimit's limiter does), against a server that adds each soft limit's delay to the
// calls beyond it. The client's safety margin and the network are not modelled, so a real
// run takes a little longer. It is 0 for an "off" policy or no requests.
//
// With the admin policy's concurrency of 1, a delayed answer holds the only slot, so
// once more than 20 calls fall in a minute every call takes the soft limit's 1.5 s: the
// steady rate is 40 a minute, not the hard limit's 60, and 1000 requests take about 24.5
// minutes. For the query policy the hourly window (1500) binds once a job runs for more
// than a few minutes.
func Estimate(p ratelimit.Policy, requests int, latency time.Duration) time.Duration {
	if requests <= 0 {
		return 0
	}
	start := make([]int64, requests) // when call i starts
	end := make([]int64, requests)   // when its answer arrives
	softFrom := make([]int, len(p.Soft))
	for i := range requests {
		var t int64
		if i > 0 {
			t = start[i-1] // FIFO: calls start in order
		}
		for _, w := range p.Windows {
			if w.Limit > 0 && i >= w.Limit {
				t = max(t, start[i-w.Limit]+int64(w.Period))
			}
		}
		if c := p.Concurrency; c > 0 && i >= c {
			// The i-th call needs one of c slots; with FIFO starts and
			// non-decreasing answers the slot of call i-c is the one that frees.
			t = max(t, end[i-c])
		}
		start[i] = t
		var delay int64
		for k, s := range p.Soft {
			for softFrom[k] < i && start[softFrom[k]] <= t-int64(s.Period) {
				softFrom[k]++
			}
			if s.Limit > 0 && i-softFrom[k] >= s.Limit {
				delay = max(delay, int64(s.Delay))
			}
		}
		end[i] = t + int64(latency) + delay
		if i > 0 {
			end[i] = max(end[i], end[i-1])
		}
	}
	return time.Duration(end[requests-1])
}
