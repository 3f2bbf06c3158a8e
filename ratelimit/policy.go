package ratelimit

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a rolling-window limit: at most Limit calls in any Period.
//
// A call counts against the window for Period from the moment it was
// received (server side) or admitted (client side).
type Window struct {
	Limit  int           // maximum number of calls in any rolling Period; must be positive
	Period time.Duration // length of the rolling window; must be positive
}

// String formats w as "LIMIT/PERIOD", the form accepted by Parse.
func (w Window) String() string {
	return strconv.Itoa(w.Limit) + "/" + formatDuration(w.Period)
}

// Soft is a server-side soft limit: calls beyond Limit in a rolling Period are
// answered after Delay.
type Soft struct {
	Limit  int           // number of calls in a rolling Period answered without delay; must be positive
	Period time.Duration // length of the rolling window; must be positive
	Delay  time.Duration // response delay added beyond Limit; must be positive
}

// String formats s as "soft=LIMIT/PERIOD:DELAY", the form accepted by Parse.
func (s Soft) String() string {
	return "soft=" + strconv.Itoa(s.Limit) + "/" + formatDuration(s.Period) + ":" + formatDuration(s.Delay)
}

// Policy is a concurrency cap plus rolling windows (+ soft limits, enforced
// only by servers).
//
// The zero Policy has no limits at all (like Off).
type Policy struct {
	Name        string   // "off", "admin", "query" or "custom"
	Concurrency int      // maximum number of calls in flight; 0 means no cap
	Windows     []Window // hard limits: calls beyond them are rejected (HTTP 429)
	Soft        []Soft   // soft limits (server side); clients ignore them
}

// Names of the preset policies, as used in Policy.Name.
const (
	nameOff    = "off"
	nameAdmin  = "admin"
	nameQuery  = "query"
	nameCustom = "custom"
)

// Kentik's published per-customer API limits.
var (
	// Off is a policy with no limits at all.
	Off = offPolicy()
	// Admin is Kentik's policy for non-query (admin) API calls:
	// 1 concurrent request, 60 per rolling minute, 3750 per rolling hour,
	// and a 1.5 s response delay beyond 20 per rolling minute.
	Admin = adminPolicy()
	// Query is Kentik's policy for query API calls:
	// 4 concurrent requests, 100 per rolling minute, 1500 per rolling hour,
	// and a 1 s response delay beyond 30 per rolling minute.
	Query = queryPolicy()
)

// The preset constructors return fresh values, so that presets can be
// recognised even if a caller modified the exported variables' slices.
func offPolicy() Policy { return Policy{Name: nameOff} }

func adminPolicy() Policy {
	return Policy{
		Name:        nameAdmin,
		Concurrency: 1,
		Windows:     []Window{{Limit: 60, Period: time.Minute}, {Limit: 3750, Period: time.Hour}},
		Soft:        []Soft{{Limit: 20, Period: time.Minute, Delay: 1500 * time.Millisecond}},
	}
}

func queryPolicy() Policy {
	return Policy{
		Name:        nameQuery,
		Concurrency: 4,
		Windows:     []Window{{Limit: 100, Period: time.Minute}, {Limit: 1500, Period: time.Hour}},
		Soft:        []Soft{{Limit: 30, Period: time.Minute, Delay: time.Second}},
	}
}

// ParseError reports a policy string that Parse could not accept.
type ParseError struct {
	Input   string // the whole string given to Parse
	Element string // the offending comma-separated element ("" when the whole input is at fault)
	Reason  string // what is wrong and what is expected
}

// Error implements error.
func (e *ParseError) Error() string {
	if e.Element == "" {
		return fmt.Sprintf("ratelimit: bad policy %q: %s", e.Input, e.Reason)
	}
	return fmt.Sprintf("ratelimit: bad policy %q: element %q: %s", e.Input, e.Element, e.Reason)
}

const (
	expectAny    = `expected "off", "admin", "query" or a comma-separated list of "concurrency=N", "N/DURATION" and "soft=N/DURATION:DELAY" (e.g. "concurrency=1,60/1m,3750/1h,soft=20/1m:1.5s")`
	expectWindow = `expected a hard window "N/DURATION" (e.g. "60/1m"), "concurrency=N" or "soft=N/DURATION:DELAY"`
	expectSoft   = `expected "soft=N/DURATION:DELAY" (e.g. "soft=20/1m:1.5s")`
	expectConc   = `expected "concurrency=N" with N a positive integer`
)

