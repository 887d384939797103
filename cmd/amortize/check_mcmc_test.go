package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nleData writes n (θ, x) pairs for the NLE and NRE golden files (θ in
// [−3, 3]², x of dimension 3), θ near the corner (2.9, −2.9) of the
// support when corner is set: pairs no prior predictive draws, so that
// the true θ ranks at the edge of every posterior.
func nleData(t *testing.T, n int, corner bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("theta_1,theta_2,x_1,x_2,x_3\n")
	rnd := rand.New(rand.NewPCG(3, 4))
	for range n {
		a, c := 6*rnd.Float64()-3, 6*rnd.Float64()-3
		if corner {
			a, c = 2.9+0.05*rnd.Float64(), -2.9-0.05*rnd.Float64()
		}
		fmt.Fprintf(&b, "%g,%g,%g,%g,%g\n", a, c, a+0.5*rnd.NormFloat64(), c+0.5*rnd.NormFloat64(), rnd.NormFloat64())
	}
	path := filepath.Join(t.TempDir(), "pairs.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The calibration checks sample NLE and NRE files by MCMC, chosen by the
// file's method, with sample's MCMC flags; the report says so, repeats
// for a seed, and SBC fails on pairs that the prior never drew.
func TestCheckMCMC(t *testing.T) {
	needLibrary(t)
	small := []string{"--n", "60", "--draws", "40", "--chains", "4", "--warmup", "10", "--thin", "1", "--init", "prior", "--format", "png"}
	data, corner := nleData(t, 60, false), nleData(t, 60, true)
	type rep struct {
		Check, Verdict, Sampling string
		Passed                   bool
		Plots                    []string
		Result                   map[string]any
	}
	read := func(t *testing.T, dir, check string) (rep, string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, check+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var r rep
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r, string(b)
	}
	for _, name := range []string{"nle_maf", "nre_resnet"} {
		model := filepath.Join("..", "..", "testdata", "golden", name+".onnx")
		for _, check := range []string{"sbc", "coverage", "tarp"} {
			t.Run(name+"/"+check, func(t *testing.T) {
				dir := t.TempDir()
				out, code := amortize(t, append([]string{"check", check, model, "--data", data, "--out", dir}, small...)...)
				if code != 0 {
					t.Fatalf("exit %d:\n%s", code, out)
				}
				r, first := read(t, dir, check)
				if r.Check != check || r.Result["n"] != 60.0 || !strings.Contains(out, r.Verdict) {
					t.Errorf("report %s / n %v / verdict %q not in output:\n%s", r.Check, r.Result["n"], r.Verdict, out)
				}
				if !strings.HasPrefix(r.Sampling, "mcmc slice, 4 chains") {
					t.Errorf("sampling %q: want MCMC with the flags' settings", r.Sampling)
				}
				for _, p := range r.Plots {
					if b, err := os.ReadFile(p); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
						t.Errorf("plot %s: %v", p, err)
					}
				}
				if len(r.Plots) == 0 {
					t.Error("no plots")
				}
				// Same seed, same report.
				if _, code := amortize(t, append([]string{"check", check, model, "--data", data, "--out", dir}, small...)...); code != 0 {
					t.Fatalf("second run exited %d", code)
				}
				if _, again := read(t, dir, check); again != first {
					t.Error("two runs with one seed wrote different reports")
				}
			})
		}
		t.Run(name+"/ppc", func(t *testing.T) {
			sh, err := exec.LookPath("sh")
			if err != nil {
				t.Skip(err)
			}
			dir := t.TempDir()
			// x = (θ₁, θ₂, 0) with no noise.
			sim := filepath.Join(dir, "sim.sh")
			if err := os.WriteFile(sim, []byte("read h; echo x_1,x_2,x_3; while IFS=, read a b; do echo \"$a,$b,0\"; done\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			out, code := amortize(t, "check", "ppc", model, "--simulator-cmd", sh+" "+sim, "--x", "0.5,-0.5,0", "--draws", "40",
				"--chains", "4", "--warmup", "10", "--init", "prior", "--format", "png", "--out", dir)
			if code != 0 || !strings.Contains(out, "Posterior predictive check") {
				t.Fatalf("ppc exited %d:\n%s", code, out)
			}
			if r, _ := read(t, dir, "ppc"); !strings.HasPrefix(r.Sampling, "mcmc slice, 4 chains") {
				t.Errorf("ppc sampling %q", r.Sampling)
			}
		})
		t.Run(name+"/sbc-fails", func(t *testing.T) {
			dir := t.TempDir()
			out, code := amortize(t, append([]string{"check", "sbc", model, "--data", corner, "--out", dir, "--fail-on-miscalibration"}, small...)...)
			if code != 1 || !strings.Contains(out, "MISCALIBRATED") {
				t.Errorf("θ at the support's corner: exit %d, want 1 and a failed verdict:\n%s", code, out)
			}
		})
	}
	nle := filepath.Join("..", "..", "testdata", "golden", "nle_maf.onnx")
	npe := filepath.Join("..", "..", "testdata", "golden", "nsf.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "sbc", nle, "--data", data, "--method", "direct"}, "only --method mcmc"},
		{[]string{"check", "sbc", nle, "--data", data, "--method", "gibbs"}, `--method "gibbs"`},
		{[]string{"check", "sbc", nle, "--data", data, "--chains", "0"}, "--chains 0"},
		{[]string{"check", "sbc", nle, "--data", data, "--mcmc-method", "hmc"}, "--mcmc-method"},
		{[]string{"check", "sbc", npe, "--data", checkData(t, 10), "--thin", "2"}, "--thin is for --method mcmc"},
	} {
		out, code := amortize(t, append(c.args, "--out", t.TempDir())...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", c.args[3:], code, c.want, out)
		}
	}
}
