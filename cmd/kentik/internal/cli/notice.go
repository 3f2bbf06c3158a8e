package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// noticeAfter is how long a wait must be for the command to say so on stderr: long
// enough that the user would wonder why nothing happens.
const noticeAfter = time.Second

// notifier says on stderr when a call waited noticeably, and why, once per kind of
// wait in a run (a classify job would otherwise repeat it thousands of times). Three
// waits are told apart:
//   - for a slot of the client's own rate-limit policy (noticeLimiter times Acquire);
//   - for Kentik's answer, which beyond the soft limit Kentik delays on purpose (an
//     innermost interceptor, or the base HTTP transport, times each attempt: a delay
//     at least as long as the policy's soft delay is taken for it);
//   - for a retry after Kentik refused a call for the rate limit (WithOnRetry).
type notifier struct {
	w      io.Writer
	policy ratelimit.Policy
	after  time.Duration

	mu   sync.Mutex
	said map[string]bool
}

func newNotifier(w io.Writer, p ratelimit.Policy) *notifier {
	return &notifier{w: w, policy: p, after: noticeAfter, said: map[string]bool{}}
}

// say prints a notice of a kind, the first time only.
func (n *notifier) say(kind, format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.said[kind] {
		return
	}
	n.said[kind] = true
	fmt.Fprintf(n.w, "kentik: "+format+"\n", args...)
}

// limitWait notes a wait for a slot of the client's policy.
func (n *notifier) limitWait(d time.Duration) {
	if d < n.after {
		return
	}
	n.say("limiter", "waited %s for a call slot of the rate-limit policy %s, which keeps this command inside Kentik's limits (--rate-limit sets another; further waits are not reported)",
		d.Round(10*time.Millisecond), describePolicy(n.policy))
}

// answerWait notes a slow answer from Kentik to method.
func (n *notifier) answerWait(method string, d time.Duration) {
	if d < n.after {
		return
	}
	for _, s := range n.policy.Soft {
		if d >= s.Delay*9/10 {
			n.say("answer", "Kentik took %s to answer %s: beyond %d calls in %s (its soft limit, counting every call of the account, from any process) it delays each answer by %s",
				d.Round(10*time.Millisecond), method, s.Limit, s.Period, s.Delay)
			return
		}
	}
	n.say("answer", "Kentik took %s to answer %s", d.Round(10*time.Millisecond), method)
}

// retryWait notes a retry after Kentik refused a call for the rate limit. The retry
// waits out Kentik's push-back in the limiter before it is sent (the gRPC client leaves
// RetryEvent.Wait zero, so the notice does not say for how long).
func (n *notifier) retryWait(e kentik.RetryEvent) {
	if e.Code != codes.ResourceExhausted {
		return
	}
	n.say("refused", "Kentik refused %s for the account's rate limit (attempt %d); trying again when Kentik said to. Other jobs of the account may be using its limit: --rate-limit sets a stricter policy",
		path.Base(e.Method), e.Attempt-1)
}

// unaryInterceptor times each attempt of a unary call, from the request leaving to the
// answer arriving: innermost, so neither the limiter nor the retries are counted.
func (n *notifier) unaryInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	n.answerWait(path.Base(method), time.Since(start))
	return err
}

// noticeLimiter times a limiter's Acquire for the notifier. It forwards push-backs
// (ratelimit.Pusher) to the limiter it wraps.
//
// The clients take a limiter (WithLimiter) but say nothing of how long a call waited
// for it, so the command wraps the limiter the clients would have built themselves.
type noticeLimiter struct {
	inner ratelimit.Limiter
	n     *notifier
}

func (l *noticeLimiter) Acquire(ctx context.Context) (func(), error) {
	start := time.Now()
	release, err := l.inner.Acquire(ctx)
	if err == nil {
		l.n.limitWait(time.Since(start))
	}
	return release, err
}

func (l *noticeLimiter) PushBack(d time.Duration) {
	if p, ok := l.inner.(ratelimit.Pusher); ok {
		p.PushBack(d)
	}
}

// noticeTransport times each V5 request for the notifier: the base transport, under the
// adapter's limiter and retries.
type noticeTransport struct {
	base http.RoundTripper
	n    *notifier
}

func (t *noticeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	t.n.answerWait(req.Method+" "+req.URL.Path, time.Since(start))
	return resp, err
}

// CloseIdleConnections forwards to the base transport, so that the adapter's Close
// reaches it.
func (t *noticeTransport) CloseIdleConnections() { closeIdle(t.base) }

// notices returns the run's notifier, made on first use.
func (g *Globals) notices() *notifier {
	if g.notifier == nil {
		g.notifier = newNotifier(g.Stderr, g.Policy())
	}
	return g.notifier
}

// limiter is the limiter of one API class of the account at place (the endpoint or
// region), timed for the notices: the account's limiter shared through the Redis of
// --limiter when one was given (closed when the command ends), else shared in the
// process as the clients share theirs (ratelimit.Shared under ratelimit.AccountKey).
func (g *Globals) limiter(ctx context.Context, place, class string) (ratelimit.Limiter, error) {
	factory, err := g.limiterFactory()
	if err != nil {
		return nil, err
	}
	inner, err := ratelimit.ForAccount(ctx, factory, place, g.Email, class, g.Policy())
	if err != nil {
		return nil, err
	}
	if c, ok := inner.(io.Closer); ok && factory != nil {
		g.closeOnExit(c)
	}
	return &noticeLimiter{inner: inner, n: g.notices()}, nil
}
