package schema_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gokentik/kentik/internal/schema"
)

// buf runs the project's pinned buf (from the checkout: `go tool` needs its module).
func buf(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=tools/go.mod", "buf"}, args...)...)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var images struct {
	sync.Mutex
	dir   string            // removed by TestMain
	paths map[string]string // form -> image
}

func TestMain(m *testing.M) {
	code := m.Run()
	if images.dir != "" {
		os.RemoveAll(images.dir)
	}
	os.Exit(code)
}

// testdataImage builds testdata/roundtrip, a small schema that exercises every construct
// the renderer writes and every rule of the selection, into an image of the given form
// (binpb or json), once per test binary, and returns its path. Tests must not change it.
func testdataImage(t *testing.T, form string) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if p, ok := images.paths[form]; ok {
		return p
	}
	if images.dir == "" {
		dir, err := os.MkdirTemp("", "schema-test-")
		if err != nil {
			t.Fatal(err)
		}
		images.dir, images.paths = dir, map[string]string{}
	}
	out := filepath.Join(images.dir, "image."+form)
	src, err := filepath.Abs(filepath.Join("testdata", "roundtrip"))
	if err != nil {
		t.Fatal(err)
	}
	buf(t, "build", src, "--exclude-source-info", "-o", out)
	images.paths[form] = out
	return out
}

// comparable drops what legitimately differs between a set's file and buf's build of
// its rendering: buf's bookkeeping, and the order of imports (the renderer sorts them).
func comparable(f schema.File) schema.File {
	delete(f, "bufExtension")
	if deps, ok := f["dependency"].([]any); ok {
		sort.Slice(deps, func(i, j int) bool { return deps[i].(string) < deps[j].(string) })
	}
	return f
}

// TestRenderRoundTrip renders every file of the testdata schema, compiles the rendering
// with buf, and expects the very descriptors it started from: every option (the
// documentation ones and file options included), name, number, type and json name.
func TestRenderRoundTrip(t *testing.T) {
	set, err := schema.LoadSet(testdataImage(t, "binpb"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "buf.yaml"), []byte("version: v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var rendered []string
	for _, f := range set.Files() {
		if schema.WellKnownFile(f.GetName()) {
			continue
		}
		text, err := set.Render(f, "A rendering of "+f.GetName()+".")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(out, filepath.FromSlash(f.GetName()))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		rendered = append(rendered, f.GetName())
	}
	if len(rendered) != 7 {
		t.Fatalf("rendered %d files, want the 7 of testdata/roundtrip", len(rendered))
	}
	image := filepath.Join(t.TempDir(), "rendered.json")
	buf(t, "build", out, "--exclude-source-info", "-o", image)
	got, err := schema.LoadReference(image)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range rendered {
		want, err := set.JSON(set.File(path))
		if err != nil {
			t.Fatal(err)
		}
		if d := schema.Compare(comparable(want), comparable(got[path])); len(d) > 0 {
			t.Errorf("%s: %d differences after a round trip:\n  %s", path, len(d), strings.Join(d, "\n  "))
		}
	}
}

// The renderer writes names as short as scoping allows, and longer where a shorter one
// would resolve to something else.
func TestRenderNames(t *testing.T) {
	set, err := schema.LoadSet(testdataImage(t, "binpb"))
	if err != nil {
		t.Fatal(err)
	}
	text := func(path string) string {
		b, err := set.Render(set.File(path), "")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	shop, types := text("kentik/shop/v1/shop.proto"), text("kentik/shop/v1/types.proto")
	for _, want := range []string{
		"  google.protobuf.Timestamp created = 3;", // Order.Timestamp shadows "Timestamp" here
		"  Timestamp local_created = 4;",
		"map<string, Line> lines_by_sku = 6;",
		"map<int64, Status> status_by_day = 7;",
		"rpc Upload(stream Order.Line) returns (Order);",
		"rpc Chat(stream Order.Line) returns (stream Order.Line);",
		`json_name = "orderId"`,
		"reserved 2, 15, 9 to 11, 40 to max;",
		`reserved "legacy", "old_total";`,
		"optional string note = 12;",
		"repeated int32 counts = 19 [packed = false];",
		"extend google.protobuf.MessageOptions {",
	} {
		if !strings.Contains(shop, want) {
			t.Errorf("shop.proto lacks %q:\n%s", want, shop)
		}
	}
	for _, want := range []string{
		"  .google.protobuf.Duration timeout = 1;", // Scope.google would catch "google."
		"  google inner = 2;",
		"  Money price = 4;",
		"reserved 5 to 7, 100 to max;",
		"option allow_alias = true;",
		"option (opts.v1.scale) = inf;",
	} {
		if !strings.Contains(types, want) {
			t.Errorf("types.proto lacks %q:\n%s", want, types)
		}
	}
	if strings.Contains(shop, "//") && !strings.HasPrefix(shop, "syntax") {
		t.Errorf("a rendering without a header starts with a comment:\n%s", shop[:80])
	}
}

// Files the renderer cannot write faithfully are refused, not approximated.
func TestRenderRefusesProto2(t *testing.T) {
	set, err := schema.LoadSet(testdataImage(t, "binpb"))
	if err != nil {
		t.Fatal(err)
	}
	f := set.File("kentik/shop/v1/types.proto")
	f.Syntax = nil // proto2
	defer func() { s := "proto3"; f.Syntax = &s }()
	if _, err := set.Render(f, ""); err == nil || !strings.Contains(err.Error(), "only proto3") {
		t.Fatalf("err = %v, want a refusal of proto2", err)
	}
}
