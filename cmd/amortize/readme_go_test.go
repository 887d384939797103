package main

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amortize/amortize/prior"
)

// readmeGoSection is the README section whose ```go blocks TestREADMEGo runs.
const readmeGoSection = "## Go API"

// stdImports are the packages outside the module that a README snippet may
// name.
var stdImports = map[string]string{
	"context": "context", "errors": "errors", "fmt": "fmt", "log": "log", "math": "math", "os": "os",
	"rand": "math/rand/v2", "strings": "strings", "time": "time", "mat": "gonum.org/v1/gonum/mat",
}

var (
	// dropped matches a statement that drops its last result, an error,
	// with `_`: "a, _ := f()" or "_ = f()".
	dropped   = regexp.MustCompile(`^(\s*)(?:(.*), _ (:?=)|_ (=)) (.*)$`)
	pkgRef    = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Z]`)
	stringLit = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`")
)

// goProgram turns a README snippet, a function body, into a main package:
// it imports the packages the snippet names (pkgs maps package names to
// import paths), and checks each error the snippet drops with `_`, exiting
// with the snippet's line, so that a snippet that fails at run time fails
// as one that no longer compiles does.
func goProgram(snippet string, pkgs map[string]string) (string, error) {
	imports := map[string]bool{"fmt": true, "os": true} // check's
	var body strings.Builder
	depth, pending := 0, 0 // bracket depth; line of a dropped error not yet checked
	for i, line := range strings.Split(strings.TrimRight(snippet, "\n"), "\n") {
		code := stringLit.ReplaceAllString(line, `""`) // the line's code, without strings or comment
		if c := strings.Index(code, "//"); c >= 0 {
			code = code[:c]
		}
		for _, m := range pkgRef.FindAllStringSubmatch(code, -1) {
			if path, ok := pkgs[m[1]]; ok {
				imports[path] = true
			}
		}
		if m := dropped.FindStringSubmatch(line); m != nil && depth == 0 {
			if m[2] != "" {
				line = m[1] + m[2] + ", err " + m[3] + " " + m[5]
			} else {
				line = m[1] + "err " + m[4] + " " + m[5]
			}
			pending = i + 1
		}
		depth += strings.Count(code, "(") + strings.Count(code, "{") + strings.Count(code, "[") -
			strings.Count(code, ")") - strings.Count(code, "}") - strings.Count(code, "]")
		body.WriteString("\t" + line + "\n")
		if pending > 0 && depth == 0 {
			fmt.Fprintf(&body, "\tcheck(%d, err)\n", pending)
			pending = 0
		}
	}
	if depth != 0 {
		return "", fmt.Errorf("unbalanced brackets in the snippet")
	}
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for _, p := range paths {
		fmt.Fprintf(&src, "\t%q\n", p)
	}
	src.WriteString(")\n\nfunc main() {\n\tvar err error\n" + body.String() + "\t_ = err\n}\n\n")
	src.WriteString("func check(line int, err error) {\n\tif err != nil {\n" +
		"\t\tfmt.Fprintf(os.Stderr, \"README snippet line %d: %v\\n\", line, err)\n\t\tos.Exit(1)\n\t}\n}\n")
	return src.String(), nil
}

// modulePackages maps the name of each package of the module rooted at
// root to its import path (the shortest, should two share a name), and the
// names of stdImports that no package of the module takes to theirs.
func modulePackages(root, module string) (map[string]string, error) {
	pkgs := make(map[string]string)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly)
		if err != nil || f.Name.Name == "main" {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		imp := module
		if rel != "." {
			imp += "/" + filepath.ToSlash(rel)
		}
		if old, ok := pkgs[f.Name.Name]; !ok || len(imp) < len(old) {
			pkgs[f.Name.Name] = imp
		}
		return nil
	})
	for name, path := range stdImports {
		if _, ok := pkgs[name]; !ok {
			pkgs[name] = path
		}
	}
	return pkgs, err
}

// TestREADMEGo compiles and runs each ```go block of the README's Go API
// section as the body of a main function, in an empty directory: a README
// whose Go code stops compiling, or returns an error, fails the tests.
func TestREADMEGo(t *testing.T) {
	needLibrary(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeBlocks(readme, readmeGoSection, "go")
	if len(blocks) == 0 {
		t.Fatalf("README.md has no ```go blocks under %q", readmeGoSection)
	}
	pkgs, err := modulePackages(root, "github.com/amortize/amortize")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for i, b := range blocks {
		src, err := goProgram(b, pkgs)
		if err != nil {
			t.Fatalf("README Go block %d: %v\n%s", i+1, err, b)
		}
		// The program lives inside the module to build against this tree;
		// the leading _ keeps it out of ./... patterns meanwhile.
		dir, err := os.MkdirTemp(root, "_readme")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		exe := filepath.Join(bin, fmt.Sprintf("block%d", i+1))
		build := exec.CommandContext(ctx, "go", "build", "-o", exe, "./"+filepath.Base(dir))
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			cancel()
			t.Fatalf("README Go block %d does not compile: %v\n%s\nas a program:\n%s", i+1, err, out, src)
		}
		run := exec.CommandContext(ctx, exe)
		run.Dir = t.TempDir()
		out, err := run.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("README Go block %d failed: %v\n%s\noutput:\n%s", i+1, err, b, out)
		}
		t.Logf("block %d:\n%s%s", i+1, b, out)
	}
}

func TestGoProgram(t *testing.T) {
	pkgs := map[string]string{"fmt": "fmt", "prior": "example.com/m/prior", "strings": "strings"}
	snippet := "a, _ := prior.Parse(\"x.Y\") // strings.Fields\nf := func() {\n\tb, _ := g(\n\t\t1)\n}\n_ = prior.Write(a,\n\t2)\nfor _, v := range a {}\n"
	got, err := goProgram(snippet, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"import (\n\t\"example.com/m/prior\"\n\t\"fmt\"\n\t\"os\"\n)\n",
		"\ta, err := prior.Parse(\"x.Y\") // strings.Fields\n\tcheck(1, err)\n",
		"\tb, _ := g(\n", // inside a function literal: not main's error
		"\terr = prior.Write(a,\n\t\t2)\n\tcheck(6, err)\n",
		"\tfor _, v := range a {}\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("program lacks %q:\n%s", want, got)
		}
	}
	if _, err := goProgram("f(\n", pkgs); err == nil {
		t.Error("unbalanced snippet: no error")
	}
}

// TestREADMEPriors parses every prior the README writes inline as JSON.
func TestREADMEPriors(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile("`(\\{\"type\":[^`]*\\})`").FindAllSubmatch(readme, -1)
	if len(found) < 2 {
		t.Fatalf("README.md writes %d inline priors, want the independent and multivariate normal examples", len(found))
	}
	for _, m := range found {
		if _, err := prior.Unmarshal(m[1]); err != nil {
			t.Errorf("README prior %s: %v", m[1], err)
		}
	}
}
