package classify

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Column names of a plan.
const (
	colID       = "interface_id"
	colType     = "connectivity_type"
	colBoundary = "network_boundary"
	colProvider = "provider"
)

var columns = [4]string{colID, colType, colBoundary, colProvider}

// record is one data row as read from the file, before validation.
type record struct {
	line   int       // 1-based line on which the row starts
	fields [4]string // id, connectivity type, network boundary, provider (raw)
	bad    string    // why the row could not be read at all ("" when it could)
}

// rowReader reads the data rows of a plan, one at a time, in file order. Both passes
// read the file through the same reader, so they see the same rows with the same line
// numbers.
type rowReader interface {
	// next returns the next row, io.EOF at the end, or another error when the file
	// cannot be read (which ends the job: it is not a bad row).
	next() (record, error)
	// original returns the current row as it was in the file (CSV: its fields;
	// JSON lines: the line), for the reject file. The result stays valid after next.
	original() []string
}

// bom is the UTF-8 byte order mark some spreadsheet programs write.
const bom = "\ufeff"

// sniff reads the first non-blank byte of br (after an optional byte order mark)
// without consuming anything, and returns the format it implies.
func sniff(br *bufio.Reader) (Format, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == io.EOF || err == nil || errors.Is(err, bufio.ErrBufferFull) {
				return FormatCSV, nil // empty or all blank: the CSV reader reports it
			}
			return FormatAuto, err
		}
		s := b[n-1:]
		switch {
		case n <= 3 && bytes.HasPrefix([]byte(bom), b):
			continue // still inside a byte order mark
		case s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n':
			continue
		case s[0] == '{':
			return FormatJSONL, nil
		default:
			return FormatCSV, nil
		}
	}
}

// skipBOM drops a leading UTF-8 byte order mark.
func skipBOM(br *bufio.Reader) {
	if b, _ := br.Peek(len(bom)); string(b) == bom {
		_, _ = br.Discard(len(bom))
	}
}

// headerError is a file-level problem with a CSV header (it stops the job whatever
// SkipInvalid says: without a header no row can be read).
type headerError struct {
	line   int
	reason string
}

func (e *headerError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.reason) }

// csvReader reads CSV plans. The header names the columns; columns may come in any
// order, and columns other than the four of a plan are ignored (so that a reject file,
// which carries an extra "reason" column, can be corrected and fed back as it is).
// Every record must have as many fields as the header.
type csvReader struct {
	r      *csv.Reader
	lim    *recordLimiter // bounds each record (encoding/csv does not)
	header []string
	index  [4]int // position of each of columns in a record
	fields []string
	extra  []string // ignored columns, by name
}

func newCSVReader(br *bufio.Reader) (*csvReader, error) { return newCSVReaderMax(br, maxRecord) }

// newCSVReaderMax is newCSVReader with records bounded to max bytes.
func newCSVReaderMax(br *bufio.Reader, max int) (*csvReader, error) {
	skipBOM(br)
	lim := newRecordLimiter(br, max)
	r := csv.NewReader(lim)
	r.FieldsPerRecord = -1 // checked here, with a clearer message
	r.ReuseRecord = true
	r.TrimLeadingSpace = true
	h, err := r.Read()
	if lim.err != nil {
		return nil, lim.err
	}
	if lim.tripped {
		return nil, &headerError{line: 1, reason: fmt.Sprintf("the header is longer than %d bytes", max)}
	}
	if err == io.EOF {
		return nil, &headerError{line: 1, reason: "the plan is empty (want a header: " + strings.Join(columns[:], ",") + ")"}
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &headerError{line: pe.StartLine, reason: "bad CSV header: " + pe.Err.Error()}
		}
		return nil, err
	}
	line, _ := r.FieldPos(0)
	c := &csvReader{r: r, lim: lim, header: append([]string(nil), h...), index: [4]int{-1, -1, -1, -1}}
	seen := map[string]bool{}
	for i, name := range h {
		n := strings.ToLower(strings.TrimSpace(name))
		if seen[n] {
			return nil, &headerError{line: line, reason: fmt.Sprintf("column %q appears twice in the header", n)}
		}
		seen[n] = true
		known := false
		for k, col := range columns {
			if n == col {
				c.index[k], known = i, true
			}
		}
		if !known {
			c.extra = append(c.extra, name)
		}
	}
	var missing []string
	for k, col := range columns {
		if c.index[k] < 0 {
			missing = append(missing, col)
		}
	}
	if len(missing) > 0 {
		return nil, &headerError{line: line, reason: fmt.Sprintf("the header lacks %s (want the columns %s, in any order; got %q)",
			strings.Join(missing, ", "), strings.Join(columns[:], ","), clip(strings.Join(h, ",")))}
	}
	return c, nil
}

