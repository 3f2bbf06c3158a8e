package kentikprom_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentikprom"
	"github.com/gokentik/kentik/kentiktest"
)

// TestClassifyOutageMetrics runs a classify job that starts during an outage of the
// fake and reads the outage counters back from /metrics: they say what the job's
// summary says, and keep counting across runs.
func TestClassifyOutageMetrics(t *testing.T) {
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(400, 7), kentiktest.WithPolicy(fast))
	reg, _ := newMetrics(t)
	jm, err := kentikprom.NewJobMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv, client.WithRateLimit(fast), client.WithRetry(kentik.RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}))
	var sb strings.Builder
	sb.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for _, id := range srv.InterfaceIDs() {
		fmt.Fprintf(&sb, "%s,transit,external,Acme\n", id)
	}
	path := filepath.Join(t.TempDir(), "plan.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := classify.Load(t.Context(), path, classify.Options{BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	r := &classify.Runner{Client: c.Interfaces(), Policy: fast, Progress: jm.Observe,
		OutageBudget: time.Minute, OutageProbe: kentik.RetryPolicy{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}}
	if err := srv.Outage(300*time.Millisecond, kentiktest.OutageUnavailable); err != nil {
		t.Fatal(err)
	}
	s, err := r.Run(t.Context(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if s.Outages != 1 || s.OutageTime < 200*time.Millisecond || s.Resent < 1 {
		t.Fatalf("summary: %d outages, %v, %d sent again", s.Outages, s.OutageTime, s.Resent)
	}
	mfs := scrape(t, reg)
	expect(t, mfs, "kentik_classify_outages_total", nil, 1)
	expect(t, mfs, "kentik_classify_outage_seconds_total", nil, s.OutageSec)
	expect(t, mfs, "kentik_classify_requests_resent_total", nil, float64(s.Resent))
	expect(t, mfs, "kentik_classify_requests_failed_total", nil, 0)

	// A second run starts from zero; the counters add its figures to the first's.
	jm.Observe(classify.Progress{Elapsed: time.Millisecond, Outages: 2, OutageTime: 1500 * time.Millisecond, Resent: 3, Unreachable: time.Second})
	mfs = scrape(t, reg)
	expect(t, mfs, "kentik_classify_outages_total", nil, 3)
	expect(t, mfs, "kentik_classify_outage_seconds_total", nil, (s.OutageTime + 1500*time.Millisecond).Seconds())
	expect(t, mfs, "kentik_classify_requests_resent_total", nil, float64(s.Resent+3))
}
