//go:build unix

package classify

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLoadFIFO: a plan from a pipe that is not stdin (`--file <(generate-plan)` in a
// shell) can be read only once, so it is spooled like stdin, not read twice.
func TestLoadFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString("interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n2,transit,,\n1,transit,,\n3,ix,,\n")
	}()
	p, err := Load(context.Background(), path, Options{BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()
	if p.Name != path || p.Interfaces != 3 || p.Duplicates != 1 {
		t.Fatalf("plan %s: %d interfaces, %d duplicates", p.Name, p.Interfaces, p.Duplicates)
	}
	if got := rowsOf(t, allBatches(t, p)); len(got) != 3 {
		t.Errorf("batches hold %d ids, want 3", len(got))
	}
	if p.Path != "" || p.spool == nil {
		t.Fatal("the FIFO was not spooled")
	}
}
