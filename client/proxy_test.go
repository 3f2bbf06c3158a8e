package client

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokentik/kentik"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// countingProxy accepts connections on 127.0.0.1 and closes them at once, counting
// them: whatever reaches it was sent to a proxy.
func countingProxy(t *testing.T) (addr string, count func() int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { lis.Close() })
	return lis.Addr().String(), n.Load
}

// A plaintext call to a loopback endpoint never goes through HTTPS_PROXY, however the
// host is spelled: Go's proxy rules, which grpc follows, skip only "localhost" in lower
// case, and would tunnel the call (token included) through the proxy. Go reads the
// proxy variables once per process, so each spelling runs in a process of its own.
func TestPlaintextLoopbackNeverThroughProxy(t *testing.T) {
	if target := os.Getenv("KENTIK_TEST_PROXY_TARGET"); target != "" {
		proxyChild(t, target)
		return
	}
	proxy, proxied := countingProxy(t)
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(10, 1), kentiktest.WithPolicy(ratelimit.Off))
	_, port, _ := net.SplitHostPort(srv.GRPCAddr())
	for _, host := range []string{"LOCALHOST", "LocalHost", "localhost", "127.0.0.1", "dns:///LOCALHOST"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPlaintextLoopbackNeverThroughProxy$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"KENTIK_TEST_PROXY_TARGET="+host+":"+port,
			"HTTPS_PROXY=http://"+proxy, "HTTP_PROXY=http://"+proxy, "NO_PROXY=", "no_proxy=",
			kentik.EnvEmail+"="+srv.Credentials().Email, kentik.EnvToken+"="+srv.Credentials().Token)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: the call failed: %v\n%s", host, err, out)
		}
	}
	if n := proxied(); n != 0 {
		t.Fatalf("%d plaintext loopback calls went to the proxy", n)
	}
}

func proxyChild(t *testing.T, target string) {
	if !strings.Contains(os.Getenv("HTTPS_PROXY"), "127.0.0.1") {
		t.Fatal("no proxy set in the child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := New(ctx, WithEndpoint(target), WithPlaintext(), WithRetry(kentik.NoRetry), WithRateLimit(ratelimit.Off))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: "1000001"}); err != nil {
		t.Fatal(err)
	}
}
