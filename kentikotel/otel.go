// Package kentikotel traces and measures the Kentik clients with OpenTelemetry: one
// value, Telemetry, gives one option for each client (Telemetry.ClientOption for package
// client, Telemetry.V5Option for package mykentik).
//
//	tel, err := kentikotel.New(kentikotel.WithTracerProvider(tp), kentikotel.WithMeterProvider(mp))
//	if err != nil { ... }
//	c, err := client.New(ctx, tel.ClientOption())
//	mk, err := mykentik.New(ctx, tel.V5Option())
//
// Each attempt of a gRPC call is a client span of otelgrpc's stats handler (never its
// deprecated interceptors), each attempt of a V5 request one of otelhttp's transport,
// named by the request's path template ("GET /mykentik/tenant/{id}"); both carry the
// trace context to Kentik and record otelgrpc's and otelhttp's own metrics.
//
// What happens between the attempts is the client's: the time an attempt waited for a
// slot of the account's rate limiter is a span of its own, kentik.ratelimit.wait, so a
// slow trace shows "waited 1.4 s for Kentik's limit" where it would show a gap; the
// server's push-backs and the retries are events (kentik.pushback, kentik.retry) on the
// span of the caller's context. Start a span around your calls: the wait spans and the
// attempts' spans are its children.
//
// The same events are measured with the meter (class is the rate-limit class, "v6-admin"
// or "v5-admin"; route the full gRPC method or the V5 path template; no attribute holds an
// id, an email or a token):
//
//	kentik.ratelimit.wait.duration    histogram, s: each attempt's wait for a slot {kentik.ratelimit.class}
//	kentik.ratelimit.waiting          up-down counter: attempts waiting for a slot
//	kentik.ratelimit.in_flight        up-down counter: attempts holding a slot
//	kentik.ratelimit.refused          counter: calls the limiter refused {kentik.ratelimit.class, kentik.ratelimit.reason}
//	kentik.pushbacks                  counter: attempts Kentik refused for the rate limit or told to back off
//	kentik.pushback.duration          counter, s: the back-off Kentik asked for
//	kentik.retries                    counter {kentik.ratelimit.class, kentik.route, kentik.code}
//	kentik.v5.requests                counter: V5 calls {http.request.method, http.route, http.response.status_code}
//	kentik.v5.request.duration        histogram, s: V5 calls, waits and retries included {http.request.method, http.route}
package kentikotel

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/interceptors"
	"github.com/gokentik/kentik/mykentik"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/gokentik/kentik/kentikotel"

// WaitSpanName is the name of the span of an attempt's wait for the rate limiter.
const WaitSpanName = "kentik.ratelimit.wait"

// Attribute keys of the spans, events and measurements.
const (
	AttrClass       = attribute.Key("kentik.ratelimit.class")        // "v6-admin", "v5-admin"
	AttrReason      = attribute.Key("kentik.ratelimit.reason")       // why the limiter refused: "deadline", "canceled", "error"
	AttrWaitSeconds = attribute.Key("kentik.ratelimit.wait_seconds") // the wait, on its span
	AttrRoute       = attribute.Key("kentik.route")                  // the full gRPC method, or the V5 method and path template
	AttrCode        = attribute.Key("kentik.code")                   // a gRPC code's name, "ResourceExhausted"
	AttrAttempt     = attribute.Key("kentik.attempt")                // the attempt a retry starts: 2 for the first retry
	AttrPushBack    = attribute.Key("kentik.pushback_seconds")       // how long the server asked to wait
)

// DefaultWaitThreshold is the shortest wait recorded as a span unless WithWaitThreshold
// says otherwise: shorter ones are no gap worth explaining, and most calls of a client
// below its limits wait microseconds.
const DefaultWaitThreshold = time.Millisecond

// Option configures New.
type Option func(*config)

type config struct {
	tp        trace.TracerProvider
	mp        metric.MeterProvider
	prop      propagation.TextMapPropagator
	threshold time.Duration
}

// WithTracerProvider sets the tracer provider (default: otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the meter provider (default: otel.GetMeterProvider()).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagators sets how the trace context is sent to Kentik (default:
// otel.GetTextMapPropagator()).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// WithWaitThreshold sets the shortest limiter wait recorded as a span
// (DefaultWaitThreshold by default; 0 records every wait). Refusals are always recorded;
// every wait is measured whatever the threshold.
func WithWaitThreshold(d time.Duration) Option {
	return func(c *config) { c.threshold = max(d, 0) }
}

