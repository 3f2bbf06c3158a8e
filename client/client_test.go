package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/testserver"
	"github.com/gokentik/kentik/ratelimit"
)

var fastRetry = kentik.RetryPolicy{MaxAttempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond}

// noEnv hides the developer's own Kentik variables from a test.
func noEnv(t *testing.T) {
	for _, k := range []string{"KENTIK_EMAIL", "KENTIK_API_TOKEN", "KTAPI_AUTH_EMAIL", "KTAPI_AUTH_TOKEN", "KENTIK_REGION", "KENTIK_GRPC_ENDPOINT"} {
		t.Setenv(k, "")
	}
}

func newTestClient(t *testing.T, f *testserver.Server, opts ...Option) *Client {
	t.Helper()
	base := []Option{WithEndpoint(f.Addr), WithPlaintext(), WithCredentials(testCreds), WithRateLimit(ratelimit.Off), WithRetry(fastRetry)}
	c, err := New(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func checkMD(t *testing.T, md metadata.MD) {
	t.Helper()
	if got := md.Get(kentik.MetadataEmail); len(got) != 1 || got[0] != testEmail {
		t.Errorf("email metadata = %q", got)
	}
	if got := md.Get(kentik.MetadataToken); len(got) != 1 || got[0] != testToken {
		t.Errorf("token metadata has %d values or a wrong one", len(got))
	}
	if got := md.Get("x-request-id"); len(got) != 1 || got[0] != "req-1" {
		t.Errorf("caller's x-request-id = %q", got)
	}
	if got := md.Get("x-tags"); strings.Join(got, ",") != "a,b" {
		t.Errorf("caller's x-tags = %q", got)
	}
	for k := range md {
		if k != strings.ToLower(k) {
			t.Errorf("key %q not lower-case", k)
		}
	}
}

func TestMetadataUnaryStreamAndRetries(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	c := newTestClient(t, f)
	ctx := metadata.AppendToOutgoingContext(ctxT(t), "x-request-id", "req-1", "x-tags", "a", "x-tags", "b")

	if _, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if ids, err := testserver.CallStream(ctx, c.Conn(), "s"); err != nil || len(ids) != 3 {
		t.Fatalf("stream: %v %v", ids, err)
	}
	// Two failed attempts, then success: each attempt carries the metadata.
	f.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 3 || n == 4 {
			return status.Error(codes.Unavailable, "restarting")
		}
		return nil
	})
	if _, err := c.Interfaces().ManualClassify(ctx, &ifacev1.ManualClassifyRequest{InterfaceIds: []string{"1"}}); err != nil {
		t.Fatal(err)
	}
	mds, _ := f.Recorded()
	if len(mds) != 5 {
		t.Fatalf("server saw %d calls, want 5", len(mds))
	}
	for _, md := range mds {
		checkMD(t, md)
	}
}

func TestPlaintextRefusedForNonLoopback(t *testing.T) {
	noEnv(t)
	var dialed atomic.Int64
	dialer := grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		dialed.Add(1)
		return nil, errors.New("must not dial")
	})
	for _, ep := range []string{"grpc.api.kentik.com:443", "10.1.2.3:50051", "localhost.example.com:1", "dns://8.8.8.8/localhost:1", "[2001:db8::1]:443", "127.0.0.1.nip.io:80"} {
		c, err := New(context.Background(), WithEndpoint(ep), WithPlaintext(), WithCredentials(testCreds), WithDialOptions(dialer))
		if !errors.Is(err, kentik.ErrPlaintextNotLoopback) {
			t.Errorf("%s: err = %v", ep, err)
		}
		if c != nil {
			c.Close()
		}
	}
	// Loopback endpoints are accepted.
	for _, ep := range []string{"127.0.0.1:1", "127.3.4.5:1", "[::1]:1", "localhost:1", "LOCALHOST:1", "dns:///localhost:1", "passthrough:///127.0.0.1:1"} {
		c, err := New(context.Background(), WithEndpoint(ep), WithPlaintext(), WithCredentials(testCreds), WithDialOptions(dialer))
		if err != nil {
			t.Errorf("%s: %v", ep, err)
			continue
		}
		c.Close()
	}
	if dialed.Load() != 0 {
		t.Fatalf("dialled %d times", dialed.Load())
	}
}

