package kentiktest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// refusal is why a call is answered with an error before reaching its handler.
type refusal struct {
	code       codes.Code
	msg        string
	retryAfter time.Duration // set for rate-limit rejections
}

// authenticate checks the credentials a call carried. Exactly one email and one token
// must be sent; they are compared in constant time (the email ignoring case), and the
// message never repeats what was sent.
func (s *Server) authenticate(emails, tokens []string, emailKey, tokenKey string) *refusal {
	switch {
	case len(emails) == 0 && len(tokens) == 0:
		return &refusal{code: codes.Unauthenticated, msg: fmt.Sprintf("kentiktest: missing credentials: send %s and %s", emailKey, tokenKey)}
	case len(emails) == 0:
		return &refusal{code: codes.Unauthenticated, msg: fmt.Sprintf("kentiktest: missing credentials: send %s", emailKey)}
	case len(tokens) == 0:
		return &refusal{code: codes.Unauthenticated, msg: fmt.Sprintf("kentiktest: missing credentials: send %s", tokenKey)}
	case len(emails) > 1 || len(tokens) > 1:
		return &refusal{code: codes.Unauthenticated, msg: fmt.Sprintf("kentiktest: send %s and %s once each", emailKey, tokenKey)}
	}
	want := s.cfg.creds
	emailOK := subtle.ConstantTimeCompare([]byte(strings.ToLower(strings.TrimSpace(emails[0]))), []byte(strings.ToLower(want.Email)))
	tokenOK := subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tokens[0])), []byte(want.Token))
	if emailOK&tokenOK != 1 {
		return &refusal{code: codes.Unauthenticated, msg: "kentiktest: invalid credentials: the email and API token do not match the fake's user"}
	}
	return nil
}

// gate runs the steps every authenticated call goes through before its handler: the
// class's rate-limit enforcer (rejection, or a soft-limit delay honouring ctx), then the
// injected latency and faults. An OutageUnavailable outage refuses the call first. On
// success the caller must call done once it answered.
//
// Authentication comes before the limiter because Kentik counts limits per customer: a
// call without valid credentials cannot be attributed to anyone, so it neither uses up
// nor is refused by a customer's limits.
func (s *Server) gate(ctx context.Context, c *apiClass, method string) (done func(), r *refusal) {
	if s.outage.unavailable.Load() {
		c.reject(RejectOutage)
		return nil, &refusal{code: codes.Unavailable, msg: "kentiktest: the service is unavailable (an outage: Server.Outage)"}
	}
	d, done := c.currentEnforcer().Admit(time.Now())
	if !d.Allowed {
		reason := rejectReason(d.Reason)
		c.reject(reason)
		wait := d.RetryAfter
		if wait <= 0 {
			// A concurrency rejection with room in every window: a slot frees when a call
			// in flight is answered, which the server cannot predict. Suggest the policy's
			// steady-state spacing rather than "retry now".
			wait = max(c.policy.MinInterval(), 10*time.Millisecond)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "rate limit: call rejected", slog.String("api", c.name),
			slog.String("method", method), slog.String("reason", d.Reason), slog.Duration("retry_after", wait))
		return nil, &refusal{
			code:       codes.ResourceExhausted,
			msg:        fmt.Sprintf("kentiktest: rate limit exceeded (%s, policy %s): retry after %v", d.Reason, c.policy, wait),
			retryAfter: wait,
		}
	}
	fail := func(r *refusal) (func(), *refusal) {
		done()
		return nil, r
	}
	if d.Delay > 0 {
		c.delay()
		if err := s.sleep(ctx, d.Delay); err != nil {
			c.reject(RejectCanceled)
			return fail(&refusal{code: ctxCode(err), msg: fmt.Sprintf("kentiktest: call ended during the soft-limit delay (%s): %v", d.Reason, err)})
		}
	}
	f := s.faults.decide(method)
	if f.latency > 0 {
		if err := s.sleep(ctx, f.latency); err != nil {
			c.reject(RejectCanceled)
			return fail(&refusal{code: ctxCode(err), msg: fmt.Sprintf("kentiktest: call ended during injected latency: %v", err)})
		}
	}
	if f.fail {
		c.reject(RejectFault)
		return fail(&refusal{code: f.code, msg: fmt.Sprintf("kentiktest: injected fault (%s) on %s", f.why, method)})
	}
	return done, nil
}

// errStopping ends the delays of calls in flight when the server is closed.
var errStopping = errors.New("the fake is shutting down")

// sleep waits for d, until ctx ends or until the server is closed. The last matters for
// V5 requests with a body: net/http cancels their context only once the body was read,
// which the handler has not done yet.
func (s *Server) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errStopping
	case <-t.C:
		return nil
	}
}

func ctxCode(err error) codes.Code {
	switch err {
	case context.DeadlineExceeded:
		return codes.DeadlineExceeded
	case errStopping:
		return codes.Unavailable
	}
	return codes.Canceled
}
