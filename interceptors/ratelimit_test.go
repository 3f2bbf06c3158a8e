package interceptors

import (
	"context"
	"errors"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/ratelimit"
)

// stubLimiter counts slots and records pushbacks.
type stubLimiter struct {
	acquired, released atomic.Int64
	err                error
	mu                 sync.Mutex
	pushed             []time.Duration
}

func (l *stubLimiter) Acquire(ctx context.Context) (func(), error) {
	if l.err != nil {
		return nil, l.err
	}
	l.acquired.Add(1)
	var once sync.Once
	return func() { once.Do(func() { l.released.Add(1) }) }, nil
}

func (l *stubLimiter) PushBack(d time.Duration) {
	l.mu.Lock()
	l.pushed = append(l.pushed, d)
	l.mu.Unlock()
}

func (l *stubLimiter) pushes() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.pushed...)
}

func retryInfoErr(code codes.Code, d time.Duration) error {
	st, err := status.New(code, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	if err != nil {
		panic(err)
	}
	return st.Err()
}

func TestRateLimitUnaryAndStream(t *testing.T) {
	s := startServer(t, nil)
	l := &stubLimiter{}
	cc := dial(t, s.addr,
		grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(l)),
		grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
	ic := ifacev1.NewInterfaceServiceClient(cc)
	ctx := context.Background()
	for range 3 {
		if _, err := ic.GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if a, r := l.acquired.Load(), l.released.Load(); a != 3 || r != 3 {
		t.Fatalf("unary: acquired %d released %d", a, r)
	}

	// A stream holds its slot until RecvMsg reports the end.
	st, err := cc.NewStream(ctx, repeatDesc, repeatMethod)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SendMsg(&ifacev1.GetInterfaceRequest{Id: "s"})
	_ = st.CloseSend()
	var resp ifacev1.GetInterfaceResponse
	if err := st.RecvMsg(&resp); err != nil {
		t.Fatal(err)
	}
	if l.released.Load() != 3 {
		t.Fatal("stream slot released before the stream ended")
	}
	for st.RecvMsg(&resp) == nil {
	}
	if a, r := l.acquired.Load(), l.released.Load(); a != 4 || r != 4 {
		t.Fatalf("stream: acquired %d released %d", a, r)
	}

	// An abandoned stream gives its slot back when its context is cancelled.
	sctx, cancel := context.WithCancel(ctx)
	if _, err := cc.NewStream(sctx, repeatDesc, repeatMethod); err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for l.released.Load() != 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if a, r := l.acquired.Load(), l.released.Load(); a != 5 || r != 5 {
		t.Fatalf("cancelled stream: acquired %d released %d", a, r)
	}
}

func TestRateLimitLimiterError(t *testing.T) {
	s := startServer(t, nil)
	werr := &ratelimit.WaitError{Wait: time.Second, Policy: "admin", Cause: context.DeadlineExceeded}
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{werr, codes.DeadlineExceeded},
		{&ratelimit.WaitError{Policy: "admin", Cause: context.Canceled}, codes.Canceled},
		{errors.New("store unreachable"), codes.ResourceExhausted},
	} {
		l := &stubLimiter{err: tc.err}
		cc := dial(t, s.addr,
			grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(l)),
			grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
		_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
		var le *LimitError
		if !errors.As(err, &le) || !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, tc.err) {
			t.Fatalf("err = %#v", err)
		}
		if status.Code(err) != tc.code {
			t.Errorf("code = %v, want %v", status.Code(err), tc.code)
		}
		if _, err := recvAll(context.Background(), cc, "x"); !errors.Is(err, ratelimit.ErrLimited) {
			t.Errorf("stream err = %v", err)
		}
	}
	if s.calls.Load() != 0 {
		t.Fatal("a refused call reached the server")
	}
}

