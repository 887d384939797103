package tasks

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/amortize/amortize/benchmarks"
)

// The compiled-in data holds every observation of every sbibm task: no
// test or command depends on a directory outside the repository.
func TestReferenceAllObservations(t *testing.T) {
	t.Setenv(BenchmarkEnv, "")
	dir := BenchmarkData()
	for _, name := range benchmarks.Tasks() {
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
	tmpDir := t.TempDir()
	tmp := os.DirFS(tmpDir)
	if task.HasReference(tmp) || task.HasReference(nil) {
		t.Error("HasReference true for an empty directory")
	}
	if _, err := task.Reference(tmp, 1); !errors.Is(err, ErrNoReference) {
		t.Errorf("missing files: error %v, want ErrNoReference", err)
	}
	if _, err := task.Reference(tmp, 0); err == nil {
		t.Error("observation 0: no error")
	}

	od := filepath.Join(tmpDir, "two_moons", "obs01")
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

// $AMORTIZE_BENCHMARKS replaces the compiled-in data with a directory,
// whose files may be plain or gzip-compressed.
func TestBenchmarkDataEnv(t *testing.T) {
	dir := t.TempDir()
	od := filepath.Join(dir, "two_moons", "obs01")
	if err := os.MkdirAll(od, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"observation.csv":                 "data_1,data_2\n0.5,0.25\n",
		"true_parameters.csv":             "parameter_1,parameter_2\n0.3,0.4\n",
		"reference_posterior_samples.csv": "parameter_1,parameter_2\n0.1,0.2\n",
	} {
		if err := os.WriteFile(filepath.Join(od, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(BenchmarkEnv, dir)
	task := mustGet(t, "two_moons")
	ref, err := task.Reference(BenchmarkData(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Observation[0] != 0.5 {
		t.Errorf("observation %v, want the directory's", ref.Observation)
	}
	if mustGet(t, "slcp").HasReference(BenchmarkData()) {
		t.Error("slcp has reference data in a directory that holds only two_moons")
	}
}
