package interceptors

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/testserver"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func loggedConn(t *testing.T, s *testserver.Server, level slog.Level) (*grpc.ClientConn, *syncBuffer) {
	buf := &syncBuffer{}
	l := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level}))
	cc := testserver.Dial(t, s.Addr,
		grpc.WithChainUnaryInterceptor(LoggingUnaryClientInterceptor(l), RetryUnaryClientInterceptor(fastRetry, nil)),
		grpc.WithChainStreamInterceptor(LoggingStreamClientInterceptor(l), RetryStreamClientInterceptor(fastRetry, nil)),
		grpc.WithPerRPCCredentials(InsecurePerRPCCredentials(testCreds)))
	return cc, buf
}

func TestLoggingDebug(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(_ context.Context, _ string, n int64) error {
		if n == 1 {
			return status.Error(codes.Unavailable, "down")
		}
		return nil
	})
	cc, buf := loggedConn(t, s, slog.LevelDebug)
	secretPayload := "payload-id-do-not-log"
	if _, err := ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: secretPayload}); err != nil {
		t.Fatal(err)
	}
	if _, err := testserver.CallStream(context.Background(), cc, secretPayload); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per call, got:\n%s", out)
	}
	for _, want := range []string{"level=DEBUG", "grpc.method=GetInterface", "grpc.code=OK", "grpc.time_ms=", "grpc.attempts=2"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("unary line lacks %q: %s", want, lines[0])
		}
	}
	for _, want := range []string{"grpc.method=Repeat", "grpc.code=OK", "grpc.method_type=server_stream"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("stream line lacks %q: %s", want, lines[1])
		}
	}
	for _, secret := range []string{testCreds.Token, secretPayload, "x-ch-auth"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

func TestLoggingInfoLevelLogsOnlyFailures(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	cc, buf := loggedConn(t, s, slog.LevelInfo)
	ic := ifacev1.NewInterfaceServiceClient(cc)
	if _, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "" {
		t.Fatalf("a successful call was logged at Info: %s", buf.String())
	}
	s.SetFail(func(context.Context, string, int64) error {
		time.Sleep(30 * time.Millisecond)
		return status.Error(codes.NotFound, "no interface 9")
	})
	if _, err := ic.GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: "9"}); status.Code(err) != codes.NotFound {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"level=INFO", "grpc.code=NotFound", `grpc.error="rpc error: code = NotFound desc = no interface 9"`, "grpc.attempts=1", "grpc.start_time="} {
		if !strings.Contains(out, want) {
			t.Errorf("line lacks %q: %s", want, out)
		}
	}
	// The duration is the call's, not the replay's.
	if strings.Contains(out, "grpc.time_ms=0 ") || strings.Contains(out, "grpc.time_ms=0.0") {
		t.Errorf("duration lost: %s", out)
	}
}

func TestLoggingDropsEverything(t *testing.T) {
	s := testserver.Start(t, testserver.Config{})
	s.SetFail(func(context.Context, string, int64) error { return status.Error(codes.Internal, "boom") })
	cc, buf := loggedConn(t, s, slog.LevelError+1)
	_, _ = ifacev1.NewInterfaceServiceClient(cc).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{Id: "1"})
	if buf.String() != "" {
		t.Fatalf("logged: %s", buf.String())
	}
	// A nil logger is allowed.
	cc2 := testserver.Dial(t, s.Addr, grpc.WithUnaryInterceptor(LoggingUnaryClientInterceptor(nil)),
		grpc.WithStreamInterceptor(LoggingStreamClientInterceptor(nil)))
	if _, err := ifacev1.NewInterfaceServiceClient(cc2).GetInterface(context.Background(), &ifacev1.GetInterfaceRequest{}); status.Code(err) != codes.Internal {
		t.Fatal(err)
	}
}

func TestLogLevel(t *testing.T) {
	for c, want := range map[codes.Code]slog.Level{
		codes.OK: slog.LevelDebug, codes.NotFound: slog.LevelInfo, codes.Unauthenticated: slog.LevelWarn,
		codes.ResourceExhausted: slog.LevelWarn, codes.Internal: slog.LevelError,
	} {
		if got := logLevel(c); got != want {
			t.Errorf("logLevel(%v) = %v", c, got)
		}
	}
}
