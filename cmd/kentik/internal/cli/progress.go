package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gokentik/kentik/classify"
)

// progressPrinter renders a classify job's progress reports. On a terminal it redraws
// one status line (at most ten times a second); otherwise it writes a log line every
// Every, and at once when Kentik becomes unreachable or reachable again. Its Report
// method is the job's classify.Runner.Progress. It writes through a console (W itself
// when W is the command's stderr), so that other lines do not land on its status line.
type progressPrinter struct {
	W     io.Writer
	TTY   bool          // redraw one line (stderr is a terminal)
	Every time.Duration // between log lines when not a TTY; 0 means 10 s

	mu   sync.Mutex
	out  *console // W as a console, made on first use
	last time.Time
	// outageBase is the job's outage time when the outage under way began (the
	// Unreachable of the previous report tells that one is under way).
	outageBase  time.Duration
	unreachable bool
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
	if pp.out == nil {
		pp.out = newConsole(pp.W)
	}
	line, event := pp.outageLine(p)
	if event && !pp.TTY {
		// Kentik went away or came back: say so now, not at the next log line.
		pp.last = now
		fmt.Fprintln(pp.out, line)
		return
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
	if line == "" {
		line = formatProgress(p)
	}
	if pp.TTY {
		pp.out.drawStatus(line, p.Final)
		return
	}
	fmt.Fprintln(pp.out, line)
}

// outageLine returns the line for a report during an outage, or the one that says it
// ended ("" for other reports), and whether the report starts or ends an outage.
func (pp *progressPrinter) outageLine(p classify.Progress) (line string, event bool) {
	switch {
	case p.Unreachable > 0 && !p.Final:
		if !pp.unreachable {
			pp.unreachable, pp.outageBase, event = true, p.OutageTime-p.Unreachable, true
		}
		line = fmt.Sprintf("classify: Kentik unreachable for %s", seconds(p.Unreachable))
		if p.RetryEvery > 0 {
			line += ", retrying every " + seconds(p.RetryEvery)
		}
		return line + fmt.Sprintf("; %d batch%s lost (%d/%d interfaces done)", p.FailedRequests, pluralES(p.FailedRequests), p.Done, p.Interfaces), event
	case pp.unreachable:
		pp.unreachable = false
		if p.Final {
			return "", false // the final line follows
		}
		return fmt.Sprintf("classify: Kentik reachable again after %s; %d batch%s lost, resuming", seconds(p.OutageTime-pp.outageBase), p.FailedRequests, pluralES(p.FailedRequests)), true
	}
	return "", false
}

// seconds renders d as "35 s", or "0.4 s" under ten seconds.
func seconds(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", d.Seconds()), ".0") + " s"
}

func pluralES(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
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
