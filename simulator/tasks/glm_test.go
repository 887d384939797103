package tasks

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/benchmarks"
)

func mustDesign(t *testing.T) *mat.Dense {
	t.Helper()
	x, err := glmDesign()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestGLMDesignStructure(t *testing.T) {
	x := mustDesign(t)
	for tt := range glmBins {
		if x.At(tt, 0) != 1 {
			t.Fatalf("X[%d,0] = %g, want 1", tt, x.At(tt, 0))
		}
		for k := range glmLags {
			want := 0.0
			if tt >= k {
				want = x.At(tt-k, 1)
			}
			if got := x.At(tt, k+1); got != want {
				t.Fatalf("X[%d,%d] = %g, want stimulus lag %d = %g", tt, k+1, got, k, want)
			}
		}
	}
	// First values of numpy's RandomState(42).randn, rounded to float32.
	if got := x.At(0, 1); got != float64(float32(0.4967141530112327)) {
		t.Errorf("stimulus[0] = %v", got)
	}
}

func TestGLMDesignMatchesFile(t *testing.T) {
	want, err := readCSVFile(benchmarks.FS, "bernoulli_glm/design_matrix.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(mustDesign(t), want) {
		t.Error("design matrix differs from design_matrix.csv")
	}
}

func TestGLMPrecision(t *testing.T) {
	p := glmPrecision()
	var chol mat.Cholesky
	if !chol.Factorize(p) {
		t.Fatal("precision not positive definite")
	}
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		t.Fatal(err)
	}
	// Prior marginal sds listed in TASKS.md (3 decimals).
	sds := []float64{1.414, 1.000, 1.677, 1.830, 1.552, 1.216, 1.100, 1.069, 0.981, 0.880}
	for i, want := range sds {
		if got := math.Sqrt(cov.At(i, i)); math.Abs(got-want) > 5e-4 {
			t.Errorf("prior sd %d = %.4f, want %.3f", i, got, want)
		}
	}
	file, err := readCSVFile(benchmarks.FS, "bernoulli_glm/prior_precision.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !mat.EqualApprox(p, file, 1e-12) {
		t.Errorf("precision differs from prior_precision.csv:\n%v", mat.Formatted(p))
	}
}

// TestGLMObservations recomputes each stored observation as Xᵀy from its
// raw spike train.
func TestGLMObservations(t *testing.T) {
	xd := mustDesign(t).RawMatrix().Data
	for obs := 1; obs <= 10; obs++ {
		od := fmt.Sprintf("bernoulli_glm/obs%02d/", obs)
		raw, err := readCSVFile(benchmarks.FS, od+"observation_raw.csv")
		if err != nil {
			t.Fatal(err)
		}
		want, err := readCSVFile(benchmarks.FS, od+"observation.csv")
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float64, glmDim)
		glmSummary(got, raw.RawRowView(0), xd)
		for j, w := range want.RawRowView(0) {
			// The stored values are float32 sums of float32 products.
			if math.Abs(got[j]-w) > 2e-5*(1+math.Abs(w)) {
				t.Errorf("obs %d: x[%d] = %.7g, file has %.7g", obs, j, got[j], w)
			}
		}
	}
}

func TestGLMSaturated(t *testing.T) {
	task := mustGet(t, "bernoulli_glm")
	xd := mustDesign(t)
	ones := make([]float64, glmBins)
	for i := range ones {
		ones[i] = 1
	}
	colSums := make([]float64, glmDim)
	glmSummary(colSums, ones, xd.RawMatrix().Data)
	for _, offset := range []float64{-60, 60} {
		theta := make([]float64, glmDim)
		theta[0] = offset
		x := simulateFixed(t, task, theta, 3, 17)
		for i := range 3 {
			for j := range glmDim {
				want := 0.0
				if offset > 0 { // every bin spikes
					want = colSums[j]
				}
				if got := x.At(i, j); got != want {
					t.Errorf("offset %g: x[%d] = %g, want %g", offset, j, got, want)
				}
			}
		}
	}
	if colSums[0] != glmBins {
		t.Errorf("spike count with every bin spiking = %g", colSums[0])
	}
}

// TestGLMMoments compares x with E[Xᵀy] = Xᵀq and Var[x_j] = Σ_t X_tj² q_t(1−q_t).
func TestGLMMoments(t *testing.T) {
	task := mustGet(t, "bernoulli_glm")
	const n = 20000
	theta := []float64{-0.5, 0.8, 0.4, 0, -0.3, -0.2, 0, 0.1, 0, 0}
	x := simulateFixed(t, task, theta, n, 18)
	design := mustDesign(t)
	mean, variance := make([]float64, glmDim), make([]float64, glmDim)
	for tt := range glmBins {
		row := design.RawRowView(tt)
		q := 1 / (1 + math.Exp(-mat.Dot(mat.NewVecDense(glmDim, row), mat.NewVecDense(glmDim, theta))))
		for j, v := range row {
			mean[j] += v * q
			variance[j] += v * v * q * (1 - q)
		}
	}
	sums := make([]float64, glmDim)
	for i := range n {
		row := x.RawRowView(i)
		if c := row[0]; c != math.Trunc(c) || c < 0 || c > glmBins {
			t.Fatalf("spike count %g is not an integer in [0, %d]", c, glmBins)
		}
		for j, v := range row {
			sums[j] += v
		}
	}
	for j := range glmDim {
		checkZ(t, fmt.Sprintf("mean x[%d]", j), sums[j]/n, mean[j], math.Sqrt(variance[j]/n))
	}
}
