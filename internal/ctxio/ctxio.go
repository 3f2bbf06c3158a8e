// Package ctxio makes a blocking reader give way to a context.
package ctxio

import (
	"context"
	"io"
)

// Reader returns a reader of r that fails with ctx's cause as soon as ctx is done, even
// while a read of r is blocked: stdin on a terminal, or a pipe whose writer outlives a
// Ctrl-C, would otherwise hold the caller until the process is killed. io.Reader has no
// way to cancel a read, so a goroutine copies r into a pipe; once ctx is done, or the
// returned reader is closed, that goroutine ends after r's next read returns, and the
// bytes of that read are lost, so r should not be used afterwards.
//
// Close the reader when done with it before its end (a caller that stops at a size
// limit): the goroutine would otherwise wait for ctx to hand over what it read.
func Reader(ctx context.Context, r io.Reader) io.ReadCloser {
	pr, pw := io.Pipe()
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })
	go func() {
		_, err := io.Copy(pw, r)
		stop()
		pw.CloseWithError(err) // nil: the reader sees EOF
	}()
	return pr
}