func TestRateLimitPushback(t *testing.T) {
	s := startServer(t, nil)
	l := &stubLimiter{}
	cc := dial(t, s.addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(l)))
	ic := ifacev1.NewInterfaceServiceClient(cc)

	s.setFail(func(context.Context, int64) error { return retryInfoErr(codes.ResourceExhausted, 40*time.Millisecond) })
	if _, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v", err)
	}
	s.setFail(func(ctx context.Context, _ int64) error {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(PushbackTrailer, "30"))
		return status.Error(codes.ResourceExhausted, "slow down")
	})
	if _, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v", err)
	}
	// Other codes carry no pushback.
	s.setFail(func(context.Context, int64) error { return retryInfoErr(codes.NotFound, time.Second) })
	_, _ = ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	if got := l.pushes(); len(got) != 2 || got[0] != 40*time.Millisecond || got[1] != 30*time.Millisecond {
		t.Fatalf("pushbacks = %v", got)
	}

	// The interceptor itself holds the next call back, even when the limiter
	// does nothing with pushback.
	s.setFail(nil)
	off := ratelimit.New(ratelimit.Off)
	cc2 := dial(t, s.addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(off)))
	ic2 := ifacev1.NewInterfaceServiceClient(cc2)
	s.setFail(func(_ context.Context, n int64) error {
		if n == 4 {
			return retryInfoErr(codes.ResourceExhausted, 150*time.Millisecond)
		}
		return nil
	})
	start := time.Now()
	_, _ = ic2.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	// A deadline shorter than the pushback fails at once.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := ic2.GetInterface(ctx, &ifacev1.GetInterfaceRequest{})
	cancel()
	if !errors.Is(err, ratelimit.ErrLimited) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err = %v", err)
	}
	if _, err := ic2.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("next call started after %v, before the pushback", el)
	}
}

func TestRetryPushback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		trailer metadata.MD
		want    time.Duration
		ok      bool
	}{
		{"nil", nil, nil, 0, false},
		{"retryinfo", retryInfoErr(codes.ResourceExhausted, 1500*time.Millisecond), nil, 1500 * time.Millisecond, true},
		{"retryinfo unavailable", retryInfoErr(codes.Unavailable, time.Second), nil, time.Second, true},
		{"retryinfo wins", retryInfoErr(codes.ResourceExhausted, time.Second), metadata.Pairs(PushbackTrailer, "5"), time.Second, true},
		{"trailer", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(PushbackTrailer, "250"), 250 * time.Millisecond, true},
		{"trailer negative", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(PushbackTrailer, "-1"), 0, false},
		{"trailer junk", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(PushbackTrailer, "soon"), 0, false},
		{"trailer huge", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(PushbackTrailer, "99999999999999999"), time.Duration(math.MaxInt64), true},
		{"other code", retryInfoErr(codes.NotFound, time.Second), nil, 0, false},
		{"limit error", &LimitError{Err: retryInfoErr(codes.ResourceExhausted, time.Second)}, nil, 0, false},
	} {
		d, ok := RetryPushback(tc.err, tc.trailer)
		if d != tc.want || ok != tc.ok {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, d, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryPushbackTrailer(f *testing.F) {
	for _, s := range []string{"0", "250", "-1", "", "1e3", "99999999999999999999", " 5", "\x00"} {
		f.Add(s)
	}
	err := status.Error(codes.ResourceExhausted, "x")
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := RetryPushback(err, metadata.Pairs(PushbackTrailer, v))
		if ok && d < 0 {
			t.Fatalf("%q: negative %v", v, d)
		}
		if n, perr := strconv.ParseInt(v, 10, 64); perr == nil && n >= 0 && n < 1<<40 {
			if !ok || d != time.Duration(n)*time.Millisecond {
				t.Fatalf("%q: got %v %v", v, d, ok)
			}
		}
	})
}

func TestHonourPushbackWrapsOnce(t *testing.T) {
	l := &stubLimiter{}
	g := HonourPushback(l)
	if HonourPushback(g) != g {
		t.Fatal("wrapping twice made a new gate")
	}
	g.(ratelimit.Pusher).PushBack(20 * time.Millisecond)
	if got := l.pushes(); len(got) != 1 {
		t.Fatal("pushback not forwarded to the limiter")
	}
	start := time.Now()
	rel, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Acquire did not wait for the pushback")
	}
	// A nil limiter still works.
	rel, err = HonourPushback(nil).Acquire(context.Background())
	if err != nil || rel == nil {
		t.Fatal(err)
	}
	rel()
}

