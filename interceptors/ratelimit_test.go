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

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/testserver"
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
	s := testserver.Start(t, testserver.Config{})
	l := &stubLimiter{}
	cc := testserver.Dial(t, s.Addr,
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
	st, err := cc.NewStream(ctx, testserver.StreamDesc, testserver.StreamMethod)
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
	if _, err := cc.NewStream(sctx, testserver.StreamDesc, testserver.StreamMethod); err != nil {
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
	s := testserver.Start(t, testserver.Config{})
	werr := &ratelimit.WaitError{Wait: time.Second, Policy: "admin", Cause: context.DeadlineExceeded}
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{werr, codes.DeadlineExceeded},
		{&ratelimit.WaitError{Policy: "admin", Cause: context.Canceled}, codes.Canceled},
		{errors.New("store unreachable"), codes.Unknown},
	} {
		l := &stubLimiter{err: tc.err}
		cc := testserver.Dial(t, s.Addr,
			grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(l)),
			grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
		_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
		if err != tc.err {
			t.Fatalf("err = %#v, want the limiter's own %#v", err, tc.err)
		}
		if kentik.CodeOf(err) != tc.code {
			t.Errorf("code = %v, want %v", kentik.CodeOf(err), tc.code)
		}
		if _, err := testserver.CallStream(context.Background(), cc, "x"); err != tc.err {
			t.Errorf("stream err = %v", err)
		}
	}
	if s.Calls() != 0 {
		t.Fatal("a refused call reached the server")
	}
}

func TestRateLimitPushback(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	l := &stubLimiter{}
	cc := testserver.Dial(t, s.Addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(l)))
	ic := ifacev1.NewInterfaceServiceClient(cc)

	s.SetFail(func(context.Context, string, int64) error {
		return retryInfoErr(codes.ResourceExhausted, 40*time.Millisecond)
	})
	if _, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v", err)
	}
	s.SetFail(func(ctx context.Context, _ string, _ int64) error {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(pushbackTrailer, "30"))
		return status.Error(codes.ResourceExhausted, "slow down")
	})
	if _, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v", err)
	}
	// Other codes carry no pushback.
	s.SetFail(func(context.Context, string, int64) error { return retryInfoErr(codes.NotFound, time.Second) })
	_, _ = ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	if got := l.pushes(); len(got) != 2 || got[0] != 40*time.Millisecond || got[1] != 30*time.Millisecond {
		t.Fatalf("pushbacks = %v", got)
	}

	// The interceptor itself holds the next call back, even when the limiter
	// does nothing with pushback.
	s.SetFail(nil)
	off := ratelimit.New(ratelimit.Off)
	cc2 := testserver.Dial(t, s.Addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(off)))
	ic2 := ifacev1.NewInterfaceServiceClient(cc2)
	s.SetFail(func(_ context.Context, _ string, n int64) error {
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
	if !errors.Is(err, ratelimit.ErrLimited) || kentik.CodeOf(err) != codes.DeadlineExceeded {
		t.Fatalf("err = %v", err)
	}
	if _, err := ic2.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("next call started after %v, before the pushback", el)
	}
}

func TestRetryPushBack(t *testing.T) {
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
		{"retryinfo wins", retryInfoErr(codes.ResourceExhausted, time.Second), metadata.Pairs(pushbackTrailer, "5"), time.Second, true},
		{"trailer", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(pushbackTrailer, "250"), 250 * time.Millisecond, true},
		{"trailer negative", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(pushbackTrailer, "-1"), 0, false},
		{"trailer junk", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(pushbackTrailer, "soon"), 0, false},
		{"trailer huge", status.Error(codes.ResourceExhausted, "x"), metadata.Pairs(pushbackTrailer, "99999999999999999"), time.Duration(math.MaxInt64), true},
		{"other code", retryInfoErr(codes.NotFound, time.Second), nil, 0, false},
		{"limiter refusal", &ratelimit.WaitError{Policy: "admin", Cause: context.DeadlineExceeded}, nil, 0, false},
	} {
		d, ok := retryPushBack(tc.err, tc.trailer)
		if d != tc.want || ok != tc.ok {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, d, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryPushBackTrailer(f *testing.F) {
	for _, s := range []string{"0", "250", "-1", "", "1e3", "99999999999999999999", " 5", "\x00"} {
		f.Add(s)
	}
	err := status.Error(codes.ResourceExhausted, "x")
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryPushBack(err, metadata.Pairs(pushbackTrailer, v))
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
	cc := testserver.Dial(t, startCountServer(t, nil), grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
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
	cc := testserver.Dial(t, startCountServer(t, status.Error(codes.ResourceExhausted, "no")), grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
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
		_, _ = ic(context.Background(), testserver.StreamDesc, nil, testserver.StreamMethod, func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
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
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(context.Context, string, int64) error {
		return retryInfoErr(codes.ResourceExhausted, 40*time.Millisecond)
	})
	for _, unary := range []bool{true, false} {
		l := &pushSeenLimiter{}
		cc := testserver.Dial(t, s.Addr, grpc.WithUnaryInterceptor(RateLimitUnaryClientInterceptor(l)), grpc.WithStreamInterceptor(RateLimitStreamClientInterceptor(l)))
		var err error
		if unary {
			_, err = ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
		} else {
			_, err = testserver.CallStream(context.Background(), cc, "1")
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("unary %v: err = %v", unary, err)
		}
		if l.released.Load() != 1 || l.seenAtRelease.Load() != 1 {
			t.Errorf("unary %v: released %d, push-backs known at release %d, want 1 and 1", unary, l.released.Load(), l.seenAtRelease.Load())
		}
	}
}

// An absurd push-back (RetryInfo of 10^9 s) is the server's refusal, reported as such at
// once: not retried, not waited for, and not blamed on the caller's deadline; the
// account's later calls are held for the limiter's Max only.
func TestRateLimitPushBackTooLong(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	g := ratelimit.HonourPushBack(ratelimit.New(ratelimit.Off), 100*time.Millisecond)
	cc, events := retryConn(t, s, fastRetry, g)
	ic := ifacev1.NewInterfaceServiceClient(cc)
	s.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			return retryInfoErr(codes.ResourceExhausted, 1e9*time.Second)
		}
		return nil
	})
	start := time.Now()
	_, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	var pb *ratelimit.PushBackError
	if !errors.As(err, &pb) || pb.Wait != 1e9*time.Second || pb.Max != 100*time.Millisecond || status.Code(err) != codes.ResourceExhausted || errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("err = %v", err)
	}
	if n := len(events()); n != 0 || s.Calls() != 1 {
		t.Fatalf("%d retries, %d calls: a push-back beyond the limit must not be retried", n, s.Calls())
	}
	if _, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 100*time.Millisecond || el > 5*time.Second {
		t.Fatalf("the next call started after %v: want the capped push-back of 100ms", el)
	}
}
