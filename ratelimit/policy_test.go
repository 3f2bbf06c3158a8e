package ratelimit

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseGood(t *testing.T) {
	tests := []struct {
		in   string
		want Policy
		str  string
	}{
		{"off", Off, "off"},
		{"  OFF \t", Off, "off"},
		{"admin", Admin, "admin"},
		{"Admin", Admin, "admin"},
		{" query\n", Query, "query"},
		{"QUERY", Query, "query"},
		{"concurrency=1,60/2s,3750/2m,soft=20/2s:50ms", Policy{
			Name: "custom", Concurrency: 1,
			Windows: []Window{{60, 2 * time.Second}, {3750, 2 * time.Minute}},
			Soft:    []Soft{{20, 2 * time.Second, 50 * time.Millisecond}},
		}, "concurrency=1,60/2s,3750/2m,soft=20/2s:50ms"},
		{"60/m", Policy{Name: "custom", Windows: []Window{{60, time.Minute}}}, "60/1m"},
		{"5/s,100/h", Policy{Name: "custom", Windows: []Window{{5, time.Second}, {100, time.Hour}}}, "5/1s,100/1h"},
		{"soft=3/1m:1s, 10/90s , Concurrency = 4", Policy{
			Name: "custom", Concurrency: 4,
			Windows: []Window{{10, 90 * time.Second}},
			Soft:    []Soft{{3, time.Minute, time.Second}},
		}, "concurrency=4,10/1m30s,soft=3/1m:1s"},
		{"concurrency=2", Policy{Name: "custom", Concurrency: 2}, "concurrency=2"},
		{"soft=1/s:1.5s,soft=2/h:1ms", Policy{Name: "custom", Soft: []Soft{{1, time.Second, 1500 * time.Millisecond}, {2, time.Hour, time.Millisecond}}}, "soft=1/1s:1.5s,soft=2/1h:1ms"},
		{"1/1h0m0.5s", Policy{Name: "custom", Windows: []Window{{1, time.Hour + 500*time.Millisecond}}}, "1/1h0m0.5s"},
		{"7/1.5µs", Policy{Name: "custom", Windows: []Window{{7, 1500}}}, "7/1.5µs"},
		{"concurrency=1,60/1m,3750/1h,soft=20/1m:1.5s", Policy{ // equal to Admin but custom
			Name: "custom", Concurrency: 1,
			Windows: []Window{{60, time.Minute}, {3750, time.Hour}},
			Soft:    []Soft{{20, time.Minute, 1500 * time.Millisecond}},
		}, "concurrency=1,60/1m,3750/1h,soft=20/1m:1.5s"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !got.equal(tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		again, err := Parse(got.String())
		if err != nil || !again.equal(got) {
			t.Errorf("round trip of %q: %#v, %v", tt.in, again, err)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("Parse(%q).Validate(): %v", tt.in, err)
		}
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		in      string
		element string
		reason  string // substring of the reason
	}{
		{"", "", "empty policy"},
		{"   ", "", "empty policy"},
		{"fast", "fast", `missing "/"`},
		{"60/1m,", "", "empty element"},
		{",60/1m", "", "empty element"},
		{"60/1m,,1/s", "", "empty element"},
		{"0/1m", "0/1m", "limit must be positive"},
		{"-5/1m", "-5/1m", "limit must be positive"},
		{"x/1m", "x/1m", `limit "x" is not an integer`},
		{"99999999999999999999/1m", "99999999999999999999/1m", "out of range"},
		{"60/0s", "60/0s", "period must be positive"},
		{"60/-1m", "60/-1m", "period must be positive"},
		{"60/", "60/", "missing period"},
		{"/1m", "/1m", "missing limit"},
		{"60/1d", "60/1d", "not a Go duration"},
		{"60/minute", "60/minute", "not a Go duration"},
		{"concurrency=0", "concurrency=0", "concurrency must be positive"},
		{"concurrency=-1", "concurrency=-1", "concurrency must be positive"},
		{"concurrency=", "concurrency=", "missing concurrency"},
		{"concurrency=two", "concurrency=two", "not an integer"},
		{"concurrency=1,60/1m,concurrency=2", "concurrency=2", "duplicate concurrency"},
		{"soft=20/1m", "soft=20/1m", `missing ":DELAY"`},
		{"soft=20/1m:0s", "soft=20/1m:0s", "delay must be positive"},
		{"soft=0/1m:1s", "soft=0/1m:1s", "limit must be positive"},
		{"soft=20:1s", "soft=20:1s", `missing "/"`},
		{"soft=20/1m:later", "soft=20/1m:later", "not a Go duration"},
		{"burst=5", "burst=5", `unknown key "burst"`},
		{"admin,60/1m", "admin", `missing "/"`},
		{"off,concurrency=1", "off", `missing "/"`},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tt.in, p)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error %T is not a *ParseError", tt.in, err)
			continue
		}
		if pe.Input != tt.in || pe.Element != tt.element || !strings.Contains(pe.Reason, tt.reason) {
			t.Errorf("Parse(%q) = %+v, want element %q and reason containing %q", tt.in, pe, tt.element, tt.reason)
		}
		if !strings.Contains(err.Error(), "expected") {
			t.Errorf("Parse(%q) error %q does not say what is expected", tt.in, err)
		}
		if tt.element != "" && !strings.Contains(err.Error(), tt.element) {
			t.Errorf("Parse(%q) error %q does not name the element", tt.in, err)
		}
	}
}

