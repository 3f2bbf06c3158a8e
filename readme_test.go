// The test that every Go snippet of the repository's README.md compiles as written,
// imports and credentials included: the README is the root package's front page.

package kentik_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// snippet is one ```go block of the README.
type snippet struct {
	line int // of the opening fence
	code string
}

// goSnippets returns the ```go blocks of a Markdown text.
func goSnippets(md string) []snippet {
	var out []snippet
	var cur *snippet
	var b strings.Builder
	for i, line := range strings.Split(md, "\n") {
		switch trimmed := strings.TrimSpace(line); {
		case cur == nil && trimmed == "```go":
			cur = &snippet{line: i + 1}
			b.Reset()
		case cur != nil && trimmed == "```":
			cur.code = b.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return out
}

// asFile makes a snippet a Go file. A snippet that starts with a package clause is a
// file already. Otherwise it is an import declaration followed by either declarations
// (func ...), kept at the top level, or statements, which become the body of
// func(ctx context.Context) error (the context is the one thing a snippet may use
// without declaring it). Nothing else is added: a snippet must import what it uses,
// and use what it declares.
func asFile(s snippet, n int) (string, error) {
	code := strings.TrimSpace(s.code)
	if strings.HasPrefix(code, "package ") {
		return code + "\n", nil
	}
	if !strings.HasPrefix(code, "import ") {
		return "", fmt.Errorf("README.md:%d: a Go snippet must start with a package clause or its imports", s.line)
	}
	imports, rest := splitImports(code)
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+imports, parser.ImportsOnly)
	if err != nil {
		return "", fmt.Errorf("README.md:%d: imports: %w", s.line, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "package snippet%d\n\n%s\n", n, imports)
	if strings.HasPrefix(rest, "func ") || strings.HasPrefix(rest, "type ") || strings.HasPrefix(rest, "var ") {
		b.WriteString(rest + "\n")
		return b.String(), nil
	}
	if !imported(f, "context") {
		b.WriteString("import \"context\"\n\n")
	}
	fmt.Fprintf(&b, "func snippet(ctx context.Context) error {\n%s\n\treturn nil\n}\n", rest)
	return b.String(), nil
}

// splitImports splits the leading import declarations from the rest of a snippet.
func splitImports(code string) (imports, rest string) {
	lines := strings.Split(code, "\n")
	i, inBlock := 0, false
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case inBlock:
			inBlock = l != ")"
		case strings.HasPrefix(l, "import ("):
			inBlock = true
		case strings.HasPrefix(l, "import "), l == "":
		default:
			return strings.Join(lines[:i], "\n"), strings.TrimSpace(strings.Join(lines[i:], "\n"))
		}
	}
	return code, ""
}

func imported(f *ast.File, path string) bool {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == path {
			return true
		}
	}
	return false
}

// TestREADMESnippetsCompile builds every Go snippet of README.md, each alone, with the
// module's own packages and requirements.
func TestREADMESnippetsCompile(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	snippets := goSnippets(string(md))
	if len(snippets) < 5 {
		t.Fatalf("README.md has %d Go snippets; the test expects the library's (at least 5)", len(snippets))
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the README's snippets with: %v", err)
	}
	dir := t.TempDir()
	for i, s := range snippets {
		src, err := asFile(s, i)
		if err != nil {
			t.Error(err)
			continue
		}
		file := filepath.Join(dir, fmt.Sprintf("snippet%d", i), "snippet.go")
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		// A file outside the module, built from inside it, is compiled against the
		// module's packages and go.mod.
		cmd := exec.Command(goTool, "build", "-o", os.DevNull, file)
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("README.md:%d: the snippet does not compile: %v\n%s\nas built:\n%s", s.line, err, out.String(), numbered(src))
		}
	}
}

// TestAsFile: fragments are wrapped as documented; a snippet of another shape is refused.
func TestAsFile(t *testing.T) {
	got, err := asFile(snippet{line: 1, code: "import \"fmt\"\n\nfmt.Println(ctx)\n"}, 3)
	want := "package snippet3\n\nimport \"fmt\"\n\nimport \"context\"\n\nfunc snippet(ctx context.Context) error {\nfmt.Println(ctx)\n\treturn nil\n}\n"
	if err != nil || got != want {
		t.Errorf("statements: %v\n%q\nwant\n%q", err, got, want)
	}
	got, err = asFile(snippet{line: 1, code: "import (\n\t\"testing\"\n)\n\nfunc TestX(t *testing.T) {}\n"}, 1)
	if err != nil || !strings.HasSuffix(got, ")\n\nfunc TestX(t *testing.T) {}\n") || strings.Contains(got, "context") {
		t.Errorf("declarations: %v\n%s", err, got)
	}
	if _, err := asFile(snippet{line: 7, code: "x := 1\n"}, 0); err == nil || !strings.Contains(err.Error(), "README.md:7") {
		t.Errorf("no imports: %v", err)
	}
}

func numbered(src string) string {
	var b strings.Builder
	for i, l := range strings.Split(src, "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, l)
	}
	return b.String()
}
