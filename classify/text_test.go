package classify

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// badText are field values that must never reach the server, each with what the reason
// must say: bytes that are not UTF-8 (what a Latin-1 spreadsheet export writes, and the
// forms of UTF-8 that the standard forbids) and characters that are invisible or change
// how the text around them is shown.
var badText = []struct {
	name, value, reason string
}{
	{"latin-1", "B\xe9AD", "is not valid UTF-8"},
	{"windows-1252 quote", "\x93Acme\x94", "is not valid UTF-8"},
	{"overlong NUL", "A\xc0\x80B", "is not valid UTF-8"},
	{"overlong slash", "A\xe0\x80\xafB", "is not valid UTF-8"},
	{"UTF-8 encoded surrogate", "A\xed\xa0\x80B", "is not valid UTF-8"},
	{"truncated sequence", "Acme\xe2\x82", "is not valid UTF-8"},
	{"lone continuation byte", "\x80Acme", "is not valid UTF-8"},
	{"beyond U+10FFFF", "A\xf4\x90\x80\x80", "is not valid UTF-8"},
	{"NUL", "Ac\x00me", "control character U+0000"},
	{"escape", "Acme\x1b[31m", "control character U+001B"},
	{"C1 NEL", "Ac\u0085me", "control character U+0085"},
	{"C1 CSI", "Ac\u009bme", "control character U+009B"},
	{"right-to-left override", "Ac\u202eme", "U+202E"},
	{"right-to-left isolate", "\u2067Acme", "U+2067"},
	{"zero-width space", "Ac\u200bme", "U+200B"},
	{"byte order mark inside", "Ac\ufeffme", "U+FEFF"},
	{"soft hyphen", "Ac\u00adme", "U+00AD"},
	{"line separator", "Ac\u2028me", "U+2028"},
	{"paragraph separator", "Ac\u2029me", "U+2029"},
	{"replacement character", "B\ufffdAD", "U+FFFD"},
	{"noncharacter", "Acme\uffff", "U+FFFF"},
}