// Parse accepts "off", "admin", "query" (case-insensitive, surrounding space
// ok), or a custom comma-separated list of elements, in any order:
//
//   - "concurrency=N": at most N calls in flight (at most once);
//   - "N/DURATION": a hard window of N calls per rolling DURATION (any number);
//   - "soft=N/DURATION:DELAY": a soft limit (any number).
//
// DURATION and DELAY are Go durations ("1m", "1.5s", "250ms"); the bare units
// "s", "m" and "h" mean 1s, 1m and 1h ("60/m"). Example:
// "concurrency=1,60/2s,3750/2m,soft=20/2s:50ms". A custom list yields a Policy
// named "custom". Errors are of type *ParseError.
func Parse(s string) (Policy, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case nameOff:
		return offPolicy(), nil
	case nameAdmin:
		return adminPolicy(), nil
	case nameQuery:
		return queryPolicy(), nil
	case "":
		return Policy{}, &ParseError{Input: s, Reason: "empty policy: " + expectAny}
	}
	p := Policy{Name: nameCustom}
	seenConc := false
	for _, raw := range strings.Split(t, ",") {
		el := strings.TrimSpace(raw)
		fail := func(reason string) (Policy, error) {
			return Policy{}, &ParseError{Input: s, Element: el, Reason: reason}
		}
		if el == "" {
			return fail("empty element (stray comma?): " + expectAny)
		}
		key, val, hasEq := strings.Cut(el, "=")
		if !hasEq {
			w, reason := parseWindow(el)
			if reason != "" {
				return fail(reason)
			}
			p.Windows = append(p.Windows, w)
			continue
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "concurrency":
			if seenConc {
				return fail("duplicate concurrency: expected \"concurrency=N\" at most once")
			}
			seenConc = true
			n, reason := parseCount(strings.TrimSpace(val), "concurrency")
			if reason != "" {
				return fail(reason + "; " + expectConc)
			}
			p.Concurrency = n
		case "soft":
			sl, reason := parseSoft(strings.TrimSpace(val))
			if reason != "" {
				return fail(reason)
			}
			p.Soft = append(p.Soft, sl)
		default:
			return fail(fmt.Sprintf("unknown key %q: %s", strings.TrimSpace(key), expectWindow))
		}
	}
	return p, nil
}

// parseCount parses a positive decimal integer; the reason is "" on success.
func parseCount(s, what string) (int, string) {
	if s == "" {
		return 0, "missing " + what
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Sprintf("%s %q is out of range", what, s)
		}
		return 0, fmt.Sprintf("%s %q is not an integer", what, s)
	}
	if n <= 0 {
		return 0, fmt.Sprintf("%s must be positive, got %d", what, n)
	}
	return n, ""
}

// parseDuration parses a positive Go duration or a bare unit "s", "m", "h".
func parseDuration(s, what string) (time.Duration, string) {
	switch s {
	case "":
		return 0, "missing " + what
	case "s":
		return time.Second, ""
	case "m":
		return time.Minute, ""
	case "h":
		return time.Hour, ""
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Sprintf("%s %q is not a Go duration (like 1m, 1.5s, 250ms, or a bare s, m, h)", what, s)
	}
	if d <= 0 {
		return 0, fmt.Sprintf("%s must be positive, got %s", what, s)
	}
	return d, ""
}

func parseLimitPeriod(s string) (int, time.Duration, string) {
	ns, ds, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, "missing \"/\""
	}
	n, reason := parseCount(strings.TrimSpace(ns), "limit")
	if reason != "" {
		return 0, 0, reason
	}
	d, reason := parseDuration(strings.TrimSpace(ds), "period")
	if reason != "" {
		return 0, 0, reason
	}
	return n, d, ""
}

func parseWindow(s string) (Window, string) {
	n, d, reason := parseLimitPeriod(s)
	if reason != "" {
		return Window{}, reason + "; " + expectWindow
	}
	return Window{Limit: n, Period: d}, ""
}

func parseSoft(s string) (Soft, string) {
	lp, ds, ok := strings.Cut(s, ":")
	if !ok {
		return Soft{}, "missing \":DELAY\"; " + expectSoft
	}
	n, period, reason := parseLimitPeriod(strings.TrimSpace(lp))
	if reason != "" {
		return Soft{}, reason + "; " + expectSoft
	}
	delay, reason := parseDuration(strings.TrimSpace(ds), "delay")
	if reason != "" {
		return Soft{}, reason + "; " + expectSoft
	}
	return Soft{Limit: n, Period: period, Delay: delay}, ""
}

// formatDuration is time.Duration.String without the redundant trailing zero
// units ("1m" rather than "1m0s", "1h" rather than "1h0m0s"). Its output is
// accepted by time.ParseDuration and yields the same value.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// String formats p so that Parse(p.String()) yields p again. A preset
// (Name "off", "admin" or "query" with the preset's limits) prints as its
// name; a policy without any limit prints as "off"; anything else prints as a
// custom list such as "concurrency=1,60/1m,3750/1h,soft=20/1m:1.5s".
func (p Policy) String() string {
	switch p.Name {
	case nameAdmin, nameQuery:
		if p.equal(presetNamed(p.Name)) {
			return p.Name
		}
	}
	if p.Concurrency == 0 && len(p.Windows) == 0 && len(p.Soft) == 0 {
		return nameOff
	}
	var b strings.Builder
	if p.Concurrency != 0 {
		b.WriteString("concurrency=")
		b.WriteString(strconv.Itoa(p.Concurrency))
	}
	for _, w := range p.Windows {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(w.String())
	}
	for _, s := range p.Soft {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.String())
	}
	return b.String()
}

