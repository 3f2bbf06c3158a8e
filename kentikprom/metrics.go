// Package kentikprom exports to Prometheus what the Kentik clients and the classify job
// do: one value, Metrics, gives one option for each client (Metrics.ClientOption for
// package client, Metrics.V5Option for package mykentik), and JobMetrics follows a
// classify job while it runs.
//
//	reg := prometheus.NewRegistry()
//	m, err := kentikprom.New(reg)
//	if err != nil { ... }
//	c, err := client.New(ctx, m.ClientOption())
//	mk, err := mykentik.New(ctx, m.V5Option())
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The gRPC calls are counted by go-grpc-middleware's Prometheus provider, outside the
// client's retries and limiter (one call as the program makes it):
//
//	grpc_client_started_total{grpc_type,grpc_service,grpc_method}
//	grpc_client_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//	grpc_client_handling_seconds{grpc_type,grpc_service,grpc_method}   histogram, waits and retries included
//	grpc_client_msg_received_total, grpc_client_msg_sent_total
//
// The rest are the project's own, for both clients (class is the rate-limit class,
// "v6-admin" for gRPC and "v5-admin" for V5; method is the full gRPC method, or a V5
// request's HTTP method and path template, "GET /mykentik/tenant/{id}"):
//
//	kentik_limiter_wait_seconds{class}            histogram: each attempt's wait for a slot of the account's limiter
//	kentik_limiter_waiting_calls{class}           gauge: attempts waiting for a slot now
//	kentik_limiter_in_flight_calls{class}         gauge: attempts holding a slot now
//	kentik_limiter_refused_total{class,reason}    calls the limiter refused: reason "deadline" (no slot before the context's deadline), "canceled", "error"
//	kentik_pushbacks_total{class}                 attempts Kentik refused for the rate limit (RESOURCE_EXHAUSTED, HTTP 429) or told to back off
//	kentik_pushback_seconds_total{class}          the back-off Kentik asked for, added up
//	kentik_retries_total{class,method,code}       retries, by the code of the attempt that failed
//	kentik_v5_requests_total{method,path,status}  V5 calls by their last HTTP status ("0" when there was no response)
//	kentik_v5_request_duration_seconds{method,path}  histogram: V5 calls, waits and retries included
//
// No label takes an id, an email, a token or a path with ids in it: the values are the
// schema's methods, the clients' path templates, codes and statuses.
package kentikprom

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/client"
	"github.com/gokentik/kentik/mykentik"
)

// waitBuckets span an attempt's wait for the limiter: from none (most calls) to the
// minutes an hourly window or a long push-back can impose.
var waitBuckets = []float64{0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// callBuckets span a whole call: a fast answer to one that waited and was retried.
var callBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// unknownRoute labels a call whose client gave no route (a V5 request made outside
// package mykentik): its path would hold ids.
const unknownRoute = "unknown"

// Metrics collects the metrics of the clients it is installed on. It implements
// kentik.Observer. Make one per registry and install it on every client: the series of
// all of them add up.
type Metrics struct {
	kentik.NopObserver

	grpc            *grpcprom.ClientMetrics
	waitSeconds     *prometheus.HistogramVec
	waiting         *prometheus.GaugeVec
	inFlight        *prometheus.GaugeVec
	refused         *prometheus.CounterVec
	pushBacks       *prometheus.CounterVec
	pushBackSeconds *prometheus.CounterVec
	retries         *prometheus.CounterVec
	v5Requests      *prometheus.CounterVec
	v5Seconds       *prometheus.HistogramVec

	classes sync.Map // class name → *classMetrics
}

// classMetrics are the limiter series of one class, looked up once: the events of every
// call use them.
type classMetrics struct {
	wait      prometheus.Observer
	waiting   prometheus.Gauge
	inFlight  prometheus.Gauge
	pushBacks prometheus.Counter
	pushBackS prometheus.Counter
}

// New makes the metrics and registers them on reg (prometheus.DefaultRegisterer when
// nil). It fails, registering nothing, when reg refuses one, for example because New
// already registered them there.
func New(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := &Metrics{
		grpc: grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram(grpcprom.WithHistogramBuckets(callBuckets))),
		waitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kentik_limiter_wait_seconds",
			Help:    "Time each attempt waited for a slot of the account's rate limiter.",
			Buckets: waitBuckets,
		}, []string{"class"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kentik_limiter_waiting_calls",
			Help: "Attempts waiting for a slot of the account's rate limiter.",
		}, []string{"class"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kentik_limiter_in_flight_calls",
			Help: "Attempts holding a slot of the account's rate limiter.",
		}, []string{"class"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kentik_limiter_refused_total",
			Help: `Calls the rate limiter refused: reason "deadline" (no slot before the context's deadline), "canceled" or "error".`,
		}, []string{"class", "reason"}),
		pushBacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kentik_pushbacks_total",
			Help: "Attempts Kentik refused for the rate limit (RESOURCE_EXHAUSTED, HTTP 429) or told to back off.",
		}, []string{"class"}),
		pushBackSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kentik_pushback_seconds_total",
			Help: "Back-off Kentik asked for (RetryInfo, grpc-retry-pushback-ms, Retry-After), added up.",
		}, []string{"class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kentik_retries_total",
			Help: "Retries, by the code of the attempt that failed.",
		}, []string{"class", "method", "code"}),
		v5Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kentik_v5_requests_total",
			Help: `V5 calls, by HTTP method, path template and last HTTP status ("0" when there was no response).`,
		}, []string{"method", "path", "status"}),
		v5Seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kentik_v5_request_duration_seconds",
			Help:    "Time of V5 calls, limiter waits and retries included.",
			Buckets: callBuckets,
		}, []string{"method", "path"}),
	}
	if err := registerAll(reg, m.grpc, m.waitSeconds, m.waiting, m.inFlight, m.refused, m.pushBacks,
		m.pushBackSeconds, m.retries, m.v5Requests, m.v5Seconds); err != nil {
		return nil, err
	}
	return m, nil
}