func (c *csvReader) next() (record, error) {
	c.lim.reset()
	rec, err := c.r.Read()
	c.fields = rec
	if c.lim.err != nil {
		return record{}, c.lim.err
	}
	if c.lim.tripped {
		return c.tooLong(err)
	}
	if err == io.EOF {
		return record{}, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			c.fields = nil
			if pe.Line > pe.StartLine {
				// A quote left open swallowed the lines after it (to the end of the
				// file, often): skipping "one bad row" would silently drop all of them.
				return record{}, &headerError{line: pe.StartLine, reason: fmt.Sprintf(
					"a quoted field opened on this line is still open on line %d (%v): the lines in between cannot be told apart as rows; fix the quoting", pe.Line, pe.Err)}
			}
			return record{line: pe.StartLine, bad: "bad CSV: " + pe.Err.Error()}, nil
		}
		return record{}, err
	}
	line, _ := c.r.FieldPos(0)
	if len(rec) != len(c.header) {
		return record{line: line, bad: fmt.Sprintf("has %d fields, the header has %d", len(rec), len(c.header))}, nil
	}
	var r record
	r.line = line
	for k := range columns {
		r.fields[k] = rec[c.index[k]]
	}
	return r, nil
}

// tooLong reports a record that passed the limiter's bound; err is what csv made of the
// record cut short. When the record ends on the line it was cut on (see cutEndsOnLine),
// the limiter discarded the rest of that line and the record is one bad row. Otherwise
// the job stops, as for an unclosed quote: where the record really ends cannot be told,
// so the lines after it cannot be told apart as rows.
func (c *csvReader) tooLong(err error) (record, error) {
	c.fields = nil
	line, _ := c.r.FieldPos(0)
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		line = pe.StartLine
	} else if err != nil {
		// Nothing of the record was read (only blank lines can end so, and they do
		// not count): not expected, but never a silent end of the plan.
		return record{}, fmt.Errorf("a record longer than %d bytes: %w", c.lim.max, err)
	}
	if !cutEndsOnLine(err, c.lim.quoted) {
		return record{}, &headerError{line: line, reason: fmt.Sprintf(
			"a row starting on this line runs past %d bytes with a quote in it (a quoted field left open?): where it ends cannot be told, nor the rows after it; fix the quoting", c.lim.max)}
	}
	return record{line: line, bad: fmt.Sprintf("the row is longer than %d bytes", c.lim.max)}, nil
}

func (c *csvReader) original() []string { return append([]string(nil), c.fields...) }

// jsonlReader reads JSON-lines plans: one object per line with the keys interface_id,
// connectivity_type, network_boundary and provider, matched exactly or in another ASCII
// case (never by Unicode case folding); a missing key or null means empty. Unlike CSV,
// where a misspelt column is caught by the header check, a misspelt key could only go
// unnoticed, so keys other than these four are an error, and so is a key given twice
// (which would leave the reader to pick one of its values). interface_id may be a string
// or a whole number. Blank lines are skipped.
//
// A row may also carry the keys "line" and "reason", which are ignored, or be a reject
// record, {"line":N,"reason":"…","row":"…"}, whose row is read as the line of the plan
// it was: so a reject file, fixed or not, is a plan (see rejectWriter).
type jsonlReader struct {
	br    *bufio.Reader
	line  int
	text  []byte // the current line, without its end
	inner []byte // the row of the current line, when it is a reject record
}

