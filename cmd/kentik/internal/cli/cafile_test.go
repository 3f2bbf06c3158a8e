package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// testCA makes a CA, like a TLS-intercepting proxy's, and a server certificate for
// 127.0.0.1 that it signs. It returns the CA as PEM and the server's TLS configuration.
func testCA(t *testing.T) ([]byte, *tls.Config) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Corp TLS inspection CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
}

// TestCAFile: with TLS signed by a CA the system does not know (an intercepting proxy),
// calls fail with a hint naming --ca-file; with the CA given by --ca-file,
// KENTIK_CA_FILE or a profile, gRPC and V5 calls go through.
func TestCAFile(t *testing.T) {
	t.Parallel() // it mostly waits
	caPEM, serverTLS := testCA(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off), kentiktest.WithV5Policy(ratelimit.Off),
		kentiktest.WithInterfaces(1, 1), kentiktest.WithGRPCListener(tls.NewListener(lis, serverTLS)))
	v5 := httptest.NewUnstartedServer(srv.V5Handler())
	v5.TLS = serverTLS
	v5.StartTLS()
	t.Cleanup(v5.Close)

	dir := t.TempDir()
	caFile := filepath.Join(dir, "proxy-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	c := srv.Credentials()
	env := map[string]string{
		"KENTIK_EMAIL": c.Email, "KENTIK_API_TOKEN": c.Token, "KENTIK_RATE_LIMIT": "off",
		"KENTIK_GRPC_ENDPOINT": lis.Addr().String(), "KENTIK_API_URL": v5.URL + "/api/v5",
	}
	get := []string{"--timeout", "5s", "interfaces", "get", srv.InterfaceIDs()[0]}
	list := []string{"--timeout", "5s", "tenants", "list"}
	for _, args := range [][]string{get, list} {
		code, _, stderr := runKentik(t, env, nil, args...)
		if code != ExitFailure || !strings.Contains(stderr, "certificate signed by unknown authority") || !strings.Contains(stderr, "--ca-file or KENTIK_CA_FILE") || strings.Contains(stderr, "--plaintext") {
			t.Errorf("%q without the CA: exit %d\n%s", args, code, stderr)
		}
	}
	cfg := writeConfig(t, dir, map[string]profile{"default": {CAFile: "proxy-ca.pem"}})
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"flag":    {env, []string{"--ca-file", caFile}},
		"env":     {with(env, "KENTIK_CA_FILE", caFile), nil},
		"profile": {with(env, "KENTIK_CONFIG", cfg), nil},
	} {
		for _, args := range [][]string{get, list} {
			if code, _, stderr := runKentik(t, tc.env, nil, append(tc.args, args...)...); code != ExitOK {
				t.Errorf("%s %q: exit %d\n%s", name, args, code, stderr)
			}
		}
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runKentik(t, env, nil, append([]string{"--ca-file", notPEM}, get...)...); code != ExitUsage || !strings.Contains(stderr, "--ca-file "+notPEM+": no PEM certificate") {
		t.Errorf("not PEM: exit %d\n%s", code, stderr)
	}
}
