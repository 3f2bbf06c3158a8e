package classify

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	ifacev1 "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
)

func writePlan(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t testing.TB, path string, opts Options) *Plan {
	t.Helper()
	p, err := Load(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// allBatches collects the batches of p.
func allBatches(t testing.TB, p *Plan) []Batch {
	t.Helper()
	var out []Batch
	if err := p.Batches(context.Background(), func(b Batch) error {
		out = append(out, b)
		return nil
	}); err != nil {
		t.Fatalf("Batches: %v", err)
	}
	return out
}

// rowsOf maps every id of the batches to its classification, failing on repeats.
func rowsOf(t testing.TB, bs []Batch) map[string]Classification {
	t.Helper()
	m := map[string]Classification{}
	for _, b := range bs {
		for _, id := range b.IDs {
			if _, dup := m[id]; dup {
				t.Fatalf("id %s sent twice", id)
			}
			m[id] = b.Classification
		}
	}
	return m
}

var (
	transit  = ifacev1.ConnectivityType_CONNECTIVITY_TYPE_TRANSIT
	ix       = ifacev1.ConnectivityType_CONNECTIVITY_TYPE_IX
	paidPNI  = ifacev1.ConnectivityType_CONNECTIVITY_TYPE_PAID_PNI
	unspecCT = ifacev1.ConnectivityType_CONNECTIVITY_TYPE_UNSPECIFIED
	external = ifacev1.NetworkBoundary_NETWORK_BOUNDARY_EXTERNAL
	internal = ifacev1.NetworkBoundary_NETWORK_BOUNDARY_INTERNAL
	unspecNB = ifacev1.NetworkBoundary_NETWORK_BOUNDARY_UNSPECIFIED
)

func TestLoadCSVSpellings(t *testing.T) {
	plan := "\ufeffProvider, interface_id ,network_boundary,connectivity_type,comment\r\n" +
		"Acme,1,external,transit,a\r\n" +
		"Acme,2,EXTERNAL,TRANSIT,b\r\n" +
		"Acme,3,NETWORK_BOUNDARY_EXTERNAL,CONNECTIVITY_TYPE_TRANSIT,c\r\n" +
		"Acme,4,network_boundary_external,Transit,d\r\n" +
		"\r\n" +
		"  ,5,,paid-pni,e\r\n" +
		"\"Big, Co\",6,internal,\"Paid PNI\",\"multi\nline\"\r\n" +
		"X,7,,unspecified,\r\n"
	p := mustLoad(t, writePlan(t, "plan.csv", plan), Options{})
	if p.Format != FormatCSV {
		t.Errorf("format %v", p.Format)
	}
	if p.Rows != 7 || p.Interfaces != 7 || p.Duplicates != 0 || p.Rejected != 0 {
		t.Errorf("rows %d interfaces %d dups %d rejected %d", p.Rows, p.Interfaces, p.Duplicates, p.Rejected)
	}
	if !reflect.DeepEqual(p.IgnoredColumns, []string{"comment"}) {
		t.Errorf("ignored %q", p.IgnoredColumns)
	}
	got := rowsOf(t, allBatches(t, p))
	want := map[string]Classification{
		"1": {transit, external, "Acme"}, "2": {transit, external, "Acme"}, "3": {transit, external, "Acme"}, "4": {transit, external, "Acme"},
		"5": {paidPNI, unspecNB, ""}, "6": {paidPNI, internal, "Big, Co"}, "7": {unspecCT, unspecNB, "X"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if len(p.Groups) != 4 || p.Requests() != 4 {
		t.Errorf("groups %d requests %d", len(p.Groups), p.Requests())
	}
}

func TestLoadJSONL(t *testing.T) {
	plan := "\n  {\"interface_id\":\"10\",\"connectivity_type\":\"ix\",\"network_boundary\":\"external\",\"provider\":\"DE-CIX\"}\n" +
		"{\"interface_id\":11,\"connectivity_type\":\"CONNECTIVITY_TYPE_IX\",\"network_boundary\":\"EXTERNAL\",\"provider\":\"DE-CIX\"}\r\n" +
		"\n" +
		"{\"Interface_ID\":\"12\",\"connectivity_type\":\"transit\",\"network_boundary\":null}\n" +
		"{\"interface_id\":\"13\",\"connectivity_type\":\"transit\"}" // no final newline
	for _, f := range []Format{FormatAuto, FormatJSONL} {
		p := mustLoad(t, writePlan(t, "plan.jsonl", plan), Options{Format: f})
		if p.Format != FormatJSONL || p.Rows != 4 || p.Interfaces != 4 {
			t.Fatalf("format %v rows %d interfaces %d", p.Format, p.Rows, p.Interfaces)
		}
		got := rowsOf(t, allBatches(t, p))
		want := map[string]Classification{
			"10": {ix, external, "DE-CIX"}, "11": {ix, external, "DE-CIX"},
			"12": {transit, unspecNB, ""}, "13": {transit, unspecNB, ""},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
	}
}

func TestLoadBadCSVRows(t *testing.T) {
	plan := strings.Join([]string{
		"interface_id,connectivity_type,network_boundary,provider", // 1
		"1,transit,external,A", // 2 ok
		",transit,external,A",  // 3 empty id
		"3,trnsit,external,A",  // 4 unknown type
		"4,transit,outside,A",  // 5 unknown boundary
		"5,,external,A",        // 6 empty type
		"6,transit,external",   // 7 field count
		"7 8,transit,,A",       // 8 blank in id
		"1,ix,external,A",      // 9 conflicts with line 2
		"9,transit,\"ext,A",    // 10 bad quote (to the end of the file)
	}, "\n") + "\n"
	_, err := Load(context.Background(), writePlan(t, "bad.csv", plan), Options{})
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("want *PlanError, got %v", err)
	}
	want := []struct {
		line   int
		reason string
	}{
		{2, "classified differently on lines 2 (transit/external/A), 9 (ix/external/A)"},
		{3, "interface_id is empty"},
		{4, `unknown connectivity_type "trnsit"`},
		{5, `unknown network_boundary "outside"`},
		{6, "connectivity_type is empty"},
		{7, "has 3 fields, the header has 4"},
		{8, "contains blanks"},
		{9, "classified differently"},
		{10, "bad CSV"},
	}
	if pe.Total != len(want) || len(pe.Errors) != len(want) {
		t.Fatalf("total %d, listed %d, want %d:\n%v", pe.Total, len(pe.Errors), len(want), err)
	}
	for i, w := range want {
		e := pe.Errors[i]
		if e.Line != w.line || !strings.Contains(e.Reason, w.reason) || !strings.HasSuffix(e.File, "bad.csv") {
			t.Errorf("error %d: %s:%d: %s; want line %d containing %q", i, e.File, e.Line, e.Reason, w.line, w.reason)
		}
	}
	msg := err.Error()
	for _, s := range []string{"9 bad rows, nothing sent", "bad.csv:4: unknown connectivity_type", "connectivity_type is one of: ", "network_boundary is one of: "} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
}

func TestLoadBadJSONRows(t *testing.T) {
	plan := strings.Join([]string{
		`{"interface_id":"1","connectivity_type":"transit"}`, // 1 ok
		`["1","transit"]`, // 2 not an object
		`{"interface_id":"2","connectivity_type":"transit","provder":"x"}`,        // 3 unknown key
		`{"interface_id":2.5,"connectivity_type":"transit"}`,                      // 4 not whole
		`{"interface_id":"3","connectivity_type":7}`,                              // 5 not a string
		`{"interface_id":"4","connectivity_type":"transit"`,                       // 6 truncated
		`{"interface_id":"5","connectivity_type":"transit"} {"x":1}`,              // 7 two objects
		`{"interface_id":"6","connectivity_type":"transit","provider":"a\u0001"}`, // 8 control char
		`{"connectivity_type":"transit"}`,                                         // 9 no id
	}, "\n")
	_, err := Load(context.Background(), writePlan(t, "bad.jsonl", plan), Options{})
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("want *PlanError, got %v", err)
	}
	want := []struct {
		line   int
		reason string
	}{
		{2, "not a JSON object"},
		{3, `unknown key "provder"`},
		{4, "interface_id must be a string or a whole number"},
		{5, "connectivity_type must be a string"},
		{6, "invalid JSON"},
		{7, "text after the JSON object"},
		{8, "control character"},
		{9, "interface_id is empty"},
	}
	if pe.Total != len(want) {
		t.Fatalf("total %d want %d:\n%v", pe.Total, len(want), err)
	}
	for i, w := range want {
		e := pe.Errors[i]
		if e.Line != w.line || !strings.Contains(e.Reason, w.reason) {
			t.Errorf("error %d: line %d %q; want line %d containing %q", i, e.Line, e.Reason, w.line, w.reason)
		}
	}
}

func TestLoadErrorsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for i := range 30 {
		fmt.Fprintf(&b, "%d,nope,,\n", i)
	}
	_, err := Load(context.Background(), writePlan(t, "p.csv", b.String()), Options{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Total != 30 || len(pe.Errors) != DefaultMaxErrors {
		t.Fatalf("got %v", err)
	}
	if pe.Errors[0].Line != 2 || pe.Errors[19].Line != 21 || !strings.Contains(err.Error(), "and 10 more") {
		t.Errorf("unexpected:\n%v", err)
	}
}

func TestLoadHeaderErrors(t *testing.T) {
	for name, tc := range map[string]struct{ plan, want string }{
		"empty":     {"", "the plan is empty"},
		"blank":     {"\n\n\n", "the plan is empty"},
		"missing":   {"interface_id,connectivity_type,provder\n1,transit,x\n", "the header lacks network_boundary, provider"},
		"no header": {"1,transit,external,acme\n", "the header lacks"},
		"twice":     {"interface_id,connectivity_type,network_boundary,provider,Provider\n", `column "provider" appears twice`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(context.Background(), writePlan(t, "p.csv", tc.plan), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "p.csv:") {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Load(context.Background(), filepath.Join(t.TempDir(), "nope.csv"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadDuplicates(t *testing.T) {
	plan := "interface_id,connectivity_type,network_boundary,provider\n" +
		"1,transit,external,A\n2,transit,external,A\n1,TRANSIT,external, A \n1,transit,external,A\n3,ix,,\n"
	p := mustLoad(t, writePlan(t, "p.csv", plan), Options{})
	if p.Interfaces != 3 || p.Duplicates != 2 || p.Rows != 5 || p.Rejected != 0 {
		t.Fatalf("interfaces %d dups %d rows %d rejected %d", p.Interfaces, p.Duplicates, p.Rows, p.Rejected)
	}
	got := rowsOf(t, allBatches(t, p))
	if len(got) != 3 {
		t.Errorf("got %v", got)
	}
}

// TestLoadHashCollisions forces every id to share a hash, so the exact comparison of
// resolve decides alone.
func TestLoadHashCollisions(t *testing.T) {
	old := hashID
	hashID = func(_ maphash.Seed, id string) uint64 { return uint64(len(id)) }
	t.Cleanup(func() { hashID = old })

	plan := "interface_id,connectivity_type,network_boundary,provider\n" +
		"1,transit,external,A\n" + // 2
		"2,transit,external,A\n" + // 3 collides with 1
		"3,ix,,\n" + // 4
		"1,transit,external,A\n" + // 5 dup of 1
		"4,ix,,B\n" + // 6
		"4,transit,,B\n" + // 7 conflicts with 6
		"55,ix,,\n" + // 8
		"66,ix,,\n" // 9
	_, err := Load(context.Background(), writePlan(t, "p.csv", plan), Options{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Total != 2 || pe.Errors[0].Line != 6 || pe.Errors[1].Line != 7 {
		t.Fatalf("got %v", err)
	}
	p := mustLoad(t, writePlan(t, "p.csv", plan), Options{SkipInvalid: true})
	if p.Interfaces != 5 || p.Duplicates != 1 || p.Rejected != 2 {
		t.Fatalf("interfaces %d dups %d rejected %d", p.Interfaces, p.Duplicates, p.Rejected)
	}
	got := rowsOf(t, allBatches(t, p))
	want := map[string]Classification{"1": {transit, external, "A"}, "2": {transit, external, "A"}, "3": {ix, unspecNB, ""}, "55": {ix, unspecNB, ""}, "66": {ix, unspecNB, ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestPlanBatching(t *testing.T) {
	var b strings.Builder
	b.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	sizes := map[string]int{"transit": 2500, "ix": 1000, "paid_pni": 1, "free_pni": 999}
	// Interleave the groups so that batches fill in a mixed order.
	n := 0
	for i := 0; i < 2500; i++ {
		for _, ct := range []string{"transit", "ix", "paid_pni", "free_pni"} {
			if i < sizes[ct] {
				fmt.Fprintf(&b, "%d,%s,external,\n", n+1, ct)
				n++
			}
		}
	}
	path := writePlan(t, "p.csv", b.String())
	p := mustLoad(t, path, Options{BatchSize: 1000})
	if p.Requests() != 3+1+1+1 || p.Interfaces != n || len(p.Groups) != 4 {
		t.Fatalf("requests %d interfaces %d groups %d", p.Requests(), p.Interfaces, len(p.Groups))
	}
	bs := allBatches(t, p)
	if len(bs) != p.Requests() {
		t.Fatalf("%d batches, want %d", len(bs), p.Requests())
	}
	rowsOf(t, bs)
	seqs := map[int][]int{}
	for _, b := range bs {
		if len(b.IDs) == 0 || len(b.IDs) > 1000 {
			t.Errorf("batch %d/%d has %d ids", b.Group, b.Seq, len(b.IDs))
		}
		if len(b.IDs) != batchLen(p, b.Group, b.Seq) {
			t.Errorf("batch %d/%d has %d ids, want %d", b.Group, b.Seq, len(b.IDs), batchLen(p, b.Group, b.Seq))
		}
		seqs[b.Group] = append(seqs[b.Group], b.Seq)
	}
	for g, s := range seqs {
		if !slices.Equal(s, []int{0, 1, 2}[:len(s)]) {
			t.Errorf("group %d sequences %v", g, s)
		}
	}
	// Deterministic: a second Load of the same file gives the same batches.
	p2 := mustLoad(t, path, Options{BatchSize: 1000})
	if !reflect.DeepEqual(bs, allBatches(t, p2)) {
		t.Error("batches differ between two loads of the same plan")
	}
	// Batch size 1: one request per interface.
	if p3 := mustLoad(t, path, Options{BatchSize: 1}); p3.Requests() != n {
		t.Errorf("batch size 1: %d requests", p3.Requests())
	}
}

func TestLoadReaderSpools(t *testing.T) {
	plan := "interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n"
	p, err := LoadReader(context.Background(), "-", strings.NewReader(plan), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "stdin" || p.Interfaces != 1 || p.Path != "" {
		t.Errorf("name %q interfaces %d path %q", p.Name, p.Interfaces, p.Path)
	}
	rowsOf(t, allBatches(t, p))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// A bad plan from stdin reports "stdin" and leaves no spool behind.
	_, err = LoadReader(context.Background(), "-", strings.NewReader("interface_id,connectivity_type,network_boundary,provider\n1,x,,\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), "stdin:2:") {
		t.Errorf("got %v", err)
	}
}

func TestPlanChanged(t *testing.T) {
	path := writePlan(t, "p.csv", "interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n2,transit,,\n")
	p := mustLoad(t, path, Options{})
	if err := os.WriteFile(path, []byte("interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n3,transit,,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := p.Batches(context.Background(), func(Batch) error { return nil })
	if !errors.Is(err, ErrPlanChanged) {
		t.Errorf("got %v", err)
	}
}

func TestRejectFile(t *testing.T) {
	dir := t.TempDir()
	plan := "provider,interface_id,connectivity_type,network_boundary\nA,1,transit,\nB,2,bogus,\n\"C,D\",3,,\n"
	path := filepath.Join(dir, "p.csv")
	os.WriteFile(path, []byte(plan), 0o644)
	rej := filepath.Join(dir, "p.rejected.csv")
	p := mustLoad(t, path, Options{SkipInvalid: true, RejectFile: rej})
	if p.Interfaces != 1 || p.Rejected != 2 || len(p.Errors) != 2 {
		t.Fatalf("interfaces %d rejected %d", p.Interfaces, p.Rejected)
	}
	got, _ := os.ReadFile(rej)
	want := "provider,interface_id,connectivity_type,network_boundary,reason\n" +
		"B,2,bogus,,\"line 3: unknown connectivity_type \"\"bogus\"\"\"\n" +
		"\"C,D\",3,,,\"line 4: connectivity_type is empty (write \"\"unspecified\"\" to clear it on purpose)\"\n"
	if string(got) != want {
		t.Errorf("reject file:\n%s\nwant:\n%s", got, want)
	}
	// The reject file, once corrected, is a plan (its reason column is ignored).
	fixed := strings.ReplaceAll(strings.ReplaceAll(string(got), "bogus", "ix"), "C,D\",3,,", "C,D\",3,ix,")
	p2 := mustLoad(t, writePlan(t, "fixed.csv", fixed), Options{})
	if p2.Interfaces != 2 || !slices.Equal(p2.IgnoredColumns, []string{"reason"}) {
		t.Errorf("fixed: interfaces %d ignored %v", p2.Interfaces, p2.IgnoredColumns)
	}

	jrej := filepath.Join(dir, "p.rejected.jsonl")
	mustLoad(t, writePlan(t, "p.jsonl", "{\"interface_id\":\"1\",\"connectivity_type\":\"transit\"}\n{\"interface_id\":\"2\",\"connectivity_type\":\"x\"}\nnot json\n"), Options{SkipInvalid: true, RejectFile: jrej})
	got, _ = os.ReadFile(jrej)
	want = `{"line":2,"reason":"line 2: unknown connectivity_type \"x\"","row":"{\"interface_id\":\"2\",\"connectivity_type\":\"x\"}"}` + "\n" +
		`{"line":3,"reason":"line 3: not a JSON object","row":"not json"}` + "\n"
	if string(got) != want {
		t.Errorf("jsonl reject file:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatAuto, "auto": FormatAuto, "CSV": FormatCSV, "jsonl": FormatJSONL, "ndjson": FormatJSONL} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

// TestLoadNonNumericIDs: Kentik's interface ids are decimal numbers. A row whose id is not
// one is a bad row: sent, it would make the server refuse its whole batch (every other id
// in it included), and "007" next to "7" would hide two classifications of one interface.
func TestLoadNonNumericIDs(t *testing.T) {
	plan := "interface_id,connectivity_type,network_boundary,provider\n" +
		"1000001,transit,,\n" + // 2 ok
		"eth0,transit,,\n" + // 3
		"007,transit,,\n" + // 4 leading zero
		"0,transit,,\n" + // 5
		"-5,transit,,\n" + // 6
		"1e6,transit,,\n" // 7
	_, err := Load(context.Background(), writePlan(t, "ids.csv", plan), Options{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Total != 5 {
		t.Fatalf("want a PlanError with 5 bad rows, got %v", err)
	}
	for i, e := range pe.Errors {
		if e.Line != i+3 || !strings.Contains(e.Reason, "not a Kentik interface id") {
			t.Errorf("error %d: %v", i, e)
		}
	}
	jsonl := `{"interface_id":"12","connectivity_type":"ix"}` + "\n" + `{"interface_id":"012","connectivity_type":"ix"}` + "\n"
	if _, err := Load(context.Background(), writePlan(t, "ids.jsonl", jsonl), Options{}); !errors.As(err, &pe) || pe.Total != 1 || pe.Errors[0].Line != 2 {
		t.Errorf("jsonl: %v", err)
	}
}

// TestLoadUnclosedQuote: a quote left open swallows every line after it into one field.
// That is not one bad row that --skip-invalid may drop: the plan is refused, naming the
// line of the quote, so that the rows it hid are not lost without a word.
func TestLoadUnclosedQuote(t *testing.T) {
	plan := "interface_id,connectivity_type,network_boundary,provider\n" +
		"1,transit,,\n" +
		"2,\"transit,,\n" + // line 3: never closed
		"3,ix,,\n4,ix,,\n"
	path := writePlan(t, "quote.csv", plan)
	for _, skip := range []bool{false, true} {
		_, err := Load(context.Background(), path, Options{SkipInvalid: skip})
		var pe *PlanError
		if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "line 3: a quoted field opened on this line is still open on line 5") {
			t.Errorf("skip-invalid %v: %v", skip, err)
		}
	}
	// A stray quote inside one line stays one bad row.
	p, err := Load(context.Background(), writePlan(t, "bare.csv", "interface_id,connectivity_type,network_boundary,provider\n1,tr\"ansit,,\n2,ix,,\n"), Options{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Rejected != 1 || p.Interfaces != 1 {
		t.Errorf("bare quote: %d rejected, %d interfaces", p.Rejected, p.Interfaces)
	}
}
