//go:build !linux

package classify

import (
	"errors"
	"os"
)

// openUnnamed reports that files without a name cannot be made here: newSpool removes
// the name of a named one instead.
func openUnnamed(string) (*os.File, error) { return nil, errors.ErrUnsupported }
