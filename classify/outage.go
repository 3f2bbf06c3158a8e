package classify

import (
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/ratelimit"
)

// DefaultOutageBudget is the outage budget the kentik command gives a job unless told
// otherwise (Runner.OutageBudget). Ten minutes rides out what usually stops a network
// path or a service for a while (a deploy, a load balancer failing over, a routing
// change, typically seconds to a few minutes) and still gives up on a real incident
// before a job of a million interfaces, which takes about 25 minutes at Kentik's admin
// limits (1000 requests of 1000 ids), has spent half as long again doing nothing.
const DefaultOutageBudget = 10 * time.Minute

// DefaultOutageProbe is the backoff between probes while a job waits an outage out,
// unless Runner.OutageProbe says otherwise: a first probe after a second (a blip is over
// by then), then 2, 4 and 8 s, and every 10 s after that, ±20 %. A probe is a request
// like any other, which the client retries (5 attempts over about 4 s by default) and
// its limiter counts: an outage costs at most about 22 attempts a minute, a third of
// the admin hard limit, and the job resumes about 10 s at most after Kentik answers
// again.
var DefaultOutageProbe = kentik.RetryPolicy{
	Initial:    time.Second,
	Max:        10 * time.Second,
	Multiplier: 2,
	Jitter:     0.2,
}

// ErrOutage: Kentik could not be reached for longer than Runner.OutageBudget, so the job
// stopped. The rows not classified are in the failed file (with the batches that failed
// on the way); the journal resumes the job.
var ErrOutage = errors.New("classify: Kentik was unreachable for longer than the outage budget")

const (
	// maxLoneFailures is how many times a batch may fail transiently at moments Kentik
	// was answering other calls (the failure that starts an outage) before it is failed
	// for good: a batch that alone keeps failing is not waiting an outage out.
	maxLoneFailures = 5
	// outageReportEvery is how often Progress is called while the job waits an outage
	// out, when no call ends.
	outageReportEvery = time.Second
)

// transient reports whether a ManualClassify failure (after the client's retries, while
// the job's context is live) may go away by itself, and the batch may be sent again
// under the retry rules (kentik.Retryable): UNAVAILABLE, which includes the connection
// errors grpc reports; DEADLINE_EXCEEDED of the call itself (Runner.CallTimeout), which
// may come after the request reached Kentik; RESOURCE_EXHAUSTED of Kentik's rate limit,
// its push-back longer than the client waits (*ratelimit.PushBackError) included, and of
// the client's limiter. kentik.GRPCFailure sorts the codes; it calls DEADLINE_EXCEEDED
// permanent because a caller's own deadline is no reason to retry, but here the job's
// context is still live, so the deadline was the call's. Whether a ManualClassify that may
// have reached Kentik may be sent again is the schema's decision (kentik.IdempotentMethod
// lists it as idempotent by meaning: it sets a state); it is asked here rather than at
// init, which every program linking the package would pay.
func transient(err error) bool {
	code := kentik.CodeOf(err)
	f := kentik.Interrupted
	if code != codes.DeadlineExceeded {
		f = kentik.GRPCFailure(code, status.Convert(err).Message())
	}
	return f != kentik.Permanent && kentik.Retryable(f, kentik.IdempotentMethod(ifacev1.InterfaceService_ManualClassify_FullMethodName))
}

// pushBack returns how long the server asked to be left alone, when the failure says so.
func pushBack(err error) time.Duration {
	var pb *ratelimit.PushBackError
	if errors.As(err, &pb) {
		return pb.Wait
	}
	return 0
}

// outageState is the dispatcher's view of an outage. An outage starts with a transient
// failure, which already stands for the client's own attempts (5 over about 4 s with
// kentik.DefaultRetryPolicy), at the moment its call was sent; it ends when a call gets
// an answer (any answer: a success, or a permanent error), or stops the job when no
// probe got one within the budget.
type outageState struct {
	policy kentik.RetryPolicy // the probes' backoff
	budget time.Duration

	streak int // transient failures since the last answer

	active    bool      // waiting an outage out: one probe at a time
	start     time.Time // when the outage started
	probes    int       // probes sent in this outage
	lastErr   error     // of the last transient failure (it may ask for a longer wait)
	every     time.Duration
	scheduled bool // the timer runs for the next probe
	probeDue  bool // it ran out: the next probe may go
	timer     *time.Timer
	ticker    *time.Ticker
	stopped   bool // the budget ran out: the job sends nothing more
}

func newOutageState(r *Runner) *outageState {
	o := &outageState{policy: r.OutageProbe, budget: r.OutageBudget}
	if o.policy == (kentik.RetryPolicy{}) {
		o.policy = DefaultOutageProbe
	}
	return o
}

// enabled reports whether transient failures are waited out at all.
func (o *outageState) enabled() bool { return o.budget > 0 }

// deadline is when the current outage runs out of budget.
func (o *outageState) deadline() time.Time { return o.start.Add(o.budget) }

// begin starts an outage at t.
func (o *outageState) begin(t time.Time) {
	o.active, o.start, o.probes, o.probeDue, o.scheduled = true, t, 0, false, false
	o.every = 0
	o.ticker = time.NewTicker(outageReportEvery)
}

// finish ends the outage at t and returns how long it lasted.
func (o *outageState) finish(t time.Time) time.Duration {
	o.active, o.probeDue, o.scheduled = false, false, false
	o.every, o.lastErr = 0, nil
	o.stopTimers()
	return max(t.Sub(o.start), 0)
}

func (o *outageState) stopTimers() {
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	if o.ticker != nil {
		o.ticker.Stop()
		o.ticker = nil
	}
}

// schedule sets the wait before the next probe: the policy's backoff for it, or the
// server's push-back when longer, but never past the deadline, so that the last probe
// goes when the budget runs out.
func (o *outageState) schedule(now time.Time, err error) {
	wait := max(o.policy.Backoff(o.probes+2), pushBack(err))
	wait = min(wait, o.deadline().Sub(now))
	wait = max(wait, 0)
	o.every = wait
	o.probeDue, o.scheduled = false, true
	if o.timer == nil {
		o.timer = time.NewTimer(wait)
	} else {
		o.timer.Reset(wait)
	}
}

// timerC is the probe timer's channel while a probe is scheduled, nil otherwise.
func (o *outageState) timerC() <-chan time.Time {
	if !o.active || !o.scheduled {
		return nil
	}
	return o.timer.C
}

// tickerC is the progress ticker's channel during an outage, nil otherwise.
func (o *outageState) tickerC() <-chan time.Time {
	if !o.active || o.ticker == nil {
		return nil
	}
	return o.ticker.C
}