// registerAll registers cs, or none of them.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("kentikprom: registering the metrics: %w", err)
		}
	}
	return nil
}

// ClientOption installs the metrics on a gRPC client (package client): the gRPC call
// metrics as its outermost interceptors, the project's own as its observer.
func (m *Metrics) ClientOption() client.Option {
	return client.WithOptions(
		client.WithInterceptors(m.grpc.UnaryClientInterceptor(), m.grpc.StreamClientInterceptor()),
		client.WithObserver(m))
}

// V5Option installs the metrics on a V5 client (package mykentik) as its observer.
func (m *Metrics) V5Option() mykentik.Option {
	return mykentik.WithObserver(m)
}

func (m *Metrics) class(name string) *classMetrics {
	if c, ok := m.classes.Load(name); ok {
		return c.(*classMetrics)
	}
	c := &classMetrics{
		wait:      m.waitSeconds.WithLabelValues(name),
		waiting:   m.waiting.WithLabelValues(name),
		inFlight:  m.inFlight.WithLabelValues(name),
		pushBacks: m.pushBacks.WithLabelValues(name),
		pushBackS: m.pushBackSeconds.WithLabelValues(name),
	}
	actual, _ := m.classes.LoadOrStore(name, c)
	return actual.(*classMetrics)
}

// LimiterWaitStart implements kentik.Observer.
func (m *Metrics) LimiterWaitStart(_ context.Context, e kentik.LimiterEvent) {
	m.class(e.Class).waiting.Inc()
}

// LimiterWaitEnd implements kentik.Observer.
func (m *Metrics) LimiterWaitEnd(_ context.Context, e kentik.LimiterEvent) {
	c := m.class(e.Class)
	c.waiting.Dec()
	c.wait.Observe(e.Wait.Seconds())
	if e.Err == nil {
		c.inFlight.Inc()
		return
	}
	m.refused.WithLabelValues(e.Class, e.Reason()).Inc()
}

// LimiterRelease implements kentik.Observer.
func (m *Metrics) LimiterRelease(_ context.Context, e kentik.LimiterEvent) {
	m.class(e.Class).inFlight.Dec()
}

// PushBack implements kentik.Observer.
func (m *Metrics) PushBack(_ context.Context, e kentik.PushBackEvent) {
	c := m.class(e.Class)
	c.pushBacks.Inc()
	if e.Wait > 0 {
		c.pushBackS.Add(e.Wait.Seconds())
	}
}

// Retry implements kentik.Observer.
func (m *Metrics) Retry(_ context.Context, e kentik.RetryEvent) {
	m.retries.WithLabelValues(e.Class, route(e.Route), e.Code.String()).Inc()
}

// V5Request implements kentik.Observer.
func (m *Metrics) V5Request(_ context.Context, e kentik.V5RequestEvent) {
	path := e.Path
	if path == "" {
		path = unknownRoute
	}
	m.v5Requests.WithLabelValues(e.Method, path, strconv.Itoa(e.Status)).Inc()
	m.v5Seconds.WithLabelValues(e.Method, path).Observe(e.Duration.Seconds())
}

func route(r string) string {
	if r == "" {
		return unknownRoute
	}
	return r
}
