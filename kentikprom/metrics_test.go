package kentikprom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/classify"
	"github.com/gokentik/kentik/client"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentikprom"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/mykentik"
	"github.com/gokentik/kentik/ratelimit"
)

// fast is Kentik's admin policy at 600x compressed time: concurrency 1, 60 calls per
// 100 ms.
var fast = ratelimit.Admin.Scale(600)

const (
	manualClassify = "ManualClassify"
	ifaceService   = "kentik.interface.v202108alpha1.InterfaceService"
)

// scrape reads reg's /metrics through a real HTTP server and Prometheus' own text
// parser, as a Prometheus server would.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4") // the text format, not protobuf
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns the value of the series of name whose labels include want (a histogram's
// sample count), and how many series matched.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, int) {
	mf := mfs[name]
	if mf == nil {
		return 0, 0
	}
	var sum float64
	n := 0
series:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		n++
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, n
}

func expect(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, n := value(mfs, name, labels)
	if n == 0 || got != want {
		t.Errorf("%s%v = %v (%d series), want %v", name, labels, got, n, want)
	}
}

func newMetrics(t *testing.T) (*prometheus.Registry, *kentikprom.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := kentikprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

func newClient(t *testing.T, srv *kentiktest.Server, opts ...client.Option) *client.Client {
	t.Helper()
	base := []client.Option{client.WithEndpoint(srv.GRPCAddr()), client.WithPlaintext(), client.WithCredentials(srv.Credentials())}
	c, err := client.New(t.Context(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClassifyRunMetrics runs a classify job of a known size against kentiktest and
// reads the numbers back from /metrics: N batches are N ManualClassify calls started and
// handled, N limiter acquisitions (the wait histogram's count), N requests sent by the
// job, and every interface done.
func TestClassifyRunMetrics(t *testing.T) {
	const interfaces, batch = 400, 50
	const n = interfaces / batch
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(interfaces, 7), kentiktest.WithPolicy(fast))
	reg, m := newMetrics(t)
	jm, err := kentikprom.NewJobMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int64
	c := newClient(t, srv, client.WithRateLimit(fast), m.ClientOption(),
		client.WithOnRetry(func(kentik.RetryEvent) { retries.Add(1) }))

	var sb strings.Builder
	sb.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for _, id := range srv.InterfaceIDs() {
		fmt.Fprintf(&sb, "%s,transit,external,Acme\n", id)
	}
	path := filepath.Join(t.TempDir(), "plan.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := classify.Load(t.Context(), path, classify.Options{BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	r := &classify.Runner{Client: c.Interfaces(), Policy: fast, Progress: jm.Observe, Retries: retries.Load}
	if _, err := r.Run(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	if got := srv.Stats().GRPC.Calls[manualClassify]; got != n {
		t.Fatalf("the fake saw %d ManualClassify calls, want %d", got, n)
	}

	mfs := scrape(t, reg)
	call := map[string]string{"grpc_service": ifaceService, "grpc_method": manualClassify}
	expect(t, mfs, "grpc_client_started_total", call, n)
	expect(t, mfs, "grpc_client_handled_total", map[string]string{"grpc_method": manualClassify, "grpc_code": "OK"}, n)
	expect(t, mfs, "grpc_client_handling_seconds", call, n)
	v6 := map[string]string{"class": kentik.ClassV6Admin}
	expect(t, mfs, "kentik_limiter_wait_seconds", v6, n)
	expect(t, mfs, "kentik_limiter_waiting_calls", v6, 0)
	expect(t, mfs, "kentik_limiter_in_flight_calls", v6, 0)
	expect(t, mfs, "kentik_classify_requests_sent_total", nil, n)
	expect(t, mfs, "kentik_classify_requests_failed_total", nil, 0)
	expect(t, mfs, "kentik_classify_retries_total", nil, 0)
	expect(t, mfs, "kentik_classify_requests_planned", nil, n)
	expect(t, mfs, "kentik_classify_interfaces", nil, interfaces)
	expect(t, mfs, "kentik_classify_interfaces_done", nil, interfaces)
	expect(t, mfs, "kentik_classify_interfaces_failed", nil, 0)
	if rate, _ := value(mfs, "kentik_classify_rate_requests_per_second", nil); rate <= 0 {
		t.Errorf("achieved rate %v", rate)
	}
	if _, found := value(mfs, "kentik_retries_total", nil); found != 0 {
		t.Error("retries counted in a run without any")
	}
	checkCardinality(t, mfs, srv.Credentials())
}

// TestPushBacksRetriesRefusals drives both clients into the fake's rate limits, a
// fault and the client limiter's refusal, and checks the metrics against what the fake
// itself counted.
func TestPushBacksRetriesRefusals(t *testing.T) {
	strict, err := ratelimit.Parse("5/300ms")
	if err != nil {
		t.Fatal(err)
	}
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(10, 7), kentiktest.WithPolicy(strict), kentiktest.WithV5Policy(strict))
	reg, m := newMetrics(t)

	// gRPC: no client-side pacing, so the fake refuses (with RetryInfo) and the client
	// waits out the push-back and retries. One UNAVAILABLE on top.
	c := newClient(t, srv, client.WithRateLimit(ratelimit.Off), m.ClientOption())
	if err := srv.FailNext("GetInterface", 1, codes.Unavailable); err != nil {
		t.Fatal(err)
	}
	id := srv.InterfaceIDs()[0]
	const calls = 10
	for range calls {
		if _, err := c.Interfaces().GetInterface(t.Context(), &ifacev1.GetInterfaceRequest{Id: id}); err != nil {
			t.Fatal(err)
		}
	}

	// V5, the same way.
	mk, err := mykentik.New(t.Context(), mykentik.WithBaseURL(srv.V5URL()), mykentik.WithCredentials(srv.Credentials()),
		mykentik.WithRateLimit(ratelimit.Off), m.V5Option())
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if _, err := mk.GetTenant(t.Context(), 101); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mk.GetTenant(t.Context(), 999999); !kentik.IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
	if _, err := mk.ListTenants(t.Context()); err != nil {
		t.Fatal(err)
	}

	// The client's own limiter: a deadline before the next slot is refused at once.
	slow, err := ratelimit.Parse("1/1h")
	if err != nil {
		t.Fatal(err)
	}
	c2 := newClient(t, srv, client.WithRateLimit(slow), m.ClientOption(), client.WithUserAgent("second"))
	time.Sleep(300 * time.Millisecond) // the fake's window is empty again
	if _, err := c2.Interfaces().GetInterface(t.Context(), &ifacev1.GetInterfaceRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	_, err = c2.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: id})
	cancel()
	if !kentik.IsRateLimited(err) {
		t.Fatalf("err = %v", err)
	}

	st := srv.Stats()
	grpcRejected, v5Rejected := st.GRPC.Rejected[kentiktest.RejectRateLimit], st.V5.Rejected[kentiktest.RejectRateLimit]
	if grpcRejected == 0 || v5Rejected == 0 {
		t.Fatalf("the fake refused %d gRPC and %d V5 calls: the test needs some of each", grpcRejected, v5Rejected)
	}
	mfs := scrape(t, reg)
	v6 := map[string]string{"class": kentik.ClassV6Admin}
	v5 := map[string]string{"class": kentik.ClassV5Admin}
	expect(t, mfs, "kentik_pushbacks_total", v6, float64(grpcRejected))
	expect(t, mfs, "kentik_pushbacks_total", v5, float64(v5Rejected))
	for _, class := range []map[string]string{v6, v5} {
		if s, _ := value(mfs, "kentik_pushback_seconds_total", class); s <= 0 {
			t.Errorf("push-back seconds %v = %v", class, s)
		}
	}
	getIface := "/" + ifaceService + "/GetInterface"
	expect(t, mfs, "kentik_retries_total", map[string]string{"class": kentik.ClassV6Admin, "method": getIface, "code": "ResourceExhausted"}, float64(grpcRejected))
	expect(t, mfs, "kentik_retries_total", map[string]string{"class": kentik.ClassV6Admin, "method": getIface, "code": "Unavailable"}, 1)
	expect(t, mfs, "kentik_retries_total", map[string]string{"class": kentik.ClassV5Admin, "code": "ResourceExhausted"}, float64(v5Rejected))
	// Every attempt waited for the limiter: the calls, their retries, and the refusal.
	attempts := float64(calls + 1 + grpcRejected + 1 + 1)
	expect(t, mfs, "kentik_limiter_wait_seconds", v6, attempts)
	expect(t, mfs, "kentik_limiter_refused_total", map[string]string{"class": kentik.ClassV6Admin, "reason": "deadline"}, 1)
	expect(t, mfs, "kentik_limiter_in_flight_calls", v6, 0)
	expect(t, mfs, "kentik_limiter_in_flight_calls", v5, 0)
	expect(t, mfs, "grpc_client_handled_total", map[string]string{"grpc_method": "GetInterface", "grpc_code": "OK"}, calls+1)
	expect(t, mfs, "grpc_client_handled_total", map[string]string{"grpc_method": "GetInterface", "grpc_code": "DeadlineExceeded"}, 1) // the limiter's refusal
	tenant := map[string]string{"method": "GET", "path": "/mykentik/tenant/{id}"}
	expect(t, mfs, "kentik_v5_requests_total", merge(tenant, "status", "200"), 8)
	expect(t, mfs, "kentik_v5_requests_total", merge(tenant, "status", "404"), 1)
	expect(t, mfs, "kentik_v5_requests_total", map[string]string{"method": "GET", "path": "/mykentik/tenants", "status": "200"}, 1)
	expect(t, mfs, "kentik_v5_request_duration_seconds", tenant, 9)
	checkCardinality(t, mfs, srv.Credentials())
}

func merge(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range m {
		out[kk] = vv
	}
	return out
}

// versionToken is the version part of a v6 package name ("v202108alpha1"), the one run
// of digits a label may hold outside codes and statuses.
var versionToken = regexp.MustCompile(`v\d{6}(alpha|beta)?\d*`)

// digits finds what could be an id: two digits or more in a row.
var digits = regexp.MustCompile(`\d{2,}`)

// checkCardinality fails when a label value could be unbounded: an id (a run of digits,
// outside status and code labels and the v6 version in a service name), an email, the
// API token, or a concrete V5 path.
func checkCardinality(t errorer, mfs map[string]*dto.MetricFamily, creds kentik.Credentials) {
	t.Helper()
	numeric := map[string]bool{"status": true, "le": true, "quantile": true}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				k, v := lp.GetName(), lp.GetValue()
				switch {
				case strings.Contains(v, "@") || strings.Contains(v, creds.Email) || strings.Contains(v, creds.Token):
					t.Errorf("%s{%s=%q}: an email or token in a label", name, k, v)
				case strings.Contains(v, "/api/v5"):
					t.Errorf("%s{%s=%q}: a concrete V5 path in a label", name, k, v)
				case !numeric[k] && digits.MatchString(versionToken.ReplaceAllString(v, "")):
					t.Errorf("%s{%s=%q}: what looks like an id in a label", name, k, v)
				}
			}
		}
	}
}

