package classify

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// tmpEntries lists what is in dir.
func tmpEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestSpoolHasNoName: a plan spooled from a reader (stdin) has no name in the temporary
// directory while it is used, so that a job killed at any point, SIGKILL included,
// leaves nothing behind; its passes still read it, and Close releases it.
func TestSpoolHasNoName(t *testing.T) {
	t.Run("unnamed file", testSpoolHasNoName)
	t.Run("removed name", func(t *testing.T) {
		// Where files without a name cannot be made (not Linux, or a file system
		// without O_TMPFILE), the name is removed at once.
		old := openUnnamedFile
		openUnnamedFile = func(string) (*os.File, error) { return nil, errors.ErrUnsupported }
		t.Cleanup(func() { openUnnamedFile = old })
		testSpoolHasNoName(t)
	})
}

func testSpoolHasNoName(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	plan := "interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n2,ix,,\n1,transit,,\n"
	p, err := LoadReader(context.Background(), "-", strings.NewReader(plan), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if names := tmpEntries(t, tmp); len(names) != 0 {
		t.Errorf("the spool has a name while the plan is open: %v", names)
	}
	if p.Path != "" || p.Interfaces != 2 || p.Duplicates != 1 {
		t.Errorf("path %q, %d interfaces, %d duplicates", p.Path, p.Interfaces, p.Duplicates)
	}
	for range 2 { // a pass reads the spool from its start every time
		if got := planned(t, p); len(got) != 2 {
			t.Errorf("batches hold %v", got)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Batches(context.Background(), func(Batch) error { return nil }); err == nil {
		t.Error("Batches after Close succeeded")
	}
}

// TestSpoolLimit: a plan spooled from a reader, a pipe or a device stops at
// Options.MaxSpool bytes (DefaultMaxSpool unless set) with ErrSpoolTooLarge, instead of
// filling the disk (`--file /dev/zero` wrote 2.2 GB to /tmp in 3 s), and leaves nothing
// behind.
func TestSpoolLimit(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx := context.Background()
	endless := func() io.Reader {
		return io.MultiReader(strings.NewReader("interface_id,connectivity_type,network_boundary,provider\n"), &repeatReader{b: []byte("1,transit,,\n")})
	}
	for name, load := range map[string]func() (*Plan, error){
		"endless reader": func() (*Plan, error) { return LoadReader(ctx, "-", endless(), Options{MaxSpool: 1 << 20}) },
		"one byte too many": func() (*Plan, error) {
			return LoadReader(ctx, "-", io.LimitReader(endless(), 1001), Options{MaxSpool: 1000})
		},
		"device": func() (*Plan, error) { return Load(ctx, "/dev/zero", Options{MaxSpool: 1 << 20}) },
	} {
		t.Run(name, func(t *testing.T) {
			if runtime.GOOS == "windows" && name == "device" {
				t.Skip("no /dev/zero")
			}
			p, err := load()
			if err == nil {
				p.Close()
			}
			if !errors.Is(err, ErrSpoolTooLarge) || !strings.Contains(err.Error(), "MaxSpool") {
				t.Errorf("got %v, want ErrSpoolTooLarge naming the option", err)
			}
			if names := tmpEntries(t, tmp); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
	if got := (Options{}).maxSpool(); got != DefaultMaxSpool {
		t.Errorf("the zero Options spool at most %d bytes, want DefaultMaxSpool", got)
	}
	// Exactly the limit is fine.
	plan := "interface_id,connectivity_type,network_boundary,provider\n1,transit,,\n"
	p, err := LoadReader(ctx, "-", strings.NewReader(plan), Options{MaxSpool: int64(len(plan))})
	if err != nil {
		t.Fatalf("a plan of exactly MaxSpool bytes: %v", err)
	}
	p.Close()
	if _, err := LoadReader(ctx, "-", strings.NewReader(plan), Options{MaxSpool: -1}); err == nil || !strings.Contains(err.Error(), "MaxSpool") {
		t.Errorf("a negative MaxSpool: %v", err)
	}
}

// TestSpoolLimitLeavesNoGoroutine: the reader of a plan refused at the limit is not read
// any more once LoadReader returns (the goroutine that reads it, to make a blocking read
// give way to the context, ends).
func TestSpoolLimitLeavesNoGoroutine(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	before := runtime.NumGoroutine()
	for range 20 {
		if _, err := LoadReader(context.Background(), "-", &repeatReader{b: []byte("x")}, Options{MaxSpool: 1000}); !errors.Is(err, ErrSpoolTooLarge) {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after 20 refused plans, %d before", n, before)
	}
}
