package classify

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// repeatReader reads b over and over.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// hugePlan is a plan of about size bytes: head, then filler repeated, then tail.
func hugePlan(head, filler, tail string, size int64) *countingReader {
	block := strings.Repeat(filler, (32<<10)/len(filler)+1) // whole fillers, so the block repeats seamlessly
	return &countingReader{r: io.MultiReader(strings.NewReader(head),
		io.LimitReader(&repeatReader{b: []byte(block)}, size), strings.NewReader(tail))}
}

// readAllRows reads every row of a CSV plan from r, returning the rows (bad ones
// included) and the error that ended the reading (nil at the end of the plan), and how
// many bytes the heap took meanwhile.
func readAllRows(t *testing.T, r io.Reader) (rows []record, err error, allocated uint64) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, err := newCSVReader(bufio.NewReaderSize(r, 64<<10))
	if err == nil {
		for {
			var rec record
			if rec, err = c.next(); err != nil {
				break
			}
			rows = append(rows, rec)
		}
	}
	runtime.ReadMemStats(&after)
	if err == io.EOF {
		err = nil
	}
	return rows, err, after.TotalAlloc - before.TotalAlloc
}

const header = "interface_id,connectivity_type,network_boundary,provider\n"

// TestCSVRecordBound: encoding/csv gathers a whole record before returning it, so a
// record of any length used to cost its length in memory (a 200 MB file with a quote
// left open on line 2: 925 MB). However long the record, and however it is long (one
// endless line; a quote left open over endless short lines; a quoted field that never
// ends on one endless line), reading the plan allocates a bounded amount, and an open
// quote is reported by the line it opened on after reading little more than the bound.
func TestCSVRecordBound(t *testing.T) {
	const size = 64 << 20 // far beyond the bound; 1 GB behaves the same (see the README)
	const budget = 4 << 20
	t.Run("one endless line", func(t *testing.T) {
		r := hugePlan(header+"1,transit,,\n2,ix,,A", "x", "\n3,ix,,\n4,bogus,,\n", size)
		rows, err, alloc := readAllRows(t, r)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 4 || rows[0].bad != "" || rows[1].line != 3 || !strings.Contains(rows[1].bad, "longer than 65536 bytes") ||
			rows[2].line != 4 || rows[2].bad != "" || rows[2].fields[0] != "3" || rows[3].line != 5 {
			for _, r := range rows {
				t.Errorf("line %d: %q (%s)", r.line, clip(r.fields[0]), clip(r.bad))
			}
		}
		if alloc > budget {
			t.Errorf("reading a %d MiB line allocated %d MiB", size>>20, alloc>>20)
		}
	})
	t.Run("quote left open over short lines", func(t *testing.T) {
		r := hugePlan(header+"1,\"transit,,\n", "5,ix,,\n", "", size)
		_, err, alloc := readAllRows(t, r)
		var he *headerError
		if !errors.As(err, &he) || he.line != 2 || !strings.Contains(he.reason, "quoted field left open") {
			t.Fatalf("got %v", err)
		}
		if alloc > budget || r.n > 1<<20 {
			t.Errorf("allocated %d KiB, read %d KiB before refusing", alloc>>10, r.n>>10)
		}
	})
	t.Run("quoted field on one endless line", func(t *testing.T) {
		r := hugePlan(header+"1,transit,,\"", "y", "\"\n2,ix,,\n", size)
		_, err, alloc := readAllRows(t, r)
		var he *headerError
		if !errors.As(err, &he) || he.line != 2 {
			t.Fatalf("got %v", err)
		}
		if alloc > budget {
			t.Errorf("allocated %d MiB", alloc>>20)
		}
	})
	t.Run("endless header", func(t *testing.T) {
		r := hugePlan("interface_id,", "z", "\n", size)
		_, err, alloc := readAllRows(t, r)
		var he *headerError
		if !errors.As(err, &he) || !strings.Contains(he.reason, "header is longer") || alloc > budget {
			t.Fatalf("got %v, allocated %d MiB", err, alloc>>20)
		}
	})
}

// TestLoadLongRecords: the bound on files: a row longer than the bound is one bad row
// (skippable; the rows after it keep their line numbers), a row of exactly the bound is a
// row, and blank lines before a row do not count towards it.
func TestLoadLongRecords(t *testing.T) {
	head := "interface_id,connectivity_type,network_boundary,provider,comment\n"
	row := func(id, comment string) string { return id + ",transit,,A," + comment + "\n" }
	exact := row("2", "") // a row of exactly maxRecord bytes, newline included
	exact = row("2", strings.Repeat("e", maxRecord-len(exact)))
	plan := head +
		row("1", "") + // 2
		exact + // 3
		strings.Repeat("\n", maxRecord) + // 4 ... blank lines
		row("4", strings.Repeat("b", maxRecord-100)) + // maxRecord+4
		row("5", strings.Repeat("c", maxRecord)) + // maxRecord+5: too long
		row("6", "\"quoted\nover lines\"") + // maxRecord+6
		"7,bogus,,,\n" // maxRecord+8
	path := writePlan(t, "long.csv", plan)
	_, err := Load(context.Background(), path, Options{})
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Total != 2 {
		t.Fatalf("got %v", err)
	}
	if e := pe.Errors[0]; e.Line != maxRecord+5 || !strings.Contains(e.Reason, fmt.Sprintf("longer than %d bytes", maxRecord)) {
		t.Errorf("first error %v", e)
	}
	if e := pe.Errors[1]; e.Line != maxRecord+8 || !strings.Contains(e.Reason, "bogus") {
		t.Errorf("second error %v", e)
	}
	p := mustLoad(t, path, Options{SkipInvalid: true})
	if got := planned(t, p); len(got) != 4 || got["6"].Provider != "A" {
		t.Errorf("planned %v", got)
	}
}

// BenchmarkCSVRecordLimit reads the same 100,000-row plan with encoding/csv directly and
// through the record limiter, side by side: the price of the bound (one Read per line).
//
//	go test -run '^$' -bench CSVRecordLimit -benchmem ./classify/
func BenchmarkCSVRecordLimit(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(header)
	for i := range 100_000 {
		fmt.Fprintf(&sb, "%d,transit,external,Provider-%d\n", 1000001+i, i%50)
	}
	plan := sb.String()
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(len(plan)))
		for b.Loop() {
			c := csv.NewReader(bufio.NewReaderSize(strings.NewReader(plan), 64<<10))
			c.FieldsPerRecord, c.ReuseRecord, c.TrimLeadingSpace = -1, true, true
			n := 0
			for {
				if _, err := c.Read(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 100_001 {
				b.Fatalf("%d records", n)
			}
		}
	})
	b.Run("limited", func(b *testing.B) {
		b.SetBytes(int64(len(plan)))
		for b.Loop() {
			c, err := newCSVReader(bufio.NewReaderSize(strings.NewReader(plan), 64<<10))
			if err != nil {
				b.Fatal(err)
			}
			n := 1
			for {
				if _, err := c.next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 100_001 {
				b.Fatalf("%d records", n)
			}
		}
	})
}
