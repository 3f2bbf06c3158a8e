package interceptors

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// retrier builds, per method and on first use, the go-grpc-middleware retry
// interceptors with that method's rules. Caching per method keeps the hot path
// free of per-call option copies (the middleware's call options allocate) and
// lets OnRetry name the method, which the middleware's callback does not see.
type retrier struct {
	p       kentik.RetryPolicy
	onRetry func(kentik.RetryEvent)
	obs     kentik.Observer
	class   string
	methods sync.Map // full method → *methodRetry
}

type methodRetry struct {
	unary  grpc.UnaryClientInterceptor
	stream grpc.StreamClientInterceptor
}

func newRetrier(p kentik.RetryPolicy, onRetry func(kentik.RetryEvent), options []Option) *retrier {
	o := buildOptions(options, kentik.ClassV6Admin)
	return &retrier{p: p.WithDefaults(), onRetry: onRetry, obs: o.obs, class: o.class}
}

func (r *retrier) forMethod(method string) *methodRetry {
	if m, ok := r.methods.Load(method); ok {
		return m.(*methodRetry)
	}
	p := r.p
	idempotent := kentik.IdempotentMethod(method)
	retriable := func(err error) bool {
		var pb *ratelimit.PushBackError
		var ms *midStreamError
		if err == nil || errors.Is(err, ratelimit.ErrLimited) || errors.As(err, &pb) || errors.As(err, &ms) {
			return false
		}
		st, _ := status.FromError(err)
		return kentik.Retryable(kentik.GRPCFailure(st.Code(), st.Message()), idempotent)
	}
	opts := []retry.CallOption{
		retry.WithMax(uint(p.MaxAttempts)),
		retry.WithRetriable(retriable),
		retry.WithBackoff(func(_ context.Context, attempt uint) time.Duration {
			// The middleware numbers the first retry 1.
			return p.Backoff(int(attempt) + 1)
		}),
		retry.WithOnRetryCallback(func(ctx context.Context, attempt uint, err error) {
			countAttempt(ctx, int(attempt)+1)
			if r.onRetry != nil || r.obs != nil {
				e := kentik.RetryEvent{Method: method, Route: method, Class: r.class, Attempt: int(attempt) + 1, Code: status.Code(err), Err: err}
				if r.onRetry != nil {
					r.onRetry(e)
				}
				if r.obs != nil {
					r.obs.Retry(ctx, e)
				}
			}
		}),
	}
	m := &methodRetry{
		unary:  retry.UnaryClientInterceptor(opts...),
		stream: retry.StreamClientInterceptor(opts...),
	}
	actual, _ := r.methods.LoadOrStore(method, m)
	return actual.(*methodRetry)
}

// RetryUnaryClientInterceptor retries failed unary calls under p, built on
// go-grpc-middleware's retry interceptor. What is retried is kentik.Retryable's
// decision: a refusal (RESOURCE_EXHAUSTED) for every method, UNAVAILABLE only for
// idempotent ones (kentik.IdempotentMethod), never anything else, never the client
// limiter's own refusals, a push-back longer than the client waits
// (*ratelimit.PushBackError), or a call whose context is done. onRetry, if not nil, is
// called from the calling goroutine just before each retry attempt starts (after the
// backoff), and so is the Retry method of a WithObserver observer. The middleware adds an
// x-retry-attempt metadata key to retry attempts.
//
// Place it outside the rate-limit interceptor so that every attempt takes a slot of its
// own and no slot is held while the retry backs off.
func RetryUnaryClientInterceptor(p kentik.RetryPolicy, onRetry func(kentik.RetryEvent), options ...Option) grpc.UnaryClientInterceptor {
	r := newRetrier(p, onRetry, options)
	if r.p.MaxAttempts <= 1 {
		return passUnary
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return r.forMethod(method).unary(ctx, method, req, reply, cc, invoker, opts...)
	}
}

// RetryStreamClientInterceptor retries server-streaming calls under p, but only
// while no response message has been received: a stream is never restarted
// after the caller has seen part of its output, which would hand it duplicate
// messages. Client- and bidi-streaming calls are never retried (their
// requests cannot be replayed).
func RetryStreamClientInterceptor(p kentik.RetryPolicy, onRetry func(kentik.RetryEvent), options ...Option) grpc.StreamClientInterceptor {
	r := newRetrier(p, onRetry, options)
	if r.p.MaxAttempts <= 1 {
		return passStream
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if desc.ClientStreams {
			return streamer(ctx, desc, cc, method, opts...)
		}
		guarded := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return nil, err
			}
			return &firstMessageGuard{ClientStream: s}, nil
		}
		return r.forMethod(method).stream(ctx, desc, cc, method, guarded, opts...)
	}
}

func passUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, opts...)
}

func passStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(ctx, desc, cc, method, opts...)
}

// firstMessageGuard marks errors that come after a received message so that
// the retry interceptor does not restart the stream.
type firstMessageGuard struct {
	grpc.ClientStream
	received bool
}

func (s *firstMessageGuard) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		s.received = true
	case s.received && !errors.Is(err, io.EOF):
		return &midStreamError{err: err}
	}
	return err
}

// midStreamError is a stream error after partial output: not retriable. It
// keeps the original's message, status and chain.
type midStreamError struct{ err error }

func (e *midStreamError) Error() string { return e.err.Error() }
func (e *midStreamError) Unwrap() error { return e.err }
func (e *midStreamError) GRPCStatus() *status.Status {
	st, _ := status.FromError(e.err)
	return st
}