// csvQuote quotes a CSV field.
func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// jsonQuote writes s as a JSON string, leaving its bytes as they are (invalid UTF-8
// included), escaping only what JSON requires.
func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// wantRowError loads plan and fails unless it is refused with exactly one bad row, on
// line, whose reason contains every one of want.
func wantRowError(t *testing.T, name, plan string, line int, want ...string) {
	t.Helper()
	path := writePlan(t, name, plan)
	_, err := Load(context.Background(), path, Options{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Total != 1 || pe.Errors[0].Line != line {
		t.Fatalf("want one bad row on line %d, got %v", line, err)
	}
	for _, w := range want {
		if !strings.Contains(pe.Errors[0].Reason, w) {
			t.Errorf("reason %q lacks %q", pe.Errors[0].Reason, w)
		}
	}
}

// TestProviderText: a provider with bytes that are not UTF-8, or with control, invisible
// or direction-changing characters, is a bad row in both formats, named by line and
// field, before anything is sent. (Sent, invalid UTF-8 fails client-side when the request
// is marshalled, after the other groups went out, and lands in the failed file as it was,
// failing the same way for ever.)
func TestProviderText(t *testing.T) {
	for _, tc := range badText {
		t.Run(tc.name, func(t *testing.T) {
			csv := "interface_id,connectivity_type,network_boundary,provider\n1,transit,external,Good\n2,transit,external," + csvQuote(tc.value) + "\n"
			wantRowError(t, "plan.csv", csv, 3, "provider", tc.reason)
			jsonl := `{"interface_id":"1","connectivity_type":"transit","provider":"Good"}` + "\n" +
				`{"interface_id":"2","connectivity_type":"transit","provider":` + jsonQuote(tc.value) + "}\n"
			wantRowError(t, "plan.jsonl", jsonl, 2, "provider", tc.reason)
		})
	}
}

// TestOtherFieldsText: bytes that are not UTF-8 are named as such in every field, not as
// an unknown value or an id with odd characters.
func TestOtherFieldsText(t *testing.T) {
	for _, col := range []string{colID, colType, colBoundary} {
		t.Run(col, func(t *testing.T) {
			row := map[string]string{colID: "7", colType: "transit", colBoundary: "external", colProvider: "Acme"}
			row[col] = "tr\xe9nsit"
			csv := "interface_id,connectivity_type,network_boundary,provider\n" +
				row[colID] + "," + row[colType] + "," + row[colBoundary] + "," + row[colProvider] + "\n"
			wantRowError(t, "plan.csv", csv, 2, col+" is not valid UTF-8")
			jsonl := `{"interface_id":` + jsonQuote(row[colID]) + `,"connectivity_type":` + jsonQuote(row[colType]) +
				`,"network_boundary":` + jsonQuote(row[colBoundary]) + `,"provider":"Acme"}` + "\n"
			wantRowError(t, "plan.jsonl", jsonl, 1, col+" is not valid UTF-8")
		})
	}
}

// TestJSONLEscapesAndKeys: JSON escapes that decode to something that cannot be sent are
// refused like the raw characters (encoding/json turns an unpaired surrogate into U+FFFD
// without a word), and bytes that are not UTF-8 outside the values (in a key) refuse the
// line rather than turning into U+FFFD.
func TestJSONLEscapesAndKeys(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		"unpaired surrogate":  {`{"interface_id":"1","connectivity_type":"ix","provider":"A\ud800B"}`, "U+FFFD"},
		"low surrogate first": {`{"interface_id":"1","connectivity_type":"ix","provider":"A\udc00\ud800"}`, "U+FFFD"},
		"escaped NUL":         {`{"interface_id":"1","connectivity_type":"ix","provider":"A\u0000"}`, "control character U+0000"},
		"escaped override":    {`{"interface_id":"1","connectivity_type":"ix","provider":"\u202eAcme"}`, "U+202E"},
		"escaped C1":          {`{"interface_id":"1","connectivity_type":"ix","provider":"\u0090Acme"}`, "control character U+0090"},
		"invalid key":         {`{"interface_id":"1","connectivity_type":"ix","provid` + "\xe9" + `r":"Acme"}`, "not valid UTF-8"},
		"latin-1 id":          {`{"interface_id":"1` + "\xb2" + `","connectivity_type":"ix"}`, "interface_id is not valid UTF-8"},
	} {
		t.Run(name, func(t *testing.T) {
			wantRowError(t, "plan.jsonl", `{"interface_id":"9","connectivity_type":"ix"}`+"\n"+tc.line+"\n", 2, tc.want)
		})
	}
	// A valid surrogate pair, and text in other scripts, are fine.
	p := mustLoad(t, writePlan(t, "ok.jsonl", `{"interface_id":"1","connectivity_type":"ix","provider":"\ud83d\ude80 T\u00e9l\u00e9com"}`+"\n"+
		`{"interface_id":"2","connectivity_type":"ix","provider":"株式会社 Ünïon"}`+"\n"), Options{})
	got := planned(t, p)
	if got["1"].Provider != "🚀 Télécom" || got["2"].Provider != "株式会社 Ünïon" {
		t.Errorf("providers %q", got)
	}
	p = mustLoad(t, writePlan(t, "ok.csv", "interface_id,connectivity_type,network_boundary,provider\n1,ix,,Télécom Ünïon\n2,ix,,株式会社\n"), Options{})
	if got := planned(t, p); got["1"].Provider != "Télécom Ünïon" || got["2"].Provider != "株式会社" {
		t.Errorf("providers %q", got)
	}
}

// TestJSONLKeys: a key given twice in one object is refused, naming it, whatever its
// values and however its case differs (encoding/json keeps the last value without a
// word); keys match exactly or in another ASCII case, never by Unicode case folding (a
// Kelvin sign K in networK_boundary is not a K).
func TestJSONLKeys(t *testing.T) {
	for name, tc := range map[string]struct{ line, want string }{
		"same key twice":       {`{"interface_id":"1000101","interface_id":"1000102","connectivity_type":"ix"}`, `key "interface_id" appears twice`},
		"same value twice":     {`{"interface_id":"1","connectivity_type":"ix","connectivity_type":"ix"}`, `key "connectivity_type" appears twice`},
		"twice, other case":    {`{"interface_id":"1","connectivity_type":"ix","Provider":"A","PROVIDER":"B"}`, `key "provider" appears twice`},
		"twice, once null":     {`{"interface_id":"1","connectivity_type":"ix","network_boundary":null,"network_boundary":"external"}`, `key "network_boundary" appears twice`},
		"kelvin sign":          {`{"interface_id":"1","connectivity_type":"ix","networ` + "\u212a" + `_boundary":"external"}`, `unknown key "networ\u212a_boundary"`},
		"long s":               {`{"interface_id":"1","connectivity_type":"ix","provider":"A","reaſon":"x"}`, `unknown key "rea\u017fon"`},
		"dotless i":            {`{"\u0131nterface_id":"1","connectivity_type":"ix"}`, `unknown key "\u0131nterface_id"`},
		"escaped kelvin":       {`{"interface_id":"1","connectivity_type":"ix","networ\u212a_boundary":"external"}`, `unknown key "networ\u212a_boundary"`},
		"escaped key, twice":   {`{"interface_id":"1","connectivity_type":"ix","\u0070rovider":"A","provider":"A"}`, `key "provider" appears twice`},
		"nested duplicate obj": {`{"interface_id":"1","connectivity_type":{"a":1,"a":2}}`, "connectivity_type must be a string"},
	} {
		t.Run(name, func(t *testing.T) {
			wantRowError(t, "plan.jsonl", `{"interface_id":"9","connectivity_type":"ix"}`+"\n"+tc.line+"\n", 2, tc.want)
		})
	}
	// Keys in another ASCII case, and escaped keys, are the same keys.
	p := mustLoad(t, writePlan(t, "ok.jsonl", `{"Interface_ID":"1","CONNECTIVITY_TYPE":"ix","Network_Boundary":"external","\u0070rovider":"A"}`+"\n"), Options{})
	if got := planned(t, p); got["1"] != (Classification{ix, external, "A"}) {
		t.Errorf("got %v", got)
	}
}
