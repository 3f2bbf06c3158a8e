package ctxio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// All of r comes through when ctx stays alive.
func TestReaderCopies(t *testing.T) {
	got, err := io.ReadAll(Reader(context.Background(), strings.NewReader("interface_id\n1\n")))
	if err != nil || string(got) != "interface_id\n1\n" {
		t.Fatalf("%q, %v", got, err)
	}
}

// A read blocked on a source that never answers ends when ctx does, with its cause.
func TestReaderCancelsBlockedRead(t *testing.T) {
	src, w := io.Pipe() // nothing is ever written: a silent stdin
	defer w.Close()
	cause := errors.New("interrupted")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(Reader(ctx, src))
		done <- err
	}()
	cancel(cause)
	select {
	case err := <-done:
		if !errors.Is(err, cause) {
			t.Fatalf("err = %v, want the context's cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not end with the context")
	}
}

// A reader closed before the end of r ends its goroutine, though ctx lives on: a caller
// that stops at a size limit leaves nothing behind (synctest fails a test whose
// goroutines stay blocked).
func TestReaderCloseEndsCopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := Reader(context.Background(), bytes.NewReader(make([]byte, 1<<20)))
		if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
