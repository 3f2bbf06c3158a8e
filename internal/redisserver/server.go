// Package redisserver runs a real redis-server on a free loopback port for the
// tests of redislimit: persistence off, stopped when the test ends, and
// restartable on the same port to play a Redis that lost its state.
package redisserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options are extra settings of a Server; the zero value is a plain server
// without authentication.
type Options struct {
	// Password, when set, is required of the default user (requirepass).
	Password string
	// User and UserPassword, when both set, add an ACL user with every right.
	User, UserPassword string
	// TLS, when set, makes the server speak TLS only, with these PEM files.
	TLS *TLSFiles
}

// TLSFiles are the PEM files of a TLS server.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

// Server is a running redis-server.
type Server struct {
	t    testing.TB
	opts Options
	dir  string
	Port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Available reports whether redis-server is on PATH.
func Available() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// Require skips t (naming pkg) when redis-server is not on PATH, or fails it
// when the CI environment variable is set: CI must run the Redis tests.
func Require(t testing.TB, pkg string) {
	t.Helper()
	if Available() {
		return
	}
	msg := pkg + ": redis-server is not on PATH; install it (apt-get install redis-server) to run the tests that need a real Redis"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this is a failure)")
	}
	t.Skip(msg)
}

// Start starts a redis-server on a free loopback port with persistence off,
// waits until it answers PING, and stops it when the test ends. It calls
// Require first.
func Start(t testing.TB, pkg string, opts Options) *Server {
	t.Helper()
	Require(t, pkg)
	s := &Server{t: t, opts: opts, dir: t.TempDir()}
	var err error
	for range 10 { // a port picked free may be taken before redis-server binds it
		s.Port, err = freePort()
		if err != nil {
			t.Fatal(err)
		}
		if err = s.start(); err == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redisserver: no redis-server started after 10 tries: %v", err)
	return nil
}

// StartAt is Start on a given loopback address (host:port), e.g. one a test
// has already pointed a client at.
func StartAt(t testing.TB, pkg, addr string, opts Options) *Server {
	t.Helper()
	Require(t, pkg)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, opts: opts, dir: t.TempDir()}
	if s.Port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is a redis:// URL of the server (rediss:// with TLS) for database db,
// with the default user's password when there is one.
func (s *Server) URL(db int) string {
	scheme := "redis"
	if s.opts.TLS != nil {
		scheme = "rediss"
	}
	auth := ""
	if s.opts.Password != "" {
		auth = ":" + s.opts.Password + "@"
	}
	return fmt.Sprintf("%s://%s%s/%d", scheme, auth, s.Addr(), db)
}

// Client returns a go-redis client of the server (database 0), closed when the
// test ends.
func (s *Server) Client(t testing.TB) *redis.Client { return s.ClientDB(t, 0) }

// ClientDB is Client for database db.
func (s *Server) ClientDB(t testing.TB, db int) *redis.Client {
	o := s.options()
	o.DB = db
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) options() *redis.Options {
	o := &redis.Options{Addr: s.Addr(), Password: s.opts.Password, MaxRetries: -1, DialTimeout: time.Second}
	if s.opts.TLS != nil {
		o.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a throwaway test server on loopback
	}
	return o
}

func (s *Server) args() []string {
	a := []string{"--port", strconv.Itoa(s.Port)}
	if s.opts.TLS != nil {
		a = []string{
			"--port", "0", "--tls-port", strconv.Itoa(s.Port),
			"--tls-cert-file", s.opts.TLS.CertFile, "--tls-key-file", s.opts.TLS.KeyFile,
			"--tls-ca-cert-file", s.opts.TLS.CAFile, "--tls-auth-clients", "no",
		}
	}
	a = append(a, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--dir", s.dir, "--logfile", "", "--loglevel", "warning")
	if s.opts.Password != "" {
		a = append(a, "--requirepass", s.opts.Password)
	}
	if s.opts.User != "" && s.opts.UserPassword != "" {
		a = append(a, "--user", s.opts.User, "on", ">"+s.opts.UserPassword, "~*", "&*", "+@all")
	}
	return a
}

func (s *Server) start() error {
	out := new(bytes.Buffer)
	cmd := exec.Command("redis-server", s.args()...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redisserver: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	c := redis.NewClient(s.options())
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("redisserver: redis-server exited at start: %s", out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redisserver: no answer to PING within 10s: %v; output: %s", err, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

// Stop kills the server (SIGKILL: nothing is saved, as in a crash) and waits
// for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts the server again on the same port, with an empty dataset
// (persistence is off), after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for range 50 { // the port may linger briefly after the kill
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redisserver: restart on port %d: %v", s.Port, err)
}

// Dir is the server's working directory (a temporary directory of the test).
func (s *Server) Dir() string { return s.dir }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redisserver: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