// Telemetry traces and measures the clients it is installed on. It implements
// kentik.Observer. Make one and install it on every client.
type Telemetry struct {
	kentik.NopObserver

	tracer    trace.Tracer
	threshold time.Duration
	grpc      stats.Handler
	httpOpts  []otelhttp.Option

	wait        metric.Float64Histogram
	waiting     metric.Int64UpDownCounter
	inFlight    metric.Int64UpDownCounter
	refused     metric.Int64Counter
	pushBacks   metric.Int64Counter
	pushBackDur metric.Float64Counter
	retries     metric.Int64Counter
	v5Requests  metric.Int64Counter
	v5Duration  metric.Float64Histogram

	classes sync.Map // class → metric.MeasurementOption with its attribute set
}

// New makes the tracer, the meter's instruments and the otelgrpc and otelhttp
// instrumentation. It fails when the meter refuses an instrument.
func New(opts ...Option) (*Telemetry, error) {
	c := config{threshold: DefaultWaitThreshold}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
	}
	t := &Telemetry{
		tracer:    c.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(kentik.Version)),
		threshold: c.threshold,
		grpc: otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(c.tp), otelgrpc.WithMeterProvider(c.mp),
			otelgrpc.WithPropagators(c.prop)),
		httpOpts: []otelhttp.Option{
			otelhttp.WithTracerProvider(c.tp), otelhttp.WithMeterProvider(c.mp), otelhttp.WithPropagators(c.prop),
			otelhttp.WithSpanNameFormatter(httpSpanName),
			otelhttp.WithMetricAttributesFn(httpRoute),
		},
	}
	if err := t.instruments(c.mp.Meter(ScopeName, metric.WithInstrumentationVersion(kentik.Version))); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) instruments(m metric.Meter) error {
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	t.wait, err = m.Float64Histogram("kentik.ratelimit.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("Time each attempt waited for a slot of the account's rate limiter."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	keep(err)
	t.waiting, err = m.Int64UpDownCounter("kentik.ratelimit.waiting", metric.WithUnit("{call}"),
		metric.WithDescription("Attempts waiting for a slot of the account's rate limiter."))
	keep(err)
	t.inFlight, err = m.Int64UpDownCounter("kentik.ratelimit.in_flight", metric.WithUnit("{call}"),
		metric.WithDescription("Attempts holding a slot of the account's rate limiter."))
	keep(err)
	t.refused, err = m.Int64Counter("kentik.ratelimit.refused", metric.WithUnit("{call}"),
		metric.WithDescription("Calls the rate limiter refused."))
	keep(err)
	t.pushBacks, err = m.Int64Counter("kentik.pushbacks", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts Kentik refused for the rate limit or told to back off."))
	keep(err)
	t.pushBackDur, err = m.Float64Counter("kentik.pushback.duration", metric.WithUnit("s"),
		metric.WithDescription("Back-off Kentik asked for, added up."))
	keep(err)
	t.retries, err = m.Int64Counter("kentik.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Retries, by the code of the attempt that failed."))
	keep(err)
	t.v5Requests, err = m.Int64Counter("kentik.v5.requests", metric.WithUnit("{call}"),
		metric.WithDescription("V5 calls, by method, path template and last HTTP status (0: no response)."))
	keep(err)
	t.v5Duration, err = m.Float64Histogram("kentik.v5.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of V5 calls, limiter waits and retries included."))
	keep(err)
	if len(errs) > 0 {
		return errors.Join(append([]error{errors.New("kentikotel: making the instruments")}, errs...)...)
	}
	return nil
}

// ClientOption installs the telemetry on a gRPC client (package client): otelgrpc's
// stats handler as a dial option (so not with client.WithConn, whose connection is the
// caller's to instrument) and the rest as its observer.
func (t *Telemetry) ClientOption() client.Option {
	return client.WithOptions(client.WithDialOptions(grpc.WithStatsHandler(t.grpc)), client.WithObserver(t))
}

// V5Option installs the telemetry on a V5 client (package mykentik): otelhttp's
// transport around the network, so each attempt is a span, and the rest as its observer.
func (t *Telemetry) V5Option() mykentik.Option {
	return mykentik.WithOptions(
		mykentik.WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return otelhttp.NewTransport(rt, t.httpOpts...) }),
		mykentik.WithObserver(t))
}