func TestPresets(t *testing.T) {
	if !Off.IsOff() || Off.String() != "off" || Off.MinInterval() != 0 || Off.Validate() != nil {
		t.Errorf("Off = %#v", Off)
	}
	if got := Admin.String(); got != "admin" {
		t.Errorf("Admin.String() = %q", got)
	}
	if got := Query.String(); got != "query" {
		t.Errorf("Query.String() = %q", got)
	}
	if Admin.Concurrency != 1 || Admin.Windows[0] != (Window{60, time.Minute}) || Admin.Windows[1] != (Window{3750, time.Hour}) ||
		Admin.Soft[0] != (Soft{20, time.Minute, 1500 * time.Millisecond}) {
		t.Errorf("Admin = %#v", Admin)
	}
	if Query.Concurrency != 4 || Query.Windows[0] != (Window{100, time.Minute}) || Query.Windows[1] != (Window{1500, time.Hour}) ||
		Query.Soft[0] != (Soft{30, time.Minute, time.Second}) {
		t.Errorf("Query = %#v", Query)
	}
	if Admin.IsOff() || Query.IsOff() {
		t.Error("presets are off")
	}
	if err := Admin.Validate(); err != nil {
		t.Error(err)
	}
	if err := Query.Validate(); err != nil {
		t.Error(err)
	}
	// A modified preset no longer prints as the preset.
	p := Admin.Scale(1)
	p.Concurrency = 2
	if got := p.String(); got != "concurrency=2,60/1m,3750/1h,soft=20/1m:1.5s" {
		t.Errorf("modified admin prints %q", got)
	}
	// Parse returns fresh slices: changing them leaves the presets alone.
	q, _ := Parse("query")
	q.Windows[0].Limit = 1
	if Query.Windows[0].Limit != 100 {
		t.Error("Parse shares the preset's slices")
	}
}

func TestScale(t *testing.T) {
	p := Admin.Scale(30)
	want := Policy{
		Name: "custom", Concurrency: 1,
		Windows: []Window{{60, 2 * time.Second}, {3750, 2 * time.Minute}},
		Soft:    []Soft{{20, 2 * time.Second, 50 * time.Millisecond}},
	}
	if !p.equal(want) {
		t.Errorf("Admin.Scale(30) = %#v", p)
	}
	if p.String() != "concurrency=1,60/2s,3750/2m,soft=20/2s:50ms" {
		t.Errorf("scaled String() = %q", p.String())
	}
	if Admin.Windows[0].Period != time.Minute {
		t.Error("Scale modified its receiver")
	}
	if s := Query.Scale(1); !s.equal(Query) || s.String() != "query" {
		t.Errorf("Query.Scale(1) = %#v", s)
	}
	if s := Off.Scale(30); !s.equal(Off) {
		t.Errorf("Off.Scale(30) = %#v", s)
	}
	for _, f := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if s := Query.Scale(f); !s.equal(Query) {
			t.Errorf("Query.Scale(%v) = %#v", f, s)
		}
	}
	tiny := Policy{Windows: []Window{{1, 3}}}.Scale(1e9)
	if tiny.Windows[0].Period != 1 || tiny.Validate() != nil {
		t.Errorf("tiny scale = %#v", tiny)
	}
	huge := Policy{Windows: []Window{{1, time.Hour}}}.Scale(1e-12)
	if huge.Windows[0].Period != math.MaxInt64 {
		t.Errorf("huge scale = %#v", huge)
	}
	if half := Query.Scale(0.5); half.Windows[1].Period != 2*time.Hour || half.Soft[0].Delay != 2*time.Second {
		t.Errorf("Query.Scale(0.5) = %#v", half)
	}
}

