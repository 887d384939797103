package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/runtime/runtimetest"
	"github.com/amortize/amortize/trainer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// run is amortize with separate stdout and stderr.
func run(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), newRoot(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBadFlagValues: every invalid flag value is a usage error (exit 2)
// with one line naming the flag, before any work: values the commands used
// to replace silently by a default (--batch 0, --candidates 0), values
// that crashed with "out of memory" (--n 1000000000) and values that
// failed late with exit 1.
func TestBadFlagValues(t *testing.T) {
	dir := t.TempDir()
	ckpt := writeFile(t, dir, "run.ckpt", "59 epochs of work")
	prior := writeFile(t, dir, "prior.json", `{"type":"box_uniform","low":[-1,-1],"high":[1,1]}`)
	out := filepath.Join(dir, "out.npz")
	model := filepath.Join(dir, "m.json")
	train := []string{"train", "--task", "two_moons", "--sims", "100", "--out", model}
	accuracy := []string{"bench", "accuracy", "--task", "gaussian_linear_3d", "--x", "1,2,3", "--sims", "100"}
	sample := []string{"sample", "nothing.onnx", "--x", "0,0"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"simulate", "--n", "0", "--out", out}, "--n 0"},
		{[]string{"simulate", "--n", "-3", "--out", out}, "--n -3"},
		{[]string{"simulate", "--n", "1000000000", "--out", out}, "--n 1000000000"},
		{[]string{"simulate", "--workers", "-1", "--out", out}, "--workers -1"},
		{[]string{"simulate", "--out", filepath.Join(dir, "sims.txt")}, "want a .npz or .csv file"},
		{[]string{"simulate", "--simulator-cmd", "  ", "--prior", prior, "--x-dim", "2", "--out", out}, "--simulator-cmd is empty"},
		{[]string{"simulate", "--simulator-cmd", "cat", "--task", "slcp", "--prior", prior, "--x-dim", "2", "--out", out}, "not both"},
		{[]string{"simulate", "--simulator-cmd", "cat", "--prior", prior, "--x-dim", "-2", "--out", out}, "--x-dim -2"},
		{append(train, "--batch", "0"), "--batch 0"},
		{append(train, "--batch", "-1"), "--batch -1"},
		{append(train, "--lr", "0"), "--lr 0"},
		{append(train, "--lr", "NaN"), "--lr NaN"},
		{append(train, "--lr", "-1"), "--lr -1"},
		{append(train, "--lr", "+Inf"), "--lr +Inf"},
		{append(train, "--validation", "0"), "--validation 0"},
		{append(train, "--validation", "1"), "--validation 1"},
		{append(train, "--patience", "0"), "--patience 0"},
		{append(train, "--max-epochs", "-1"), "--max-epochs -1"},
		{append(train, "--lr-decay", "1"), "--lr-decay 1"},
		{append(train, "--lr-decay", "-0.5"), "--lr-decay -0.5"},
		{append(train, "--lr-patience", "0"), "--lr-patience 0"},
		{append(train, "--clip", "-1"), "--clip -1"},
		{append(train, "--clip", "NaN"), "--clip NaN"},
		{append(train, "--hidden", "-1"), "--hidden -1"},
		{append(train, "--bins", "-4"), "--bins -4"},
		{append(train, "--sims", "0"), "--sims 0"},
		{append(train, "--sims", "1000000000"), "--sims 1000000000"},
		{append(train, "--checkpoint", ckpt), "--resume"},
		{append(train, "--checkpoint", dir, "--force"), "is a directory"},
		{append(train, "--checkpoint", ckpt, "--resume", "--force"), "not both"},
		{append(train, "--resume"), "need --checkpoint"},
		{append(train, "--force"), "need --checkpoint"},
		{append(accuracy, "--samples", "0"), "--samples 0"},
		{append(accuracy, "--samples", "1000000000"), "--samples 1000000000"},
		{append(accuracy, "--c2st-n", "-1"), "--c2st-n -1"},
		{append(accuracy, "--batch", "0"), "--batch 0"},
		{[]string{"bench", "accuracy", "--task", "gaussian_linear_3d", "--x", "1,a,3"}, `--x: row 1: "a" is not a number`},
		{[]string{"bench", "accuracy", "--task", "gaussian_linear_3d", "--x", "1,2"}, "--x has 2 values"},
		{[]string{"bench", "accuracy", "--obs", "0-3"}, "bad observation range"},
		{[]string{"bench", "accuracy", "--obs", "1-1000000000"}, "more than 1000 observations"},
		{[]string{"demo", "--obs", "0"}, "--obs 0"},
		{[]string{"demo", "--obs", "11"}, "--obs 11"},
		{[]string{"demo", "--samples", "0"}, "--samples 0"},
		{[]string{"demo", "--batch", "0"}, "--batch 0"},
		{[]string{"bench", "speed", "nothing.onnx", "--reps", "0"}, "--reps 0"},
		{[]string{"bench", "speed", "nothing.onnx", "--reps", "1000000000"}, "--reps 1000000000"},
		{[]string{"bench", "speed", "nothing.onnx", "--threads", "-1"}, "--threads -1"},
		{append(sample, "--n", "1000000000"), "--n 1000000000"},
		{append(sample, "--n", "0"), "--n 0"},
		{append(sample, "--batch-draws", "0"), "--batch-draws 0"},
		{append(sample, "--batch-draws", "-1"), "--batch-draws -1"},
		{append(sample, "--threads", "-1"), "--threads -1"},
		{append(sample, "--threads", "100000"), "--threads 100000"},
		{append(sample, "--device", "gpu"), "--device \"gpu\""},
		{append(sample, "--device-id", "-1"), "--device-id -1"},
		{[]string{"bench", "speed", "nothing.onnx", "--device", "tpu"}, "--device \"tpu\""},
		{[]string{"map", "nothing.onnx", "--x", "0,0", "--candidates", "0"}, "--candidates 0"},
		{[]string{"map", "nothing.onnx", "--x", "0,0", "--candidates", "1000000000"}, "--candidates 1000000000"},
		{[]string{"map", "nothing.onnx", "--x", "0,0", "--starts", "0"}, "--starts 0"},
		{[]string{"map", "nothing.onnx", "--x", "0,0", "--max-evaluations", "0"}, "--max-evaluations 0"},
		{[]string{"serve", "--models", dir, "--max-concurrent", "0"}, "--max-concurrent 0"},
		{[]string{"serve", "--models", dir, "--max-samples", "0"}, "--max-samples 0"},
		{[]string{"serve", "--models", dir, "--max-samples", "1000000000"}, "--max-samples 1000000000"},
		{[]string{"serve", "--models", dir, "--max-body", "0"}, "--max-body 0"},
		{[]string{"serve", "--models", dir, "--batch-draws", "0"}, "--batch-draws 0"},
		{[]string{"serve", "--models", dir, "--workers", "1000000000"}, "--workers 1000000000"},
		{[]string{"serve", "--models", dir, "--timeout", "0s"}, "--timeout 0s"},
		{[]string{"serve", "--models", dir, "--shutdown-timeout", "-1s"}, "--shutdown-timeout -1s"},
		{[]string{"serve", "--models", dir, "--addr", "8080"}, `--addr "8080": want host:port`},
		{[]string{"serve", "--models", dir, "--addr", ":70000"}, "port 70000 out of range"},
	} {
		name := strings.Join(c.args, " ")
		stdout, stderr, code := run(c.args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2; stderr %q", name, code, stderr)
			continue
		}
		if !strings.HasPrefix(stderr, "amortize: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: stderr %q, want one line naming %q", name, stderr, c.want)
		}
		if stdout != "" {
			t.Errorf("%s: stdout %q on a usage error", name, stdout)
		}
	}
	if b, _ := os.ReadFile(ckpt); string(b) != "59 epochs of work" {
		t.Errorf("the existing checkpoint was overwritten: %q", b)
	}
}