// The keys of a JSON-lines row: the plan's columns, then those of a reject record.
const (
	keyLine   = "line"
	keyReason = "reason"
	keyRow    = "row"
)

var jsonKeys = [...]string{colID, colType, colBoundary, colProvider, keyLine, keyReason, keyRow}

const iLine, iReason, iRow = 4, 5, 6 // of jsonKeys

func newJSONLReader(br *bufio.Reader) *jsonlReader {
	skipBOM(br)
	return &jsonlReader{br: br}
}

func (j *jsonlReader) next() (record, error) {
	for {
		text, tooLong, err := j.readLine()
		if err != nil {
			return record{}, err
		}
		j.line++
		j.text = text
		if tooLong {
			return record{line: j.line, bad: fmt.Sprintf("line is longer than %d bytes", maxRecord)}, nil
		}
		t := bytes.TrimSpace(text)
		if len(t) == 0 {
			continue
		}
		var r record
		r, j.inner = parseJSONRow(j.line, t)
		return r, nil
	}
}

// readLine returns the next line without its end, io.EOF when there is none. A line
// longer than maxRecord is consumed and reported as tooLong.
func (j *jsonlReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		frag, err := j.br.ReadSlice('\n')
		if tooLong || len(buf)+len(frag) > maxRecord+1 {
			tooLong = true
			buf = buf[:0] // keep memory bounded; the line is reported, not kept
		} else {
			buf = append(buf, frag...)
		}
		switch {
		case err == nil:
			return bytes.TrimRight(buf, "\r\n"), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return bytes.TrimRight(buf, "\r\n"), tooLong, nil
		default:
			return nil, false, err
		}
	}
}

// original returns the line, or the row of a reject record: the reject file of a reject
// file holds the plan's rows, not rows wrapped twice.
func (j *jsonlReader) original() []string {
	if j.inner != nil {
		return []string{string(j.inner)}
	}
	return []string{string(j.text)}
}

// parseJSONRow parses the JSON-lines row t (trimmed, not empty). When t is a reject
// record it also returns its row.
func parseJSONRow(line int, t []byte) (record, []byte) {
	r := record{line: line}
	if t[0] != '{' {
		r.bad = "not a JSON object"
		return r, nil
	}
	vals, bad := jsonMembers(t, jsonKeys[:])
	if bad == "" {
		bad = jsonIgnored(vals)
	}
	if bad == "" && isSet(vals[iRow]) {
		return parseRejectRecord(line, t, vals)
	}
	if bad == "" {
		for k := range columns {
			if r.fields[k], bad = jsonText(vals[k], columns[k], k == 0); bad != "" {
				break
			}
		}
	}
	if !utf8.Valid(t) && (bad == "" || !strings.Contains(bad, "not valid UTF-8")) {
		// Outside the values (in a key), or where the object did not parse: name the
		// encoding, the root of the trouble, rather than what it garbled.
		bad = notUTF8("the line", string(t))
	}
	r.bad = bad
	return r, nil
}

// isSet reports whether a member is present and not null.
func isSet(v json.RawMessage) bool { return len(v) > 0 && string(v) != "null" }

// jsonIgnored checks the members a row may carry that are not sent: they must have the
// types the reject writer gives them, lest a typo pass unseen.
func jsonIgnored(vals []json.RawMessage) string {
	if v := vals[iLine]; isSet(v) && !isDigits(v) {
		return "line must be a whole number (the line of the plan a reject record came from), got " + clip(string(v))
	}
	if v := vals[iReason]; isSet(v) && v[0] != '"' {
		return "reason must be a string, got " + clip(string(v))
	}
	return ""
}

