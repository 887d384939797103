// Package webdeps finds, for the tests of the Node and browser examples,
// what scripts/web-deps.sh installs: node, chromium, the npm packages and
// onnxruntime-web's page files.
package webdeps

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Deps are the paths scripts/web-deps.sh prints.
type Deps struct {
	Node, Chromium          string
	NodeModules, WebModules string // node_modules of examples/node and examples/browser
	ORTWeb                  string // onnxruntime-web's page files
	Root                    string // the repository
}

// What a test needs.
const (
	NodeOnly = "node" // node and examples/node's packages
	All      = ""     // and Chromium and examples/browser's packages
)

// Get runs scripts/web-deps.sh, which installs only what is missing. When
// Node or Chromium cannot be installed the test is skipped with the reason,
// except under CI (CI set), where the checks must run; any other failure of
// the script fails the test.
func Get(t testing.TB, need string) Deps {
	t.Helper()
	root := moduleRoot(t)
	cmd := exec.Command(filepath.Join(root, "scripts", "web-deps.sh"), need)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := "scripts/web-deps.sh: " + err.Error() + ": " + strings.TrimSpace(stderr.String())
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 {
			t.Fatal(msg)
		}
		if os.Getenv("CI") != "" {
			t.Fatal("Node and Chromium are required under CI: " + msg)
		}
		t.Skip("skipping: Node or Chromium cannot be installed (" + msg + ")")
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Log(s)
	}
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	d := Deps{Node: kv["node"], Chromium: kv["chromium"], NodeModules: kv["node_modules"],
		WebModules: kv["web_modules"], ORTWeb: kv["ort_web"], Root: root}
	for k, v := range map[string]string{"node": d.Node, "chromium": d.Chromium, "node_modules": d.NodeModules, "web_modules": d.WebModules, "ort_web": d.ORTWeb} {
		if v == "" && (need == All || k == "node" || k == "node_modules") {
			t.Fatalf("scripts/web-deps.sh printed no %s= line:\n%s", k, out)
		}
	}
	return d
}

// Stage copies the example directories named into a new temporary
// directory, side by side as in the repository (the Node example imports
// ../browser/amortize.mjs), and links each one's node_modules to modules[name],
// so that node resolves packages as it would in a user's checkout, without
// writing into the source tree.
func Stage(t testing.TB, d Deps, modules map[string]string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		src := filepath.Join(d.Root, "examples", name)
		if err := copyTree(filepath.Join(dir, name), src); err != nil {
			t.Fatal(err)
		}
		if m, ok := modules[name]; ok {
			if err := os.Symlink(m, filepath.Join(dir, name, "node_modules")); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// copyTree copies the regular files under src to dst, leaving out
// node_modules (a user's own install would hold links).
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		switch {
		case e.IsDir() && e.Name() == "node_modules":
			return filepath.SkipDir
		case e.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case !e.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

func moduleRoot(t testing.TB) string {
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
