package runtime_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/amortize/amortize/runtime"
)

func openGolden(t *testing.T, name string) *runtime.Model {
	t.Helper()
	m, err := runtime.Open(filepath.Join("..", "testdata", "golden", name+".onnx"), runtime.Options{Threads: 1})
	if errors.Is(err, runtime.ErrNoLibrary) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestMethodCalls checks that each method's calls work on its own files
// and return ErrInput, never panic, on another method's.
func TestMethodCalls(t *testing.T) {
	npe, nle, nre := openGolden(t, "maf"), openGolden(t, "nle_maf"), openGolden(t, "nre_resnet")
	for m, want := range map[*runtime.Model]string{npe: "npe", nle: "nle", nre: "nre"} {
		if m.Method() != want {
			t.Errorf("method %q, want %q", m.Method(), want)
		}
	}
	th, x := make([]float32, 2*nle.ThetaDim()), make([]float32, 2*3*nle.XDim())
	if _, err := nle.LogLikelihood(th, 2, x, 3); err != nil {
		t.Error(err)
	}
	if _, _, err := nle.SampleX(th, 2, 4, rand.NewPCG(1, 1)); err != nil {
		t.Error(err)
	}
	if _, err := nre.LogRatio(make([]float32, 2*nre.XDim()), 2, make([]float32, 2*3*nre.ThetaDim()), 3); err != nil {
		t.Error(err)
	}
	for name, err := range map[string]error{
		"LogLikelihood on npe": second(npe.LogLikelihood(th, 2, x, 3)),
		"LogRatio on nle":      second(nle.LogRatio(x, 2, th, 1)),
		"SampleX on nre":       third(nre.SampleX(th, 2, 1, nil)),
		"LogProb on nle":       second(nle.LogProb(x, 2, th, 1)),
		"Sample on nre":        third(nre.Sample(x, 2, 1, nil)),
		"draws from nre":       second(nre.Run(make([]float32, 2*nre.XDim()), 2, nil, 0, nil, 3, nil)),
		"short x for nle":      second(nle.LogLikelihood(th, 2, x[:5], 3)),
		"IID without trials":   second(nle.LogLikelihoodIID(th, 2, nil, 0)),
	} {
		if !errors.Is(err, runtime.ErrInput) {
			t.Errorf("%s: error %v, want ErrInput", name, err)
		}
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

// TestLogLikelihoodIID checks the sum over a set of trials shared by many θ
// against LogLikelihood's rows.
func TestLogLikelihoodIID(t *testing.T) {
	m := openGolden(t, "nle_nsf")
	const b, n = 5, 7
	rng := rand.New(rand.NewPCG(3, 3))
	th := make([]float32, b*m.ThetaDim())
	trials := make([]float32, n*m.XDim())
	for i := range th {
		th[i] = float32(rng.NormFloat64())
	}
	for i := range trials {
		trials[i] = float32(rng.NormFloat64())
	}
	sums, err := m.LogLikelihoodIID(th, b, trials, n)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		lp, err := m.LogLikelihood(th[i*m.ThetaDim():(i+1)*m.ThetaDim()], 1, trials, n)
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		for _, v := range lp {
			want += float64(v)
		}
		if math.Abs(sums[i]-want) > 1e-5*math.Max(1, math.Abs(want)) { // float32 rounding differs between call layouts
			t.Errorf("θ %d: iid sum %v, want %v", i, sums[i], want)
		}
	}
}
