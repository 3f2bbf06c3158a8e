package cli

import (
	"io"
	"sync"
)

// console is the command's stderr. Several goroutines write there at once during a
// classify job: the logger, the notices of long waits (from the calls' goroutines) and
// the progress printer. Each of those locks only itself, so console puts all of them
// behind one lock, and clears the progress printer's status line (drawn without a
// newline on a terminal) before any other line, which would otherwise be written on the
// end of it.
type console struct {
	w io.Writer

	mu     sync.Mutex
	status bool // a status line is drawn and not ended
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// newConsole returns w as a console (w itself when it is one already).
func newConsole(w io.Writer) *console {
	if c, ok := w.(*console); ok {
		return c
	}
	return &console{w: w}
}

// Write writes p after clearing the status line, if one is drawn.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status {
		c.status = false
		if _, err := io.WriteString(c.w, clearLine); err != nil {
			return 0, err
		}
	}
	return c.w.Write(p)
}

// drawStatus replaces the status line with line; final ends it with a newline, for
// good.
func (c *console) drawStatus(line string, final bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if final {
		line += "\n"
	}
	_, _ = io.WriteString(c.w, clearLine+line)
	c.status = !final
}