// A panic below the interceptor (a codec, an inner interceptor) that the
// caller recovers from must not keep the slot: with a one-call policy the
// whole account would be stuck for the life of the process.
func TestRateLimitUnaryPanicReleases(t *testing.T) {
	l := &stubLimiter{}
	ic := RateLimitUnaryClientInterceptor(l)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		_ = ic(context.Background(), "/x.Y/Z", nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			panic("boom")
		})
	}()
	if a, r := l.acquired.Load(), l.released.Load(); a != 1 || r != 1 {
		t.Fatalf("acquired %d released %d: the slot leaked through the panic", a, r)
	}
}

const countMethod = "/kentik.test.Count/Count"

// countService is a client-streaming method: the server reads every request
// and answers once with their number (or fails at once with failFirst).
var countService = grpc.ServiceDesc{
	ServiceName: "kentik.test.Count",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{StreamName: "Count", ClientStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			if err := srv.(func() error)(); err != nil {
				return err
			}
			n := 0
			for {
				var req ifacev1.GetInterfaceRequest
				if err := ss.RecvMsg(&req); err != nil {
					break
				}
				n++
			}
			return ss.SendMsg(&ifacev1.GetInterfaceResponse{Interface: &ifacev1.Interface{Id: strconv.Itoa(n)}})
		}}},
}

var countDesc = &grpc.StreamDesc{StreamName: "Count", ClientStreams: true}

