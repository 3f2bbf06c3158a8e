package interceptors

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/testserver"
	"github.com/gokentik/kentik/ratelimit"
)

var fastRetry = kentik.RetryPolicy{MaxAttempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond}

// retryConn dials s with retry outside rate limit outside auth, as the client
// chains them, and records the retry events.
func retryConn(t *testing.T, s *testserver.Server, p kentik.RetryPolicy, l ratelimit.Limiter) (*grpc.ClientConn, func() []kentik.RetryEvent) {
	var mu sync.Mutex
	var events []kentik.RetryEvent
	onRetry := func(e kentik.RetryEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	cc := testserver.Dial(t, s.Addr,
		grpc.WithChainUnaryInterceptor(RetryUnaryClientInterceptor(p, onRetry), RateLimitUnaryClientInterceptor(l)),
		grpc.WithChainStreamInterceptor(RetryStreamClientInterceptor(p, onRetry), RateLimitStreamClientInterceptor(l)),
		grpc.WithPerRPCCredentials(InsecurePerRPCCredentials(testCreds)))
	return cc, func() []kentik.RetryEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]kentik.RetryEvent(nil), events...)
	}
}

func TestRetryUnavailableToSuccess(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(_ context.Context, _ string, n int64) error {
		if n <= 2 {
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	})
	l := &stubLimiter{}
	cc, events := retryConn(t, s, fastRetry, l)
	if _, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if n := s.Calls(); n != 3 {
		t.Fatalf("server saw %d attempts, want 3", n)
	}
	if l.acquired.Load() != 3 || l.released.Load() != 3 {
		t.Fatalf("limiter: %d acquired, %d released: want a slot per attempt", l.acquired.Load(), l.released.Load())
	}
	ev := events()
	if len(ev) != 2 || ev[0].Attempt != 2 || ev[1].Attempt != 3 || ev[0].Code != codes.Unavailable ||
		ev[0].Method != "/kentik.interface.v202108alpha1.InterfaceService/GetInterface" {
		t.Fatalf("events = %+v", ev)
	}
	mds, _ := s.Recorded()
	for _, md := range mds {
		checkAuthMD(t, md)
	}
}

func TestRetryBounded(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(context.Context, string, int64) error { return status.Error(codes.Unavailable, "down") })
	cc, _ := retryConn(t, s, fastRetry, nil)
	_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	if status.Code(err) != codes.Unavailable || s.Calls() != 4 {
		t.Fatalf("err %v after %d attempts, want Unavailable after 4", err, s.Calls())
	}
}

func TestRetryNotRetried(t *testing.T) {
	for _, c := range []codes.Code{codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument, codes.NotFound, codes.Internal, codes.FailedPrecondition} {
		s := testserver.Start(t, testserver.Config{})
		s.SetFail(func(context.Context, string, int64) error { return status.Error(c, "no") })
		cc, _ := retryConn(t, s, fastRetry, nil)
		_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
		if status.Code(err) != c || s.Calls() != 1 {
			t.Errorf("%v: err %v after %d attempts, want 1", c, err, s.Calls())
		}
	}
}

func TestRetryCreateOnlyOnResourceExhausted(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	cc, _ := retryConn(t, s, fastRetry, nil)
	ic := ifacev1.NewInterfaceServiceClient(cc)
	s.SetFail(func(context.Context, string, int64) error { return status.Error(codes.Unavailable, "down") })
	if _, err := ic.CreateInterface(context.Background(), &ifacev1.CreateInterfaceRequest{}); status.Code(err) != codes.Unavailable || s.Calls() != 1 {
		t.Fatalf("Create on UNAVAILABLE: %v after %d attempts, want 1", err, s.Calls())
	}
	s.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 2 {
			return status.Error(codes.ResourceExhausted, "slow down")
		}
		return nil
	})
	if _, err := ic.CreateInterface(context.Background(), &ifacev1.CreateInterfaceRequest{}); err != nil || s.Calls() != 3 {
		t.Fatalf("Create on RESOURCE_EXHAUSTED: %v after %d calls in all, want 3", err, s.Calls())
	}
}

