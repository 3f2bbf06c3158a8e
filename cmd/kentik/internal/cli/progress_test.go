package cli

import (
	"bytes"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/ratelimit"
)

func TestProgressPrinter(t *testing.T) {
	var b bytes.Buffer
	pp := newProgressPrinter(&b, true)
	pp.Report(classify.Progress{Interfaces: 100, Done: 50, Requests: 5, TotalRequests: 10, Rate: 2, ETA: 3 * time.Second})
	pp.Report(classify.Progress{Interfaces: 100, Done: 60, Requests: 6, TotalRequests: 10}) // throttled
	pp.Report(classify.Progress{Interfaces: 100, Done: 100, Requests: 10, TotalRequests: 10, Final: true, Elapsed: time.Second})
	want := "\r\x1b[Kclassify: 50/100 interfaces (50%), 5/10 requests, 2.0 req/s, 0 failed, ETA 3s" +
		"\r\x1b[Kclassify: 100/100 interfaces (100%), 10/10 requests, 0.0 req/s, 0 failed, done in 1s\n"
	if b.String() != want {
		t.Errorf("tty:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	pp = &progressPrinter{W: &b, Every: time.Hour}
	pp.Report(classify.Progress{Interfaces: 100, Done: 50})
	pp.Report(classify.Progress{Interfaces: 100, Done: 60})
	pp.Report(classify.Progress{Interfaces: 100, Done: 100, Final: true})
	if strings.Count(b.String(), "\n") != 1 || !strings.Contains(b.String(), "100/100") {
		t.Errorf("log lines:\n%s", b.String())
	}
}

// Every writer of the command's stderr goes through one console: during a job the
// logger, the notices of long waits and the progress printer write from several
// goroutines at once, and a line must never land on the end of the status line.
func TestConsoleSerializesWriters(t *testing.T) {
	var b bytes.Buffer
	stderr := newConsole(&b)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	n := newNotifier(stderr, ratelimit.Admin)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(3)
		go func() { defer wg.Done(); log.Warn("batch failed", "batch", i) }()
		go func() { defer wg.Done(); n.say(strconv.Itoa(i), "notice %d", i) }()
		go func() { defer wg.Done(); stderr.drawStatus("status "+strconv.Itoa(i), false) }()
	}
	wg.Wait()
	// A status line is followed by the next one's \r, or by nothing.
	if m := regexp.MustCompile(`status \d+[^\r\d]`).FindString(b.String()); m != "" {
		t.Errorf("a line was written on the end of the status line: %q", m)
	}
	if got := strings.Count(b.String(), "kentik: notice"); got != 100 {
		t.Errorf("%d notices, want 100", got)
	}
}
