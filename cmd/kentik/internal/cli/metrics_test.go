package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gokentik/kentik"
	"github.com/gokentik/kentik/kentiktest"
	"github.com/gokentik/kentik/ratelimit"
)

// scrapeURL reads a /metrics page with Prometheus' text parser; ok is false when nothing
// answers there.
func scrapeURL(t *testing.T, url string) (map[string]*dto.MetricFamily, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs, true
}

// metricValue is the value of name's series whose labels include want, and whether
// there is one.
func metricValue(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
series:
	for _, m := range mfs[name].GetMetric() {
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsListenChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fake", "--metrics-listen", "0.0.0.0:9464"}, "not a loopback address"},
		{[]string{"fake", "--metrics-listen", ":9464"}, "not a loopback address"},
		{[]string{"demo", "--metrics-listen", "192.0.2.1:9464"}, "not a loopback address"},
		{[]string{"fake", "--metrics-listen", "127.0.0.1:99999"}, "port"},
		{[]string{"fake", "--metrics-listen", "127.0.0.1"}, "HOST:PORT"},
		{[]string{"fake", "--metrics-listen-any"}, "needs --metrics-listen"},
		{[]string{"--email", "a@b.example", "--token", "t", "interfaces", "classify", "--file", "/dev/null", "--metrics-listen", "10.0.0.1:9464"}, "not a loopback address"},
	} {
		code, _, stderr := runKentik(t, nil, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want usage error with %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestClassifyServesMetrics runs `interfaces classify --metrics-listen` against a fake
// slow enough for the job to be scraped while it runs, and checks that the server is gone
// once the command is.
func TestClassifyServesMetrics(t *testing.T) {
	slow, err := ratelimit.Parse("concurrency=1,4/500ms")
	if err != nil {
		t.Fatal(err)
	}
	srv := kentiktest.Start(t, kentiktest.WithInterfaces(40, 3), kentiktest.WithPolicy(slow))
	c := srv.Credentials()
	env := map[string]string{"KENTIK_GRPC_ENDPOINT": srv.GRPCAddr(), "KENTIK_EMAIL": c.Email, "KENTIK_API_TOKEN": c.Token, "KENTIK_RATE_LIMIT": slow.String()}
	plan := writeClassifyPlan(t, srv.InterfaceIDs())
	stderr := &fakeOutput{}
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"--plaintext", "interfaces", "classify", "--file", plan, "--batch-size", "4",
			"--metrics-listen", "127.0.0.1:0"}, strings.NewReader(""), &fakeOutput{}, stderr, func(k string) string { return env[k] })
	}()
	re := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	var url string
	for i := 0; i < 500 && url == ""; i++ {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no metrics address in %q", stderr.String())
	}
	// Scrape while the 10 requests (about 1.25 s at 4 per 500 ms) go out.
	var mfs map[string]*dto.MetricFamily
	for i := 0; i < 200; i++ {
		m, ok := scrapeURL(t, url)
		if !ok {
			t.Fatalf("nothing served at %s while the job runs: %s", url, stderr.String())
		}
		if sent, _ := metricValue(m, "kentik_classify_requests_sent_total", nil); sent >= 2 {
			mfs = m
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if mfs == nil {
		t.Fatal("the job's metrics never showed two requests sent")
	}
	if v, _ := metricValue(mfs, "kentik_classify_interfaces", nil); v != 40 {
		t.Errorf("kentik_classify_interfaces = %v, want 40", v)
	}
	if v, _ := metricValue(mfs, "kentik_classify_requests_planned", nil); v != 10 {
		t.Errorf("kentik_classify_requests_planned = %v, want 10", v)
	}
	if v, ok := metricValue(mfs, "grpc_client_started_total", map[string]string{"grpc_method": "ManualClassify"}); !ok || v < 2 {
		t.Errorf("grpc_client_started_total{ManualClassify} = %v", v)
	}
	if _, ok := metricValue(mfs, "kentik_limiter_wait_seconds", map[string]string{"class": kentik.ClassV6Admin}); !ok {
		t.Error("no limiter wait histogram")
	}
	if _, ok := metricValue(mfs, "go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}
	select {
	case c := <-code:
		if c != ExitOK {
			t.Fatalf("exit %d: %s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("classify did not finish")
	}
	if _, ok := scrapeURL(t, url); ok {
		t.Error("metrics still served after the command ended")
	}
}

// TestFakeServesMetrics: `kentik fake --metrics-listen` serves what the fake saw, and -o
// json says where.
func TestFakeServesMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &fakeOutput{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"fake", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interfaces", "10",
			"--rate-limit", "concurrency=1,3/1m", "--metrics-listen", "127.0.0.1:0", "-o", "json"},
			strings.NewReader(""), out, &fakeOutput{}, func(string) string { return "" })
	}()
	var info fakeInfo
	for i := 0; i < 500; i++ {
		if json.Unmarshal([]byte(out.String()), &info) == nil && info.MetricsURL != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.MetricsURL == "" {
		t.Fatalf("no metrics_url in %q", out.String())
	}
	creds := kentik.Credentials{Email: info.Email, Token: info.Token}
	for range 4 {
		_, _ = fakeListInterfaces(t, info.GRPCAddr, creds) // the 4th is over 3/1m
	}
	mfs, ok := scrapeURL(t, info.MetricsURL)
	if !ok {
		t.Fatal("nothing served")
	}
	grpc := map[string]string{"api": "grpc"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kentik_fake_requests_total", map[string]string{"api": "grpc", "method": "ListInterface"}, 4},
		{"kentik_fake_rejections_total", map[string]string{"api": "grpc", "reason": kentiktest.RejectRateLimit}, 1},
		{"kentik_fake_window_peak_calls", map[string]string{"api": "grpc", "window": "3/1m"}, 3},
		{"kentik_fake_window_limit_calls", map[string]string{"api": "grpc", "window": "3/1m"}, 3},
		{"kentik_fake_window_fill_ratio", map[string]string{"api": "grpc", "window": "3/1m"}, 1},
		{"kentik_fake_concurrency_limit_calls", grpc, 1},
		{"kentik_fake_max_concurrent_calls", grpc, 1},
		{"kentik_fake_limit_exceeded", grpc, 0},
		{"kentik_fake_delayed_total", map[string]string{"api": "v5"}, 0},
	} {
		if got, ok := metricValue(mfs, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	cancel()
	select {
	case c := <-code:
		if c != ExitOK {
			t.Fatalf("exit %d", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fake did not stop")
	}
	if _, ok := scrapeURL(t, info.MetricsURL); ok {
		t.Error("metrics still served after the fake stopped")
	}
}