func TestRetryHonoursRetryInfo(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			return retryInfoErr(codes.ResourceExhausted, 200*time.Millisecond)
		}
		return nil
	})
	cc, _ := retryConn(t, s, fastRetry, ratelimit.New(ratelimit.Off))
	if _, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); err != nil {
		t.Fatal(err)
	}
	_, at := s.Recorded()
	if len(at) != 2 {
		t.Fatalf("%d attempts", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 200*time.Millisecond {
		t.Fatalf("retried after %v, before the server's 200ms", gap)
	}
}

func TestRetryDeadline(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(context.Context, string, int64) error { return status.Error(codes.Unavailable, "down") })
	cc, _ := retryConn(t, s, kentik.RetryPolicy{MaxAttempts: 10, Initial: time.Second, Max: time.Second, Jitter: -1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(ctx, &ifacev1.GetInterfaceRequest{})
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestRetryLimiterErrorNotRetried(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	storeErr := errors.New("quota store says no")
	for _, lerr := range []error{storeErr, &ratelimit.WaitError{Policy: "admin", Cause: context.DeadlineExceeded}} {
		l := &stubLimiter{err: lerr}
		cc, events := retryConn(t, s, fastRetry, l)
		_, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
		if err != lerr || len(events()) != 0 || s.Calls() != 0 {
			t.Fatalf("err %v, %d retries, %d calls sent", err, len(events()), s.Calls())
		}
	}
}

func TestRetryDisabled(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(context.Context, string, int64) error { return status.Error(codes.Unavailable, "down") })
	cc, _ := retryConn(t, s, kentik.NoRetry, nil)
	_, _ = ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{})
	if s.Calls() != 1 {
		t.Fatalf("%d attempts with kentik.NoRetry", s.Calls())
	}
}

func TestRetryStream(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	cc, _ := retryConn(t, s, fastRetry, &stubLimiter{})
	// Fails before any message: retried, metadata on every attempt.
	s.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	})
	ids, err := testserver.CallStream(context.Background(), cc, "a")
	if err != nil || len(ids) != 3 || s.Calls() != 2 {
		t.Fatalf("ids %v err %v after %d attempts", ids, err, s.Calls())
	}
	mds, _ := s.Recorded()
	for _, md := range mds {
		checkAuthMD(t, md)
	}
	// Fails after a message was received: not restarted (no duplicates).
	s.SetStreamBeforeFail(1)
	s.SetFail(func(context.Context, string, int64) error { return status.Error(codes.Unavailable, "down") })
	before := s.Calls()
	ids, err = testserver.CallStream(context.Background(), cc, "b")
	if status.Code(err) != codes.Unavailable || len(ids) != 1 || s.Calls() != before+1 {
		t.Fatalf("ids %v err %v after %d attempts", ids, err, s.Calls()-before)
	}
}

// rstServer is a bare HTTP/2 server on 127.0.0.1 that reads each request to
// its end (the server has it all, and may have acted on it) and then resets
// the stream with ENHANCE_YOUR_CALM, which grpc-go reports as
// RESOURCE_EXHAUSTED. It returns its address and the number of requests.
func rstServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	var n atomic.Int64
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		l := len(payload)
		b := []byte{byte(l >> 16), byte(l >> 8), byte(l), typ, flags, byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
		return append(b, payload...)
	}
	serve := func(c net.Conn) {
		defer c.Close()
		preface := make([]byte, 24)
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		if _, err := c.Write(frame(0x4, 0, 0, nil)); err != nil { // SETTINGS
			return
		}
		hdr := make([]byte, 9)
		for {
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
			if _, err := io.ReadFull(c, payload); err != nil {
				return
			}
			typ, flags := hdr[3], hdr[4]
			stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
			var out []byte
			switch {
			case typ == 0x4 && flags&0x1 == 0: // SETTINGS: acknowledge
				out = frame(0x4, 0x1, 0, nil)
			case typ == 0x6 && flags&0x1 == 0: // PING: answer
				out = frame(0x6, 0x1, 0, payload)
			case (typ == 0x0 || typ == 0x1) && flags&0x1 != 0: // END_STREAM: the request is complete
				n.Add(1)
				out = frame(0x3, 0, stream, binary.BigEndian.AppendUint32(nil, 0xb)) // RST_STREAM ENHANCE_YOUR_CALM
			}
			if out != nil {
				if _, err := c.Write(out); err != nil {
					return
				}
			}
		}
	}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return lis.Addr().String(), &n
}

// A stream reset with ENHANCE_YOUR_CALM (a server or proxy shedding load)
// is RESOURCE_EXHAUSTED too, but may come after the server received, and
// acted on, the whole request: not Kentik's refusal before doing anything. A
// Create must not be repeated then; a Get still is.
func TestRetryCreateNotOnStreamReset(t *testing.T) {
	addr, n := rstServer(t)
	cc := testserver.Dial(t, addr, grpc.WithChainUnaryInterceptor(RetryUnaryClientInterceptor(fastRetry, nil)))
	ic := ifacev1.NewInterfaceServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ic.CreateInterface(ctx, &ifacev1.CreateInterfaceRequest{})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v, want the reset's RESOURCE_EXHAUSTED", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("CreateInterface sent %d times after a stream reset, want 1", got)
	}
	n.Store(0)
	if _, err := ic.GetInterface(ctx, &ifacev1.GetInterfaceRequest{}); status.Code(err) != codes.ResourceExhausted || n.Load() != int64(fastRetry.MaxAttempts) {
		t.Errorf("GetInterface: %v after %d attempts, want %d", err, n.Load(), fastRetry.MaxAttempts)
	}
}
