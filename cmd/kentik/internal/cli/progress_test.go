package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gokentik/kentik/classify"
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
