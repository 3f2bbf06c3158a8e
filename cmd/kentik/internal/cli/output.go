package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// writeProtoJSON prints m as protojson (the field names of Kentik's JSON API,
// enums by name) indented by two spaces, with a final newline. protojson
// deliberately varies its whitespace between builds, so its compact output is
// re-indented with encoding/json, which makes the bytes stable for scripts and
// golden files.
func writeProtoJSON(w io.Writer, m proto.Message) error {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s as JSON: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("indent JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// newTable returns the tabwriter every table of the command uses: columns
// padded with two spaces, left-aligned.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// writeTable prints a header and rows as aligned columns. Tabs and newlines
// inside cells are replaced by spaces so that they cannot break the layout;
// an empty cell is shown as "-".
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := newTable(w)
	writeRow(tw, header)
	for _, r := range rows {
		writeRow(tw, r)
	}
	return tw.Flush()
}

// writeFields prints name/value pairs as a two-column table without header.
func writeFields(w io.Writer, pairs [][2]string) error {
	tw := newTable(w)
	for _, p := range pairs {
		writeRow(tw, []string{p[0], p[1]})
	}
	return tw.Flush()
}

var cellReplacer = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func writeRow(w io.Writer, cells []string) {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteByte('\t')
		}
		c = cellReplacer.Replace(c)
		if c == "" {
			c = "-"
		}
		b.WriteString(c)
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(w, b.String())
}
