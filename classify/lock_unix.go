//go:build unix

package classify

import (
	"errors"
	"os"
	"syscall"
)

// errLocked means another open file description holds the lock.
var errLocked = errors.New("locked")

// errNoLocks means the file system cannot lock files at all.
var errNoLocks = errors.New("file locks not supported")

// lockFile takes an exclusive, non-blocking flock(2) on f, held until f is closed. flock
// locks belong to the open file description, so a second open of the same journal in
// this process is refused too, unlike with fcntl locks. The standard library has no file
// lock, hence syscall. A file system without locks (some network ones) gives errNoLocks.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errLocked
		case errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOLCK):
			return errNoLocks
		}
		return err
	}
}