// TestClipOff: --clip 0 turns clipping off; the trainer alone would read
// 0 as its default, 5. A run with --clip 0 cannot be resumed with --clip 5.
func TestClipOff(t *testing.T) {
	var tf trainFlags
	cmd := &cobra.Command{}
	tf.register(cmd)
	if o := tf.options(); o.ClipMaxNorm != 5 {
		t.Errorf("default --clip gives %v, want sbi's 5", o.ClipMaxNorm)
	}
	if err := cmd.Flags().Set("clip", "0"); err != nil {
		t.Fatal(err)
	}
	if o := tf.options(); o.ClipMaxNorm != trainer.NoClip {
		t.Errorf("--clip 0 gives %v, want trainer.NoClip", o.ClipMaxNorm)
	}

	dir := t.TempDir()
	ckpt := filepath.Join(dir, "run.ckpt")
	args := []string{"train", "--task", "two_moons", "--sims", "200", "--estimator", "gaussian", "--hidden", "8",
		"--checkpoint", ckpt, "--out", filepath.Join(dir, "m.json")}
	if _, stderr, code := run(append(args, "--clip", "0", "--max-epochs", "1")...); code != 0 {
		t.Fatalf("train --clip 0: exit %d: %s", code, stderr)
	}
	_, stderr, code := run(append(args, "--clip", "5", "--max-epochs", "2", "--resume")...)
	if code == 0 || !strings.Contains(stderr, "gradient clip is -1, this run's is 5") {
		t.Errorf("resuming a --clip 0 run with --clip 5: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(append(args, "--clip", "0", "--max-epochs", "2", "--resume")...); code != 0 {
		t.Errorf("resuming with the same --clip 0: exit %d: %s", code, stderr)
	}
}

// TestCheckpointForce: an existing checkpoint is replaced only with --force.
func TestCheckpointForce(t *testing.T) {
	dir := t.TempDir()
	ckpt := writeFile(t, dir, "run.ckpt", "old")
	onnx := filepath.Join(dir, "m.onnx")
	args := []string{"train", "--task", "two_moons", "--sims", "200", "--estimator", "gaussian", "--hidden", "8",
		"--max-epochs", "1", "--checkpoint", ckpt, "--onnx", onnx}
	if _, stderr, code := run(args...); code != 2 || !strings.Contains(stderr, "--force") {
		t.Errorf("train over an existing checkpoint: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(append(args, "--force")...); code != 0 {
		t.Fatalf("train --force: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(ckpt); string(b) == "old" {
		t.Error("--force kept the old checkpoint")
	}
	// The model file is an ordinary output, readable by all.
	if st, err := os.Stat(onnx); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("model file: %v, %v; want mode 0644", st, err)
	}
}

// TestSimulatorCommand: a user's simulator is named in messages, and the
// rows it fails (NaN) are reported by train as by simulate.
func TestSimulatorCommand(t *testing.T) {
	dir := t.TempDir()
	prior := writeFile(t, dir, "prior.json", `{"type":"box_uniform","low":[-1,-1],"high":[1,1]}`)
	// x = θ, except NaN where θ₁ > 0.5: about a quarter of the rows.
	script := writeFile(t, dir, "sim.awk", `NR == 1 { print "x_1,x_2"; next }
{ if ($1 > 0.5) print "nan,nan"; else print $1 "," $2 }
`)
	sim := "awk -F, -f " + script
	stdout, stderr, code := run("simulate", "--simulator-cmd", sim, "--prior", prior, "--x-dim", "2", "--n", "400",
		"--out", filepath.Join(dir, "sims.npz"))
	if code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	re := regexp.MustCompile(`of awk -F, -f \S+sim\.awk to .* \(([0-9]+) dropped for NaN/Inf\)`)
	if m := re.FindStringSubmatch(stdout); m == nil || m[1] == "0" || strings.Contains(stdout, "two_moons") {
		t.Errorf("simulate does not name the simulator or its dropped rows: %q", stdout)
	}
	stdout, stderr, code = run("train", "--simulator-cmd", sim, "--prior", prior, "--x-dim", "2", "--sims", "400",
		"--estimator", "gaussian", "--hidden", "8", "--max-epochs", "1", "--out", filepath.Join(dir, "m.json"))
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	re = regexp.MustCompile(`simulated [0-9]+ of awk -F, -f \S+ \(([0-9]+) dropped for NaN/Inf\)`)
	if m := re.FindStringSubmatch(stdout); m == nil || m[1] == "0" {
		t.Errorf("train does not report the dropped rows: %q", stdout)
	}
}

// TestProgressPipe: on a pipe (or a file) progress is plain lines, without
// the carriage returns and escape codes of a terminal's bar.
func TestProgressPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	b := newBar(w, "simulate")
	for i := range 11 {
		b.update(i*10, 100, "")
	}
	b = newBar(w, "train")
	b.line("epoch 1")
	b.line("epoch 2")
	b.done()
	dir := t.TempDir()
	var out bytes.Buffer
	code := cli.Run(context.Background(), newRoot(), []string{"train", "--task", "two_moons", "--sims", "200",
		"--estimator", "gaussian", "--hidden", "8", "--max-epochs", "2", "--out", filepath.Join(dir, "m.json")}, &out, w)
	w.Close()
	text := string(<-got)
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, text)
	}
	if strings.ContainsAny(text, "\r\x1b") {
		t.Errorf("terminal controls on a pipe: %q", text)
	}
	for _, want := range []string{"simulate 100/100 in ", "train epoch 1\ntrain epoch 2\n",
		"simulate two_moons 200/200 in ", "train gaussian epoch 2 "} {
		if !strings.Contains(text, want) {
			t.Errorf("progress on a pipe lacks %q:\n%s", want, text)
		}
	}
}