func TestMinInterval(t *testing.T) {
	tests := []struct {
		p    Policy
		want time.Duration
	}{
		{Off, 0},
		{Policy{Concurrency: 3}, 0},
		{Admin, time.Second},             // 60/1m: 1s; 3750/1h: 960ms
		{Query, 2400 * time.Millisecond}, // 100/1m: 600ms; 1500/1h: 2.4s
		{Policy{Windows: []Window{{3, 10}}}, 4},
	}
	for _, tt := range tests {
		if got := tt.p.MinInterval(); got != tt.want {
			t.Errorf("%v.MinInterval() = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Policy{
		{Concurrency: -1},
		{Windows: []Window{{0, time.Second}}},
		{Windows: []Window{{1, 0}}},
		{Windows: []Window{{1, time.Second}, {1, -time.Second}}},
		{Soft: []Soft{{0, time.Second, time.Second}}},
		{Soft: []Soft{{1, 0, time.Second}}},
		{Soft: []Soft{{1, time.Second, 0}}},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%#v.Validate() = nil", p)
		}
		_ = p.String() // must not panic
	}
	good := []Policy{{}, {Concurrency: 5}, {Name: "whatever", Windows: []Window{{1, 1}}}}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("%#v.Validate() = %v", p, err)
		}
	}
}

func TestIsOff(t *testing.T) {
	if !(Policy{}).IsOff() || !(Policy{Soft: []Soft{{1, time.Second, time.Second}}}).IsOff() {
		t.Error("policies without client limits are not off")
	}
	if (Policy{Concurrency: 1}).IsOff() || (Policy{Windows: []Window{{1, time.Second}}}).IsOff() {
		t.Error("limited policies are off")
	}
	if got := (Policy{Name: "custom"}).String(); got != "off" {
		t.Errorf("empty policy prints %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"off", "admin", "query", " Query ", "concurrency=1,60/2s,3750/2m,soft=20/2s:50ms",
		"60/m", "soft=3/1m:1s, 10/90s , Concurrency = 4", "1/1h0m0.5s", "", ",", "0/1m",
		"concurrency=1,concurrency=2", "7/1.5µs", "9223372036854775807/2562047h47m16.854775807s",
		"soft=1/1ns:1ns", "1/-0s", "1/+1s", "+3/1s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != s {
				t.Fatalf("Parse(%q) error %#v", s, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse(%q) = %#v, invalid: %v", s, p, err)
		}
		str := p.String()
		q, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, str, err)
		}
		if !q.equal(p) {
			t.Fatalf("Parse(%q) = %#v; re-parsed %q = %#v", s, p, str, q)
		}
		if q.String() != str {
			t.Fatalf("String not stable: %q then %q", str, q.String())
		}
		_ = p.MinInterval()
		_ = p.Scale(30).Validate()
	})
}

func TestClientPart(t *testing.T) {
	mixed := mustParse(t, "3750/1h,soft=20/1m:1.5s,concurrency=1,60/1m")
	if got, want := mixed.ClientPart().String(), "concurrency=1,60/1m,3750/1h"; got != want {
		t.Fatalf("ClientPart = %q, want %q", got, want)
	}
	if a, b := Admin.ClientPart(), mixed.ClientPart(); !a.equal(b) {
		t.Fatalf("admin %v and its custom spelling %v differ", a, b)
	}
	if mixed.Windows[0].Period != time.Hour {
		t.Fatal("ClientPart reordered the policy's own windows")
	}
}
