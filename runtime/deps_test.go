package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoTrainerDeps keeps the serving side light: the runtime, the
// posterior, the inference command and the Go service example must not
// link gorgonia, nor the benchmark reference data (14 MB).
func TestNoTrainerDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("no go command:", err)
	}
	root := moduleRoot(t)
	pkgs := []string{"./runtime", "./posterior", "./examples/goservice"}
	if files, _ := filepath.Glob(filepath.Join(root, "cmd", "amortize-infer", "*.go")); len(files) > 0 {
		pkgs = append(pkgs, "./cmd/amortize-infer")
	}
	for _, p := range pkgs {
		cmd := exec.Command(goTool, "list", "-e", "-deps", p)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "gorgonia.org" || strings.HasPrefix(dep, "gorgonia.org/") || dep == "github.com/amortize/amortize/benchmarks" {
				t.Errorf("%s depends on %s", p, dep)
			}
		}
	}
}

// moduleRoot is the directory holding go.mod, found upwards from the
// package directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
}
