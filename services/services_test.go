package services

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The schema carries 60 public services with 289 methods in 44 packages
// (internal/schema's TestSelectionOfReference pins the same from Kentik's reference).
func TestAll(t *testing.T) {
	ss := All()
	pkgs, methods := map[string]bool{}, 0
	for _, s := range ss {
		pkgs[s.Package] = true
		methods += len(s.Methods)
		if len(s.Methods) != s.Desc.Methods().Len() {
			t.Errorf("%s: %d of %d methods described", s.Name, len(s.Methods), s.Desc.Methods().Len())
		}
	}
	if len(ss) != 60 || methods != 289 || len(pkgs) != 44 {
		t.Fatalf("%d services, %d methods, %d packages; want 60, 289, 44", len(ss), methods, len(pkgs))
	}
	if !slices.IsSortedFunc(ss, func(a, b *Service) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("not sorted")
	}
	mkp := Lookup("kentik.mkp.v202407.TenantService")
	if mkp == nil || mkp.Host != "mkp.api.kentik.com" || mkp.Stability != "GA" {
		t.Fatalf("TenantService: %+v", mkp)
	}
	if Lookup("kentik.nope.v1.X") != nil {
		t.Error("found a service that is not there")
	}
}

// all.go imports every generated package of gen/: a package added by make generate and
// not listed there would be a service no program using this package knows.
func TestImportsEveryGeneratedPackage(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "all.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		imported[p] = true
	}
	want := map[string]bool{}
	err = filepath.WalkDir(filepath.Join("..", "gen"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pb.go") {
			return err
		}
		rel, _ := filepath.Rel("..", filepath.Dir(p))
		want["github.com/gokentik/kentik/"+filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range want {
		if !imported[p] {
			t.Errorf("all.go does not import %s: add\n\t_ %q", p, p)
		}
	}
	for p := range imported {
		if !want[p] {
			t.Errorf("all.go imports %s, which gen/ no longer has", p)
		}
	}
}
