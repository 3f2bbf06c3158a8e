package classify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gokentik/kentik/internal/ctxio"
)

// DefaultMaxSpool is how many bytes of a plan LoadReader (and Load, for a pipe or a
// device) copies to a temporary file unless Options.MaxSpool says otherwise: 1 GiB,
// about thirty times a million-row plan.
const DefaultMaxSpool = 1 << 30

// ErrSpoolTooLarge is wrapped by the error LoadReader returns when the plan it reads
// passes Options.MaxSpool bytes: a runaway producer, or a device such as /dev/zero,
// would otherwise fill the disk.
var ErrSpoolTooLarge = errors.New("classify: the plan is larger than the spool allows")

func (o Options) maxSpool() int64 {
	if o.MaxSpool == 0 {
		return DefaultMaxSpool
	}
	return o.MaxSpool
}

// spool copies r, at most max bytes of it, to a new temporary file that has no name
// (see newSpool), and returns the file and the name to remove on Close ("" when it has
// none). When ctx ends, the copy stops at once, even during a read of r that blocks.
func spool(ctx context.Context, name string, r io.Reader, max int64) (*os.File, string, error) {
	f, path, err := newSpool()
	if err != nil {
		return nil, "", fmt.Errorf("classify: spooling %s: %w", name, err)
	}
	cr := ctxio.Reader(ctx, r)
	defer cr.Close() // ends its goroutine, which would otherwise hold what it read past the limit
	n, err := io.Copy(f, io.LimitReader(cr, max+1))
	if err == nil && n > max {
		err = fmt.Errorf("%w: %s passed %d bytes (Options.MaxSpool); write the plan to a file and load that, or raise the limit", ErrSpoolTooLarge, name, max)
	} else if err != nil {
		err = fmt.Errorf("classify: spooling %s: %w", name, err)
	}
	if err != nil {
		f.Close()
		if path != "" {
			os.Remove(path)
		}
		return nil, "", err
	}
	return f, path, nil
}

// newSpool returns a new temporary file that has no name, so that a job killed at any
// point (SIGKILL included) leaves nothing behind: the file goes when its last
// descriptor closes. On Linux, O_TMPFILE makes a file that never had a name; elsewhere
// the file is removed right after it is created and kept open. Where an open file cannot
// be removed (Windows), it keeps its name, returned for Plan.Close to remove.
func newSpool() (*os.File, string, error) {
	dir := os.TempDir()
	if f, err := openUnnamedFile(dir); err == nil {
		return f, "", nil
	}
	f, err := os.CreateTemp(dir, "kentik-classify-*.plan")
	if err != nil {
		return nil, "", err
	}
	if os.Remove(f.Name()) != nil {
		return f, f.Name(), nil
	}
	return f, "", nil
}

// openUnnamedFile is openUnnamed; a variable so that tests can take the other way.
var openUnnamedFile = openUnnamed

// spoolFile reads a spooled plan from its start, for one pass, sharing the descriptor
// with the other passes (ReadAt keeps no offset). Close leaves the spool open: the Plan
// owns it.
type spoolFile struct {
	*io.SectionReader
	f *os.File
}

func (s spoolFile) Stat() (os.FileInfo, error) { return s.f.Stat() }
func (s spoolFile) Close() error               { return nil }
