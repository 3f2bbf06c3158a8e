package kentikotel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	"github.com/gokentik/kentik/kentikotel"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/mykentik"
	"github.com/gokentik/kentik/ratelimit"
)

type setup struct {
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	tel    *kentikotel.Telemetry
}

func newSetup(t *testing.T) setup {
	t.Helper()
	s := setup{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(s.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	t.Cleanup(func() {
		_ = s.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	var err error
	s.tel, err = kentikotel.New(kentikotel.WithTracerProvider(s.tp), kentikotel.WithMeterProvider(mp),
		kentikotel.WithPropagators(propagation.TraceContext{}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func attr(kvs []attribute.KeyValue, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// TestTraceShowsLimiterWait makes two gRPC calls under a parent span with a policy of one
// call per 300 ms: the second waits about 300 ms for the limiter, and that wait is a span
// of its own, between the two attempts' spans, all three children of the parent. A
// retry is an event on the parent, and the trace context reaches Kentik.
func TestTraceShowsLimiterWait(t *testing.T) {
	s := newSetup(t)
	one, err := ratelimit.Parse("1/300ms")
	if err != nil {
		t.Fatal(err)
	}
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(5, 1), kentiktest.WithPolicy(ratelimit.Off))
	c, err := client.New(t.Context(), client.WithEndpoint(srv.GRPCAddr()), client.WithPlaintext(),
		client.WithCredentials(srv.Credentials()), client.WithRateLimit(one), s.tel.ClientOption(),
		client.WithRetry(kentik.RetryPolicy{Initial: time.Millisecond, Max: 2 * time.Millisecond})) // the retry waits for the limiter, not its backoff
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, parent := s.tp.Tracer("test").Start(t.Context(), "job")
	id := srv.InterfaceIDs()[0]
	if _, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	if err := srv.FailNext("GetInterface", 1, codes.Unavailable); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Interfaces().GetInterface(ctx, &ifacev1.GetInterfaceRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	parent.End()

	spans := s.spans.GetSpans()
	var waits, attempts []tracetest.SpanStub
	var job tracetest.SpanStub
	for _, sp := range spans {
		switch {
		case sp.Name == kentikotel.WaitSpanName:
			waits = append(waits, sp)
		case strings.HasSuffix(sp.Name, "InterfaceService/GetInterface"):
			attempts = append(attempts, sp)
		case sp.Name == "job":
			job = sp
		}
	}
	// Attempts: the first call, the second's failed attempt (UNAVAILABLE) and its retry.
	if len(attempts) != 3 {
		t.Fatalf("%d attempt spans, want 3; spans: %v", len(attempts), names(spans))
	}
	// The second call waited for its slot; its retry waited for the next one.
	if len(waits) != 2 {
		t.Fatalf("%d wait spans, want 2; spans: %v", len(waits), names(spans))
	}
	for i, w := range waits {
		d := w.EndTime.Sub(w.StartTime)
		if d < 200*time.Millisecond || d > took {
			t.Errorf("wait %d lasted %v, want about 300ms", i, d)
		}
		if w.Parent.SpanID() != job.SpanContext.SpanID() || w.SpanContext.TraceID() != job.SpanContext.TraceID() {
			t.Errorf("wait %d is not a child of the caller's span", i)
		}
		if v, _ := attr(w.Attributes, kentikotel.AttrClass); v.AsString() != kentik.ClassV6Admin {
			t.Errorf("wait %d class %q", i, v.AsString())
		}
		if v, _ := attr(w.Attributes, kentikotel.AttrRoute); !strings.HasSuffix(v.AsString(), "/GetInterface") {
			t.Errorf("wait %d route %q", i, v.AsString())
		}
		// The attempt that follows the wait starts once it is over.
		next := attempts[i+1]
		if next.StartTime.Before(w.EndTime) {
			t.Errorf("attempt %d started at %v, before its wait ended at %v", i+1, next.StartTime, w.EndTime)
		}
	}
	for i, a := range attempts {
		if a.Parent.SpanID() != job.SpanContext.SpanID() {
			t.Errorf("attempt %d is not a child of the caller's span", i)
		}
	}
	var retried bool
	for _, ev := range job.Events {
		if ev.Name == "kentik.retry" {
			v, _ := attr(ev.Attributes, kentikotel.AttrCode)
			retried = v.AsString() == "Unavailable"
		}
	}
	if !retried {
		t.Errorf("no kentik.retry event for the UNAVAILABLE on the caller's span: %+v", job.Events)
	}
	// Kentik received the trace context.
	for _, r := range srv.Requests() {
		if tp := r.Header["traceparent"]; len(tp) != 1 || !strings.Contains(tp[0], job.SpanContext.TraceID().String()) {
			t.Errorf("%s call carried traceparent %q", r.Method, tp)
		}
	}

	// Measured too: three waits, none refused, none in flight.
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	if n := histogramCount(rm, "kentik.ratelimit.wait.duration"); n != 3 {
		t.Errorf("wait histogram count %d, want 3", n)
	}
	if n := sumValue(rm, "kentik.ratelimit.in_flight"); n != 0 {
		t.Errorf("in flight %v, want 0", n)
	}
	if n := sumValue(rm, "kentik.retries"); n != 1 {
		t.Errorf("retries %v, want 1", n)
	}
	if !hasMetric(rm, "rpc.client.call.duration") && !hasMetric(rm, "rpc.client.duration") {
		t.Errorf("no otelgrpc metric among %v", metricNames(rm))
	}
}

// TestTraceV5 checks the V5 adapter's spans: one per attempt from otelhttp, named by the
// path template (never a path with ids), children of the caller's span, the trace context
// sent to Kentik; a 429 is a push-back event.
func TestTraceV5(t *testing.T) {
	s := newSetup(t)
	strict, err := ratelimit.Parse("1/200ms")
	if err != nil {
		t.Fatal(err)
	}
	srv := kentiktest.Start(t, kentiktest.WithV5Policy(strict))
	mk, err := mykentik.New(t.Context(), mykentik.WithBaseURL(srv.V5URL()), mykentik.WithCredentials(srv.Credentials()),
		mykentik.WithRateLimit(ratelimit.Off), s.tel.V5Option())
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := s.tp.Tracer("test").Start(t.Context(), "job")
	for range 2 {
		if _, err := mk.GetTenant(ctx, 101); err != nil {
			t.Fatal(err)
		}
	}
	parent.End()
	spans := s.spans.GetSpans()
	var job tracetest.SpanStub
	var attempts int
	for _, sp := range spans {
		if sp.Name == "job" {
			job = sp
		}
	}
	for _, sp := range spans {
		if strings.Contains(sp.Name, "101") {
			t.Errorf("span named with an id: %q", sp.Name)
		}
		if sp.Name == "GET /mykentik/tenant/{id}" {
			attempts++
			if sp.Parent.SpanID() != job.SpanContext.SpanID() {
				t.Error("a V5 attempt is not a child of the caller's span")
			}
		}
	}
	// The second call was refused once (429) and retried: three attempts.
	if attempts != 3 {
		t.Errorf("%d V5 attempt spans, want 3: %v", attempts, names(spans))
	}
	var pushBack bool
	for _, ev := range job.Events {
		pushBack = pushBack || ev.Name == "kentik.pushback"
	}
	if !pushBack {
		t.Errorf("no kentik.pushback event: %+v", job.Events)
	}
	for _, r := range srv.Requests() {
		if tp := r.Header["traceparent"]; len(tp) != 1 || !strings.Contains(tp[0], job.SpanContext.TraceID().String()) {
			t.Errorf("%s request carried traceparent %q", r.Method, tp)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	if n := sumValue(rm, "kentik.v5.requests"); n != 2 {
		t.Errorf("V5 requests %v, want 2", n)
	}
	if n := sumValue(rm, "kentik.pushbacks"); n != 1 {
		t.Errorf("push-backs %v, want 1", n)
	}
}

// TestWaitThreshold: below the threshold a wait is measured but not traced; a refusal
// is always traced, with an error status.
func TestWaitThreshold(t *testing.T) {
	s := newSetup(t)
	ctx, parent := s.tp.Tracer("test").Start(t.Context(), "job")
	now := time.Now()
	s.tel.LimiterWaitEnd(ctx, kentik.LimiterEvent{Class: kentik.ClassV6Admin, Route: "/x.Y/Z", Start: now, Wait: 10 * time.Microsecond})
	refused := &ratelimit.WaitError{Policy: "admin", Cause: context.DeadlineExceeded}
	s.tel.LimiterWaitEnd(ctx, kentik.LimiterEvent{Class: kentik.ClassV6Admin, Route: "/x.Y/Z", Start: now, Err: refused})
	parent.End()
	var waits []tracetest.SpanStub
	for _, sp := range s.spans.GetSpans() {
		if sp.Name == kentikotel.WaitSpanName {
			waits = append(waits, sp)
		}
	}
	if len(waits) != 1 || waits[0].Status.Code.String() != "Error" {
		t.Fatalf("wait spans %+v, want the refusal only", waits)
	}
	if v, _ := attr(waits[0].Attributes, kentikotel.AttrReason); v.AsString() != "deadline" {
		t.Errorf("reason %q", v.AsString())
	}
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	if n := histogramCount(rm, "kentik.ratelimit.wait.duration"); n != 2 {
		t.Errorf("wait histogram count %d, want 2", n)
	}
	if n := sumValue(rm, "kentik.ratelimit.refused"); n != 1 {
		t.Errorf("refused %v, want 1", n)
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

func hasMetric(rm metricdata.ResourceMetrics, name string) bool {
	_, ok := find(rm, name)
	return ok
}

func metricNames(rm metricdata.ResourceMetrics) []string {
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name)
		}
	}
	return out
}

func histogramCount(rm metricdata.ResourceMetrics, name string) uint64 {
	m, _ := find(rm, name)
	var n uint64
	if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
		for _, dp := range h.DataPoints {
			n += dp.Count
		}
	}
	return n
}

func sumValue(rm metricdata.ResourceMetrics, name string) float64 {
	m, _ := find(rm, name)
	var v float64
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			v += float64(dp.Value)
		}
	case metricdata.Sum[float64]:
		for _, dp := range d.DataPoints {
			v += dp.Value
		}
	}
	return v
}
