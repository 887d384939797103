package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/simulator/tasks"
)

func amortize(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), newRoot(), args, &out, &errb)
	return out.String() + errb.String(), code
}

func needLibrary(t *testing.T) {
	if _, err := runtime.FindLibrary(""); err != nil && os.Getenv("CI") == "" {
		t.Skip(err)
	}
}

// TestDemo runs the end-to-end demo with a small budget: simulate, train,
// export, reload through onnxruntime, sample, C2ST and the pair plot.
func TestDemo(t *testing.T) {
	needLibrary(t)
	if tasks.BenchmarkDir() == "" {
		t.Skip("no benchmark reference data")
	}
	dir := t.TempDir()
	out, code := amortize(t, "demo", "--sims", "1000", "--estimator", "maf", "--hidden", "16", "--max-epochs", "5",
		"--samples", "500", "--out", dir)
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, out)
	}
	m := regexp.MustCompile(`obs 01  C2ST ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no C2ST in the demo's output:\n%s", out)
	}
	// Five epochs on 1,000 simulations learn something but not everything.
	if c, _ := strconv.ParseFloat(m[1], 64); c < 0.5 || c > 0.999 {
		t.Errorf("C2ST %v out of range", c)
	}
	for _, f := range []string{"model.onnx", "obs01_samples.csv", "pairplot.png", "sbc.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("demo did not write %s: %v", f, err)
		}
	}
	png, _ := os.ReadFile(filepath.Join(dir, "pairplot.png"))
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Error("pairplot.png is not a PNG")
	}
}

// TestPipeline drives the CLI as a user would: simulate to a file, train
// from it, export, inspect and sample the model file.
func TestPipeline(t *testing.T) {
	needLibrary(t)
	dir := t.TempDir()
	sims := filepath.Join(dir, "sims.npz")
	model := filepath.Join(dir, "model.json")
	onnx := filepath.Join(dir, "model.onnx")
	prior := filepath.Join(dir, "prior.json")
	if err := os.WriteFile(prior, []byte(`{"type":"box_uniform","low":[-1,-1],"high":[1,1]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"simulate", "--task", "two_moons", "--n", "600", "--out", sims},
		{"train", "--data", sims, "--prior", prior, "--estimator", "gaussian", "--hidden", "8", "--max-epochs", "3", "--out", model},
		{"export", model, "--out", onnx},
		{"inspect", onnx},
		{"bench", "speed", onnx, "--reps", "1"},
		{"sample", onnx, "--x", "0.1,0.2", "--n", "50", "--seed", "3"},
	}
	var last string
	for _, s := range steps {
		out, code := amortize(t, s...)
		if code != 0 {
			t.Fatalf("%v exited %d:\n%s", s, code, out)
		}
		last = out
	}
	lines := strings.Split(strings.TrimSpace(last), "\n")
	if len(lines) != 51 {
		t.Errorf("sample printed %d lines, want a header and 50 rows", len(lines))
	}
	for _, bad := range [][]string{
		{"simulate", "--task", "nope", "--out", sims},
		{"train", "--data", sims, "--estimator", "nope", "--out", model},
		{"simulate", "--n", "-3", "--out", sims},
		{"bench", "accuracy", "--obs", "x"},
		{"bench", "accuracy", "--task", "two_moons", "--x", "0.1,0.2"}, // no exact posterior
	} {
		if out, code := amortize(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage):\n%s", bad, code, out)
		}
	}
	if out, code := amortize(t, "bench", "accuracy", "--task", "gaussian_linear_3d", "--x", "1,2"); code == 0 || !strings.Contains(out, "--x has 2 values") {
		t.Errorf("bench accuracy with a short --x: exit %d:\n%s", code, out)
	}
	if out, code := amortize(t, "export", filepath.Join(dir, "missing.json"), "--out", onnx); code == 0 {
		t.Errorf("export of a missing file succeeded:\n%s", out)
	}
}
