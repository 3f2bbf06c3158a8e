package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gateway.go must register every service that make generate wrote a handler for: a
// service added to the schema and not listed there would have no REST mapping in the
// fake.
func TestRegistersEveryGeneratedService(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "gateway.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	aliases := map[string]string{} // import path → name
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if imp.Name != nil {
			aliases[p] = imp.Name.Name
		}
	}
	listed := map[string]bool{} // "alias.RegisterXHandler"
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				listed[id.Name+"."+sel.Sel.Name] = true
			}
		}
		return true
	})

	root := filepath.Join("..", "..", "..")
	want := 0
	err = filepath.WalkDir(filepath.Join(root, "gen", "gateway"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pb.gw.go") {
			return err
		}
		gf, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		importPath := "github.com/gokentik/kentik/" + filepath.ToSlash(rel)
		alias, ok := aliases[importPath]
		if !ok {
			t.Errorf("gateway.go does not import %s", importPath)
			return nil
		}
		for _, decl := range gf.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Register") || !strings.HasSuffix(fn.Name.Name, "ServiceHandler") {
				continue
			}
			want++
			if !listed[alias+"."+fn.Name.Name] {
				t.Errorf("gateway.go does not register %s.%s", alias, fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want != len(registrations) || want == 0 {
		t.Errorf("gen/gateway has %d services, gateway.go registers %d", want, len(registrations))
	}
}