// TestFlagUsage: every flag's help reads as written. pflag takes a
// backticked word in a usage string as the value's name and drops the
// backticks (`--task amortize tasks   task name`), so none may have them.
func TestFlagUsage(t *testing.T) {
	var visit func(*cobra.Command)
	n := 0
	visit = func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			n++
			name := c.CommandPath() + " --" + f.Name
			switch {
			case strings.Contains(f.Usage, "`"):
				t.Errorf("%s: backtick in usage %q", name, f.Usage)
			case strings.TrimSpace(f.Usage) != f.Usage || f.Usage == "":
				t.Errorf("%s: usage %q is empty or padded", name, f.Usage)
			case strings.Contains(f.Usage, "  "), strings.HasSuffix(f.Usage, "."):
				t.Errorf("%s: usage %q has a double space or a full stop", name, f.Usage)
			}
			// The value names pflag prints for people; "float64Slice" and
			// a default of "[]" are not for them.
			typ, _ := pflag.UnquoteUsage(f)
			if !slices.Contains([]string{"", "string", "int", "float", "uint", "duration"}, typ) || f.DefValue == "[]" {
				t.Errorf("%s: value %s, default %q", name, typ, f.DefValue)
			}
		}
		c.LocalFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(newRoot())
	if n < 50 {
		t.Errorf("checked %d flags; the walk missed commands", n)
	}
}

// TestProgramName: messages of the inference commands carry the name of
// the program run, amortize, not amortize-infer.
func TestProgramName(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	m := runtimetest.RandomModel(t, "maf", 2, 3, 8, 3)
	runtimetest.SetBox(t, m, -2, 2)
	path := filepath.Join(dir, "small.onnx")
	if err := export.WriteFile(m, path); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run("sample", path, "--x", "0,0,0", "--n", "5")
	if code != 0 || !strings.HasPrefix(stderr, "amortize: seed ") {
		t.Errorf("exit %d, stderr %q; want the seed note from amortize", code, stderr)
	}
	// The memory budget counts every observation's samples, after the
	// model tells θ's dimension.
	_, stderr, code = run("sample", path, "--x", "0,0,0;1,1,1", "--n", "100000000", "--seed", "1")
	if code != 2 || !strings.Contains(stderr, "--n 100000000") {
		t.Errorf("sample beyond the budget: exit %d, stderr %q", code, stderr)
	}
}
