package tasks

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

var sbibmTasks = []string{"gaussian_linear", "two_moons", "slcp", "gaussian_mixture", "bernoulli_glm"}

func TestReferenceAllObservations(t *testing.T) {
	dir := benchDir(t)
	for _, name := range sbibmTasks {
		task := mustGet(t, name)
		if !task.HasReference(dir) {
			t.Errorf("%s: HasReference(%s) = false", name, dir)
			continue
		}
		for obs := 1; obs <= 10; obs++ {
			ref, err := task.Reference(dir, obs)
			if err != nil {
				t.Fatalf("%s obs %d: %v", name, obs, err)
			}
			r, c := ref.Samples.Dims()
			if r != 10000 || c != task.Prior.Dim() || len(ref.TrueTheta) != c || len(ref.Observation) != task.Simulator.XDim() {
				t.Errorf("%s obs %d: samples %d×%d, θ %d, x %d", name, obs, r, c, len(ref.TrueTheta), len(ref.Observation))
			}
			// The true θ is a prior draw.
			if !task.Prior.InSupport(ref.TrueTheta) {
				t.Errorf("%s obs %d: true θ %v outside the prior support", name, obs, ref.TrueTheta)
			}
		}
	}
}

func TestReferenceErrors(t *testing.T) {
	task := mustGet(t, "two_moons")
	tmp := t.TempDir()
	if task.HasReference(tmp) || task.HasReference("") {
		t.Error("HasReference true for an empty directory")
	}
	if _, err := task.Reference(tmp, 1); !errors.Is(err, ErrNoReference) {
		t.Errorf("missing files: error %v, want ErrNoReference", err)
	}
	if _, err := task.Reference(tmp, 0); err == nil {
		t.Error("observation 0: no error")
	}

	od := filepath.Join(tmp, "two_moons", "obs01")
	if err := os.MkdirAll(od, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(od, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("observation.csv", "data_1,data_2\n0.1,0.2\n")
	write("true_parameters.csv", "parameter_1,parameter_2\n0.3,0.4\n")
	write("reference_posterior_samples.csv", "parameter_1,parameter_2\n0.1,0.2\n0.3,0.4\n0.5,0.6\n")
	if !task.HasReference(tmp) {
		t.Error("HasReference false for a complete directory")
	}
	ref, err := task.Reference(tmp, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := ref.Samples.Dims(); r != 3 || ref.Samples.At(2, 1) != 0.6 || ref.TrueTheta[1] != 0.4 || ref.Observation[0] != 0.1 {
		t.Errorf("read %+v", ref)
	}

	for _, tc := range []struct{ file, content string }{
		{"reference_posterior_samples.csv", "parameter_1\n0.1\n"},
		{"observation.csv", "data_1,data_2,data_3\n1,2,3\n"},
		{"true_parameters.csv", "parameter_1,parameter_2\n0.3,0.4\n0.5,0.6\n"},
	} {
		write(tc.file, tc.content)
		if _, err := task.Reference(tmp, 1); !errors.Is(err, ErrShape) {
			t.Errorf("%s with wrong shape: error %v, want ErrShape", tc.file, err)
		}
		// Restore a valid file for the next case.
		write("observation.csv", "data_1,data_2\n0.1,0.2\n")
		write("true_parameters.csv", "parameter_1,parameter_2\n0.3,0.4\n")
		write("reference_posterior_samples.csv", "parameter_1,parameter_2\n0.1,0.2\n")
	}
	for _, content := range []string{"", "parameter_1,parameter_2\n", "parameter_1,parameter_2\n0.1,abc\n", "parameter_1,parameter_2\n0.1\n"} {
		write("reference_posterior_samples.csv", content)
		if _, err := task.Reference(tmp, 1); err == nil {
			t.Errorf("malformed samples %q: no error", content)
		}
	}
}

func TestBenchmarkDirEnv(t *testing.T) {
	t.Setenv(BenchmarkEnv, "/some/where")
	if got := BenchmarkDir(); got != "/some/where" {
		t.Errorf("BenchmarkDir() = %q with %s set", got, BenchmarkEnv)
	}
}

func TestBenchmarkDirModuleRoot(t *testing.T) {
	t.Setenv(BenchmarkEnv, "")
	root := t.TempDir()
	sub := filepath.Join(root, "module", "pkg", "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "module", "go.mod"), []byte("module m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if got := BenchmarkDir(); got != "" {
		t.Errorf("BenchmarkDir() = %q without a benchmark directory", got)
	}
	want := filepath.Join(root, "shared", "benchmarks")
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	got := BenchmarkDir()
	// TempDir may sit behind a symbolic link; compare the directories.
	gi, err1 := os.Stat(got)
	wi, err2 := os.Stat(want)
	if err1 != nil || err2 != nil || !os.SameFile(gi, wi) {
		t.Errorf("BenchmarkDir() = %q, want %q", got, want)
	}
}