type errorer interface {
	Helper()
	Errorf(format string, args ...any)
}

// fakeT counts the errors a check reports.
type fakeT struct{ errors int }

func (*fakeT) Helper()                 {}
func (f *fakeT) Errorf(string, ...any) { f.errors++ }

// TestCardinalityCheckCatches makes sure the check above does catch what it looks for.
func TestCardinalityCheckCatches(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"path"})
	reg.MustRegister(c)
	for _, v := range []string{"/mykentik/tenant/101", "GET /api/v5/mykentik/tenants", "ops@example.com", "/kentik.interface.v202108alpha1.InterfaceService/GetInterface"} {
		c.WithLabelValues(v).Inc()
	}
	ft := &fakeT{}
	checkCardinality(ft, scrape(t, reg), kentik.Credentials{Email: "ops@example.com", Token: "tok"})
	if ft.errors != 3 {
		t.Fatalf("the check found %d bad labels, want 3", ft.errors)
	}
}

// TestNewTwice: registering the metrics twice on one registry fails without a panic and
// leaves the first set working.
func TestNewTwice(t *testing.T) {
	reg, _ := newMetrics(t)
	if _, err := kentikprom.New(reg); err == nil {
		t.Fatal("second New on one registry succeeded")
	}
	if _, err := kentikprom.NewJobMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := kentikprom.NewJobMetrics(reg); err == nil {
		t.Fatal("second NewJobMetrics on one registry succeeded")
	}
}