// httpSpanName names a V5 attempt's span by its method and path template.
func httpSpanName(_ string, r *http.Request) string {
	if tmpl := interceptors.PathTemplate(r.Context()); tmpl != "" {
		return r.Method + " " + tmpl
	}
	return "HTTP " + r.Method
}

// httpRoute adds the path template to otelhttp's measurements.
func httpRoute(r *http.Request) []attribute.KeyValue {
	if tmpl := interceptors.PathTemplate(r.Context()); tmpl != "" {
		return []attribute.KeyValue{attribute.String("http.route", tmpl)}
	}
	return nil
}

// classOpts are the measurement options with a class's attribute set, as the slices the
// instruments take, made once per class: every call uses them, and a slice made per call
// would be an allocation per measurement.
type classOpts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func (t *Telemetry) class(name string) *classOpts {
	if o, ok := t.classes.Load(name); ok {
		return o.(*classOpts)
	}
	set := metric.WithAttributeSet(attribute.NewSet(AttrClass.String(name)))
	o := &classOpts{add: []metric.AddOption{set}, rec: []metric.RecordOption{set}}
	actual, _ := t.classes.LoadOrStore(name, o)
	return actual.(*classOpts)
}

// LimiterWaitStart implements kentik.Observer.
func (t *Telemetry) LimiterWaitStart(ctx context.Context, e kentik.LimiterEvent) {
	t.waiting.Add(ctx, 1, t.class(e.Class).add...)
}

// LimiterWaitEnd implements kentik.Observer: it measures the wait and, when the wait
// reached the threshold or ended in a refusal, records it as a span.
func (t *Telemetry) LimiterWaitEnd(ctx context.Context, e kentik.LimiterEvent) {
	class := t.class(e.Class)
	t.waiting.Add(ctx, -1, class.add...)
	t.wait.Record(ctx, e.Wait.Seconds(), class.rec...)
	if e.Err == nil {
		t.inFlight.Add(ctx, 1, class.add...)
	} else {
		t.refused.Add(ctx, 1, metric.WithAttributes(AttrClass.String(e.Class), AttrReason.String(e.Reason())))
	}
	if e.Err == nil && e.Wait < t.threshold {
		return
	}
	_, span := t.tracer.Start(ctx, WaitSpanName, trace.WithTimestamp(e.Start), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(AttrClass.String(e.Class), AttrRoute.String(e.Route), AttrWaitSeconds.Float64(e.Wait.Seconds())))
	if e.Err != nil {
		span.SetStatus(otelcodes.Error, "no call slot of the rate limiter in time")
		span.SetAttributes(AttrReason.String(e.Reason()))
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Wait)))
}

// LimiterRelease implements kentik.Observer.
func (t *Telemetry) LimiterRelease(ctx context.Context, e kentik.LimiterEvent) {
	t.inFlight.Add(ctx, -1, t.class(e.Class).add...)
}

// PushBack implements kentik.Observer: a measurement and an event on the caller's span.
func (t *Telemetry) PushBack(ctx context.Context, e kentik.PushBackEvent) {
	class := t.class(e.Class)
	t.pushBacks.Add(ctx, 1, class.add...)
	if e.Wait > 0 {
		t.pushBackDur.Add(ctx, e.Wait.Seconds(), class.add...)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("kentik.pushback", trace.WithAttributes(AttrClass.String(e.Class), AttrRoute.String(e.Route),
			AttrCode.String(e.Code.String()), AttrPushBack.Float64(e.Wait.Seconds())))
	}
}

// Retry implements kentik.Observer: a measurement and an event on the caller's span.
func (t *Telemetry) Retry(ctx context.Context, e kentik.RetryEvent) {
	attrs := []attribute.KeyValue{AttrClass.String(e.Class), AttrRoute.String(e.Route), AttrCode.String(e.Code.String())}
	t.retries.Add(ctx, 1, metric.WithAttributes(attrs...))
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("kentik.retry", trace.WithAttributes(append(attrs, AttrAttempt.Int(e.Attempt))...))
	}
}

// V5Request implements kentik.Observer.
func (t *Telemetry) V5Request(ctx context.Context, e kentik.V5RequestEvent) {
	method, route := attribute.String("http.request.method", e.Method), attribute.String("http.route", e.Path)
	t.v5Requests.Add(ctx, 1, metric.WithAttributes(method, route, attribute.Int("http.response.status_code", e.Status)))
	t.v5Duration.Record(ctx, e.Duration.Seconds(), metric.WithAttributes(method, route))
}
