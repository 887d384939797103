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

// checkData writes n (θ, x) pairs for the golden NSF model (θ in
// [−3, 3]³, x of dimension 2) whose x says nothing about θ: the untrained
// model cannot be calibrated on them.
func checkData(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("theta_1,theta_2,theta_3,x_1,x_2\n")
	rnd := rand.New(rand.NewPCG(1, 2))
	for range n {
		fmt.Fprintf(&b, "%g,%g,%g,%g,%g\n", 6*rnd.Float64()-3, 6*rnd.Float64()-3, 6*rnd.Float64()-3, rnd.NormFloat64(), rnd.NormFloat64())
	}
	path := filepath.Join(t.TempDir(), "pairs.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckCommands(t *testing.T) {
	needLibrary(t)
	model := filepath.Join("..", "..", "testdata", "golden", "nsf.onnx")
	data := checkData(t, 300)
	for _, check := range []string{"sbc", "coverage", "tarp"} {
		t.Run(check, func(t *testing.T) {
			dir := t.TempDir()
			out, code := amortize(t, "check", check, model, "--data", data, "--n", "200", "--draws", "100", "--out", dir)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			var rep struct {
				Check, Verdict string
				Passed         bool
				Plots          []string
				Result         map[string]any
			}
			b, err := os.ReadFile(filepath.Join(dir, check+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Check != check || rep.Result["n"] != 200.0 || !strings.Contains(out, rep.Verdict) {
				t.Errorf("report %s / n %v / verdict %q not in output:\n%s", rep.Check, rep.Result["n"], rep.Verdict, out)
			}
			// θ drawn independently of x: no posterior is calibrated here.
			if rep.Passed || !strings.Contains(out, "MISCALIBRATED") {
				t.Errorf("an untrained model passed %s: %s", check, out)
			}
			for _, p := range rep.Plots {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if ok := strings.HasSuffix(p, ".png") && strings.HasPrefix(string(b), "\x89PNG") ||
					strings.HasSuffix(p, ".svg") && strings.Contains(string(b[:min(len(b), 200)]), "<svg"); !ok {
					t.Errorf("%s is not what its name says", p)
				}
			}
			if len(rep.Plots) < 2 {
				t.Errorf("plots %v: want PNG and SVG", rep.Plots)
			}
			_, code = amortize(t, "check", check, model, "--data", data, "--n", "200", "--draws", "100", "--out", dir, "--fail-on-miscalibration")
			if code != 1 {
				t.Errorf("--fail-on-miscalibration exited %d, want 1", code)
			}
		})
	}
}

func TestCheckLocal(t *testing.T) {
	needLibrary(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	model := filepath.Join("..", "..", "testdata", "golden", "nsf.onnx")
	dir := t.TempDir()
	// x = (θ₁, θ₂) with no noise: the header line, then the first two
	// columns of each θ row.
	sim := filepath.Join(dir, "sim.sh")
	if err := os.WriteFile(sim, []byte("read h; echo x_1,x_2; while IFS=, read a b c; do echo \"$a,$b\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := amortize(t, "check", "ppc", model, "--simulator-cmd", sh+" "+sim, "--x", "0.5,-0.5", "--draws", "200", "--out", dir)
	if code != 0 || !strings.Contains(out, "Posterior predictive check") {
		t.Fatalf("ppc exited %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ppc.png")); err != nil {
		t.Error(err)
	}
	out, code = amortize(t, "check", "lc2st", model, "--data", checkData(t, 200), "--x", "0.5,-0.5", "--draws", "200", "--nulls", "4", "--out", dir)
	if code != 0 || !strings.Contains(out, "Local C2ST") {
		t.Fatalf("lc2st exited %d:\n%s", code, out)
	}
}

func TestCheckUsage(t *testing.T) {
	needLibrary(t)
	model := filepath.Join("..", "..", "testdata", "golden", "nsf.onnx")
	data := checkData(t, 10)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "sbc", model}, "exactly one of"},
		{[]string{"check", "sbc", model, "--task", "two_moons"}, "θ dimension 2"},
		{[]string{"check", "ppc", model, "--data", data, "--x", "0,0"}, "not --data"},
		{[]string{"check", "lc2st", model, "--data", data}, "--x"},
		{[]string{"check", "ppc", model, "--task", "two_moons", "--x", "0"}, "θ dimension"},
		{[]string{"check", "sbc", model, "--data", data, "--format", "gif"}, "--format"},
		{[]string{"check", "sbc", model, "--data", data, "--draws", "0"}, "--draws"},
		{[]string{"check", "sbc", "missing.onnx", "--data", data}, "missing.onnx"},
	} {
		out, code := amortize(t, c.args...)
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", c.args, code, c.want, out)
		}
	}
}
