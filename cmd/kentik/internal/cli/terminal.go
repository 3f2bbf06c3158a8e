package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// maxAnswer bounds one line typed in answer to a question (an email, a token, "yes").
const maxAnswer = 4096

// terminal reports whether f (one of the Globals' streams) is a terminal. Tests decide
// it with Globals.isTerminal.
func (g *Globals) terminal(f any) bool {
	if c, ok := f.(*console); ok {
		f = c.w
	}
	if g.isTerminal != nil {
		return g.isTerminal(f)
	}
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// interactive reports whether someone at a terminal can see a question and answer it:
// stdin and stderr are both terminals.
func (g *Globals) interactive() bool { return g.terminal(g.Stdin) && g.terminal(g.Stderr) }

// confirm asks a yes/no question on stderr and reads the answer from stdin: only "y"
// or "yes", in any case, is yes.
func (g *Globals) confirm(ctx context.Context, question string) (bool, error) {
	fmt.Fprintf(g.Stderr, "%s [y/N] ", question)
	answer, err := readLine(ctx, g.Stdin)
	if err != nil {
		fmt.Fprintln(g.Stderr)
		return false, err
	}
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes", nil
}

// readLine reads one line from r, without its line ending, giving way to ctx. It reads
// a byte at a time and stops at the newline, so that what follows stays in r for the
// next reader (term.ReadPassword, or another question); a goroutine does the read
// because a read from a terminal cannot be cancelled, and is left behind, blocked,
// only when ctx ends first (the command is then ending).
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 1)
		for b.Len() <= maxAnswer {
			n, err := r.Read(buf)
			if n == 1 {
				if buf[0] == '\n' {
					done <- result{strings.TrimSuffix(b.String(), "\r"), nil}
					return
				}
				b.WriteByte(buf[0])
			}
			if errors.Is(err, io.EOF) && b.Len() > 0 {
				done <- result{b.String(), nil}
				return
			}
			if err != nil {
				done <- result{"", err}
				return
			}
		}
		done <- result{"", fmt.Errorf("the answer is longer than %d bytes", maxAnswer)}
	}()
	select {
	case res := <-done:
		return res.line, res.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// readSecret reads one line from the terminal f without echoing it (term.ReadPassword),
// giving way to ctx: on Ctrl-C the terminal's state is restored before returning, so
// that the shell does not go on without echo.
func readSecret(ctx context.Context, f *os.File) (string, error) {
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	type result struct {
		secret []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		return string(res.secret), res.err
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		return "", context.Cause(ctx)
	}
}
