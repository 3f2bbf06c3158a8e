package kentiktest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// withCreds adds Kentik's auth metadata to every call (what the client's interceptors
// do; kept minimal here so these tests depend on the fake alone).
func withCreds(c kentik.Credentials) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if c.Email != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, kentik.MetadataEmail, c.Email)
		}
		if c.Token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, kentik.MetadataToken, c.Token)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// conn dials s over loopback; the connection is closed when the test ends.
func conn(t testing.TB, s *kentiktest.Server, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(s.GRPCAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// client returns an InterfaceService client sending c.
func client(t testing.TB, s *kentiktest.Server, c kentik.Credentials) ifacev1.InterfaceServiceClient {
	return ifacev1.NewInterfaceServiceClient(conn(t, s, grpc.WithUnaryInterceptor(withCreds(c))))
}

// startOff starts a fake without rate limits.
func startOff(t testing.TB, opts ...kentiktest.Option) *kentiktest.Server {
	t.Helper()
	return kentiktest.Start(t, append([]kentiktest.Option{kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithV5Policy(ratelimit.Off)}, opts...)...)
}

func policy(t testing.TB, s string) ratelimit.Policy {
	t.Helper()
	p, err := ratelimit.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// httpResult is a V5 answer.
type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func (r httpResult) errorMessage(t testing.TB) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not a JSON error: %v", r.body, err)
	}
	return e.Error
}

// do sends a V5 request like curl would, with the credentials c (none when empty).
func do(t testing.TB, method, url string, c kentik.Credentials, body string) httpResult {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx(t), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c.Email != "" {
		req.Header.Set(kentik.HeaderEmail, c.Email)
	}
	if c.Token != "" {
		req.Header.Set(kentik.HeaderToken, c.Token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	cl := &http.Client{Timeout: 10 * time.Second}
	defer cl.CloseIdleConnections()
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{resp.StatusCode, resp.Header, b}
}
