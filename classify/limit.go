package classify

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
)

// maxRecord bounds one row of a plan: a JSON line, or a CSV record (every line of it,
// when a quoted field spans several). No plan row comes anywhere near it; a row that
// does is a bad row, and reading one never costs more memory than this.
const maxRecord = 64 << 10

// recordLimiter sits between a plan and encoding/csv, which gathers a whole record in
// memory before it returns any of it: one endless line, or a quote left open that
// swallows the rest of the file, would cost as much memory as the file is long. The
// csv package has no option to bound a record, hence this reader.
//
// It hands csv at most one line per Read, so that csv never holds bytes beyond the
// record it is reading, and it counts the bytes of that record (blank lines before it,
// which csv skips, do not count). Once csv asks for more of a record that has max bytes
// already, the limiter discards the rest of the current line and ends the input
// (io.EOF): csv stops there with a truncated record or an error, and the caller, seeing
// tripped, reports the record as too long. reset, before each record, starts counting
// again; csv then goes on at the line after the one discarded, with its line numbers
// still right.
type recordLimiter struct {
	br      *bufio.Reader
	max     int
	n       int   // bytes of the current record handed to csv
	started bool  // the current record has begun (a line that is not blank was handed)
	tripped bool  // the current record passed max
	quoted  bool  // the rest of the line discarded by the trip held a quote
	err     error // a read error met while discarding, for the caller
}

func newRecordLimiter(br *bufio.Reader, max int) *recordLimiter {
	return &recordLimiter{br: br, max: max}
}

// reset starts a new record; call it before each csv Read.
func (l *recordLimiter) reset() { l.n, l.started, l.tripped, l.quoted = 0, false, false, false }

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.tripped || l.err != nil {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b, err := l.br.Peek(1); len(b) == 0 {
		return 0, err // io.EOF, or a read error for csv to return
	}
	buf, _ := l.br.Peek(l.br.Buffered())
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1] // one line at a time: csv must not read ahead of the record
	}
	if !l.started {
		if len(buf) == 1 && buf[0] == '\r' {
			// Perhaps a blank "\r\n" split by the buffer: look one byte further.
			if b, _ := l.br.Peek(2); len(b) == 2 && b[1] == '\n' {
				buf = b
			}
		}
		if (string(buf) == "\n" || string(buf) == "\r\n") && len(p) >= len(buf) {
			// A blank line, which csv skips: not part of any record.
			n := copy(p, buf)
			_, _ = l.br.Discard(n)
			return n, nil
		}
		l.started = true
	}
	room := l.max - l.n
	if room <= 0 {
		// csv wants more of a record that is max bytes long already (and there is
		// more: the Peek above found a byte).
		l.trip()
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), room)], buf)
	_, _ = l.br.Discard(n)
	l.n += n
	return n, nil
}

// trip marks the record too long and discards the rest of the current line, a buffer at
// a time, so that the next record starts on the next line, noting whether it held a
// quote (see cutEndsOnLine).
func (l *recordLimiter) trip() {
	l.tripped = true
	for {
		b, err := l.br.ReadSlice('\n')
		if bytes.IndexByte(b, '"') >= 0 {
			l.quoted = true
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && err != io.EOF:
			l.err = err
		}
		return
	}
}

// cutEndsOnLine reports whether a record that the limiter cut short ends, in the plan,
// at the end of the line it was cut on, so that reading may go on at the next line. err
// is what csv made of the record cut short, quoted whether the rest of the line, which
// csv never saw, held a quote.
//
//   - csv found a quoted field open where the record was cut, or a quote misplaced
//     (ErrQuote): where the record ends cannot be told. No.
//   - csv found a bare quote in an unquoted field (ErrBareQuote): csv itself, reading
//     the whole line, stops the record there and goes on at the next line. Yes.
//   - csv read the record cut short without complaint: it was cut outside any quoted
//     field, so it ends at the end of the line unless the rest of the line opens a
//     quoted field. Yes when that rest holds no quote at all.
func cutEndsOnLine(err error, quoted bool) bool {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return errors.Is(pe.Err, csv.ErrBareQuote)
	}
	return err == nil && !quoted
}