func startCountServer(t *testing.T, fail error) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&countService, func() error { return fail })
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// A client-streaming call is over once its single response is received:
// RecvMsg then returns nil, never io.EOF, and a caller following grpc's rules
// (the generated CloseAndRecv) calls it only once. The slot must come back
// then, not when the context ends (never, for context.Background).
func TestRateLimitClientStreamReleases(t *testing.T) {
	l := &stubLimiter{}
	cc := dial(t, startCountServer(t, nil), grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
	st, err := cc.NewStream(context.Background(), countDesc, countMethod)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := st.SendMsg(&ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if l.released.Load() != 0 {
		t.Fatal("slot released before the response")
	}
	var resp ifacev1.GetInterfaceResponse
	if err := st.RecvMsg(&resp); err != nil || resp.GetInterface().GetId() != "3" {
		t.Fatalf("response %v, err %v", &resp, err)
	}
	if a, r := l.acquired.Load(), l.released.Load(); a != 1 || r != 1 {
		t.Fatalf("after the response: acquired %d released %d", a, r)
	}
}

// A stream the server ended makes SendMsg fail; the stream is aborted then
// (grpc's ClientStream contract), so its slot comes back even if the caller
// (or go-grpc-middleware's retry, which abandons such a stream) never calls
// RecvMsg.
func TestRateLimitStreamSendErrorReleases(t *testing.T) {
	l := &stubLimiter{}
	cc := dial(t, startCountServer(t, status.Error(codes.ResourceExhausted, "no")), grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
	st, err := cc.NewStream(context.Background(), countDesc, countMethod)
	if err != nil {
		t.Fatal(err)
	}
	var sendErr error
	for deadline := time.Now().Add(5 * time.Second); sendErr == nil && time.Now().Before(deadline); {
		sendErr = st.SendMsg(&ifacev1.GetInterfaceRequest{Id: "1"})
		time.Sleep(time.Millisecond)
	}
	if sendErr == nil {
		t.Fatal("SendMsg never failed on a stream the server ended")
	}
	if a, r := l.acquired.Load(), l.released.Load(); a != 1 || r != 1 {
		t.Fatalf("after SendMsg failed with %v: acquired %d released %d", sendErr, a, r)
	}
}

// A LimitError built by hand, without the limiter's error, still reads and converts
// without a panic, and is still a rate-limit error.
func TestLimitErrorZeroValue(t *testing.T) {
	var e error = &LimitError{}
	if e.Error() == "" || !errors.Is(e, ratelimit.ErrLimited) || status.Code(e) != codes.ResourceExhausted {
		t.Errorf("zero LimitError: %q, code %v", e.Error(), status.Code(e))
	}
}

// The gate caps a huge push-back at ratelimit.MaxPushBack, forwards the capped value,
// and says how long the wait is when a deadline cannot be met.
func TestHonourPushbackCapped(t *testing.T) {
	l := &stubLimiter{}
	g := HonourPushback(l)
	g.(ratelimit.Pusher).PushBack(time.Duration(math.MaxInt64))
	if got := l.pushes(); len(got) != 1 || got[0] != ratelimit.MaxPushBack {
		t.Fatalf("forwarded %v, want [%v]", got, ratelimit.MaxPushBack)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := g.Acquire(ctx)
	var we *ratelimit.WaitError
	if !errors.As(err, &we) || we.Wait > ratelimit.MaxPushBack || we.Wait < ratelimit.MaxPushBack-time.Minute {
		t.Fatalf("Acquire: %v", err)
	}
}

// A push-back that grows while a call already waits for the previous one to
// pass holds that call until the new end too: with a limiter that paces
// nothing, the gate is all that stands between the server's "retry in N ms"
// and the next call.
func TestHonourPushbackExtendedWhileWaiting(t *testing.T) {
	g := HonourPushback(ratelimit.New(ratelimit.Off))
	p := g.(ratelimit.Pusher)
	start := time.Now()
	// Wide margins: the test is wrong only if the 10ms sleep below oversleeps by 200ms.
	p.PushBack(200 * time.Millisecond)
	done := make(chan time.Duration, 1)
	go func() {
		release, err := g.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		} else {
			release()
		}
		done <- time.Since(start)
	}()
	time.Sleep(10 * time.Millisecond)
	p.PushBack(500 * time.Millisecond) // ends at about 510ms
	if got := <-done; got < 500*time.Millisecond {
		t.Fatalf("Acquire returned after %v, before the extended push-back (about 510ms) ended", got)
	}
}

// A streamer that panics (a custom interceptor or connection below, the
// caller recovering) gives the slot back: no stream exists to end it later.
func TestRateLimitStreamPanicReleases(t *testing.T) {
	l := &stubLimiter{}
	ic := RateLimitStreamClientInterceptor(l)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		_, _ = ic(context.Background(), repeatDesc, nil, repeatMethod, func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			panic("boom")
		})
	}()
	if a, r := l.acquired.Load(), l.released.Load(); a != 1 || r != 1 {
		t.Fatalf("acquired %d released %d: the slot leaked through the panic", a, r)
	}
}

// pushSeenLimiter records, when a slot comes back, how many push-backs it had
// been told about by then.
type pushSeenLimiter struct {
	stubLimiter
	seenAtRelease atomic.Int64
}

func (l *pushSeenLimiter) Acquire(ctx context.Context) (func(), error) {
	release, err := l.stubLimiter.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return func() {
		l.seenAtRelease.Store(int64(len(l.pushes())))
		release()
	}, nil
}

// A stream that fails with a push-back tells the limiter before it gives its
// slot back, as a unary call does: otherwise a call waiting for that slot
// starts in between, before the push-back, and is refused again.
func TestRateLimitStreamPushbackBeforeRelease(t *testing.T) {
	s := startServer(t, nil)
	s.setFail(func(context.Context, int64) error { return retryInfoErr(codes.ResourceExhausted, 40*time.Millisecond) })
	for _, unary := range []bool{true, false} {
		l := &pushSeenLimiter{}
		cc := dial(t, s.addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(l)), grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
		var err error
		if unary {
			_, err = ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
		} else {
			_, err = recvAll(context.Background(), cc, "1")
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("unary %v: err = %v", unary, err)
		}
		if l.released.Load() != 1 || l.seenAtRelease.Load() != 1 {
			t.Errorf("unary %v: released %d, push-backs known at release %d, want 1 and 1", unary, l.released.Load(), l.seenAtRelease.Load())
		}
	}
}

// The status of a LimitError carries the limiter's message without the
// method name, as documented: the *Error of package client names the method
// itself, and would otherwise name it twice.
func TestLimitErrorStatusMessage(t *testing.T) {
	we := &ratelimit.WaitError{Policy: "admin", Cause: context.Canceled}
	e := &LimitError{Method: "/x.Y/Z", Err: we}
	st, ok := status.FromError(e)
	if !ok || st.Code() != codes.Canceled || st.Message() != we.Error() {
		t.Errorf("status %v %q, want Canceled %q", st.Code(), st.Message(), we.Error())
	}
	if st := status.Convert(&LimitError{Method: "/x.Y/Z"}); st.Message() != ratelimit.ErrLimited.Error() {
		t.Errorf("zero LimitError message %q", st.Message())
	}
}
