package interceptors

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RetryPolicy says which failed calls are tried again and how long to wait in
// between. Only UNAVAILABLE and RESOURCE_EXHAUSTED are ever retried; never
// UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND or any other
// code, never an error of the client's own limiter (*LimitError), and never
// after the caller's context is done.
//
// Non-idempotent methods (see Idempotent) are retried on RESOURCE_EXHAUSTED
// only (and not when it stems from an HTTP/2 stream reset): Kentik answers it
// when it refuses a call before doing anything, while UNAVAILABLE may come
// after the server already acted (a CreateInterface that succeeded but whose
// answer was lost would otherwise create a duplicate).
// Requests that never left the client are still retried by grpc itself
// (transparent retry), which is always safe.
//
// The wait before attempt n+1 (n >= 1) is Initial*Multiplier^(n-1), capped at
// Max, then spread by ±Jitter (a fraction). When the server said how long to
// back off (RetryInfo or grpc-retry-pushback-ms), the rate-limit interceptor
// inside the retry holds the next attempt until then, so the real wait is at
// least the server's.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts including the first; 0 means the
	// default (DefaultRetryPolicy), 1 disables retries.
	MaxAttempts int
	Initial     time.Duration // first backoff; 0: the default
	Max         time.Duration // backoff cap; 0: the default
	Multiplier  float64       // growth per attempt; < 1: the default
	Jitter      float64       // ±fraction of randomness in [0, 1]; < 0: none; 0: the default

	// Idempotent reports whether a full method name ("/pkg.Service/Method")
	// may be repeated after UNAVAILABLE. nil means DefaultIdempotent.
	Idempotent func(fullMethod string) bool

	// OnRetry, if set, is called just before each retry attempt starts (after
	// the backoff), from the calling goroutine. Useful to count retries.
	OnRetry func(RetryEvent)
}

// RetryEvent describes one retry about to start.
type RetryEvent struct {
	Method  string     // full gRPC method name
	Attempt int        // the attempt about to start: 2 for the first retry
	Code    codes.Code // the code the previous attempt failed with
	Err     error      // the previous attempt's error
}

// DefaultRetryPolicy is used for the zero fields of a RetryPolicy: 5 attempts,
// backoff from 250 ms doubling to at most 10 s, ±20 % jitter.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, Initial: 250 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.2}

// NoRetry is a RetryPolicy that makes a single attempt.
var NoRetry = RetryPolicy{MaxAttempts: 1}

// DefaultIdempotent treats every method as idempotent except those whose name
// starts with "Create". For Kentik's InterfaceService: ManualClassify and
// UpdateInterface set a state (the same input gives the same state), Get/List
// read, Delete of a deleted interface changes nothing; CreateInterface makes a
// new interface each time.
func DefaultIdempotent(fullMethod string) bool {
	name := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	return !strings.HasPrefix(name, "Create")
}

// withDefaults fills the zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Multiplier < 1 {
		p.Multiplier = d.Multiplier
	}
	switch {
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter == 0:
		p.Jitter = d.Jitter
	case p.Jitter > 1:
		p.Jitter = 1
	}
	if p.Idempotent == nil {
		p.Idempotent = DefaultIdempotent
	}
	return p
}

// Backoff returns the wait before the given attempt (2 for the first retry),
// jitter included.
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	p = p.withDefaults()
	return p.backoff(attempt)
}

func (p *RetryPolicy) backoff(attempt int) time.Duration {
	if attempt < 2 {
		return 0
	}
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(attempt-2))
	if d > float64(p.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*rand.Float64()-1)
	}
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}

// retrier builds, per method and on first use, the go-grpc-middleware retry
// interceptors with that method's rules. Caching per method keeps the hot path
// free of per-call option copies (the middleware's call options allocate) and
// lets OnRetry name the method, which the middleware's callback does not see.
type retrier struct {
	p       RetryPolicy
	methods sync.Map // full method → *methodRetry
}

type methodRetry struct {
	unary  grpc.UnaryClientInterceptor
	stream grpc.StreamClientInterceptor
}

func newRetrier(p RetryPolicy) *retrier { return &retrier{p: p.withDefaults()} }

func (r *retrier) forMethod(method string) *methodRetry {
	if m, ok := r.methods.Load(method); ok {
		return m.(*methodRetry)
	}
	p := r.p
	idempotent := p.Idempotent(method)
	retriable := func(err error) bool {
		if err == nil {
			return false
		}
		var le *LimitError
		var ms *midStreamError
		if errors.As(err, &le) || errors.As(err, &ms) {
			return false
		}
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.ResourceExhausted:
			// grpc-go reports an over-size message with this code too; sending
			// or fetching it again cannot help. A stream reset with
			// ENHANCE_YOUR_CALM is one too, and may come after the server
			// acted on the request: like UNAVAILABLE, only for idempotent methods.
			if isMessageSizeError(st.Message()) {
				return false
			}
			return idempotent || !isStreamReset(st.Message())
		case codes.Unavailable:
			return idempotent
		}
		return false
	}
	opts := []retry.CallOption{
		retry.WithMax(uint(p.MaxAttempts)),
		retry.WithRetriable(retriable),
		retry.WithBackoff(func(_ context.Context, attempt uint) time.Duration {
			// The middleware numbers the first retry 1.
			return p.backoff(int(attempt) + 1)
		}),
		retry.WithOnRetryCallback(func(ctx context.Context, attempt uint, err error) {
			countAttempt(ctx, int(attempt)+1)
			if p.OnRetry != nil {
				p.OnRetry(RetryEvent{Method: method, Attempt: int(attempt) + 1, Code: status.Code(err), Err: err})
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

// RetryUnaryClientInterceptor retries failed unary calls under p (see
// RetryPolicy), built on go-grpc-middleware's retry interceptor. The
// middleware adds an x-retry-attempt metadata key to retry attempts.
// Place it outside the rate-limit interceptor so that every attempt takes a
// slot of its own.
func RetryUnaryClientInterceptor(p RetryPolicy) grpc.UnaryClientInterceptor {
	r := newRetrier(p)
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
func RetryStreamClientInterceptor(p RetryPolicy) grpc.StreamClientInterceptor {
	r := newRetrier(p)
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

// isMessageSizeError recognises the RESOURCE_EXHAUSTED errors grpc-go makes on
// the client when a message exceeds the size limits. grpc-go gives them no
// type of their own, so their text is all there is to go on.
func isMessageSizeError(msg string) bool {
	return strings.HasPrefix(msg, "grpc: received message larger than max") ||
		strings.HasPrefix(msg, "trying to send message larger than max") ||
		strings.HasPrefix(msg, "grpc: received message after decompression larger than max") ||
		strings.HasPrefix(msg, "grpc: message after decompression larger than max")
}

// isStreamReset recognises the errors grpc-go makes on the client from an
// HTTP/2 RST_STREAM frame (ENHANCE_YOUR_CALM and FLOW_CONTROL_ERROR map to
// RESOURCE_EXHAUSTED); like the size errors, they have no type of their own.
func isStreamReset(msg string) bool {
	return strings.HasPrefix(msg, "stream terminated by RST_STREAM")
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
