package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gokentik/kentik/internal/schema"
)

// repoRoot is the checkout this test file sits in.
func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "..")
}

// bufFlag runs the checkout's pinned buf from wherever the test runs.
func bufFlag() string {
	return "go tool -modfile=" + filepath.Join(repoRoot(), "tools", "go.mod") + " buf"
}

// tree reads every file under dir, by slash-separated path relative to dir.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sync(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"-buf", bufFlag()}, args...), &out); err != nil {
		t.Fatalf("syncschema %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// testdataImage builds ../testdata/roundtrip into a binary image.
func testdataImage(t *testing.T) string {
	t.Helper()
	image := filepath.Join(t.TempDir(), "image.binpb")
	src, err := filepath.Abs(filepath.Join("..", "testdata", "roundtrip"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "-modfile=tools/go.mod", "buf", "build", src, "--exclude-source-info", "-o", image)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf build: %v\n%s", err, out)
	}
	return image
}

// TestSyncOwnsItsTree: the program writes the selection, removes what it no longer
// produces under kentik/ (and the directories left empty), leaves the rest of the tree
// alone, and a second run changes nothing.
func TestSyncOwnsItsTree(t *testing.T) {
	image := testdataImage(t)
	provided := t.TempDir()
	for _, p := range []string{"kentik/core/v202303/annotations.proto", "opts/v1/opts.proto"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "roundtrip", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFile(filepath.Join(provided, filepath.FromSlash(p)), b); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	for p, text := range map[string]string{
		"kentik/old/v1/old.proto":   "syntax = \"proto3\";\n", // a file a newer schema dropped
		"kentik/shop/v1/shop.proto": "stale\n",
		"README.md":                 "not the sync's\n",
	} {
		if err := writeFile(filepath.Join(out, filepath.FromSlash(p)), []byte(text)); err != nil {
			t.Fatal(err)
		}
	}

	report := sync(t, "-proto", out, "-provided", provided, image)
	for _, want := range []string{
		"carried: 1 public services with 4 methods in 1 packages; 2 files",
		"service kentik.shop.v1.AdminService: visibility SERVICE_VISIBILITY_PROTECTED",
		"file kentik/private/v1/private.proto: its 1 service(s) are not public",
		"2 documentation options (openapiv2) and 2 imports",
		"2 files written, 0 unchanged, 1 removed",
		"removed kentik/old/v1/old.proto",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	first := tree(t, out)
	var paths []string
	for p := range first {
		paths = append(paths, p)
	}
	if len(first) != 3 || first["README.md"] == nil || first["kentik/shop/v1/shop.proto"] == nil || first["kentik/shop/v1/types.proto"] == nil {
		t.Fatalf("tree after the sync: %v", paths)
	}
	if _, err := os.Stat(filepath.Join(out, "kentik", "old")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the emptied kentik/old directory is still there (%v)", err)
	}
	if !bytes.HasPrefix(first["kentik/shop/v1/shop.proto"], []byte("// Written by the project's schema sync")) {
		t.Errorf("shop.proto does not start with the header:\n%s", first["kentik/shop/v1/shop.proto"])
	}

	report = sync(t, "-proto", out, "-provided", provided, image)
	if !strings.Contains(report, "0 files written, 2 unchanged, 0 removed") {
		t.Errorf("a second run changed something:\n%s", report)
	}
	second := tree(t, out)
	for p, b := range first {
		if !bytes.Equal(second[p], b) {
			t.Errorf("%s changed on the second run", p)
		}
	}
}

func TestSyncUsage(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), nil, &out)
	var usage usageError
	if !errors.As(err, &usage) || !strings.Contains(out.String(), "usage: syncschema") {
		t.Fatalf("err = %v, output %q; want a usage error", err, out.String())
	}
	err = run(context.Background(), []string{filepath.Join(t.TempDir(), "missing.json")}, &out)
	if err == nil || errors.As(err, &usage) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a missing file", err)
	}
}

// TestSyncReproducesProto is CI's check that proto/ is exactly what the sync writes from
// Kentik's published schema: nobody edited it by hand, and the sync program and the
// tree were committed together.
func TestSyncReproducesProto(t *testing.T) {
	reference := os.Getenv("KENTIK_SCHEMA_REFERENCE")
	if reference == "" {
		reference = filepath.Join(repoRoot(), "internal", "schema", filepath.FromSlash(schema.ReferencePath))
	}
	if _, err := os.Stat(reference); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Kentik's reference schema is missing (%v); CI must have it", err)
		}
		t.Skipf("Kentik's reference schema is not beside this checkout (%v); set KENTIK_SCHEMA_REFERENCE to check proto/", err)
	}
	out := t.TempDir()
	sync(t, "-proto", out, "-provided", filepath.Join(repoRoot(), "third_party", "proto"), reference)
	got, want := tree(t, filepath.Join(out, "kentik")), tree(t, filepath.Join(repoRoot(), "proto", "kentik"))
	for p, b := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("proto/kentik/%s: the sync does not write it", p)
		} else if !bytes.Equal(g, b) {
			t.Errorf("proto/kentik/%s differs from what the sync writes (run make sync-schema)", p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("proto/kentik/%s: missing (run make sync-schema)", p)
		}
	}
	t.Logf("%d files compared", len(want))
}
