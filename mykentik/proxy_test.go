package mykentik

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// proxyServer is a real HTTP server standing for a proxy: it counts what reaches it and
// answers 502, so nothing sent there can succeed.
func proxyServer(t *testing.T) (*url.URL, func() int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "proxied", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u, n.Load
}

// Plain http to a loopback host never goes through a proxy, however the host is spelled:
// Go's rules skip only "localhost" in lower case, and would send both credential headers
// to the proxy in clear text (twice: the GET is retried). Both an http.Client of the
// caller's with a proxy and the default transport (HTTP_PROXY, read once per process: a
// process of its own) are covered.
func TestLoopbackNeverThroughProxy(t *testing.T) {
	if base := os.Getenv("KENTIK_TEST_PROXY_BASE"); base != "" {
		c, err := New(context.Background(), WithBaseURL(base), WithRateLimit(ratelimit.Off))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListTenants(context.Background()); err != nil {
			t.Fatal(err)
		}
		return
	}
	proxy, proxied := proxyServer(t)
	srv := kentiktest.Start(t, kentiktest.WithV5Policy(ratelimit.Off))
	_, port, _ := net.SplitHostPort(srv.HTTPAddr())
	creds := srv.Credentials()
	for _, host := range []string{"LOCALHOST", "Localhost", "localhost", "127.0.0.1", "[::ffff:127.0.0.1]"} {
		base := "http://" + host + ":" + port
		hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
		c, err := New(context.Background(), WithBaseURL(base), WithCredentials(creds), WithHTTPClient(hc), WithRateLimit(ratelimit.Off))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListTenants(context.Background()); err != nil {
			t.Errorf("%s, the caller's proxy: %v", host, err)
		}
		if host == "[::ffff:127.0.0.1]" {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoopbackNeverThroughProxy$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KENTIK_TEST_PROXY_BASE="+base,
			"HTTP_PROXY="+proxy.String(), "HTTPS_PROXY="+proxy.String(), "NO_PROXY=", "no_proxy=",
			kentik.EnvEmail+"="+creds.Email, kentik.EnvToken+"="+creds.Token)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s, HTTP_PROXY: %v\n%s", host, err, out)
		}
	}
	if n := proxied(); n != 0 {
		t.Fatalf("%d loopback requests went to the proxy", n)
	}
}
