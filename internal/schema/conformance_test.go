package schema_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// Linked for the option extensions (kentik.core, google.api) that decoding the
	// generated descriptors needs, and for TestInterfaceServiceShape. Neither conformance
	// test needs a list of packages: TestConformance builds every file under proto/,
	// TestGeneratedConformance reads every .pb.go under gen/, and both check that every
	// file the reference's selection carries is there.
	_ "github.com/gokentik/kentik/gen/kentik/core/v202303"
	_ "github.com/gokentik/kentik/gen/kentik/interface/v202108alpha1"
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/visibility"

	"github.com/gokentik/kentik/internal/schema"
)

// referencePath finds Kentik's published schema beside the checkout, or "" when absent.
func referencePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KENTIK_SCHEMA_REFERENCE"); p != "" {
		return p
	}
	_, here, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(here), schema.ReferencePath)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// requireReference returns the reference's path, or skips (fails in CI) without it.
func requireReference(t *testing.T) string {
	t.Helper()
	p := referencePath(t)
	if p == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("Kentik's reference schema (shared/kentik-api-v6/descriptor.json) is missing; CI must have it")
		}
		t.Skip("Kentik's reference schema is not beside this checkout (../shared/kentik-api-v6/descriptor.json); set KENTIK_SCHEMA_REFERENCE to check the wire contract")
	}
	return p
}

// loadReference reads the reference as generic JSON, file by file, as published.
func loadReference(t *testing.T) map[string]schema.File {
	t.Helper()
	ref, err := schema.LoadReference(requireReference(t))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

var carried struct {
	once  sync.Once
	files map[string]schema.File
	sel   *schema.Selection
	err   error
}

// carriedReference returns what the project carries of the reference: the files
// schema.Select keeps (non-public services and unused imports gone), written or
// provided by third_party/proto, in the generic JSON form. It is read once per test
// binary.
func carriedReference(t *testing.T) (map[string]schema.File, *schema.Selection) {
	t.Helper()
	path := requireReference(t)
	carried.once.Do(func() {
		set, err := schema.LoadSet(path)
		if err != nil {
			carried.err = err
			return
		}
		provided := func(p string) bool {
			if schema.WellKnownFile(p) {
				return true
			}
			_, err := os.Stat(filepath.Join(repoRoot(), "third_party", "proto", filepath.FromSlash(p)))
			return err == nil
		}
		sel, err := schema.Select(set, provided)
		if err != nil {
			carried.err = err
			return
		}
		files := map[string]schema.File{}
		for _, f := range append(slices.Clone(sel.Files), sel.Provided...) {
			j, err := set.JSON(f)
			if err != nil {
				carried.err = err
				return
			}
			files[f.GetName()] = j
		}
		carried.files, carried.sel = files, sel
	})
	if carried.err != nil {
		t.Fatal(carried.err)
	}
	return carried.files, carried.sel
}

// repoRoot is the checkout this test file sits in.
func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

// buildProjectImage compiles proto/ with the project's pinned buf, exactly as
// `make generate` sees it, and returns every kentik/ file of the image. Building from
// the sources (not from linked Go packages) means a new service is checked as soon as
// its .proto file exists.
func buildProjectImage(t *testing.T) map[string]schema.File {
	t.Helper()
	out := filepath.Join(t.TempDir(), "image.json")
	cmd := exec.Command("go", "tool", "-modfile=tools/go.mod", "buf", "build", "--exclude-source-info", "-o", out)
	cmd.Dir = repoRoot()
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf build: %v\n%s", err, msg)
	}
	all, err := schema.LoadReference(out)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]schema.File{}
	for name, f := range all {
		if strings.HasPrefix(name, "kentik/") {
			files[name] = f
		}
	}
	return files
}

