package kentik

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrPlaintextNotLoopback is returned by both clients when plaintext (no TLS) is asked
// for an endpoint that is not a loopback address: the API token would travel in clear
// text over a network.
var ErrPlaintextNotLoopback = errors.New("kentik: plaintext (no TLS) is only allowed to a loopback endpoint (127.0.0.0/8, ::1, localhost): the API token would travel in clear text")

// IsLoopback reports whether target names a loopback host, which is the only place the
// clients send credentials without TLS. target may be a host, HOST:PORT,
// [IPv6]:PORT, a URL (http://HOST:PORT/path), or a gRPC target (dns:///HOST:PORT,
// passthrough:///HOST:PORT, unix:PATH, unix-abstract:NAME). Loopback hosts are
// 127.0.0.0/8, ::1 (IPv4-mapped forms included) and "localhost" in any case; a gRPC
// target that names a DNS authority (dns://SERVER/HOST) is not loopback, since
// another server would resolve it.
//
// Every plaintext connection to a host this accepts must also bypass any proxy (see
// BypassProxy and the clients): Go's proxy rules skip only the lower-case spelling.
func IsLoopback(target string) bool {
	host, ok := targetHost(target)
	if !ok {
		return false
	}
	return IsLoopbackHost(host)
}

// IsLoopbackHost reports whether host (no port; brackets allowed) is 127.0.0.0/8, ::1
// or "localhost" in any case.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// targetHost extracts the host of a target; ok is true for a unix socket with host "".
func targetHost(target string) (host string, ok bool) {
	target = strings.TrimSpace(target)
	hostPort := target
	if i := strings.Index(target, ":"); i > 0 && !strings.ContainsAny(target[:i], ".[") {
		switch scheme := strings.ToLower(target[:i]); scheme {
		case "unix", "unix-abstract":
			return "localhost", true
		case "dns", "passthrough":
			u, err := url.Parse(target)
			if err != nil || u.Host != "" {
				// An authority names a DNS server that would resolve the host.
				return "", false
			}
			hostPort = strings.TrimPrefix(u.Path, "/")
			if hostPort == "" {
				hostPort = u.Opaque
			}
		case "http", "https":
			u, err := url.Parse(target)
			if err != nil {
				return "", false
			}
			return u.Hostname(), true
		}
	}
	if h, _, err := net.SplitHostPort(hostPort); err == nil {
		return h, true
	}
	return hostPort, true
}

// BypassProxy wraps an http.Transport's Proxy function (nil means no proxy) so that
// requests to a loopback host (IsLoopbackHost) never go through a proxy, however the
// host is spelled. Go's own rules (http.ProxyFromEnvironment) bypass only the
// lower-case "localhost" and loopback IPs, so http://LOCALHOST:8080 would otherwise send
// the credential headers to HTTP_PROXY in clear text.
func BypassProxy(proxy func(*http.Request) (*url.URL, error)) func(*http.Request) (*url.URL, error) {
	if proxy == nil {
		return nil
	}
	return func(req *http.Request) (*url.URL, error) {
		if req.URL != nil && IsLoopbackHost(req.URL.Hostname()) {
			return nil, nil
		}
		return proxy(req)
	}
}
