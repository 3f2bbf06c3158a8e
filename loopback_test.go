package kentik

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1:50051": true, "127.255.0.1:1": true, "[::1]:443": true, "::1": true, "localhost": true,
		"localhost:8080": true, "LOCALHOST:8080": true, "LocalHost": true, "[::ffff:127.0.0.1]:1": true,
		"unix:///tmp/sock": true, "unix-abstract:x": true, "dns:///127.0.0.1:1": true, "dns:///LOCALHOST:1": true,
		"passthrough:///localhost:1": true, "http://LOCALHOST:8080/api/v5": true, "https://127.0.0.1": true,
		" localhost:1 ": true,
		"0.0.0.0:1":     false, "10.0.0.1:1": false, "example.com:443": false, "[::2]:1": false,
		"dns://1.1.1.1/127.0.0.1:1": false, "": false, "localhost.:1": false, "localhost.example.com:1": false,
		"127.0.0.1.nip.io:1": false, "http://example.com/127.0.0.1": false, "[fe80::1%lo]:1": false,
	} {
		if got := IsLoopback(target); got != want {
			t.Errorf("IsLoopback(%q) = %v", target, got)
		}
	}
}

func FuzzIsLoopback(f *testing.F) {
	for _, s := range []string{"127.0.0.1:1", "[::1]:1", "localhost", "LOCALHOST:1", "dns:///localhost:1", "dns://x/y", "unix:///s", "http://[::1]:1/x", "%zz:1", "[", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !IsLoopback(target) {
			return
		}
		// Whatever was accepted must name a loopback host or a local socket.
		low := strings.ToLower(target)
		if !strings.Contains(low, "localhost") && !strings.Contains(low, "127.") && !strings.Contains(low, "::1") &&
			!strings.Contains(low, "unix") && !strings.Contains(low, "::ffff:7f") {
			t.Fatalf("%q accepted as loopback", target)
		}
	})
}

// A request to a loopback host, however it is spelled, never reaches the proxy; any
// other request does. The proxy is a real HTTP server that counts what reaches it.
func TestBypassProxy(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		http.Error(w, "proxied", http.StatusBadGateway)
	}))
	defer proxy.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer target.Close()
	port := target.URL[strings.LastIndexByte(target.URL, ':')+1:]
	proxyURL, _ := url.Parse(proxy.URL)
	tr := &http.Transport{Proxy: BypassProxy(func(*http.Request) (*url.URL, error) { return proxyURL, nil })}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for _, host := range []string{"LOCALHOST", "Localhost", "localhost", "127.0.0.1", "[::ffff:127.0.0.1]"} {
		resp, err := hc.Get("http://" + host + ":" + port + "/api/v5")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("%s: status %d: the request went through the proxy", host, resp.StatusCode)
		}
	}
	if n := proxied.Load(); n != 0 {
		t.Fatalf("%d loopback requests reached the proxy", n)
	}
	// Anything else still goes through it (no DNS needed: the proxy answers).
	resp, err := hc.Get("http://kentik.example:80/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if proxied.Load() != 1 {
		t.Fatal("a remote request bypassed the proxy")
	}
	if BypassProxy(nil) != nil {
		t.Fatal("no proxy must stay no proxy")
	}
}
