package classify

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gokentik/kentik/enums"
)

// rejectWriter writes rejected rows: CSV plans get their original fields plus a "reason"
// column (so the file can be corrected and fed back: the extra column is ignored), JSON
// lines plans get {"line":N,"reason":"...","row":"<the original line>"}, which the
// JSON-lines reader reads as its row (so that file too can be corrected and fed back).
// JSON cannot hold bytes that are not UTF-8: a row with such bytes keeps U+FFFD in their
// place, which is refused in turn until it is fixed.
type rejectWriter struct {
	f   *os.File
	bw  *bufio.Writer
	csv *csv.Writer // nil for JSON lines
	// reason is the plan's own "reason" column (a reject file run again as a plan), which
	// takes the new reason instead of a second column of that name: a header naming a
	// column twice is refused, so the reject file would not be a plan any more. -1 if
	// none.
	reason int
}

func newRejectWriter(path string, format Format, header []string) (*rejectWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &rejectWriter{f: f, bw: bufio.NewWriter(f), reason: -1}
	if format != FormatJSONL {
		w.csv = csv.NewWriter(w.bw)
		h := append([]string(nil), header...)
		for i, name := range h {
			if strings.EqualFold(strings.TrimSpace(name), "reason") {
				w.reason = i
			}
		}
		if w.reason < 0 {
			h = append(h, "reason")
		}
		if err := w.csv.Write(h); err != nil {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *rejectWriter) write(line int, reason string, orig []string) error {
	reason = fmt.Sprintf("line %d: %s", line, reason)
	if w.csv != nil {
		if w.reason >= 0 && w.reason < len(orig) {
			row := append([]string(nil), orig...)
			row[w.reason] = reason
			return w.csv.Write(row)
		}
		return w.csv.Write(append(orig, reason))
	}
	row := ""
	if len(orig) > 0 {
		row = orig[0]
	}
	b, err := json.Marshal(struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
		Row    string `json:"row"`
	}{line, reason, row})
	if err != nil {
		return err
	}
	_, err = w.bw.Write(append(b, '\n'))
	return err
}

func (w *rejectWriter) close() error {
	if w.csv != nil {
		w.csv.Flush()
	}
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// failedHeader is the first line of a failed file: a plan's header.
var failedHeader = strings.Join(columns[:], ",") + "\n"

// failedWriter writes the interfaces of failed batches (and of verification mismatches)
// as a CSV plan with the classification they should have had, so that the file can be
// run again as it is. The file is created on the first failure.
type failedWriter struct {
	path string
	f    *os.File
	w    *csv.Writer
	n    int
}

func (w *failedWriter) write(c Classification, ids []string) error {
	if w.path == "" {
		w.n += len(ids)
		return nil
	}
	if w.f == nil {
		f, err := os.Create(w.path)
		if err != nil {
			return err
		}
		w.f, w.w = f, csv.NewWriter(f)
		if _, err := io.WriteString(f, failedHeader); err != nil {
			return err
		}
	}
	rec := []string{"", enums.ConnectivityTypeName(c.ConnectivityType), enums.NetworkBoundaryName(c.NetworkBoundary), c.Provider}
	for _, id := range ids {
		rec[0] = id
		if err := w.w.Write(rec); err != nil {
			return err
		}
	}
	w.n += len(ids)
	w.w.Flush()
	return w.w.Error()
}

func (w *failedWriter) close() error {
	if w.f == nil {
		return nil
	}
	w.w.Flush()
	err := w.w.Error()
	if serr := w.f.Sync(); err == nil {
		err = serr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	return err
}
