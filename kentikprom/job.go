package kentikprom

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gokentik/kentik/classify"
)

// JobMetrics follows a classify job (classify.Runner) while it runs: call Observe from
// the runner's Progress hook,
//
//	jm, err := kentikprom.NewJobMetrics(reg)
//	r := &classify.Runner{Client: c.Interfaces(), Progress: jm.Observe, ...}
//
// and a scrape reads the latest report:
//
//	kentik_classify_interfaces                 gauge: interfaces in the plan
//	kentik_classify_interfaces_done            gauge: interfaces classified, those an earlier run journaled included
//	kentik_classify_interfaces_failed          gauge: interfaces in batches that failed for good
//	kentik_classify_requests_planned           gauge: requests the run has to make (the plan less the journal)
//	kentik_classify_requests_sent_total        ManualClassify requests completed
//	kentik_classify_requests_failed_total      requests that failed for good, after the client's retries
//	kentik_classify_retries_total              retries the client made (Runner.Retries; a batch retried twice counts twice)
//	kentik_classify_rate_requests_per_second   gauge: the rate achieved so far
//	kentik_classify_eta_seconds                gauge: the time left, estimated (0 when unknown or done)
//	kentik_classify_elapsed_seconds            gauge: time since the run started
//	kentik_classify_outage_seconds_total       time spent waiting outages of Kentik out, the one under way included (classify.Runner.OutageBudget)
//	kentik_classify_outages_total              outages the job waited out, or stopped in
//	kentik_classify_requests_resent_total      requests sent again after a transient failure, probes included
//
// The counters keep counting across the runs one JobMetrics observes (a run that
// starts again from zero adds to them). It is safe for concurrent use.
type JobMetrics struct {
	mu   sync.Mutex
	last classify.Progress
	// base holds what earlier runs counted, so that the counters never go down.
	baseSent, baseFailed int
	baseRetries          int64
	baseOutages          int
	baseResent           int
	baseOutageTime       time.Duration
}

var (
	descInterfaces     = jobDesc("interfaces", "Interfaces in the plan.")
	descDone           = jobDesc("interfaces_done", "Interfaces classified, those an earlier run journaled included.")
	descFailed         = jobDesc("interfaces_failed", "Interfaces in batches that failed for good.")
	descPlanned        = jobDesc("requests_planned", "ManualClassify requests the run has to make (the plan less the journal).")
	descSent           = jobDesc("requests_sent_total", "ManualClassify requests completed.")
	descRequestsFailed = jobDesc("requests_failed_total", "ManualClassify requests that failed for good, after the client's retries.")
	descRetries        = jobDesc("retries_total", "Retries the client made for the job.")
	descRate           = jobDesc("rate_requests_per_second", "ManualClassify requests per second achieved so far.")
	descETA            = jobDesc("eta_seconds", "Estimated time left (0 when unknown or done).")
	descElapsed        = jobDesc("elapsed_seconds", "Time since the run started.")
	descOutageSeconds  = jobDesc("outage_seconds_total", "Time spent waiting outages of Kentik out, the one under way included.")
	descOutages        = jobDesc("outages_total", "Outages of Kentik the job waited out, or stopped in.")
	descResent         = jobDesc("requests_resent_total", "ManualClassify requests sent again after a transient failure, probes included.")
)

func jobDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("kentik_classify_"+name, help, nil, nil)
}

// NewJobMetrics makes the job's metrics and registers them on reg
// (prometheus.DefaultRegisterer when nil).
func NewJobMetrics(reg prometheus.Registerer) (*JobMetrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	j := &JobMetrics{}
	if err := registerAll(reg, j); err != nil {
		return nil, err
	}
	return j, nil
}

// Observe records a progress report; its signature fits classify.Runner.Progress.
func (j *JobMetrics) Observe(p classify.Progress) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if p.Elapsed < j.last.Elapsed || p.Requests < j.last.Requests {
		// Another run: what the last one counted stays counted.
		j.baseSent += j.last.Requests
		j.baseFailed += j.last.FailedRequests
		j.baseRetries += j.last.Retries
		j.baseOutages += j.last.Outages
		j.baseResent += j.last.Resent
		j.baseOutageTime += j.last.OutageTime
	}
	j.last = p
}

// Describe implements prometheus.Collector.
func (j *JobMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInterfaces, descDone, descFailed, descPlanned, descSent,
		descRequestsFailed, descRetries, descRate, descETA, descElapsed, descOutageSeconds, descOutages, descResent} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (j *JobMetrics) Collect(ch chan<- prometheus.Metric) {
	j.mu.Lock()
	p := j.last
	sent := float64(j.baseSent + p.Requests)
	failed := float64(j.baseFailed + p.FailedRequests)
	retries := float64(j.baseRetries + p.Retries)
	outageSec := (j.baseOutageTime + p.OutageTime).Seconds()
	outages := float64(j.baseOutages + p.Outages)
	resent := float64(j.baseResent + p.Resent)
	j.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(descInterfaces, float64(p.Interfaces))
	gauge(descDone, float64(p.Done))
	gauge(descFailed, float64(p.Failed))
	gauge(descPlanned, float64(p.TotalRequests))
	counter(descSent, sent)
	counter(descRequestsFailed, failed)
	counter(descRetries, retries)
	gauge(descRate, p.Rate)
	gauge(descETA, p.ETA.Seconds())
	gauge(descElapsed, p.Elapsed.Seconds())
	counter(descOutageSeconds, outageSec)
	counter(descOutages, outages)
	counter(descResent, resent)
}
