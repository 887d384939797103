package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchAccuracyMCMC trains tiny NLE and NRE models on two_moons and
// scores one reference observation through their MCMC posteriors; then
// bench mcmc times the NLE file against the same reference.
func TestBenchAccuracyMCMC(t *testing.T) {
	needLibrary(t)
	t.Setenv("AMORTIZE_BENCHMARKS", "")
	c2st := regexp.MustCompile(`obs 01  C2ST ([0-9.]+)  R-hat max ([0-9.]+)  ESS min ([0-9]+)  ([0-9]+) samples/s`)
	dir := t.TempDir()
	lines := map[string]string{}
	for _, method := range []string{"nle", "nre"} {
		out, code := amortize(t, "bench", "accuracy", "--task", "two_moons", "--method", method, "--sims", "500",
			"--hidden", "8", "--max-epochs", "2", "--obs", "1", "--samples", "400", "--chains", "20", "--warmup", "5",
			"--out", filepath.Join(dir, method))
		if code != 0 {
			t.Fatalf("%s: exit %d:\n%s", method, code, out)
		}
		m := c2st.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no C2ST, R-hat, ESS and speed line:\n%s", method, out)
		}
		lines[method] = m[0]
		for _, v := range m[1:] {
			if f, err := strconv.ParseFloat(v, 64); err != nil || !(f > 0) {
				t.Errorf("%s: figure %q in %q is not a positive number", method, v, m[0])
			}
		}
		if c, _ := strconv.ParseFloat(m[1], 64); c < 0.5 || c > 1 {
			t.Errorf("%s: C2ST %v out of [0.5, 1]", method, c)
		}
		if !strings.Contains(out, "mean C2ST") || !strings.Contains(out, "two_moons, "+method) {
			t.Errorf("%s: no mean line naming the method:\n%s", method, out)
		}
	}

	model := filepath.Join(dir, "nle", "model.onnx")
	if _, err := os.Stat(model); err != nil {
		t.Fatal(err)
	}
	// The file scored again through --model: the same draws, the same C2ST.
	again, code := amortize(t, "bench", "accuracy", "--task", "two_moons", "--model", model, "--obs", "1", "--samples", "400",
		"--chains", "20", "--warmup", "5")
	if code != 0 {
		t.Fatalf("--model: exit %d:\n%s", code, again)
	}
	if m := c2st.FindStringSubmatch(again); m == nil || m[1] != c2st.FindStringSubmatch(lines["nle"])[1] {
		t.Errorf("--model scored %q, the run that trained it %q", m, lines["nle"])
	}
	out, code := amortize(t, "bench", "mcmc", model, "--task", "two_moons", "--obs", "1", "--n", "200",
		"--chains", "20", "--thin", "2", "--warmup", "5", "--reps", "2")
	if code != 0 {
		t.Fatalf("bench mcmc: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"samples/s ", "R-hat max ", "ESS min ", "C2ST ", "slice: 20 chains × 10 draws (warm-up 5, thin 2)"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench mcmc lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range [][]string{
		{"bench", "mcmc", model, "--n", "10"},                                       // no observation
		{"bench", "mcmc", model, "--x", "0.1,0.2", "--task", "two_moons"},           // two
		{"bench", "mcmc", model, "--x", "0.1,0.2,0.3"},                              // wrong length
		{"bench", "mcmc", model, "--x", "0.1,0.2", "--reps", "0"},                   // no run
		{"bench", "mcmc", model, "--x", "0.1,0.2", "--mcmc-method", "hmc"},          // no such sampler
		{"bench", "accuracy", "--task", "slcp", "--model", model, "--obs", "1"},     // another task's model
		{"bench", "accuracy", "--task", "two_moons", "--obs", "1", "--chains", "5"}, // npe is sampled directly
	} {
		if out, code := amortize(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage):\n%s", bad, code, out)
		}
	}
}
