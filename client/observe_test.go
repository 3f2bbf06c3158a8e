package client

import (
	"context"
	"errors"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/internal/testserver"
)

// countingObserver counts the events of each kind.
type countingObserver struct {
	kentik.NopObserver
	mu                            sync.Mutex
	starts, ends, releases, tries int
	routes                        map[string]bool
}

func (o *countingObserver) LimiterWaitStart(_ context.Context, e kentik.LimiterEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.starts++
	if o.routes == nil {
		o.routes = map[string]bool{}
	}
	o.routes[e.Class+" "+e.Route] = true
}

func (o *countingObserver) LimiterWaitEnd(context.Context, kentik.LimiterEvent) {
	o.mu.Lock()
	o.ends++
	o.mu.Unlock()
}

func (o *countingObserver) LimiterRelease(context.Context, kentik.LimiterEvent) {
	o.mu.Lock()
	o.releases++
	o.mu.Unlock()
}

func (o *countingObserver) Retry(context.Context, kentik.RetryEvent) {
	o.mu.Lock()
	o.tries++
	o.mu.Unlock()
}

// TestObserverAndInterceptors: WithOptions bundles WithObserver and WithInterceptors; the
// observer sees each attempt (a retry included), the caller's interceptor sees each call
// once, outermost, with the *Error the caller gets; both also apply with WithConn.
func TestObserverAndInterceptors(t *testing.T) {
	noEnv(t)
	f := testserver.Start(t, testserver.Config{Token: testToken})
	cc, err := grpc.NewClient(f.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, withConn := range []bool{false, true} {
		obs := &countingObserver{}
		var mu sync.Mutex
		var seen []error
		unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			err := invoker(ctx, method, req, reply, cc, opts...)
			mu.Lock()
			seen = append(seen, err)
			mu.Unlock()
			return err
		}
		bundle := WithOptions(WithObserver(obs), WithObserver(nil), WithInterceptors(unary, nil))
		var c *Client
		if withConn {
			c, err = New(context.Background(), WithConn(cc), WithCredentials(testCreds), WithRetry(fastRetry), bundle)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			c = newTestClient(t, f, bundle)
		}
		base := f.Calls()
		f.SetFail(func(_ context.Context, _ string, n int64) error {
			if (n-base)%2 == 1 {
				return status.Error(codes.Unavailable, "down")
			}
			return nil
		})
		if _, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "1"}); err != nil {
			t.Fatal(err)
		}
		f.SetFail(func(context.Context, string, int64) error { return status.Error(codes.NotFound, "no") })
		_, err := c.Interfaces().GetInterface(ctxT(t), &ifacev1.GetInterfaceRequest{Id: "2"})
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v", err)
		}
		if obs.starts != 3 || obs.ends != 3 || obs.releases != 3 || obs.tries != 1 {
			t.Errorf("withConn %v: starts %d ends %d releases %d retries %d, want 3 3 3 1", withConn, obs.starts, obs.ends, obs.releases, obs.tries)
		}
		if !obs.routes[kentik.ClassV6Admin+" /kentik.interface.v202108alpha1.InterfaceService/GetInterface"] || len(obs.routes) != 1 {
			t.Errorf("routes %v", obs.routes)
		}
		if len(seen) != 2 || seen[0] != nil || !errors.As(seen[1], &ce) {
			t.Errorf("withConn %v: the caller's interceptor saw %v, want nil then a *client.Error", withConn, seen)
		}
		c.Close()
	}
}
