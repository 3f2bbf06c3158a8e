package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gokentik/kentik/classify"
)

// progressPrinter renders a classify job's progress reports. On a terminal it redraws
// one status line (at most ten times a second); otherwise it writes a log line every
// Every. Its Report method is the job's classify.Runner.Progress.
type progressPrinter struct {
	W     io.Writer
	TTY   bool          // redraw one line (stderr is a terminal)
	Every time.Duration // between log lines when not a TTY; 0 means 10 s

	mu   sync.Mutex
	last time.Time
	drew bool
}

// newProgressPrinter returns a printer writing to w; tty says whether w is a terminal.
func newProgressPrinter(w io.Writer, tty bool) *progressPrinter {
	return &progressPrinter{W: w, TTY: tty}
}

// Report prints p if enough time passed since the last line (always when p.Final).
func (pp *progressPrinter) Report(p classify.Progress) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	now := time.Now()
	every := pp.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	if pp.TTY {
		every = 100 * time.Millisecond
	}
	if !p.Final && !pp.last.IsZero() && now.Sub(pp.last) < every {
		return
	}
	if !p.Final && !pp.TTY && p.TotalRequests > 0 && p.Requests >= p.TotalRequests {
		return // the final report follows at once
	}
	if pp.last.IsZero() && !p.Final && !pp.TTY {
		// The first log line comes after one interval, not at the first batch.
		pp.last = now
		return
	}
	pp.last = now
	line := formatProgress(p)
	if pp.TTY {
		fmt.Fprintf(pp.W, "\r\x1b[K%s", line)
		pp.drew = true
		if p.Final {
			fmt.Fprintln(pp.W)
			pp.drew = false
		}
		return
	}
	fmt.Fprintln(pp.W, line)
}

// formatProgress renders p as one line, e.g.
// "12000/20000 interfaces (60%), 120/200 requests, 29.8 req/s, 0 failed, ETA 3s".
func formatProgress(p classify.Progress) string {
	pct := 100.0
	if p.Interfaces > 0 {
		pct = 100 * float64(p.Done) / float64(p.Interfaces)
	}
	s := fmt.Sprintf("classify: %d/%d interfaces (%.0f%%), %d/%d requests, %.1f req/s, %d failed",
		p.Done, p.Interfaces, pct, p.Requests, p.TotalRequests, p.Rate, p.Failed)
	if p.Final && p.Done+p.Failed < p.Interfaces {
		return s + fmt.Sprintf(", stopped after %s", p.Elapsed.Round(10*time.Millisecond))
	}
	if p.Final {
		return s + fmt.Sprintf(", done in %s", p.Elapsed.Round(10*time.Millisecond))
	}
	if p.ETA > 0 {
		s += ", ETA " + p.ETA.Round(time.Second).String()
	}
	return s
}
