//go:build linux

package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// openPTY opens a pseudo-terminal pair: the controlling side (what a person types into
// and reads from) and the terminal the command gets as stdin and stderr.
func openPTY(t *testing.T) (control, tty *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(control.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(control.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close(); control.Close() })
	return control, tty
}

// screen collects what the terminal shows, and waits for a text to appear on it.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) read(f *os.File) {
	b := make([]byte, 1024)
	for {
		n, err := f.Read(b)
		s.mu.Lock()
		s.buf.Write(b[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits (at most 10 s) until the screen shows text.
func (s *screen) waitFor(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(s.String(), text) {
			return
		}
	}
	t.Fatalf("the terminal never showed %q; it shows:\n%s", text, s.String())
}

// runOnPTY runs the command with a real terminal as stdin and stderr, and returns the
// controlling side, the screen and a channel of the exit code.
func runOnPTY(t *testing.T, env map[string]string, args ...string) (*os.File, *screen, <-chan int) {
	t.Helper()
	control, tty := openPTY(t)
	scr := &screen{}
	go scr.read(control)
	code := make(chan int, 1)
	var stdout bytes.Buffer
	go func() {
		code <- run(context.Background(), args, tty, &stdout, tty, func(k string) string { return env[k] })
	}()
	return control, scr, code
}

func exitCode(t *testing.T, code <-chan int) int {
	t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not finish")
		return -1
	}
}

// TestAuthLoginOnTerminal: on a real terminal login asks for the email (echoed as
// typed) and for the token without echo, and the terminal echoes again afterwards.
func TestAuthLoginOnTerminal(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithPolicy(ratelimit.Off))
	cfg := filepath.Join(t.TempDir(), "config.json")
	control, scr, code := runOnPTY(t, map[string]string{"KENTIK_CONFIG": cfg},
		"auth", "login", "--grpc-endpoint", srv.GRPCAddr(), "--plaintext", "--rate-limit", "off")
	scr.waitFor(t, "Kentik email: ")
	fmt.Fprintf(control, "%s\n", srv.Credentials().Email)
	scr.waitFor(t, "Kentik API token (not shown): ")
	fmt.Fprintf(control, "%s\n", srv.Credentials().Token)
	if c := exitCode(t, code); c != ExitOK {
		t.Fatalf("exit %d; the terminal shows:\n%s", c, scr.String())
	}
	shown := scr.String()
	if !strings.Contains(shown, srv.Credentials().Email) || strings.Contains(shown, srv.Credentials().Token) {
		t.Errorf("the email should echo and the token not; the terminal shows:\n%s", shown)
	}
	c, err := loadConfig(cfg)
	if err != nil || c.Profiles["default"].Token != srv.Credentials().Token {
		t.Fatalf("saved %v, %v", c, err)
	}
	state, err := unix.IoctlGetTermios(int(control.Fd()), unix.TCGETS)
	if err != nil || state.Lflag&unix.ECHO == 0 {
		t.Errorf("echo is off after login: %v", err)
	}
}

// TestDeleteOnTerminal: on a real terminal delete shows the interface and asks.
func TestDeleteOnTerminal(t *testing.T) {
	srv := startFake(t, 0)
	id := richInterface(t, srv).GetId()
	c := srv.Credentials()
	env := map[string]string{"KENTIK_EMAIL": c.Email, "KENTIK_API_TOKEN": c.Token, "KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(), "KENTIK_RATE_LIMIT": "off"}
	control, scr, code := runOnPTY(t, env, "--plaintext", "interfaces", "delete", id)
	scr.waitFor(t, "Delete interface "+id+"? [y/N] ")
	fmt.Fprint(control, "y\n")
	if c := exitCode(t, code); c != ExitOK {
		t.Fatalf("exit %d; the terminal shows:\n%s", c, scr.String())
	}
	if _, ok := srv.Interface(id); ok || !strings.Contains(scr.String(), "uplink to ExampleNet") {
		t.Errorf("not deleted, or not shown first:\n%s", scr.String())
	}
}
