package interceptors

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"time"

	"github.com/gokentik/kentik"
)

// NewRetryTransport returns an http.RoundTripper that sends a request again through base
// when kentik.Retryable says it may, under p: a refusal (429, 503) for every method, an
// interruption (502, 504, a kept-alive connection closed or reset under the request) only
// for idempotent methods (kentik.IdempotentHTTPMethod), nothing else. It is the V5
// counterpart of RetryUnaryClientInterceptor, and shares its policy.
//
// The wait before a retry is p's backoff, or the response's Retry-After when that is
// longer. A Retry-After beyond p.MaxPushBack is not waited for: the response is returned
// as it is, for the caller to report. A retry whose wait would pass the request
// context's deadline is not attempted either, and a context that ends during the wait
// ends the retries: either way the last response (or error) is returned.
// Place it outside NewRateLimitTransport so that every attempt takes a slot of its own,
// and the limiter, told about the push-back, holds every other request of the account
// too.
//
// The request body is sent again through req.GetBody, which http.NewRequest sets for
// in-memory bodies; a request with a body and no GetBody is sent once. The body of a
// response to be retried is read (its first 64 KiB) and closed before the wait, so that
// neither a slot of the limiter nor the connection is held while backing off; a response
// returned because the wait was cut short carries what was read. onRetry, if not nil, is
// called before each retry, and so is the Retry method of a WithObserver observer. A nil
// base means http.DefaultTransport.
func NewRetryTransport(base http.RoundTripper, p kentik.RetryPolicy, onRetry func(kentik.RetryEvent), options ...Option) http.RoundTripper {
	o := buildOptions(options, kentik.ClassV5Admin)
	return &retryTransport{base: transportOrDefault(base), p: p.WithDefaults(), onRetry: onRetry, obs: o.obs, class: o.class, now: time.Now}
}

type retryTransport struct {
	base    http.RoundTripper
	p       kentik.RetryPolicy
	onRetry func(kentik.RetryEvent)
	obs     kentik.Observer
	class   string
	now     func() time.Time
}

// maxDrain bounds how much of a retried response's body is read before it is closed, so
// that its connection can be reused; a longer body costs a new connection instead.
const maxDrain = 64 << 10

// readAhead reads up to maxDrain bytes of body, closes it, and returns what it read as
// the body.
func readAhead(body io.ReadCloser) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	b, _ := io.ReadAll(io.LimitReader(body, maxDrain))
	_ = body.Close()
	return io.NopCloser(bytes.NewReader(b))
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	idempotent := kentik.IdempotentHTTPMethod(req.Method)
	for attempt := 1; ; attempt++ {
		out := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out = req.Clone(req.Context())
			out.Body = body
		}
		resp, err := t.base.RoundTrip(out)
		if attempt >= t.p.MaxAttempts || !replayable {
			return resp, err
		}
		var failure kentik.Failure
		var wait time.Duration
		switch {
		case err != nil:
			if interruptedConn(err) {
				failure = kentik.Interrupted
			}
		default:
			failure = kentik.HTTPFailure(resp.StatusCode)
			if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
				if d > t.p.MaxPushBack {
					return resp, nil // the caller reports the server's refusal as it is
				}
				wait = d
			}
		}
		if !kentik.Retryable(failure, idempotent) || req.Context().Err() != nil {
			return resp, err
		}
		wait = max(wait, t.p.Backoff(attempt+1))
		if dl, ok := req.Context().Deadline(); ok && time.Until(dl) <= wait {
			return resp, err
		}
		code := kentik.CodeOf(err)
		if resp != nil {
			code = kentik.CodeOfHTTP(resp.StatusCode)
			// Closed before the wait: a slot of the limiter inside is held until the
			// body is closed, and must not be while backing off. If the context ends
			// meanwhile, the caller gets this response, not a bare context error.
			resp.Body = readAhead(resp.Body)
		}
		if sleep(req.Context(), wait) != nil {
			return resp, err
		}
		if t.onRetry != nil || t.obs != nil {
			e := kentik.RetryEvent{Method: req.Method + " " + req.URL.EscapedPath(), Route: httpRoute(req), Class: t.class, Attempt: attempt + 1, Code: code, Err: err, Wait: wait}
			if t.onRetry != nil {
				t.onRetry(e)
			}
			if t.obs != nil {
				t.obs.Retry(req.Context(), e)
			}
		}
	}
}

// CloseIdleConnections forwards to the wrapped transport when it supports it.
func (t *retryTransport) CloseIdleConnections() { closeIdleOf(t.base) }

// interruptedConn reports a connection lost under the request: a kept-alive connection
// closed or reset by the other end. A refused connection, a timeout, the limiter's
// refusal or a redirect refusal is not one.
func interruptedConn(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
