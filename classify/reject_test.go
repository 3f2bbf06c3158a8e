package classify

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rejectRows reads the "row" of every line of a JSON-lines reject file.
func rejectRows(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var r struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
			Row    string `json:"row"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("reject line %q: %v", l, err)
		}
		rows = append(rows, r.Row)
	}
	return rows
}

// TestJSONLRejectRoundTrip: the reject file of a JSON-lines plan is itself a plan, as the
// README promises. As it is, its rows are refused for the same reasons as before; once
// its rows are fixed, it classifies them; and the reject file of a reject file holds the
// original rows, not rows wrapped twice.
func TestJSONLRejectRoundTrip(t *testing.T) {
	dir := t.TempDir()
	plan := strings.Join([]string{
		`{"interface_id":"1","connectivity_type":"transit","provider":"Acme"}`,
		`{"interface_id":"2","connectivity_type":"bogus","provider":"Acme"}`, // 2
		`not json`, // 3
		`{"interface_id":"3","connectivity_type":"ix","provider":"B` + "\xe9" + `AD"}`, // 4
		`{"interface_id":"4","interface_id":"5","connectivity_type":"ix"}`,             // 5
		`{"interface_id":"6","connectivity_type":"ix","provider":"say \"hi\"\u202e"}`,  // 6
		`{"interface_id":"7","connectivity_type":"ix","network_boundary":"outside"}`,   // 7
	}, "\n") + "\n"
	path := filepath.Join(dir, "plan.jsonl")
	os.WriteFile(path, []byte(plan), 0o644)
	rej := filepath.Join(dir, "plan.rejected")
	p := mustLoad(t, path, Options{SkipInvalid: true, RejectFile: rej})
	if p.Interfaces != 1 || p.Rejected != 6 {
		t.Fatalf("%d interfaces, %d rejected", p.Interfaces, p.Rejected)
	}
	first := p.Errors

	// As it is, the reject file is a plan whose rows are bad for the same reasons.
	_, err := Load(context.Background(), rej, Options{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Total != 6 {
		t.Fatalf("the reject file as a plan: %v", err)
	}
	for i, e := range pe.Errors {
		reason := first[i].Reason
		if first[i].Line == 4 {
			// JSON has no way to write bytes that are not UTF-8: the reject file
			// holds U+FFFD in their place, and says so.
			reason = "U+FFFD"
		}
		if e.Line != i+1 || !strings.Contains(e.Reason, reason) {
			t.Errorf("reject line %d: %q; the plan's line %d said %q", e.Line, e.Reason, first[i].Line, first[i].Reason)
		}
	}

	// The reject file of the reject file holds the same rows, not wrapped again.
	rej2 := filepath.Join(dir, "plan.rejected.rejected")
	mustLoad(t, rej, Options{SkipInvalid: true, RejectFile: rej2})
	if a, b := rejectRows(t, rej), rejectRows(t, rej2); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("rows changed in the second reject file:\n%q\n%q", a, b)
	}

	// Fixed, it classifies its rows.
	data, _ := os.ReadFile(rej)
	fixed := string(data)
	for _, r := range [][2]string{
		{`bogus`, `ix`},
		{`not json`, `{\"interface_id\":\"8\",\"connectivity_type\":\"ix\"}`},
		{`B\ufffdAD`, `BÉAD`},
		{`\"interface_id\":\"4\",\"interface_id\":\"5\"`, `\"interface_id\":\"4\"`},
		{`\\u202e`, ``},
		{`outside`, `external`},
	} {
		if !strings.Contains(fixed, r[0]) {
			t.Fatalf("the reject file lacks %s:\n%s", r[0], fixed)
		}
		fixed = strings.ReplaceAll(fixed, r[0], r[1])
	}
	fp := writePlan(t, "fixed.jsonl", fixed)
	got := planned(t, mustLoad(t, fp, Options{}))
	if len(got) != 6 || got["3"].Provider != "BÉAD" || got["6"].Provider != `say "hi"` || got["7"].NetworkBoundary != external {
		t.Errorf("the fixed reject file classifies %v", got)
	}
}

// TestJSONLRejectRecordKeys: a reject record holds its row and nothing of a plan row
// besides; "line" and "reason" are ignored in any row, but must have the types the reject
// writer gives them.
func TestJSONLRejectRecordKeys(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		"row and plan keys": {`{"row":"{\"interface_id\":\"1\",\"connectivity_type\":\"ix\"}","provider":"A"}`, "has no other"},
		"row in a row":      {`{"row":"{\"row\":\"{}\"}"}`, "row: a reject record"},
		"row not a string":  {`{"row":{"interface_id":"1"}}`, "row must be a string"},
		"row empty":         {`{"line":3,"reason":"x","row":""}`, "row is empty"},
		"row bad":           {`{"line":3,"reason":"x","row":"{\"interface_id\":\"1\",\"connectivity_type\":\"nope\"}"}`, `unknown connectivity_type "nope"`},
		"line not a number": {`{"interface_id":"1","connectivity_type":"ix","line":"x"}`, "line must be"},
		"reason not text":   {`{"interface_id":"1","connectivity_type":"ix","reason":7}`, "reason must be a string"},
		"row twice":         {`{"row":"{}","row":"{}"}`, `key "row" appears twice`},
	} {
		t.Run(name, func(t *testing.T) {
			wantRowError(t, "plan.jsonl", `{"interface_id":"9","connectivity_type":"ix"}`+"\n"+tc.line+"\n", 2, tc.want)
		})
	}
	p := mustLoad(t, writePlan(t, "ok.jsonl", `{"interface_id":"1","connectivity_type":"ix","line":4,"reason":"line 4: fixed"}`+"\n"+
		`{"line":5,"reason":"x","row":" {\"interface_id\":2,\"connectivity_type\":\"transit\"} "}`+"\n"), Options{})
	if got := planned(t, p); len(got) != 2 || got["2"].ConnectivityType != transit {
		t.Errorf("got %v", got)
	}
}
