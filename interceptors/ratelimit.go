package interceptors

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik/ratelimit"
)

// PushbackTrailer is the trailer in which a gRPC server may say, in
// milliseconds, how long a client should wait before retrying (gRFC A6).
const PushbackTrailer = "grpc-retry-pushback-ms"

// LimitError is what the rate-limit interceptors return when the limiter gives
// no slot: the context was cancelled, its deadline is closer than the next
// free slot, or the limiter refused for another reason. errors.Is(err,
// ratelimit.ErrLimited) is always true, and errors.As reaches the limiter's own
// error (for example *ratelimit.WaitError). Its gRPC code is Canceled or
// DeadlineExceeded when the context caused it and ResourceExhausted otherwise.
// The call was never sent, and the retry interceptor never retries it.
type LimitError struct {
	Method string // the full gRPC method name
	Err    error  // the limiter's error
}

// Error implements error.
func (e *LimitError) Error() string {
	if e.Err == nil {
		return e.Method + ": " + ratelimit.ErrLimited.Error()
	}
	return e.Method + ": " + e.Err.Error()
}

// Unwrap returns the limiter's error.
func (e *LimitError) Unwrap() error { return e.Err }

// Is reports true for ratelimit.ErrLimited, whatever the limiter returned.
func (e *LimitError) Is(target error) bool { return target == ratelimit.ErrLimited }

// Code is the gRPC code of the error (see LimitError).
func (e *LimitError) Code() codes.Code {
	switch {
	case errors.Is(e.Err, context.Canceled):
		return codes.Canceled
	case errors.Is(e.Err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.ResourceExhausted
}

// GRPCStatus lets status.Code and status.FromError read the code.
// Its message is the limiter's, without the method name.
func (e *LimitError) GRPCStatus() *status.Status {
	if e.Err == nil {
		return status.New(e.Code(), ratelimit.ErrLimited.Error())
	}
	return status.New(e.Code(), e.Err.Error())
}

// RateLimitUnaryClientInterceptor takes a slot from l before each attempt and
// gives it back when the attempt ends. Placed inside a retry interceptor (as
// the client does) every retry attempt takes its own slot and no slot is held
// while the retry interceptor backs off.
//
// When an attempt fails with RESOURCE_EXHAUSTED and the server says how long to
// back off, in a google.rpc.RetryInfo status detail or a grpc-retry-pushback-ms
// trailer, the delay is pushed back into the limiter (see HonourPushback): no
// later call through l starts before it has passed.
//
// A nil l limits nothing but still honours server pushback.
func RateLimitUnaryClientInterceptor(l ratelimit.Limiter) grpc.UnaryClientInterceptor {
	g := HonourPushback(l).(*pushbackGate)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		release, err := g.Acquire(ctx)
		if err != nil {
			return &LimitError{Method: method, Err: err}
		}
		// Deferred so that a panic below (recovered by the caller) cannot keep
		// the slot; it runs after observe, so that a waiting call sees the
		// pushback before it sees the free slot.
		defer release()
		// The trailer is only read for its pushback; grpc fills it in when the
		// call ends. A pooled holder keeps this allocation-free.
		h := trailerPool.Get().(*trailerHolder)
		opts = append(h.opts[:0], opts...)
		opts = append(opts, grpc.Trailer(&h.md))
		err = invoker(ctx, method, req, reply, cc, opts...)
		if err != nil {
			g.observe(err, h.md)
		}
		h.reset()
		trailerPool.Put(h)
		return err
	}
}

// RateLimitStreamClientInterceptor is RateLimitUnaryClientInterceptor for
// streams. The slot is held until the stream is over: RecvMsg returns an error
// (io.EOF included), RecvMsg returns the single response of a call that is not
// server-streaming, SendMsg fails (which aborts the stream), or the call's
// context is done.
func RateLimitStreamClientInterceptor(l ratelimit.Limiter) grpc.StreamClientInterceptor {
	g := HonourPushback(l).(*pushbackGate)
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		release, err := g.Acquire(ctx)
		if err != nil {
			return nil, &LimitError{Method: method, Err: err}
		}
		s, err := g.newStream(ctx, desc, cc, method, streamer, release, opts)
		if err != nil {
			return nil, err
		}
		ls := &limitedStream{ClientStream: s, gate: g, single: !desc.ServerStreams}
		var once sync.Once
		ls.release = func() { once.Do(release) }
		// A caller that abandons the stream must cancel its context (grpc's own
		// rule); that ends the stream and frees the slot here.
		ls.stop = context.AfterFunc(ctx, ls.release)
		return ls, nil
	}
}

// newStream runs streamer and gives the slot back if it fails or panics (a
// caller that recovers would otherwise leave the slot taken for good: there is
// no stream to end it).
func (g *pushbackGate) newStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, release func(), opts []grpc.CallOption) (s grpc.ClientStream, err error) {
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	s, err = streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		g.observe(err, nil)
		return nil, err
	}
	ok = true
	return s, nil
}

type limitedStream struct {
	grpc.ClientStream
	gate    *pushbackGate
	release func()
	stop    func() bool
	single  bool // one response only: the stream is over once it is received
}

func (s *limitedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err != nil:
		// Push-back first, so that a call waiting for the slot sees it.
		s.gate.observe(err, s.ClientStream.Trailer())
		s.stop()
		s.release()
	case s.single:
		// grpc has already checked that the response was the last message and
		// finished the call; a caller following grpc's rules (the generated
		// CloseAndRecv) never calls RecvMsg again.
		s.stop()
		s.release()
	}
	return err
}

