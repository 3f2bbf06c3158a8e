package client_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/ratelimit"
	"github.com/gokentik/kentik/services"
)

// hostServer stands for one of Kentik's hosts: a gRPC server on 127.0.0.1 that answers
// any method (grpc.UnknownServiceHandler), records which methods reached it with what
// credentials, and fails the first attempt of every method with the code fail gives.
type hostServer struct {
	addr string
	fail func(method string) codes.Code

	mu       sync.Mutex
	attempts map[string]int
	badAuth  []string
}

func startHost(t *testing.T, fail func(string) codes.Code) *hostServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostServer{addr: lis.Addr().String(), fail: fail, attempts: map[string]int{}}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(h.handle))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return h
}

func (h *hostServer) handle(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	md, _ := metadata.FromIncomingContext(ss.Context())
	if err := ss.RecvMsg(&emptypb.Empty{}); err != nil {
		return err
	}
	h.mu.Lock()
	h.attempts[method]++
	n := h.attempts[method]
	if e, tok := md.Get(kentik.MetadataEmail), md.Get(kentik.MetadataToken); len(e) != 1 || e[0] != "ops@example.com" || len(tok) != 1 || tok[0] != "t0ken" {
		h.badAuth = append(h.badAuth, method)
	}
	h.mu.Unlock()
	if n == 1 {
		return status.Error(h.fail(method), "first attempt refused")
	}
	return ss.SendMsg(&emptypb.Empty{})
}

func (h *hostServer) seen(method string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[method]
}

// countingLimiter admits everything and counts the slots taken.
type countingLimiter struct{ n atomic.Int64 }

func (l *countingLimiter) Acquire(context.Context) (func(), error) {
	l.n.Add(1)
	return func() {}, nil
}

// Every public v6 method, called through one Client's Conn, reaches the server standing
// for its service's host (three hosts, three servers), carries both credential headers,
// takes a slot of the account's limiter for each attempt, and is sent again after
// UNAVAILABLE only when the schema says it is idempotent; a refusal
// (RESOURCE_EXHAUSTED) is retried for every method.
func TestEveryServiceRoutedAuthenticatedLimitedAndRetriedByTheSchema(t *testing.T) {
	for _, refusal := range []bool{false, true} {
		code := codes.Unavailable
		if refusal {
			code = codes.ResourceExhausted
		}
		fail := func(string) codes.Code { return code }
		hosts := map[string]*hostServer{
			kentik.DefaultHost:            startHost(t, fail),
			"mkp.api.kentik.com":          startHost(t, fail),
			"cloud_export.api.kentik.com": startHost(t, fail),
		}
		limiter := &countingLimiter{}
		c, err := client.New(context.Background(),
			client.WithEndpoint(hosts[kentik.DefaultHost].addr), // every host but those below
			client.WithHostEndpoint("mkp.api.kentik.com", hosts["mkp.api.kentik.com"].addr),
			client.WithHostEndpoint("cloud_export.api.kentik.com", hosts["cloud_export.api.kentik.com"].addr),
			client.WithPlaintext(), client.WithCredentials(kentik.Credentials{Email: "ops@example.com", Token: "t0ken"}),
			client.WithLimiter(limiter),
			client.WithRetry(kentik.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		calls, attempts, perHost := 0, 0, map[string]int{}
		for _, s := range services.All() {
			h, ok := hosts[s.Host]
			if !ok {
				t.Fatalf("%s: host %s has no test server", s.Name, s.Host)
			}
			perHost[s.Host]++
			for _, m := range s.Methods {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := c.Conn().Invoke(ctx, m.FullMethod, &emptypb.Empty{}, &emptypb.Empty{})
				cancel()
				calls++
				wantAttempts := 1
				if refusal || m.Idempotent {
					wantAttempts = 2
				}
				attempts += wantAttempts
				if got := h.seen(m.FullMethod); got != wantAttempts {
					t.Errorf("%s (idempotent %v) after %v: %d attempts reached %s, want %d", m.FullMethod, m.Idempotent, code, got, s.Host, wantAttempts)
				}
				if wantAttempts == 2 && err != nil || wantAttempts == 1 && status.Code(err) != code {
					t.Errorf("%s: %v", m.FullMethod, err)
				}
			}
		}
		for host, h := range hosts {
			if len(h.badAuth) > 0 {
				t.Errorf("%s: calls without both credentials: %v", host, h.badAuth)
			}
			for m := range h.attempts {
				if mm, err := kentik.LookupMethod(m); err != nil || mm.Host != host {
					t.Errorf("%s reached the server of %s", m, host)
				}
			}
		}
		if calls != 289 || len(perHost) != 3 {
			t.Fatalf("%d methods over %d hosts; want 289 over 3", calls, len(perHost))
		}
		if n := limiter.n.Load(); n != int64(attempts) {
			t.Errorf("%d limiter slots for %d attempts", n, attempts)
		}
		if got := len(c.Targets()); got != 3 {
			t.Errorf("%d connections, want one per host: %v", got, c.Targets())
		}
	}
}

// A method outside the program's schema fails at once, clearly, and nothing is sent.
func TestUnknownMethodRefused(t *testing.T) {
	h := startHost(t, func(string) codes.Code { return codes.OK })
	c, err := client.New(context.Background(), client.WithEndpoint(h.addr), client.WithPlaintext(),
		client.WithCredentials(kentik.Credentials{Email: "ops@example.com", Token: "t0ken"}), client.WithRateLimit(ratelimit.Off))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []string{"/kentik.nope.v1.NopeService/Get", "/grpc.health.v1.Health/Check", "GetInterface"} {
		err := c.Conn().Invoke(context.Background(), m, &emptypb.Empty{}, &emptypb.Empty{})
		if status.Code(err) != codes.Unimplemented || !errors.Is(err, kentik.ErrUnknownMethod) {
			t.Errorf("%s: %v", m, err)
		}
	}
	if len(h.attempts) != 0 || len(c.Targets()) != 0 {
		t.Fatalf("an unknown method was sent: %v", h.attempts)
	}
}