func presetNamed(name string) Policy {
	switch name {
	case nameAdmin:
		return adminPolicy()
	case nameQuery:
		return queryPolicy()
	}
	return offPolicy()
}

// equal reports whether p and q are identical, Name included.
func (p Policy) equal(q Policy) bool {
	if p.Name != q.Name || p.Concurrency != q.Concurrency ||
		len(p.Windows) != len(q.Windows) || len(p.Soft) != len(q.Soft) {
		return false
	}
	for i := range p.Windows {
		if p.Windows[i] != q.Windows[i] {
			return false
		}
	}
	for i := range p.Soft {
		if p.Soft[i] != q.Soft[i] {
			return false
		}
	}
	return true
}

// IsOff reports whether p limits clients in no way: no concurrency cap and no
// hard windows. (Soft limits only concern servers.)
func (p Policy) IsOff() bool {
	return p.Concurrency == 0 && len(p.Windows) == 0
}

// ClientPart returns the part of p a client limiter obeys, in one form whatever p's name,
// soft limits or order of windows: its concurrency cap and its hard windows, sorted by
// period, then limit. Policies with equal ClientParts limit clients alike: Shared gives
// them one limiter, and package redislimit one state in Redis.
func (p Policy) ClientPart() Policy {
	ws := slices.Clone(p.Windows)
	slices.SortFunc(ws, func(a, b Window) int {
		if c := cmp.Compare(a.Period, b.Period); c != 0 {
			return c
		}
		return cmp.Compare(a.Limit, b.Limit)
	})
	return Policy{Name: nameCustom, Concurrency: p.Concurrency, Windows: ws}
}

// Scale returns a copy of p running in compressed time: every Period and
// Delay is divided by factor (e.g. 30 turns one minute into two seconds, for
// demos and tests). Scaled durations are rounded to the nanosecond, at least
// 1ns and at most the largest time.Duration. Limits and Concurrency are
// unchanged. The Name becomes "custom" unless factor is 1 or p has no
// durations to scale (an "off" policy stays "off"). A factor that is not a
// positive finite number returns an unchanged copy of p.
func (p Policy) Scale(factor float64) Policy {
	q := Policy{Name: p.Name, Concurrency: p.Concurrency}
	if len(p.Windows) > 0 {
		q.Windows = append([]Window(nil), p.Windows...)
	}
	if len(p.Soft) > 0 {
		q.Soft = append([]Soft(nil), p.Soft...)
	}
	if factor == 1 || !(factor > 0) || math.IsInf(factor, 0) {
		return q
	}
	for i := range q.Windows {
		q.Windows[i].Period = scaleDuration(q.Windows[i].Period, factor)
	}
	for i := range q.Soft {
		q.Soft[i].Period = scaleDuration(q.Soft[i].Period, factor)
		q.Soft[i].Delay = scaleDuration(q.Soft[i].Delay, factor)
	}
	if len(q.Windows) > 0 || len(q.Soft) > 0 {
		q.Name = nameCustom
	}
	return q
}

func scaleDuration(d time.Duration, factor float64) time.Duration {
	if d <= 0 {
		return d // invalid already; leave it for Validate to report
	}
	f := math.Round(float64(d) / factor)
	switch {
	case f < 1:
		return 1
	case f >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(f)
}

// MinInterval is the steady-state spacing between calls that the tightest
// hard window implies: the maximum over windows of Period/Limit, rounded up to
// the nanosecond. It is 0 when p has no windows.
func (p Policy) MinInterval() time.Duration {
	var m time.Duration
	for _, w := range p.Windows {
		if w.Limit <= 0 || w.Period <= 0 {
			continue
		}
		per := int64(w.Period) / int64(w.Limit)
		if int64(w.Period)%int64(w.Limit) != 0 {
			per++
		}
		if d := time.Duration(per); d > m {
			m = d
		}
	}
	return m
}

// Validate reports whether p is usable: Concurrency must not be negative, and
// every window and soft limit needs a positive Limit, Period (and Delay). The
// Name is not checked (it is a label).
func (p Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("ratelimit: invalid policy %q: %s", p.Name, fmt.Sprintf(format, args...))
	}
	if p.Concurrency < 0 {
		return bad("concurrency must not be negative, got %d", p.Concurrency)
	}
	for i, w := range p.Windows {
		if w.Limit <= 0 {
			return bad("window %d (%s): limit must be positive", i+1, w)
		}
		if w.Period <= 0 {
			return bad("window %d (%s): period must be positive", i+1, w)
		}
	}
	for i, s := range p.Soft {
		if s.Limit <= 0 {
			return bad("soft limit %d (%s): limit must be positive", i+1, s)
		}
		if s.Period <= 0 {
			return bad("soft limit %d (%s): period must be positive", i+1, s)
		}
		if s.Delay <= 0 {
			return bad("soft limit %d (%s): delay must be positive", i+1, s)
		}
	}
	return nil
}
