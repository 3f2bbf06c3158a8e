package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/gokentik/kentik/classify"
)

// loadGroupsPlan loads a plan of n interfaces, each with a provider of its own (n groups).
func loadGroupsPlan(t testing.TB, n int, provider func(i int) string) *classify.Plan {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("interface_id,connectivity_type,network_boundary,provider\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,transit,external,\"%s\"\n", 1000001+i, strings.ReplaceAll(provider(i), `"`, `""`))
	}
	path := filepath.Join(t.TempDir(), "plan.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := classify.Load(context.Background(), path, classify.Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// errAfterFirst is a writer that fails from its second write on.
type errAfterFirst struct{ writes int }

func (w *errAfterFirst) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > 1 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// allocated returns the bytes the heap allocated while fn ran.
func allocated(fn func()) uint64 {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestDryRunOutputIsStreamed: the dry run's table and JSON document are written as
// they are made, not built whole first (a plan of a million providers took 668 MB for
// the table and 1.6 GB for -o json): the output is what it was, and a writer that fails
// early stops them after little work.
func TestDryRunOutputIsStreamed(t *testing.T) {
	names := []string{"Acme", "Télécom Ünïon", "株式会社", "", "Big, Co", "a\"quote"}
	small := loadGroupsPlan(t, len(names)*3, func(i int) string { return names[i%len(names)] })
	s := &classify.Summary{Plan: "plan.csv", DryRun: true, Groups: len(small.Groups), Requests: small.Requests(), Policy: "admin"}

	// The table, as text/tabwriter lays it out.
	var want bytes.Buffer
	tw := tabwriter.NewWriter(&want, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tCLASSIFICATION\tINTERFACES\tREQUESTS")
	for _, g := range small.Groups {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\n", g.Index, g.Classification, g.Interfaces, g.Batches)
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\n", small.Interfaces, small.Requests())
	tw.Flush()
	fmt.Fprintln(&want)
	var got bytes.Buffer
	if err := printPlan(&got, small); err != nil || got.String() != want.String() {
		t.Errorf("table, err %v:\n%s\nwant:\n%s", err, got.String(), want.String())
	}

	// The JSON document, as encoding/json writes it whole.
	type group struct {
		ConnectivityType string `json:"connectivity_type"`
		NetworkBoundary  string `json:"network_boundary"`
		Provider         string `json:"provider"`
		Interfaces       int    `json:"interfaces"`
		Requests         int    `json:"requests"`
	}
	doc := struct {
		*classify.Summary
		PlanGroups []group `json:"plan_groups,omitempty"`
	}{Summary: s}
	for _, g := range small.Groups {
		doc.PlanGroups = append(doc.PlanGroups, group{g.ConnectivityType.String(), g.NetworkBoundary.String(), g.Provider, g.Interfaces, g.Batches})
	}
	want.Reset()
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.Encode(doc)
	got.Reset()
	if err := writeClassifyJSON(&got, s, small); err != nil || got.String() != want.String() {
		t.Errorf("json, err %v:\n%s\nwant:\n%s", err, got.String(), want.String())
	}
	got.Reset()
	doc.PlanGroups = nil
	want.Reset()
	enc.Encode(doc)
	if err := writeClassifyJSON(&got, s, nil); err != nil || got.String() != want.String() {
		t.Errorf("json without groups, err %v:\n%s\nwant:\n%s", err, got.String(), want.String())
	}

	// Streamed: a writer that fails at once stops the output after little work.
	big := loadGroupsPlan(t, 100_000, func(i int) string { return fmt.Sprintf("Provider-%d", i) })
	for name, write := range map[string]func() error{
		"table": func() error { return printPlan(&errAfterFirst{}, big) },
		"json":  func() error { return writeClassifyJSON(&errAfterFirst{}, s, big) },
	} {
		var err error
		if n := allocated(func() { err = write() }); err == nil || n > 1<<20 {
			t.Errorf("%s: err %v after allocating %d KiB for a writer that failed at its second write", name, err, n>>10)
		}
	}
}