func TestMissingCredentialsFailBeforeDialing(t *testing.T) {
	noEnv(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	for _, creds := range []*kentik.Credentials{nil, {Email: "a@b"}, {Token: "t"}} {
		opts := []Option{WithEndpoint(lis.Addr().String()), WithPlaintext()}
		if creds != nil {
			opts = append(opts, WithCredentials(*creds))
		}
		if _, err := New(context.Background(), opts...); !errors.Is(err, kentik.ErrMissingCredentials) {
			t.Errorf("%v: err = %v", creds, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if accepted.Load() != 0 {
		t.Fatal("a connection was made")
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	t.Setenv("KTAPI_AUTH_EMAIL", testEmail)
	t.Setenv("KTAPI_AUTH_TOKEN", testToken)
	c, err := New(context.Background(), WithEndpoint(f.Addr), WithPlaintext())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	// KENTIK_* wins over KTAPI_*.
	t.Setenv("KENTIK_API_TOKEN", "other")
	t.Setenv("KENTIK_EMAIL", testEmail)
	c2, err := New(context.Background(), WithEndpoint(f.Addr), WithPlaintext(), WithRetry(kentik.NoRetry))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); !kentik.IsUnauthenticated(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestRegionAndEndpoint(t *testing.T) {
	noEnv(t)
	mk := func(opts ...Option) *Client {
		t.Helper()
		c, err := New(context.Background(), append([]Option{WithCredentials(testCreds)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if c := mk(); c.Region() != "us" || c.Endpoint() != kentik.US.GRPCEndpoint() {
		t.Errorf("default: %s %s", c.Region(), c.Endpoint())
	}
	if c := mk(WithRegion("EU")); c.Region() != "eu" || c.Endpoint() != kentik.EU.GRPCEndpoint() {
		t.Errorf("eu: %s %s", c.Region(), c.Endpoint())
	}
	t.Setenv("KENTIK_REGION", "eu")
	if c := mk(); c.Endpoint() != kentik.EU.GRPCEndpoint() {
		t.Errorf("KENTIK_REGION: %s", c.Endpoint())
	}
	t.Setenv("KENTIK_GRPC_ENDPOINT", "127.0.0.1:9999")
	if c := mk(); c.Endpoint() != "127.0.0.1:9999" {
		t.Errorf("KENTIK_GRPC_ENDPOINT: %s", c.Endpoint())
	}
	if c := mk(WithRegion("us")); c.Endpoint() != kentik.US.GRPCEndpoint() {
		t.Errorf("an explicit region must win over the environment: %s", c.Endpoint())
	}
	if _, err := New(context.Background(), WithCredentials(testCreds), WithRegion("apac")); err == nil || !strings.Contains(err.Error(), "want us or eu") {
		t.Errorf("bad region: %v", err)
	}
	if _, err := New(context.Background(), WithCredentials(testCreds), WithRateLimit(ratelimit.Policy{Concurrency: -1})); err == nil {
		t.Error("invalid policy accepted")
	}
}

func TestWrongTokenOneCallTypedError(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	c := newTestClient(t, f, WithCredentials(kentik.Credentials{Email: testEmail, Token: "wrong-token-value"}))
	_, err := c.Interfaces().ManualClassify(ctxT(t), &ifacev1.ManualClassifyRequest{})
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.Unauthenticated || !kentik.IsUnauthenticated(err) {
		t.Fatalf("err = %#v", err)
	}
	if n := f.Calls(); n != 1 {
		t.Fatalf("%d calls, want exactly 1", n)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "kentik: ManualClassify: Unauthenticated: invalid email or API token (check the email and API token") {
		t.Errorf("message: %s", msg)
	}
	if strings.Contains(msg, "wrong-token-value") {
		t.Error("message shows the token")
	}
	if status.Code(err) != codes.Unauthenticated || e.Method != "/kentik.interface.v202108alpha1.InterfaceService/ManualClassify" {
		t.Errorf("status %v method %s", status.Code(err), e.Method)
	}
}

func TestUnavailableRetriedToSuccess(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	var retries atomic.Int64
	c := newTestClient(t, f, WithOnRetry(func(e kentik.RetryEvent) { retries.Add(1) }))
	f.SetFail(func(_ context.Context, _ string, n int64) error {
		if n < 3 {
			return status.Error(codes.Unavailable, "restarting")
		}
		return nil
	})
	if _, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if f.Calls() != 3 || retries.Load() != 2 {
		t.Fatalf("%d server attempts, %d retries", f.Calls(), retries.Load())
	}
}

func TestNotRetried(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	c := newTestClient(t, f)
	_, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "missing"})
	if !kentik.IsNotFound(err) || f.Calls() != 1 || kentik.IsTemporary(err) {
		t.Fatalf("NotFound: %v after %d calls", err, f.Calls())
	}
	for _, code := range []codes.Code{codes.InvalidArgument, codes.PermissionDenied} {
		before := f.Calls()
		f.SetFail(func(context.Context, string, int64) error { return status.Error(code, "no") })
		_, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"})
		if status.Code(err) != code || f.Calls()-before != 1 {
			t.Fatalf("%v: %v after %d calls", code, err, f.Calls()-before)
		}
	}
	if !kentik.IsPermissionDenied(err) && status.Code(err) != codes.NotFound {
		t.Fatal("helper mismatch")
	}
	// CreateInterface is not repeated after UNAVAILABLE.
	before := f.Calls()
	f.SetFail(func(context.Context, string, int64) error { return status.Error(codes.Unavailable, "down") })
	if _, err := c.Interfaces().CreateInterface(ctxT(t), &ifacev1.CreateInterfaceRequest{}); status.Code(err) != codes.Unavailable || f.Calls()-before != 1 {
		t.Fatalf("Create: %v after %d calls", err, f.Calls()-before)
	}
}

func TestResourceExhaustedWaitsForRetryInfo(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	c := newTestClient(t, f)
	f.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			st, _ := status.New(codes.ResourceExhausted, "rate limited").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(300 * time.Millisecond)})
			return st.Err()
		}
		return nil
	})
	if _, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	_, starts := f.Recorded()
	if len(starts) != 2 {
		t.Fatalf("%d attempts", len(starts))
	}
	if gap := starts[1].Sub(starts[0]); gap < 300*time.Millisecond {
		t.Fatalf("retried after %v, before the 300ms the server asked for", gap)
	}
	// Exhausted retries report a rate-limit error with a hint.
	f.SetFail(func(context.Context, string, int64) error {
		return status.Error(codes.ResourceExhausted, "rate limited")
	})
	_, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"})
	if !kentik.IsRateLimited(err) || !kentik.IsTemporary(err) || !strings.Contains(err.Error(), "make fewer calls") {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrencyAndWindowNeverExceeded(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	f.SetHold(5 * time.Millisecond)
	p, err := ratelimit.Parse("concurrency=2,20/500ms")
	if err != nil {
		t.Fatal(err)
	}
	// A unique email: the shared limiter is per account.
	c := newTestClient(t, f, WithRateLimit(p), WithCredentials(kentik.Credentials{Email: testEmail, Token: testToken}),
		WithEndpoint(f.Addr))
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if m := f.MaxInFlight(); m > 2 {
		t.Fatalf("server saw %d calls at once, cap is 2", m)
	}
	_, starts := f.Recorded()
	if len(starts) != n {
		t.Fatalf("%d calls", len(starts))
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	// Any 21 consecutive arrivals must span the window. The slack absorbs the
	// scheduling jitter between the client's admission and the server's
	// receipt on a busy machine; the limiter itself keeps a margin too.
	const slack = 50 * time.Millisecond
	for i := 0; i+20 < len(starts); i++ {
		if span := starts[i+20].Sub(starts[i]); span < 500*time.Millisecond-slack {
			t.Fatalf("21 calls within %v (window 20/500ms)", span)
		}
	}
}

func TestDeadlineShorterThanLimiterWait(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	p, err := ratelimit.Parse("concurrency=1,1/10s")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, f, WithRateLimit(p), WithCredentials(kentik.Credentials{Email: "deadline@example.com", Token: testToken}))
	if _, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"})
	if el := time.Since(start); el > time.Second {
		t.Fatalf("waited %v instead of failing at once", el)
	}
	if !kentik.IsRateLimited(err) || !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "allow a later deadline") {
		t.Errorf("no hint: %v", err)
	}
	if f.Calls() != 1 {
		t.Fatalf("%d calls reached the server", f.Calls())
	}
}

func TestWithConn(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	cc, err := grpc.NewClient(f.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c, err := New(context.Background(), WithConn(cc), WithCredentials(testCreds), WithRateLimit(ratelimit.Off), WithRetry(fastRetry))
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(ctxT(t), "x-request-id", "req-1", "x-tags", "a", "x-tags", "b")
	f.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	})
	if _, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := testserver.CallStream(ctx, c.Conn(), "s"); err != nil {
		t.Fatal(err)
	}
	f.SetFail(nil)
	_, err = c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "missing"})
	if !kentik.IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal("not an *Error")
	}
	mds, _ := f.Recorded()
	for _, md := range mds {
		checkMD(t, md)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The caller's connection is still usable.
	if _, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(metadata.AppendToOutgoingContext(ctxT(t), kentik.MetadataToken, testToken), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatalf("caller's conn closed: %v", err)
	}
}

func TestErrorFormatting(t *testing.T) {
	e := newError("/kentik.interface.v202108alpha1.InterfaceService/GetInterface", status.Error(codes.NotFound, "no interface 9"))
	if got := e.Error(); got != "kentik: GetInterface: NotFound: no interface 9" {
		t.Errorf("got %q", got)
	}
	if newError("/x/Y", e) != e {
		t.Error("an *Error is wrapped again")
	}
	plain := newError("/x/Y", errors.New("boom"))
	if plain.Code != codes.Unknown || !strings.Contains(plain.Error(), "boom") {
		t.Errorf("plain: %v", plain)
	}
	for _, err := range []error{nil, errors.New("x")} {
		if kentik.IsRateLimited(err) || kentik.IsTemporary(err) || kentik.IsNotFound(err) || kentik.IsUnauthenticated(err) || kentik.IsPermissionDenied(err) {
			t.Errorf("helpers true for %v", err)
		}
	}
	if !errors.Is(newError("/x/Y", status.Error(codes.Canceled, "c")), context.Canceled) {
		t.Error("Canceled not matched")
	}
}

// A server (or a proxy in between) that echoes the API token in a status
// message must not get it into the *Error, the logs or the retry hook.
func TestEchoedTokenRedacted(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	var hookErrs []string
	c := newTestClient(t, f, WithLogger(logger), WithOnRetry(func(e kentik.RetryEvent) {
		mu.Lock()
		hookErrs = append(hookErrs, e.Err.Error())
		mu.Unlock()
	}))
	f.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			return status.Error(codes.ResourceExhausted, "too many calls for token "+testToken)
		}
		return status.Error(codes.Unauthenticated, "token "+testToken+" is not valid here")
	})
	_, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"})
	if !kentik.IsUnauthenticated(err) {
		t.Fatalf("err = %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal("not an *Error")
	}
	if _, err := testserver.CallStream(ctxT(t), c.Conn(), "s"); !kentik.IsUnauthenticated(err) {
		t.Fatalf("stream err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	texts := map[string]string{
		"Error":         err.Error(),
		"%#v":           fmt.Sprintf("%#v", err),
		"Message":       e.Message,
		"status":        status.Convert(err).Message(),
		"unwrapped":     errors.Unwrap(err).Error(),
		"logs":          logs.String(),
		"OnRetry error": strings.Join(hookErrs, "|"),
	}
	for what, text := range texts {
		if strings.Contains(text, testToken) {
			t.Errorf("%s shows the token: %s", what, text)
		}
	}
	if len(hookErrs) != 1 || !strings.Contains(e.Message, "is not valid here") {
		t.Errorf("retries %q, message %q: the rest of the message must stay", hookErrs, e.Message)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Kentik counts per account; an email typed with other capitals is the same
// account, so the default limiter must be the same one.
func TestSharedLimiterIgnoresEmailCase(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	p, err := ratelimit.Parse("concurrency=1,1/1h")
	if err != nil {
		t.Fatal(err)
	}
	c1 := newTestClient(t, f, WithRateLimit(p), WithCredentials(kentik.Credentials{Email: "Case@Example.com", Token: testToken}))
	c2 := newTestClient(t, f, WithRateLimit(p), WithCredentials(kentik.Credentials{Email: " case@example.COM", Token: testToken}))
	if _, err := c1.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c2.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"}); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("second client of the same account: err = %v, want the shared 1/1h window to refuse", err)
	}
	if n := f.Calls(); n != 1 {
		t.Fatalf("%d calls reached the server in a 1/1h window", n)
	}
}

// A call the caller cancelled while it waited for a rate-limit slot is no
// more temporary than one cancelled on the wire: both are Canceled, and a
// batch job that retries temporary errors must not retry its own cancel.
func TestCanceledWhileLimitedNotTemporary(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	p, err := ratelimit.Parse("concurrency=1,1/1h")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, f, WithRateLimit(p), WithCredentials(kentik.Credentials{Email: "canceled@example.com", Token: testToken}))
	if _, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1"})
	if status.Code(err) != codes.Canceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if kentik.IsTemporary(err) {
		t.Errorf("kentik.IsTemporary(%v) = true for the caller's own cancel", err)
	}
	if kentik.IsTemporary(newError("/x/Y", status.Error(codes.Canceled, "c"))) {
		t.Error("kentik.IsTemporary true for Canceled")
	}
}
