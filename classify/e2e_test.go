package classify_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// compressed is the published admin policy at 30x compressed time: concurrency 1,
// 60 calls per 2 s, 3750 per 2 min, soft limit 20 per 2 s with a 50 ms delay.
var compressed = ratelimit.Admin.Scale(30)

var e2eGroups = []string{"transit,external,Acme", "ix,external,DE-CIX", "paid-pni,external,Zayo", "backbone,internal,", "customer,external,Beta"}

// startKentik starts the fake with n interfaces under policy and a client for it with
// the same policy; it returns the client's retry counter too.
func startKentik(tb testing.TB, n int, policy ratelimit.Policy) (*kentiktest.Server, *client.Client, *atomic.Int64) {
	tb.Helper()
	srv := kentiktest.Start(tb, kentiktest.WithInterfaces(n, 7), kentiktest.WithPolicy(policy))
	var retries atomic.Int64
	c, err := client.New(context.Background(),
		client.WithEndpoint(srv.GRPCAddr()), client.WithPlaintext(),
		client.WithCredentials(srv.Credentials()), client.WithRateLimit(policy),
		client.WithOnRetry(func(kentik.RetryEvent) { retries.Add(1) }))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return srv, c, &retries
}

// planFor writes a plan that classifies every interface of srv into e2eGroups.
func planFor(tb testing.TB, srv *kentiktest.Server) string {
	tb.Helper()
	var b bytes.Buffer
	b.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for i, id := range srv.InterfaceIDs() {
		fmt.Fprintf(&b, "%s,%s\n", id, e2eGroups[i%len(e2eGroups)])
	}
	path := filepath.Join(tb.TempDir(), "plan.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestEndToEnd runs a plan through the real client against kentiktest under the admin
// policy at 30x compressed time (about 2 s), verifies it, and checks the fake's view.
func TestEndToEnd(t *testing.T) {
	srv, c, retries := startKentik(t, 3000, compressed)
	ctx := context.Background()
	p, err := classify.Load(ctx, planFor(t, srv), classify.Options{BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	r := &classify.Runner{Client: c.Interfaces(), Policy: compressed, Verify: true, Retries: retries.Load,
		Journal: filepath.Join(t.TempDir(), "journal")}
	s, err := r.Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if got := st.GRPC.Calls["ManualClassify"]; got != p.Requests() || s.Sent != p.Requests() || p.Requests() != 60 {
		t.Errorf("server saw %d ManualClassify calls, summary %d, plan %d (want 60)", got, s.Sent, p.Requests())
	}
	if st.GRPC.Limits.Exceeded() || len(st.GRPC.Rejected) != 0 || st.UnknownIDsClassified != 0 {
		t.Errorf("fake: %+v", st.GRPC)
	}
	if s.Verified != 3000 || s.Mismatched != 0 || s.VerifyRequests != 5 || s.Classified != 3000 {
		t.Errorf("summary %+v", s)
	}
	for i, id := range srv.InterfaceIDs() {
		in, _ := srv.Interface(id)
		got := fmt.Sprintf("%v/%v/%s", in.GetConnectivityType(), in.GetNetworkBoundary(), in.GetProvider())
		if i%len(e2eGroups) == 0 && got != "CONNECTIVITY_TYPE_TRANSIT/NETWORK_BOUNDARY_EXTERNAL/Acme" {
			t.Fatalf("interface %s: %s", id, got)
		}
	}
}

// BenchmarkPacedRun measures how close a job comes to the policy's limits: at least 200
// ManualClassify requests against kentiktest, both sides under the admin policy at 30x
// compressed time. It reports the achieved request rate, its ratio to the hard limit's
// rate (60 per 2 s = 30/s) and to the best the policy allows once its soft-limit delays
// are counted (see classify.Estimate), the fake's hard-limit rejections, and requests
// sent minus the fewest possible.
//
//	go test -run '^$' -bench PacedRun -benchtime 1x ./classify/
func BenchmarkPacedRun(b *testing.B) {
	srv, c, retries := startKentik(b, 10000, compressed)
	path := planFor(b, srv)
	ctx := context.Background()
	p, err := classify.Load(ctx, path, classify.Options{BatchSize: 50})
	if err != nil {
		b.Fatal(err)
	}
	var last *classify.Summary
	for b.Loop() {
		srv.ResetStats()
		r := &classify.Runner{Client: c.Interfaces(), Policy: compressed, Retries: retries.Load}
		s, err := r.Run(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		last = s
	}
	st := srv.Stats()
	b.ReportMetric(last.Rate, "req/s")
	b.ReportMetric(last.RateRatio, "ratio-to-hard-limit")
	b.ReportMetric(last.BestRatio, "ratio-to-policy-best")
	b.ReportMetric(float64(st.GRPC.Rejected[kentiktest.RejectRateLimit]+st.GRPC.Rejected[kentiktest.RejectConcurrency]), "rejections")
	b.ReportMetric(float64(st.GRPC.Calls["ManualClassify"]-p.Requests()), "extra-requests")
	b.ReportMetric(float64(*last.Retries), "retries")
	b.Logf("%d requests (plan %d) in %.2fs: %.1f req/s; hard limit %.0f req/s (ratio %.2f); policy best for this many %.1f req/s (ratio %.2f); fake: delayed %d, rejected %v, window peaks %v, max concurrent %d",
		last.Sent, p.Requests(), last.ElapsedSec, last.Rate, last.PolicyRate, last.RateRatio, last.BestRate, last.BestRatio,
		st.GRPC.Delayed, st.GRPC.Rejected, st.GRPC.Limits.WindowPeak, st.GRPC.Limits.MaxConcurrent)
}
