package interceptors

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/ratelimit"
)

// pushbackTrailer is the trailer in which a gRPC server may say, in milliseconds, how
// long a client should wait before retrying (gRFC A6).
const pushbackTrailer = "grpc-retry-pushback-ms"

// RateLimitUnaryClientInterceptor takes a slot from l before each attempt and
// gives it back when the attempt ends. Placed inside a retry interceptor (as
// the client does) every retry attempt takes its own slot and no slot is held
// while the retry interceptor backs off.
//
// A slot the limiter cannot give in time fails the call with the limiter's own error
// (errors.Is(err, ratelimit.ErrLimited)); nothing is sent, and the retry interceptor
// never retries it.
//
// When an attempt fails with RESOURCE_EXHAUSTED or UNAVAILABLE and the server says how
// long to back off, in a google.rpc.RetryInfo status detail or a grpc-retry-pushback-ms
// trailer, the delay is pushed back into the limiter (see ratelimit.HonourPushBack): no
// later call through l starts before it has passed. A push-back longer than the
// limiter's Max (kentik.DefaultRetryPolicy.MaxPushBack unless l is a
// *ratelimit.PushBackLimiter saying otherwise) holds later calls for Max only, and fails
// the attempt with a *ratelimit.PushBackError, which is not retried.
//
// A nil l limits nothing but still honours server push-back. With WithObserver the
// observer is told of every wait, release and push-back (class kentik.ClassV6Admin unless
// WithClass says otherwise).
func RateLimitUnaryClientInterceptor(l ratelimit.Limiter, options ...Option) grpc.UnaryClientInterceptor {
	g := honourPushBack(l)
	o := buildOptions(options, kentik.ClassV6Admin)
	return rateLimitUnary(func(string) (*ratelimit.PushBackLimiter, string) { return g, o.class }, o)
}

// RateLimitUnaryClientInterceptorFor is RateLimitUnaryClientInterceptor with the limiter
// chosen per call by its full method name, with the name of its class for the observer's
// events, for methods counted in different limit classes. limiterFor must return the
// same limiter for the same class every time (a *ratelimit.PushBackLimiter made once is
// used as it is; anything else is wrapped anew on every call, and forgets push-back
// between calls).
func RateLimitUnaryClientInterceptorFor(limiterFor func(fullMethod string) (l ratelimit.Limiter, class string), options ...Option) grpc.UnaryClientInterceptor {
	return rateLimitUnary(gatesFor(limiterFor), buildOptions(options, kentik.ClassV6Admin))
}

// RateLimitStreamClientInterceptorFor is RateLimitUnaryClientInterceptorFor for streams.
func RateLimitStreamClientInterceptorFor(limiterFor func(fullMethod string) (l ratelimit.Limiter, class string), options ...Option) grpc.StreamClientInterceptor {
	return rateLimitStream(gatesFor(limiterFor), buildOptions(options, kentik.ClassV6Admin))
}

func gatesFor(limiterFor func(string) (ratelimit.Limiter, string)) func(string) (*ratelimit.PushBackLimiter, string) {
	return func(m string) (*ratelimit.PushBackLimiter, string) {
		l, class := limiterFor(m)
		return honourPushBack(l), class
	}
}

// acquire takes a slot of the limiter of method's class, telling the observer, if any,
// of the wait.
func (o options) acquire(ctx context.Context, gateFor func(string) (*ratelimit.PushBackLimiter, string), method string) (*ratelimit.PushBackLimiter, waitObserver, func(), error) {
	g, class := gateFor(method)
	var w waitObserver
	if o.obs != nil {
		oc := o
		oc.class = class
		w = oc.begin(ctx, method)
	}
	release, err := g.Acquire(ctx)
	if w.obs != nil {
		w.end(ctx, err)
	}
	return g, w, release, err
}

func rateLimitUnary(gateFor func(string) (*ratelimit.PushBackLimiter, string), o options) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		g, w, release, err := o.acquire(ctx, gateFor, method)
		if err != nil {
			return err
		}
		if w.obs != nil {
			defer w.released(ctx) // after release below: deferred calls run last in, first out
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
			err = observe(ctx, g, &w, err, h.md)
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
// context is done. It takes the same options.
func RateLimitStreamClientInterceptor(l ratelimit.Limiter, options ...Option) grpc.StreamClientInterceptor {
	g := honourPushBack(l)
	o := buildOptions(options, kentik.ClassV6Admin)
	return rateLimitStream(func(string) (*ratelimit.PushBackLimiter, string) { return g, o.class }, o)
}

func rateLimitStream(gateFor func(string) (*ratelimit.PushBackLimiter, string), o options) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		g, w, release, err := o.acquire(ctx, gateFor, method)
		if err != nil {
			return nil, err
		}
		release = w.wrapRelease(ctx, release)
		s, err := newStream(ctx, g, &w, desc, cc, method, streamer, release, opts)
		if err != nil {
			return nil, err
		}
		ls := &limitedStream{ClientStream: s, gate: g, obs: w, ctx: ctx, single: !desc.ServerStreams}
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
func newStream(ctx context.Context, g *ratelimit.PushBackLimiter, w *waitObserver, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, release func(), opts []grpc.CallOption) (s grpc.ClientStream, err error) {
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	s, err = streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, observe(ctx, g, w, err, nil)
	}
	ok = true
	return s, nil
}

type limitedStream struct {
	grpc.ClientStream
	gate    *ratelimit.PushBackLimiter
	obs     waitObserver    // reports push-backs; zero without an observer
	ctx     context.Context // the call's, for the observer
	release func()
	stop    func() bool
	single  bool // one response only: the stream is over once it is received
}

func (s *limitedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err != nil:
		// Push-back first, so that a call waiting for the slot sees it.
		err = observe(s.ctx, s.gate, &s.obs, err, s.ClientStream.Trailer())
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

// honourPushBack wraps l for the interceptors, with the default push-back cap unless l
// is a PushBackLimiter already.
func honourPushBack(l ratelimit.Limiter) *ratelimit.PushBackLimiter {
	return ratelimit.HonourPushBack(l, kentik.DefaultRetryPolicy.MaxPushBack)
}

// observe pushes the server's push-back, if err carries one, into g, and returns err,
// or a *ratelimit.PushBackError when the push-back is longer than g waits. w's observer,
// if any, is told of the push-back, and of a refusal for the rate limit that carries none.
func observe(ctx context.Context, g *ratelimit.PushBackLimiter, w *waitObserver, err error, trailer metadata.MD) error {
	d, ok := retryPushBack(err, trailer)
	if w.obs != nil {
		w.pushBack(ctx, err, d, ok, g.Max())
	}
	if !ok {
		return err
	}
	g.PushBack(d)
	if d > g.Max() {
		return &ratelimit.PushBackError{Wait: d, Max: g.Max(), Err: err}
	}
	return err
}

// retryPushBack reports how long the server asked the client to wait before retrying a
// call that failed with err (RESOURCE_EXHAUSTED or UNAVAILABLE): the
// google.rpc.RetryInfo detail of the status, or else the grpc-retry-pushback-ms trailer.
// ok is false when the server said nothing, for any other code, and for the client's
// own limiter's refusals.
func retryPushBack(err error, trailer metadata.MD) (time.Duration, bool) {
	if err == nil || errors.Is(err, ratelimit.ErrLimited) {
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
	if vs := trailer.Get(pushbackTrailer); len(vs) == 1 {
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
