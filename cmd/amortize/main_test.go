package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/runtime"
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
	// From an empty directory with no reference data configured, as an
	// installed binary runs: the data is compiled in.
	t.Setenv("AMORTIZE_BENCHMARKS", "")
	t.Chdir(t.TempDir())
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
	// The samples carry the model's θ names, as amortize sample writes them.
	if b, _ := os.ReadFile(filepath.Join(dir, "obs01_samples.csv")); !bytes.HasPrefix(b, []byte("theta_1,theta_2\n")) {
		t.Errorf("obs01_samples.csv starts %q, want the header theta_1,theta_2", b[:min(len(b), 30)])
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

// TestTrainMethods trains, exports and inspects an NLE and an NRE model
// through the CLI, and refuses mismatched flags.
func TestTrainMethods(t *testing.T) {
	needLibrary(t)
	dir := t.TempDir()
	sims := filepath.Join(dir, "sims.npz")
	if out, code := amortize(t, "simulate", "--task", "two_moons", "--n", "600", "--out", sims); code != 0 {
		t.Fatalf("simulate exited %d:\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		want []string // in inspect's output
	}{
		{[]string{"--method", "nle", "--estimator", "mdn", "--hidden", "8"}, []string{"method     nle", "estimator  mdn", `loss       {"kind":"nll"}`, "[batch, n_x, 2]"}},
		{[]string{"--method", "nre", "--loss", "nre-b", "--atoms", "5", "--hidden", "8"}, []string{"method     nre", "estimator  resnet", `{"kind":"nre-b","atoms":5}`, "log_ratio"}},
		{[]string{"--method", "nre", "--classifier", "linear", "--loss", "bnre"}, []string{"estimator  linear", `"lambda":100`}},
	} {
		model, onnx := filepath.Join(dir, "m.json"), filepath.Join(dir, "m.onnx")
		args := append([]string{"train", "--data", sims, "--max-epochs", "2", "--out", model}, c.args...)
		if out, code := amortize(t, args...); code != 0 {
			t.Fatalf("%v exited %d:\n%s", args, code, out)
		}
		if out, code := amortize(t, "export", model, "--out", onnx); code != 0 {
			t.Fatalf("export exited %d:\n%s", code, out)
		}
		out, code := amortize(t, "inspect", onnx)
		if code != 0 {
			t.Fatalf("inspect exited %d:\n%s", code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: inspect lacks %q:\n%s", c.args, w, out)
			}
		}
	}
	for _, bad := range [][]string{
		{"--method", "nope"},
		{"--method", "nre", "--estimator", "maf"},
		{"--method", "nle", "--estimator", "resnet"},
		{"--method", "nre", "--loss", "nre-x"},
		{"--method", "nre", "--loss", "nre-b", "--atoms", "1"},
	} {
		args := append([]string{"train", "--data", sims, "--out", filepath.Join(dir, "bad.json")}, bad...)
		if out, code := amortize(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage):\n%s", bad, code, out)
		}
	}
}

// writeCSV writes a small dataset of two θ and two x columns under the
// header given.
func writeCSV(t *testing.T, path, header string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := range 300 {
		u := float64(i%17)/17 - 0.5
		v := float64(i%13)/13 - 0.5
		fmt.Fprintf(&b, "%g,%g,%g,%g\n", u, v, u+0.1*v, v-0.1*u)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// train --data learns where the prior comes from before training: the
// dataset (simulate's .npz and .csv carry it), --prior inline or in a
// file, or an error that names --prior, at once.
func TestTrainPrior(t *testing.T) {
	needLibrary(t)
	dir := t.TempDir()
	small := []string{"--estimator", "gaussian", "--hidden", "8", "--max-epochs", "2"}
	box := `{"type":"box_uniform","low":[-1,-1],"high":[1,1]}`

	// A CSV with other names and no prior: refused before training, which
	// with these flags would take minutes.
	long := []string{"--estimator", "nsf", "--max-epochs", "1000", "--patience", "1000"}
	foreign := filepath.Join(dir, "foreign.csv")
	writeCSV(t, foreign, "a,b,c,d")
	start := time.Now()
	out, code := amortize(t, append([]string{"train", "--data", foreign, "--theta-dim", "2", "--onnx", filepath.Join(dir, "f.onnx")}, long...)...)
	if code != 2 || !strings.Contains(out, "--prior") || strings.Contains(out, "Options") {
		t.Errorf("train without a prior: exit %d, want 2 naming --prior before any epoch:\n%s", code, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("train without a prior took %v to fail", d)
	}
	// Default names but no prior: still refused, still at once.
	named := filepath.Join(dir, "named.csv")
	writeCSV(t, named, "theta_1,theta_2,x_1,x_2")
	if out, code := amortize(t, append([]string{"train", "--data", named, "--onnx", filepath.Join(dir, "n.onnx")}, long...)...); code != 2 || !strings.Contains(out, "--prior") {
		t.Errorf("default names, no prior: exit %d:\n%s", code, out)
	}
	// Without --theta-dim, other names need --theta-dim or --prior.
	if out, code := amortize(t, "train", "--data", foreign, "--onnx", filepath.Join(dir, "f.onnx")); code != 2 || !strings.Contains(out, "--theta-dim") {
		t.Errorf("unnamed columns: exit %d:\n%s", code, out)
	}
	if out, code := amortize(t, "train", "--data", foreign, "--prior", "{bad", "--onnx", filepath.Join(dir, "f.onnx")); code != 2 || !strings.Contains(out, "--prior") {
		t.Errorf("malformed inline prior: exit %d:\n%s", code, out)
	}

	// Inline JSON and a file both work, and the prior reaches the model file.
	priorFile := filepath.Join(dir, "prior.json")
	if err := os.WriteFile(priorFile, []byte(box), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{box, priorFile} {
		onnx := filepath.Join(dir, fmt.Sprintf("p%d.onnx", i))
		if out, code := amortize(t, append([]string{"train", "--data", foreign, "--prior", p, "--onnx", onnx}, small...)...); code != 0 {
			t.Fatalf("--prior %s: exit %d:\n%s", p, code, out)
		}
		if out, code := amortize(t, "sample", onnx, "--x", "0,0", "--n", "5", "--seed", "1"); code != 0 {
			t.Errorf("sample after --prior %s: exit %d:\n%s", p, code, out)
		}
	}

	// simulate's files carry the prior: the README's pipeline, with no
	// --prior and no --theta-dim.
	for _, ext := range []string{".csv", ".npz"} {
		sims := filepath.Join(dir, "sims"+ext)
		onnx := filepath.Join(dir, "sims"+ext+".onnx")
		for _, args := range [][]string{
			{"simulate", "--task", "two_moons", "--n", "300", "--out", sims},
			append([]string{"train", "--data", sims, "--onnx", onnx}, small...),
			{"sample", onnx, "--x", "0.1,0.2", "--n", "5", "--seed", "1"},
		} {
			if out, code := amortize(t, args...); code != 0 {
				t.Fatalf("%v: exit %d:\n%s", args, code, out)
			}
		}
	}
}

// Without the onnxruntime library the demo stops before simulating and
// training, not minutes later when it reopens the model.
func TestDemoNoLibrary(t *testing.T) {
	t.Chdir(t.TempDir())
	start := time.Now()
	out, code := amortize(t, "demo", "--library", filepath.Join(t.TempDir(), "missing.so"), "--max-epochs", "1000", "--patience", "1000")
	if code == 0 || !strings.Contains(out, "onnxruntime shared library not found") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failed after %v", d)
	}
}