// conform compares the project's kentik files with what it carries of the reference:
// the same files, and no difference in any of them.
func conform(t *testing.T, got map[string]schema.File) {
	t.Helper()
	want, sel := carriedReference(t)
	for path := range want {
		if _, ok := got[path]; !ok {
			t.Errorf("%s: missing (the reference's selection carries it)", path)
		}
	}
	paths := make([]string, 0, len(got))
	for path := range got {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	files, differences := 0, 0
	for _, path := range paths {
		w, ok := want[path]
		if !ok {
			t.Errorf("%s: not in what the project carries of Kentik's schema", path)
			continue
		}
		files++
		if d := schema.Diff(w, got[path]); len(d) > 0 {
			differences += len(d)
			t.Errorf("%s: %d differences from Kentik's schema:\n  %s", path, len(d), strings.Join(d, "\n  "))
		}
	}
	t.Logf("%d files (%d packages with public services) compared, %d differences", files, len(sel.Packages), differences)
}

// TestConformance compares every kentik/ file of the project's schema, as buf compiles
// it, with Kentik's published descriptor, field by field.
func TestConformance(t *testing.T) {
	conform(t, buildProjectImage(t))
}

// TestGeneratedConformance does the same for the descriptors protoc-gen-go wrote into
// gen/, which is what goes on the wire from Go. It reads each .pb.go's rawDesc constant
// from the source, so a newly generated package is checked without being linked here.
func TestGeneratedConformance(t *testing.T) {
	conform(t, generatedFiles(t))
}

// TestSelectionOfReference pins what the reference holds and what the sync keeps of it,
// so a broken reference or selection cannot pass as an empty comparison.
func TestSelectionOfReference(t *testing.T) {
	_, sel := carriedReference(t)
	if sel.Services != 60 || sel.Methods != 289 || len(sel.Packages) != 44 {
		t.Errorf("public: %d services, %d methods, %d packages; want 60, 289, 44", sel.Services, sel.Methods, len(sel.Packages))
	}
	if len(sel.Files) != 83 || len(sel.Provided) != 1 || sel.Provided[0].GetName() != "kentik/core/v202303/annotations.proto" {
		t.Errorf("%d files written and %d provided; want 83 and kentik/core/v202303/annotations.proto", len(sel.Files), len(sel.Provided))
	}
	var services []string
	for _, o := range sel.Omitted {
		if o.Kind == "service" {
			services = append(services, o.Name)
		}
	}
	want := []string{
		"kentik.diagnostic.v202501.DiagnosticService",
		"kentik.kagent.v202401.CapabilityAdminService",
		"kentik.kagent.v202401.CapabilityReleaseService",
		"kentik.ktbgp.v202501.RouteService",
		"kentik.vault.v202312alpha1.VaultService",
	}
	if !slices.Equal(services, want) {
		t.Errorf("services left out: %v, want %v", services, want)
	}
	for _, f := range sel.Files {
		if f.GetName() == "kentik/kagent/v202401/capability.proto" && (len(f.GetService()) != 0 || len(f.GetMessageType()) == 0) {
			t.Errorf("capability.proto keeps %d services and %d messages; want none and all", len(f.GetService()), len(f.GetMessageType()))
		}
		if f.GetName() == "kentik/diagnostic/v202501/diagnostic.proto" {
			t.Error("diagnostic.proto (no public service, imported by nothing) is written")
		}
	}
}

// generatedFiles decodes the rawDesc constant of every .pb.go under gen/, keyed by the
// proto file's path.
func generatedFiles(t *testing.T) map[string]schema.File {
	t.Helper()
	files := map[string]schema.File{}
	err := filepath.WalkDir(filepath.Join(repoRoot(), "gen"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pb.go") {
			return err
		}
		src, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range src.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasSuffix(vs.Names[0].Name, "_rawDesc") {
					continue
				}
				raw, err := constString(vs.Values[0])
				if err != nil {
					return fmt.Errorf("%s: %s: %w", p, vs.Names[0].Name, err)
				}
				f, err := schema.FromRawDescriptor([]byte(raw))
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				if name, _ := f["name"].(string); strings.HasPrefix(name, "kentik/") {
					files[name] = f
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// constString evaluates a constant made of concatenated string literals, the form
// protoc-gen-go writes rawDesc in.
func constString(e ast.Expr) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		return strconv.Unquote(e.Value)
	case *ast.ParenExpr:
		return constString(e.X)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			a, err := constString(e.X)
			if err != nil {
				return "", err
			}
			b, err := constString(e.Y)
			return a + b, err
		}
	}
	return "", fmt.Errorf("not a string constant: %T", e)
}

// TestInterfaceServiceShape pins the facts every other package relies on, so a broken
// reference file or a silent skip cannot hide a missing service.
func TestInterfaceServiceShape(t *testing.T) {
	fd, err := protoregistry.GlobalFiles.FindDescriptorByName("kentik.interface.v202108alpha1.InterfaceService")
	if err != nil {
		t.Fatal(err)
	}
	sd := fd.(protoreflect.ServiceDescriptor)
	want := []string{"ManualClassify", "ListInterface", "GetInterface", "CreateInterface", "UpdateInterface", "DeleteInterface"}
	if sd.Methods().Len() != len(want) {
		t.Fatalf("InterfaceService has %d methods, want %d", sd.Methods().Len(), len(want))
	}
	for i, name := range want {
		if got := string(sd.Methods().Get(i).Name()); got != name {
			t.Errorf("method %d = %s, want %s", i, got, name)
		}
	}
}

// TestDiffReportsAlterations proves the comparison can fail: each alteration of a copy of
// the reference must be reported.
func TestDiffReportsAlterations(t *testing.T) {
	ref := loadReference(t)
	const path = "kentik/interface/v202108alpha1/interface.proto"
	alterations := []struct {
		name   string
		alter  func(f schema.File)
		expect string
	}{
		{"field number", func(f schema.File) { field(f, "Interface", "provider")["number"] = 99.0 }, "messageType[Interface].field[provider].number: want 15, got 99"},
		{"field type", func(f schema.File) { field(f, "Interface", "snmp_speed")["type"] = "TYPE_INT64" }, "field[snmp_speed].type"},
		{"field label", func(f schema.File) {
			field(f, "ManualClassifyRequest", "interface_ids")["label"] = "LABEL_OPTIONAL"
		}, "field[interface_ids].label"},
		{"json name", func(f schema.File) { field(f, "Interface", "device_id")["jsonName"] = "device_id" }, "field[device_id].jsonName"},
		{"renamed method", func(f schema.File) { method(f, "ManualClassify")["name"] = "ManualClassify2" }, "method[ManualClassify]: missing"},
		{"streaming", func(f schema.File) { method(f, "ListInterface")["serverStreaming"] = true }, "method[ListInterface].serverStreaming: unexpected"},
		{"http binding", func(f schema.File) {
			method(f, "GetInterface")["options"].(map[string]any)["[google.api.http]"] = map[string]any{"get": "/interface/v202108alpha1/interface/{id}"}
		}, "[google.api.http].get"},
		{"method scope", func(f schema.File) {
			method(f, "DeleteInterface")["options"].(map[string]any)["[kentik.core.v202303.method_scope]"] = "admin.interface:read"
		}, "method_scope]"},
		{"enum value", func(f schema.File) {
			enumValue(f, "ConnectivityType", "CONNECTIVITY_TYPE_TRANSIT")["number"] = 16.0
		}, "value[CONNECTIVITY_TYPE_TRANSIT].number"},
		{"reserved range", func(f schema.File) { message(f, "Interface")["reservedRange"] = []any{} }, "reservedRange"},
		{"extra message", func(f schema.File) {
			f["messageType"] = append(f["messageType"].([]any), map[string]any{"name": "Extra"})
		}, "messageType[Extra]: unexpected"},
	}
	for _, a := range alterations {
		t.Run(a.name, func(t *testing.T) {
			copyOf := cloneFile(t, ref[path])
			a.alter(copyOf)
			d := schema.Diff(ref[path], copyOf)
			if len(d) == 0 {
				t.Fatalf("alteration %q was not reported", a.name)
			}
			if !strings.Contains(strings.Join(d, "\n"), a.expect) {
				t.Errorf("alteration %q: differences do not mention %q:\n%s", a.name, a.expect, strings.Join(d, "\n"))
			}
		})
	}
}