// parseRejectRecord reads the row of a reject record as the row of the plan it was (see
// rejectWriter), and returns that row too. A reject record has no plan keys of its own.
func parseRejectRecord(line int, t []byte, vals []json.RawMessage) (record, []byte) {
	r := record{line: line}
	for k := range columns {
		if isSet(vals[k]) {
			r.bad = fmt.Sprintf("a reject record (with %q) has no other keys of a plan row, got %q", keyRow, columns[k])
			return r, nil
		}
	}
	if !utf8.Valid(t) {
		r.bad = notUTF8("the line", string(t))
		return r, nil
	}
	var s string
	if v := vals[iRow]; v[0] != '"' || json.Unmarshal(v, &s) != nil {
		r.bad = "row must be a string (the line of the plan that was rejected), got " + clip(string(v))
		return r, nil
	}
	inner := bytes.TrimSpace([]byte(s))
	if len(inner) == 0 {
		r.bad = "row is empty (a reject file keeps nothing of a line longer than the bound, nor of a blank one)"
		return r, []byte(s)
	}
	ir, nested := parseJSONRow(line, inner)
	if nested != nil {
		ir.bad = "a reject record inside a reject record"
	}
	if ir.bad != "" {
		ir.bad = "row: " + ir.bad
	}
	return ir, inner
}

// jsonMembers reads the JSON object t into the raw values of the keys names, in that
// order (nil for a key that is absent). A key matches a name exactly or in another ASCII
// case, never by Unicode case folding as encoding/json does, where a Kelvin sign (U+212A)
// is a K; a key that matches no name, or the name of a key already seen, is refused
// (encoding/json would keep the last of two values without a word). It returns the reason
// when t is not such an object.
func jsonMembers(t []byte, names []string) ([]json.RawMessage, string) {
	vals := make([]json.RawMessage, len(names))
	seen := make([]bool, len(names))
	dec := json.NewDecoder(bytes.NewReader(t))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, "not a JSON object"
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonReason(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, "invalid JSON: an object key is not a string"
		}
		k := slices.IndexFunc(names, func(n string) bool { return asciiEqualFold(key, n) })
		if k < 0 {
			return nil, "unknown key " + strconv.QuoteToASCII(key) + " (want " + strings.Join(columns[:], ", ") + ")"
		}
		if seen[k] {
			return nil, fmt.Sprintf("key %q appears twice", names[k])
		}
		seen[k] = true
		if err := dec.Decode(&vals[k]); err != nil {
			return nil, jsonReason(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, jsonReason(err)
	}
	if rest := bytes.TrimSpace(t[dec.InputOffset():]); len(rest) > 0 {
		return nil, "text after the JSON object (one object per line)"
	}
	return vals, ""
}

// asciiEqualFold reports whether a and b are equal but for the case of ASCII letters.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// jsonText returns a JSON string value (or, when number is true, a whole number) as
// text; absent and null are "".
func jsonText(v json.RawMessage, key string, number bool) (string, string) {
	if len(v) == 0 || string(v) == "null" {
		return "", ""
	}
	if v[0] == '"' {
		if !utf8.Valid(v) {
			// Checked on the raw bytes: decoding would turn them into U+FFFD.
			return "", notUTF8(key, string(v[1:len(v)-1]))
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Sprintf("%s: %v", key, err)
		}
		return s, ""
	}
	if number && isDigits(v) {
		return string(v), ""
	}
	if number {
		return "", fmt.Sprintf("%s must be a string or a whole number, got %s", key, clip(string(v)))
	}
	return "", fmt.Sprintf("%s must be a string, got %s", key, clip(string(v)))
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// jsonReason turns an encoding/json error into a reason that names the plan's keys
// rather than Go types.
func jsonReason(err error) string {
	msg := err.Error()
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "the row must be an object with string values, got " + te.Value
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: unexpected end of line"
	}
	return "invalid JSON: " + strings.TrimPrefix(msg, "json: ")
}
