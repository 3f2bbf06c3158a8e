//go:build !unix

package classify

import (
	"errors"
	"os"
)

var (
	errLocked  = errors.New("locked")
	errNoLocks = errors.New("file locks not supported")
)

// lockFile does nothing where flock(2) does not exist: there, running two jobs on one
// journal at once is not detected.
func lockFile(*os.File) error { return nil }
