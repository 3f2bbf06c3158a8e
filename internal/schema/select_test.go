package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gokentik/kentik/internal/schema"
)

// providedIn returns a provided function for Select: protobuf's well-known files, and
// the paths given.
func providedIn(paths ...string) func(string) bool {
	return func(p string) bool { return schema.WellKnownFile(p) || slices.Contains(paths, p) }
}

func names[T interface{ GetName() string }](list []T) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.GetName()
	}
	return out
}

// TestSelect runs the selection over the testdata schema: one public service kept, a
// protected one dropped from its file, a private file and an unused import left out,
// documentation options and their import gone.
func TestSelect(t *testing.T) {
	set, err := schema.LoadSet(testdataImage(t, "json"))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := schema.Select(set, providedIn("kentik/core/v202303/annotations.proto", "opts/v1/opts.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(sel.Files), []string{"kentik/shop/v1/shop.proto", "kentik/shop/v1/types.proto"}; !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
	if got := names(sel.Provided); !slices.Equal(got, []string{"kentik/core/v202303/annotations.proto"}) {
		t.Errorf("provided %v", got)
	}
	if sel.Services != 1 || sel.Methods != 4 || !slices.Equal(sel.Packages, []string{"kentik.shop.v1"}) {
		t.Errorf("%d services, %d methods, packages %v; want 1, 4, [kentik.shop.v1]", sel.Services, sel.Methods, sel.Packages)
	}
	wantImports := []string{
		"google/protobuf/descriptor.proto", "google/protobuf/duration.proto", "google/protobuf/struct.proto",
		"google/protobuf/timestamp.proto", "kentik/core/v202303/annotations.proto", "opts/v1/opts.proto",
	}
	if !slices.Equal(sel.Imports, wantImports) {
		t.Errorf("imports %v, want %v", sel.Imports, wantImports)
	}
	var omitted []string
	for _, o := range sel.Omitted {
		omitted = append(omitted, o.Kind+" "+o.Name)
	}
	wantOmitted := []string{
		"service kentik.private.v1.PrivateService",
		"service kentik.shop.v1.AdminService",
		"file google/protobuf/empty.proto",
		"file kentik/core/v202303/annotations.proto",
		"file kentik/private/v1/private.proto",
		"file kentik/shop/v1/unused.proto",
		"file protoc-gen-openapiv2/options/annotations.proto",
	}
	if !slices.Equal(omitted, wantOmitted) {
		t.Errorf("omitted:\n  %s\nwant:\n  %s", strings.Join(omitted, "\n  "), strings.Join(wantOmitted, "\n  "))
	}
	if sel.DocumentationOptions != 2 || sel.UnusedImports != 2 {
		t.Errorf("%d documentation options and %d unused imports left out, want 2 and 2", sel.DocumentationOptions, sel.UnusedImports)
	}
	shop := sel.Files[0]
	if got := names(shop.GetService()); !slices.Equal(got, []string{"ShopService"}) {
		t.Errorf("shop.proto services %v, want [ShopService]", got)
	}
	wantDeps := []string{
		"google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto", "google/protobuf/struct.proto",
		"kentik/core/v202303/annotations.proto", "kentik/shop/v1/types.proto", "opts/v1/opts.proto",
	}
	if !slices.Equal(shop.GetDependency(), wantDeps) {
		t.Errorf("shop.proto imports %v, want %v", shop.GetDependency(), wantDeps)
	}
	// The set itself is untouched: Select works on copies.
	if n := len(set.File("kentik/shop/v1/shop.proto").GetService()); n != 2 {
		t.Errorf("the set's shop.proto has %d services after Select, want 2", n)
	}
}

// An import that is neither one of Kentik's files nor provided stops the selection, with
// the file to define named.
func TestSelectNeedsProvidedImports(t *testing.T) {
	set, err := schema.LoadSet(testdataImage(t, "binpb"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = schema.Select(set, providedIn("kentik/core/v202303/annotations.proto"))
	if err == nil || !strings.Contains(err.Error(), "imports opts/v1/opts.proto") {
		t.Fatalf("err = %v, want one naming opts/v1/opts.proto", err)
	}
}

// TestSelectionKeepsTheWire compares each file the selection carries with the file as
// Kentik publishes it: the only differences allowed are the services that are not
// public and imports, so the selection (which the conformance tests compare against)
// cannot hide a change of the wire contract.
func TestSelectionKeepsTheWire(t *testing.T) {
	raw := loadReference(t)
	carried, sel := carriedReference(t)
	var dropped []string
	for _, o := range sel.Omitted {
		if o.Kind == "service" {
			dropped = append(dropped, o.Name)
		}
	}
	for path, f := range carried {
		for _, d := range schema.Diff(raw[path], f) {
			allowed := strings.HasPrefix(d, path+".dependency")
			for _, svc := range dropped {
				short := svc[strings.LastIndexByte(svc, '.')+1:]
				allowed = allowed || d == path+".service["+short+"]: missing"
			}
			if strings.HasPrefix(d, path+".service: missing") { // every service dropped
				allowed = true
				for _, svc := range raw[path]["service"].([]any) {
					name := raw[path]["package"].(string) + "." + svc.(map[string]any)["name"].(string)
					allowed = allowed && slices.Contains(dropped, name)
				}
			}
			if !allowed {
				t.Errorf("%s: the selection changed more than services and imports: %s", path, d)
			}
		}
	}
}
