package amortize_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// module is the import path of the project.
const module = "github.com/amortize/amortize"

// importRules are the arrows of docs/DESIGN.md's package graph that must
// not point back up: none of pkgs (paths within the module) may depend,
// directly or through others, on a package under any of forbid.
var importRules = []struct {
	pkgs, forbid []string
	why          string
}{
	{
		pkgs:   []string{"format", "format/onnxpb"},
		forbid: []string{module},
		why:    "the model file contract stands alone: any reader takes it without the project",
	},
	{
		pkgs:   []string{"prior"},
		forbid: []string{module},
		why:    "priors travel in datasets and model files; every stage imports them",
	},
	{
		pkgs:   []string{"models", "models/eager"},
		forbid: []string{module + "/export", module + "/trainer", module + "/runtime", "gorgonia.org"},
		why:    "estimators are written once over Ops; export and trainer implement Ops and import models",
	},
	{
		pkgs:   []string{"dataset", "simulator"},
		forbid: []string{module + "/trainer", module + "/models", module + "/export", module + "/runtime"},
		why:    "datasets and simulators come before training and know nothing of estimators",
	},
	{
		pkgs: []string{"runtime", "posterior", "api", "serve", "cmd/amortize-infer", "examples/goservice"},
		forbid: []string{"gorgonia.org", module + "/trainer", module + "/export", module + "/models",
			module + "/benchmarks"},
		why: "the serving side reads model files through the contract: no trainer, no writer, no 14 MB of reference data",
	},
	{
		pkgs:   []string{"export"},
		forbid: []string{"gorgonia.org", module + "/trainer", module + "/runtime"},
		why:    "the writer needs a trained model, not the trainer, and never reads back through the runtime",
	},
	{
		pkgs:   []string{"runtime"},
		forbid: []string{module + "/posterior", module + "/api", module + "/serve", module + "/cmd"},
		why:    "the runtime evaluates model files; what samples or serves them sits above it",
	},
	{
		pkgs:   []string{"posterior"},
		forbid: []string{module + "/api", module + "/serve", module + "/cmd"},
		why:    "posteriors are a library; the JSON, the server and the commands sit above them",
	},
	{
		pkgs:   []string{"api"},
		forbid: []string{module + "/serve", module + "/cmd"},
		why:    "the server and the commands share api; it imports neither",
	},
}

// TestImportRules checks importRules against `go list`: the packages'
// transitive dependencies, test files excluded.
func TestImportRules(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("no go command:", err)
	}
	cmd := exec.Command(goTool, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		deps[f[0]] = f[1:]
	}
	for _, r := range importRules {
		for _, p := range r.pkgs {
			ds, ok := deps[module+"/"+p]
			if !ok {
				t.Errorf("%s: no such package; update importRules and docs/DESIGN.md", p)
				continue
			}
			for _, f := range r.forbid {
				var bad []string
				for _, d := range ds {
					if d == f || strings.HasPrefix(d, f+"/") {
						bad = append(bad, d)
					}
				}
				switch len(bad) {
				case 0:
				case 1:
					t.Errorf("%s depends on %s: %s", p, bad[0], r.why)
				default:
					t.Errorf("%s depends on %s and %d more under %s: %s", p, bad[0], len(bad)-1, f, r.why)
				}
			}
		}
	}
}
