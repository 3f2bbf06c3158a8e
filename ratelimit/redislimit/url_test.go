package redislimit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokentik/kentik/internal/redisserver"
	"github.com/gokentik/kentik/ratelimit"
)

// acquireOnce checks that l admits a call and that its keys live in database db.
func acquireOnce(t *testing.T, srv *redisserver.Server, l *Limiter, db int) {
	t.Helper()
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	ks, err := srv.ClientDB(t, db).Keys(context.Background(), l.Key()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) == 0 {
		t.Errorf("no key of the limiter in database %d", db)
	}
}

func TestURLForms(t *testing.T) {
	ctx := context.Background()
	p := mustParse(t, "concurrency=1,10/1s")
	t.Run("db", func(t *testing.T) {
		srv := startRedis(t)
		l, err := NewFromURL(ctx, "redis://"+srv.Addr()+"/3", testScope, p, WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		acquireOnce(t, srv, l, 3)
	})
	t.Run("password", func(t *testing.T) {
		srv := redisserver.Start(t, pkgName, redisserver.Options{Password: "pa55-word", User: "kentik", UserPassword: "us3r-pw"})
		l, err := NewFromURL(ctx, "redis://:pa55-word@"+srv.Addr()+"/0", testScope, p, WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		acquireOnce(t, srv, l, 0)
		l.Close()
		// An ACL user.
		l, err = NewFromURL(ctx, "redis://kentik:us3r-pw@"+srv.Addr()+"/1", testScope, p, WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		acquireOnce(t, srv, l, 1)
		l.Close()
		// A wrong password: a clear error, without the password.
		_, err = NewFromURL(ctx, "redis://kentik:wr0ng-pw@"+srv.Addr()+"/1", testScope, p, WithLogger(quiet))
		if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "wr0ng-pw") || !strings.Contains(err.Error(), srv.Addr()) {
			t.Errorf("wrong password: %v", err)
		}
	})
	t.Run("tls", func(t *testing.T) {
		files, pool := selfSigned(t)
		srv := redisserver.Start(t, pkgName, redisserver.Options{TLS: files})
		l, err := NewFromURL(ctx, "rediss://"+srv.Addr()+"/2", testScope, p, WithLogger(quiet), WithTLSConfig(&tls.Config{RootCAs: pool}))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		acquireOnce(t, srv, l, 2)
		// Without trusting the CA, the TLS handshake fails: a clear error.
		_, err = NewFromURL(ctx, "rediss://"+srv.Addr()+"/2", testScope, p, WithLogger(quiet))
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("untrusted certificate: %v", err)
		}
	})
	t.Run("bad", func(t *testing.T) {
		for _, raw := range []string{
			"http://127.0.0.1:6379",
			"redis://:hunter2-pw@127.0.0.1:6379/notadb",
			"redis://u:hunter2-pw@[::1:6379/0",
			"redis://u:hunter2-pw@127.0.0.1:6379/0?dial_timeout=soon",
			"",
		} {
			_, err := NewFromURL(ctx, raw, testScope, p)
			var ue *URLError
			if !errors.As(err, &ue) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("NewFromURL(%q): %v", raw, err)
			}
		}
	})
	t.Run("off", func(t *testing.T) { // no Redis traffic, but the URL is still checked
		l, err := NewFromURL(ctx, "redis://"+closedAddr(t)+"/0", testScope, ratelimit.Off)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		rel, err := l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rel()
		if _, err := NewFromURL(ctx, "redis://x/notadb", testScope, ratelimit.Off); err == nil {
			t.Error("a bad URL accepted with an off policy")
		}
	})
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:secret@host:6379/1":       "redis://:xxxxx@host:6379/1",
		"redis://user:secret@host/0":        "redis://user:xxxxx@host/0",
		"rediss://host:6380":                "rediss://host:6380",
		"redis://u:se@cret@[::1:6379":       "redis://xxxxx@[::1:6379",
		"redis://h/0?password=secret&db=1":  "redis://h/0?db=1&password=xxxxx",
		"not a url: with:colons and secret": "xxxxx",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseURL: whatever the URL, parsing never panics, and neither the
// error nor the redacted URL shows the password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"h:1/2", "h", "unix", "rediss", "[::1", "h/0?password=pw", "%", "redis://:pw@h:1/2"} {
		f.Add(s, "pw1234")
	}
	f.Fuzz(func(t *testing.T, prefix, pw string) {
		// A marker makes the password distinctive, so that no escaping of
		// the rest of the URL can spell it by chance.
		pw = "Zq9" + pw
		if strings.ContainsAny(pw, "@/?#[]%:&=;+ \t\r\n\"'\\") || strings.Contains(prefix, "Zq9") {
			return
		}
		raws := []string{
			"redis://user:" + pw + "@" + prefix,
			"redis://:" + pw + "@" + prefix,
			"redis://h:1/0?password=" + pw + "&" + prefix,
		}
		if isScheme(prefix) { // prefix as the scheme (elsewhere the "password" would be part of a path)
			raws = append(raws, prefix+"://u:"+pw+"@h:1/0")
		}
		for _, raw := range raws {
			red := RedactURL(raw)
			if strings.Contains(red, pw) {
				t.Fatalf("RedactURL(%q) = %q shows the password", raw, red)
			}
			if _, err := parseURL(raw); err != nil {
				var ue *URLError
				if !errors.As(err, &ue) || ue.URL != red || strings.Contains(ue.Reason, pw) {
					t.Fatalf("parseURL(%q): %q shows the password", raw, err)
				}
			}
		}
	})
}

func isScheme(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return s != ""
}

// selfSigned writes a CA and a server certificate for 127.0.0.1.
func selfSigned(t *testing.T) (*redisserver.TLSFiles, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redislimit test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	files := &redisserver.TLSFiles{
		CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server.key"), CAFile: filepath.Join(dir, "ca.pem"),
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(files.CertFile, "CERTIFICATE", der)
	write(files.KeyFile, "EC PRIVATE KEY", keyDER)
	write(files.CAFile, "CERTIFICATE", caDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return files, pool
}
