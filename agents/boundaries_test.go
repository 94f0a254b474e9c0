package agents

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/paceline-ha/paceline"

// TestBoundaries enforces the layering ARCHITECTURE.md describes (section
// "Layers"), which says why each rule is there: pkg never imports
// agents, agents never import each other, libvirt stays inside
// agents/virtualdomain, the environment is read and the process ended only
// in pkg/ocf and pkg/fence, and no package does work in init().
func TestBoundaries(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "build", "testdata", "tests", "packaging":
				// tests and packaging are programs of their own, never
				// linked into the agents' binaries.
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.ToSlash(filepath.Dir(rel))
		test := strings.HasSuffix(path, "_test.go")
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			checkImport(t, rel, dir, p)
		}
		if !test {
			checkBody(t, fset, path, rel, dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		t.Log("the rules and their reasons: ARCHITECTURE.md, section Layers")
	}
}

func checkImport(t *testing.T, rel, dir, p string) {
	t.Helper()
	switch {
	case strings.HasPrefix(dir, "pkg/") && strings.HasPrefix(p, module+"/agents"):
		t.Errorf("%s: pkg imports %s", rel, p)
	case strings.HasPrefix(dir, "agents/") && strings.HasPrefix(p, module+"/agents/"):
		own := module + "/" + dir
		if !strings.HasPrefix(p, own) {
			t.Errorf("%s: agent imports another agent %s", rel, p)
		}
	}
	if strings.HasPrefix(p, "libvirt.org/") && !strings.HasPrefix(dir, "agents/virtualdomain") {
		t.Errorf("%s: libvirt imported outside agents/virtualdomain", rel)
	}
	// go-ipmi's start-up work must stay out of the OCF agents' build.
	if strings.HasPrefix(p, "github.com/bougou/go-ipmi") && !strings.HasPrefix(dir, "agents/fenceipmilan") {
		t.Errorf("%s: go-ipmi imported outside agents/fenceipmilan", rel)
	}
	if p == "C" && !strings.HasPrefix(dir, "agents/virtualdomain") {
		t.Errorf("%s: cgo outside agents/virtualdomain", rel)
	}
}

func checkBody(t *testing.T, fset *token.FileSet, path, rel, dir string) {
	t.Helper()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Errorf("%s: %v", rel, err)
		return
	}
	envOK := dir == "pkg/ocf" || dir == "pkg/fence" || dir == "."
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Name.Name == "init" && n.Recv == nil {
				t.Errorf("%s: func init() does work at load", rel)
			}
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && id.Name == "os" {
				switch n.Sel.Name {
				case "Getenv", "LookupEnv", "Environ":
					if !envOK && !(dir == "agents" && n.Sel.Name == "Environ") {
						t.Errorf("%s: os.%s outside pkg/ocf and pkg/fence", rel, n.Sel.Name)
					}
				case "Exit":
					if !envOK {
						t.Errorf("%s: os.Exit outside pkg/ocf, pkg/fence and main", rel)
					}
				}
			}
		}
		return true
	})
}

// TestFileSizes keeps files small enough to be read in one sitting, as
// ARCHITECTURE.md says: at most 500 lines for the product's code, 650 for
// a test file or the test harness (everything under tests/).
func TestFileSizes(t *testing.T) {
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "build", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		limit := 500
		if strings.HasSuffix(rel, "_test.go") || strings.HasPrefix(rel, "tests"+string(filepath.Separator)) {
			limit = 650
		}
		if n := strings.Count(string(data), "\n"); n > limit {
			t.Errorf("%s has %d lines, more than %d: split it by what its parts do", rel, n, limit)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
