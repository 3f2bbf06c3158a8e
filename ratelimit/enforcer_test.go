package ratelimit

import (
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestEnforcerSoftDelay(t *testing.T) {
	e := NewEnforcer(mustParse(t, "5/1s,soft=2/1s:100ms,soft=3/1s:300ms"))
	want := []time.Duration{0, 0, 100 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	for i, w := range want {
		d, done := e.Admit(at(time.Duration(i) * time.Millisecond))
		done()
		if !d.Allowed || d.Delay != w {
			t.Errorf("request %d: %+v, want allowed with delay %v", i+1, d, w)
		}
		if w > 0 && !strings.Contains(d.Reason, "soft limit") {
			t.Errorf("request %d: reason %q", i+1, d.Reason)
		}
	}
	// The soft window rolls: at 1s the first request has left it (1 ms apart: 4 remain).
	if d, done := e.Admit(at(time.Second)); !d.Allowed || d.Delay != 300*time.Millisecond {
		t.Errorf("at 1s: %+v", d)
	} else {
		done()
	}
	// Far later, nothing is delayed.
	if d, done := e.Admit(at(time.Minute)); !d.Allowed || d.Delay != 0 || d.Reason != "" {
		t.Errorf("at 1m: %+v", d)
	} else {
		done()
	}
	if st := e.Stats(); st.Delayed != 4 || st.Admitted != 7 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestEnforcerSoftBoundary(t *testing.T) {
	for _, tt := range []struct {
		third   time.Duration
		delayed bool
	}{{time.Second - 1, true}, {time.Second, false}} {
		e := NewEnforcer(mustParse(t, "soft=2/1s:1s"))
		e.Admit(at(0))
		e.Admit(at(time.Millisecond))
		if d, _ := e.Admit(at(tt.third)); (d.Delay > 0) != tt.delayed {
			t.Errorf("third request at %v: %+v, want delayed=%v", tt.third, d, tt.delayed)
		}
	}
}

func TestEnforcerHardWindow(t *testing.T) {
	e := NewEnforcer(mustParse(t, "3/1s,5/10s"))
	admit := func(d time.Duration) Decision {
		t.Helper()
		dec, done := e.Admit(at(d))
		done()
		return dec
	}
	for _, d := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond} {
		if dec := admit(d); !dec.Allowed {
			t.Fatalf("at %v: %+v", d, dec)
		}
	}
	dec := admit(500 * time.Millisecond)
	if dec.Allowed || dec.RetryAfter != 500*time.Millisecond || dec.Reason != "per-window hard limit 3/1s" {
		t.Errorf("4th request: %+v", dec)
	}
	// Rejected requests do not count: the slot frees when the first admitted one leaves.
	if dec := admit(time.Second - 1); dec.Allowed || dec.RetryAfter != 1 {
		t.Errorf("at 1s-1ns: %+v", dec)
	}
	if dec := admit(time.Second); !dec.Allowed {
		t.Errorf("at 1s: %+v", dec)
	}
	if dec := admit(1100 * time.Millisecond); !dec.Allowed {
		t.Errorf("at 1.1s: %+v", dec)
	}
	// Now the 10s window is full (5 admitted) although the 1s window has room.
	dec = admit(2 * time.Second)
	if dec.Allowed || dec.RetryAfter != 8*time.Second || dec.Reason != "per-window hard limit 5/10s" {
		t.Errorf("6th admitted request: %+v", dec)
	}
	st := e.Stats()
	if st.Admitted != 5 || st.Rejected != 3 || st.RejectedWindow != 3 || st.Exceeded() {
		t.Errorf("stats %+v", st)
	}
	if st.WindowPeak[0] != 3 || st.WindowPeak[1] != 5 {
		t.Errorf("peaks %v", st.WindowPeak)
	}
}

func TestEnforcerPresets(t *testing.T) {
	// Admin: 60 per rolling minute, delays from the 21st.
	e := NewEnforcer(Admin)
	for i := range 60 {
		d, done := e.Admit(at(time.Duration(i) * 100 * time.Millisecond))
		if !d.Allowed {
			t.Fatalf("admin request %d: %+v", i+1, d)
		}
		if (i >= 20) != (d.Delay == 1500*time.Millisecond) {
			t.Fatalf("admin request %d: delay %v", i+1, d.Delay)
		}
		done()
	}
	d, _ := e.Admit(at(10 * time.Second))
	if d.Allowed || d.Reason != "per-window hard limit 60/1m0s" || d.RetryAfter != 50*time.Second {
		t.Errorf("61st admin request: %+v", d)
	}

	// Query: the hour window binds after 1500 requests at the minute limit.
	e = NewEnforcer(Query)
	step := 600 * time.Millisecond // 100 per minute
	for i := range 1500 {
		d, done := e.Admit(at(time.Duration(i) * step))
		if !d.Allowed {
			t.Fatalf("query request %d: %+v", i+1, d)
		}
		done()
	}
	now := 1500 * step // 15 minutes
	d, _ = e.Admit(at(now))
	if d.Allowed || d.Reason != "per-window hard limit 1500/1h0m0s" || d.RetryAfter != time.Hour-now {
		t.Errorf("1501st query request: %+v", d)
	}
	if d, done := e.Admit(at(time.Hour)); !d.Allowed {
		t.Errorf("after an hour: %+v", d)
	} else {
		done()
	}
	if st := e.Stats(); st.Exceeded() || st.WindowPeak[0] != 100 || st.WindowPeak[1] != 1500 {
		t.Errorf("query stats %+v", st)
	}
}

func TestEnforcerConcurrency(t *testing.T) {
	e := NewEnforcer(mustParse(t, "concurrency=2,100/1s"))
	d1, done1 := e.Admit(at(0))
	d2, done2 := e.Admit(at(1))
	if !d1.Allowed || !d2.Allowed {
		t.Fatalf("%+v %+v", d1, d2)
	}
	d3, done3 := e.Admit(at(2))
	if d3.Allowed || !strings.Contains(d3.Reason, "concurrency") || d3.RetryAfter != 0 {
		t.Errorf("3rd concurrent: %+v", d3)
	}
	done3() // no-op for a rejected request
	if st := e.Stats(); st.InFlight != 2 || st.RejectedConcurrency != 1 {
		t.Errorf("stats %+v", st)
	}
	done1()
	done1() // a second done is ignored
	if st := e.Stats(); st.InFlight != 1 {
		t.Errorf("in flight %d after done, want 1", st.InFlight)
	}
	d4, done4 := e.Admit(at(3))
	if !d4.Allowed {
		t.Errorf("after done: %+v", d4)
	}
	if d, _ := e.Admit(at(4)); d.Allowed {
		t.Error("a double done freed a slot")
	}
	done2()
	done4()
	st := e.Stats()
	if st.InFlight != 0 || st.MaxConcurrent != 2 || st.Admitted != 3 || st.Rejected != 2 || st.Exceeded() {
		t.Errorf("stats %+v", st)
	}
	// Rejected requests were not counted: 97 more fit in the second.
	for i := range 97 {
		d, done := e.Admit(at(time.Duration(10 + i)))
		if !d.Allowed {
			t.Fatalf("request %d: %+v", i, d)
		}
		done()
	}
	if d, _ := e.Admit(at(200)); d.Allowed || d.RetryAfter != time.Second-200 {
		t.Errorf("101st: %+v", d)
	}
}

// Many goroutines hammering the enforcer: it never lets a window or the cap be exceeded.
func TestEnforcerParallel(t *testing.T) {
	e := NewEnforcer(mustParse(t, "concurrency=3,50/10ms"))
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 200 {
				d, done := e.Admit(time.Now())
				if d.Allowed {
					time.Sleep(10 * time.Microsecond)
				}
				done()
			}
		})
	}
	wg.Wait()
	st := e.Stats()
	if st.Exceeded() || st.MaxConcurrent > 3 || st.InFlight != 0 || st.Admitted+st.Rejected != 32*200 || st.Admitted == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestEnforcerEdgeCases(t *testing.T) {
	var nilE *Enforcer
	if d, done := nilE.Admit(t0); !d.Allowed {
		t.Error("nil enforcer rejects")
	} else {
		done()
	}
	_ = nilE.Stats()
	_ = nilE.Policy()

	bad := NewEnforcer(Policy{Concurrency: -1})
	if d, done := bad.Admit(t0); d.Allowed || !strings.Contains(d.Reason, "concurrency") {
		t.Errorf("invalid policy: %+v", d)
	} else {
		done()
	}

	off := NewEnforcer(Off)
	for range 1000 {
		if d, done := off.Admit(t0); !d.Allowed {
			t.Fatal("off rejects")
		} else {
			done()
		}
	}

	// Out-of-order timestamps count as the latest one seen.
	e := NewEnforcer(mustParse(t, "1/1s"))
	e.Admit(at(time.Second))
	if d, _ := e.Admit(at(0)); d.Allowed || d.RetryAfter != time.Second {
		t.Errorf("out of order: %+v", d)
	}
	if d, _ := e.Admit(at(2 * time.Second)); !d.Allowed {
		t.Errorf("after out of order: %+v", d)
	}

	// A margin makes the server stricter.
	m := NewEnforcer(mustParse(t, "1/1s"), WithMargin(100*time.Millisecond))
	m.Admit(t0)
	if d, _ := m.Admit(at(time.Second)); d.Allowed || d.RetryAfter != 100*time.Millisecond {
		t.Errorf("with margin: %+v", d)
	}
	if p := m.Policy(); p.String() != "1/1s" {
		t.Errorf("Policy() = %v", p)
	}
}

func TestEnforcerStatsExceeded(t *testing.T) {
	s := EnforcerStats{WindowPeak: []int{3}, limits: []int{3}}
	if s.Exceeded() {
		t.Error("at the limit is not exceeded")
	}
	s.WindowPeak[0] = 4
	if !s.Exceeded() {
		t.Error("above the limit is exceeded")
	}
	s = EnforcerStats{MaxConcurrent: 2, concurrency: 1}
	if !s.Exceeded() {
		t.Error("concurrency above the cap is exceeded")
	}
}
