package kentiktest

import (
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/gokentik/kentik/ratelimit"
)

// Reasons a call was rejected, the keys of APIStats.Rejected.
const (
	RejectUnauthenticated = "unauthenticated" // missing or wrong credentials
	RejectConcurrency     = "concurrency"     // over the policy's concurrency cap
	RejectRateLimit       = "rate-limit"      // over a hard or hourly window
	RejectFault           = "fault"           // failed on purpose by FailNext or SetErrorRate
	RejectCanceled        = "canceled"        // the caller gave up during a soft-limit delay or injected latency
	RejectOutage          = "outage"          // answered UNAVAILABLE (HTTP 503) during an OutageUnavailable outage
)

// Stats is a snapshot of what the fake has seen since it started (or since ResetStats).
type Stats struct {
	GRPC APIStats // the v6 APIs: every service, over gRPC and the REST mapping
	V5   APIStats // the V5 REST API
	// UnknownIDsClassified counts the interface ids ManualClassify was given that named
	// no interface (they are skipped; see ManualClassify).
	UnknownIDsClassified int
}

// APIStats are the counters of one API class, counted apart as Kentik counts them.
type APIStats struct {
	// Calls counts every call received, rejected ones included, by method: the short
	// name for InterfaceService and V5 ("ManualClassify", "TenantList"; "Other" for V5
	// paths that name no method), the full gRPC name for every other v6 service
	// ("/kentik.mkp.v202407.TenantService/ListTenant").
	Calls map[string]int
	// Rejected counts calls refused, by reason (RejectUnauthenticated...).
	Rejected map[string]int
	// Delayed counts calls answered late because they were beyond a soft limit.
	Delayed int
	// MaxInFlight is the most calls that were being handled at once, counted from
	// receipt, before authentication or admission: what clients sent, not what the
	// limiter let through (Limits.MaxConcurrent is that).
	MaxInFlight int
	// Limits are the rate-limit enforcer's own counters: admitted and rejected calls,
	// the most concurrent admitted calls (MaxConcurrent) and, per hard window of the
	// policy, the most admitted calls ever seen in one rolling window (WindowPeak).
	// Limits.Exceeded() reports whether a limit was ever overrun.
	Limits ratelimit.EnforcerStats
}

// Request is what one call carried, for tests of client-side interceptors.
type Request struct {
	API    string // "grpc", "rest" (the v6 REST mapping) or "v5"
	Method string // the method as APIStats.Calls names it
	// Header holds the gRPC metadata or the HTTP headers, keys in lower case. The
	// credentials are there as sent, token included: this is a test fake, and the
	// values are the caller's own.
	Header    map[string][]string
	UserAgent string
	Time      time.Time
}

// apiClass holds one API class's limiter and counters.
type apiClass struct {
	name     string
	policy   ratelimit.Policy
	enforcer *ratelimit.Enforcer

	mu       sync.Mutex
	calls    map[string]int
	rejected map[string]int
	delayed  int
	inflight int
	maxIn    int
}

func newAPIClass(name string, p ratelimit.Policy) *apiClass {
	return &apiClass{
		name: name, policy: p, enforcer: ratelimit.NewEnforcer(p),
		calls: map[string]int{}, rejected: map[string]int{},
	}
}

// received counts a call and its concurrency; the returned func ends it.
func (c *apiClass) received(method string) (end func()) {
	c.mu.Lock()
	c.calls[method]++
	c.inflight++
	c.maxIn = max(c.maxIn, c.inflight)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.inflight--
		c.mu.Unlock()
	}
}

func (c *apiClass) reject(reason string) {
	c.mu.Lock()
	c.rejected[reason]++
	c.mu.Unlock()
}

func (c *apiClass) delay() {
	c.mu.Lock()
	c.delayed++
	c.mu.Unlock()
}

func (c *apiClass) stats() APIStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return APIStats{
		Calls:       maps.Clone(c.calls),
		Rejected:    maps.Clone(c.rejected),
		Delayed:     c.delayed,
		MaxInFlight: c.maxIn,
		Limits:      c.enforcer.Stats(),
	}
}

// reset clears the counters and starts a fresh enforcer (windows emptied). Calls in
// flight finish against the old enforcer.
func (c *apiClass) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.rejected = map[string]int{}, map[string]int{}
	c.delayed, c.maxIn = 0, c.inflight
	c.enforcer = ratelimit.NewEnforcer(c.policy)
}

func (c *apiClass) currentEnforcer() *ratelimit.Enforcer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enforcer
}

// rejectReason sorts an Enforcer's free-text reason into a Reject* constant.
func rejectReason(reason string) string {
	if strings.HasPrefix(reason, "concurrency") {
		return RejectConcurrency
	}
	return RejectRateLimit
}

// requestLog keeps the latest requests in a ring.
type requestLog struct {
	mu   sync.Mutex
	buf  []Request
	next int
	full bool
}

func newRequestLog(n int) *requestLog { return &requestLog{buf: make([]Request, n)} }

func (l *requestLog) add(r Request) {
	if len(l.buf) == 0 {
		return
	}
	l.mu.Lock()
	l.buf[l.next] = r
	l.next = (l.next + 1) % len(l.buf)
	if l.next == 0 {
		l.full = true
	}
	l.mu.Unlock()
}

func (l *requestLog) all() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Request
	if l.full {
		out = append(out, l.buf[l.next:]...)
	}
	return append(out, l.buf[:l.next]...)
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.buf)
	l.next, l.full = 0, false
}
