package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// metricsFlags are --metrics-listen and --metrics-listen-any, on the commands that run
// long (interfaces classify, fake, demo).
type metricsFlags struct {
	listen    string
	listenAny bool
}

func (m *metricsFlags) add(f *pflag.FlagSet) {
	f.StringVar(&m.listen, "metrics-listen", "", "serve Prometheus metrics on http://ADDR/metrics while the command runs, e.g. 127.0.0.1:9464 (loopback only unless --metrics-listen-any)")
	f.BoolVar(&m.listenAny, "metrics-listen-any", false, "allow a --metrics-listen address that is not loopback")
}

// check refuses a bad address, and one that is not loopback without --metrics-listen-any:
// the metrics say what the account does and how hard it is limited, which is nobody
// else's business by default.
func (m metricsFlags) check() error {
	if m.listen == "" {
		if m.listenAny {
			return usagef("--metrics-listen-any needs --metrics-listen")
		}
		return nil
	}
	host, err := checkListenAddr("metrics-listen", m.listen)
	if err != nil {
		return err
	}
	if !m.listenAny && !kentik.IsLoopbackHost(host) {
		return usagef("--metrics-listen %q is not a loopback address; metrics are served on 127.0.0.1 or ::1 unless you pass --metrics-listen-any", m.listen)
	}
	return nil
}

// metricsServer serves a registry's /metrics for as long as a command runs.
type metricsServer struct {
	reg  *prometheus.Registry
	srv  *http.Server
	lis  net.Listener
	done chan struct{}
}

// startMetrics listens on m.listen (checked already) and serves a registry with the Go
// runtime's and the process's metrics; nil, nil when m.listen is empty. Close stops it.
func startMetrics(g *Globals, m metricsFlags) (*metricsServer, error) {
	if m.listen == "" {
		return nil, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	lis, err := net.Listen("tcp", m.listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: metricsLog{g}}))
	s := &metricsServer{
		reg:  reg,
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		lis:  lis,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.Logger.Warn("metrics server stopped", "err", err)
		}
	}()
	return s, nil
}

// metricsLog passes promhttp's errors to the command's logger.
type metricsLog struct{ g *Globals }

func (l metricsLog) Println(v ...any) { l.g.Logger.Warn("metrics: " + fmt.Sprint(v...)) }

// URL is where the metrics are served, with a dialable host.
func (s *metricsServer) URL() string {
	return "http://" + fakeDialable(s.lis.Addr().String()) + "/metrics"
}

// Register adds collectors; a nil s (no --metrics-listen) ignores them.
func (s *metricsServer) Register(cs ...prometheus.Collector) error {
	if s == nil {
		return nil
	}
	for _, c := range cs {
		if err := s.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

// Close stops serving, letting a scrape in progress finish for a moment. A nil s does
// nothing.
func (s *metricsServer) Close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// fakeCollector exports what `kentik fake` saw, per API (api="grpc" for the v6
// services, over gRPC and the REST mapping; "v5" for the V5 REST API), read from
// kentiktest's Stats at each scrape.
type fakeCollector struct {
	srv *kentiktest.Server
}

var (
	fakeRequests = prometheus.NewDesc("kentik_fake_requests_total",
		"Calls the fake received, rejected ones included, by API and method.", []string{"api", "method"}, nil)
	fakeRejections = prometheus.NewDesc("kentik_fake_rejections_total",
		`Calls the fake refused, by API and reason ("rate-limit", "concurrency", "unauthenticated", "fault", "canceled", "outage").`, []string{"api", "reason"}, nil)
	fakeDelayed = prometheus.NewDesc("kentik_fake_delayed_total",
		"Calls the fake answered late because they were beyond a soft limit.", []string{"api"}, nil)
	fakeMaxInFlight = prometheus.NewDesc("kentik_fake_max_in_flight_calls",
		"The most calls the fake was handling at once, counted on receipt.", []string{"api"}, nil)
	fakeMaxConcurrent = prometheus.NewDesc("kentik_fake_max_concurrent_calls",
		"The most admitted calls in flight at once, against the policy's concurrency cap.", []string{"api"}, nil)
	fakeConcurrencyLimit = prometheus.NewDesc("kentik_fake_concurrency_limit_calls",
		"The policy's concurrency cap (0: none).", []string{"api"}, nil)
	fakeWindowPeak = prometheus.NewDesc("kentik_fake_window_peak_calls",
		"The most admitted calls the fake saw in one rolling window, by hard window of the policy.", []string{"api", "window"}, nil)
	fakeWindowLimit = prometheus.NewDesc("kentik_fake_window_limit_calls",
		"The hard window's limit.", []string{"api", "window"}, nil)
	fakeWindowFill = prometheus.NewDesc("kentik_fake_window_fill_ratio",
		"The fullest rolling window against its limit: above 1 means the limit was exceeded.", []string{"api", "window"}, nil)
	fakeExceeded = prometheus.NewDesc("kentik_fake_limit_exceeded",
		"1 when admitted calls ever exceeded a hard window or the concurrency cap.", []string{"api"}, nil)
)

func (c fakeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{fakeRequests, fakeRejections, fakeDelayed, fakeMaxInFlight, fakeMaxConcurrent,
		fakeConcurrencyLimit, fakeWindowPeak, fakeWindowLimit, fakeWindowFill, fakeExceeded} {
		ch <- d
	}
}

func (c fakeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	c.collect(ch, "grpc", st.GRPC, c.srv.Policy())
	c.collect(ch, "v5", st.V5, c.srv.V5Policy())
}

func (fakeCollector) collect(ch chan<- prometheus.Metric, api string, st kentiktest.APIStats, p ratelimit.Policy) {
	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, append([]string{api}, labels...)...)
	}
	for method, n := range st.Calls {
		metric(fakeRequests, prometheus.CounterValue, float64(n), method)
	}
	for reason, n := range st.Rejected {
		metric(fakeRejections, prometheus.CounterValue, float64(n), reason)
	}
	metric(fakeDelayed, prometheus.CounterValue, float64(st.Delayed))
	metric(fakeMaxInFlight, prometheus.GaugeValue, float64(st.MaxInFlight))
	metric(fakeMaxConcurrent, prometheus.GaugeValue, float64(st.Limits.MaxConcurrent))
	metric(fakeConcurrencyLimit, prometheus.GaugeValue, float64(p.Concurrency))
	seen := map[string]bool{}
	for i, w := range p.Windows {
		name := w.String()
		if i >= len(st.Limits.WindowPeak) || seen[name] {
			continue // a window given twice is one series
		}
		seen[name] = true
		peak := float64(st.Limits.WindowPeak[i])
		metric(fakeWindowPeak, prometheus.GaugeValue, peak, name)
		metric(fakeWindowLimit, prometheus.GaugeValue, float64(w.Limit), name)
		metric(fakeWindowFill, prometheus.GaugeValue, peak/float64(w.Limit), name)
	}
	exceeded := 0.0
	if st.Limits.Exceeded() {
		exceeded = 1
	}
	metric(fakeExceeded, prometheus.GaugeValue, exceeded)
}
