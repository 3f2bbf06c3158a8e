package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"

	"github.com/gokentik/kentik"
)

// loadCAFile returns a TLS configuration that trusts the system's CAs and those of the
// PEM file at path: a proxy that intercepts TLS presents certificates signed by its own
// CA, which only the user can vouch for.
func loadCAFile(path string) (*tls.Config, error) {
	pem, _, err := readSmallFile(path, maxConfigFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool() // no system pool (e.g. some Windows builds): the file's alone
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in it (want one or more -----BEGIN CERTIFICATE----- blocks)")
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// httpTransport is the base transport of the V5 adapter: a clone of
// http.DefaultTransport (proxies from the environment, never for a loopback host)
// trusting --ca-file's
// CAs when given.
func (g *Globals) httpTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// The adapter bypasses the proxy for loopback hosts only on an *http.Transport it
	// can see; -v wraps this one in a logger, so do it here too.
	t.Proxy = kentik.BypassProxy(t.Proxy)
	if g.tlsConfig != nil {
		t.TLSClientConfig = g.tlsConfig.Clone()
	}
	return t
}

// unknownAuthority reports whether err says the server's certificate was signed by
// an authority the client does not trust. gRPC flattens the TLS error into its status
// message, so the message is what can be read.
func unknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua) || err != nil && strings.Contains(err.Error(), "certificate signed by unknown authority")
}