// SendMsg gives the slot back when sending fails: grpc has aborted the stream
// then, and a caller (or go-grpc-middleware's retry, which drops a stream it
// could not resend to) may never call RecvMsg.
func (s *limitedStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil {
		s.stop()
		s.release()
	}
	return err
}

type trailerHolder struct {
	md   metadata.MD
	opts [8]grpc.CallOption
}

func (h *trailerHolder) reset() {
	h.md = nil
	clear(h.opts[:])
}

var trailerPool = sync.Pool{New: func() any { return new(trailerHolder) }}

// HonourPushback wraps l so that server pushback is honoured even when l has
// no PushBack of its own, or one that does nothing (ratelimit.Off): the
// wrapper's PushBack makes its Acquire wait until the pushback has passed
// (failing at once, like the limiter, when the context's deadline comes
// first), and forwards the pushback to l when l is a ratelimit.Pusher so that
// every user of a shared limiter backs off too. The rate-limit interceptors
// apply it themselves; wrap l once yourself to share one pushback state
// between the unary and the stream interceptor. Wrapping twice is a no-op.
//
// Hand-written because a limiter that paces nothing (policy off) must still
// hold back the next attempt after the server said "retry in N ms", and the
// retry middleware's BackoffFunc cannot see the error that said so. The fast
// path is one atomic load.
func HonourPushback(l ratelimit.Limiter) ratelimit.Limiter {
	if g, ok := l.(*pushbackGate); ok {
		return g
	}
	g := &pushbackGate{inner: l}
	g.pusher, _ = l.(ratelimit.Pusher)
	return g
}

type pushbackGate struct {
	inner     ratelimit.Limiter
	pusher    ratelimit.Pusher
	notBefore atomic.Int64 // unix nanoseconds; 0: no pushback pending
}

func noRelease() {}

// Acquire implements ratelimit.Limiter.
func (g *pushbackGate) Acquire(ctx context.Context) (func(), error) {
	// A push-back that grew while we waited holds us until its new end.
	for nb := g.notBefore.Load(); nb != 0; nb = g.notBefore.Load() {
		if err := g.wait(ctx, nb); err != nil {
			return nil, err
		}
	}
	if g.inner == nil {
		if err := ctx.Err(); err != nil {
			return nil, &ratelimit.WaitError{Policy: "off", Cause: err}
		}
		return noRelease, nil
	}
	return g.inner.Acquire(ctx)
}

// wait waits until nb (unix ns) has passed, then clears it unless a later
// push-back replaced it.
func (g *pushbackGate) wait(ctx context.Context, nb int64) error {
	d := time.Duration(nb - time.Now().UnixNano())
	if d <= 0 {
		g.notBefore.CompareAndSwap(nb, 0)
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return &ratelimit.WaitError{Wait: d, Policy: "server pushback", Cause: context.DeadlineExceeded}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		g.notBefore.CompareAndSwap(nb, 0)
		return nil
	case <-ctx.Done():
		return &ratelimit.WaitError{Wait: d, Policy: "server pushback", Cause: ctx.Err()}
	}
}

// PushBack implements ratelimit.Pusher: no call starts before now+d (d capped
// at ratelimit.MaxPushBack).
func (g *pushbackGate) PushBack(d time.Duration) {
	if d <= 0 {
		return
	}
	d = ratelimit.ClampPushBack(d)
	end := time.Now().Add(d).UnixNano()
	for {
		cur := g.notBefore.Load()
		if cur >= end || g.notBefore.CompareAndSwap(cur, end) {
			break
		}
	}
	if g.pusher != nil {
		g.pusher.PushBack(d)
	}
}

func (g *pushbackGate) observe(err error, trailer metadata.MD) {
	if d, ok := RetryPushback(err, trailer); ok {
		g.PushBack(d)
	}
}

// RetryPushback reports how long the server asked the client to wait before
// retrying a call that failed with err (RESOURCE_EXHAUSTED or UNAVAILABLE):
// the google.rpc.RetryInfo detail of the status, or else the
// grpc-retry-pushback-ms trailer. ok is false when the server said nothing, or
// for any other code, or when err was produced by the client itself (a
// *LimitError).
func RetryPushback(err error, trailer metadata.MD) (time.Duration, bool) {
	if err == nil {
		return 0, false
	}
	var le *LimitError
	if errors.As(err, &le) {
		return 0, false
	}
	st, _ := status.FromError(err)
	if c := st.Code(); c != codes.ResourceExhausted && c != codes.Unavailable {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			rd := ri.GetRetryDelay()
			if rd.GetSeconds() < 0 || rd.GetNanos() < 0 {
				continue
			}
			if rd.GetSeconds() > math.MaxInt64/int64(time.Second)-1 {
				return time.Duration(math.MaxInt64), true
			}
			return rd.AsDuration(), true
		}
	}
	if vs := trailer.Get(PushbackTrailer); len(vs) == 1 {
		// gRFC A6: a non-negative integer of milliseconds; anything else means
		// "do not retry", which the code-based retry rules already decide.
		ms, err := strconv.ParseInt(vs[0], 10, 64)
		if err == nil && ms >= 0 {
			if ms > math.MaxInt64/int64(time.Millisecond) {
				return time.Duration(math.MaxInt64), true
			}
			return time.Duration(ms) * time.Millisecond, true
		}
	}
	return 0, false
}
