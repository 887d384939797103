package diagnostics_test

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distmv"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/amortize/amortize/benchmarks"
	"github.com/amortize/amortize/diagnostics"
)

// normal returns n draws from N(mean, I), one per row.
func normal(n int, mean []float64, src rand.Source) *mat.Dense {
	r := rand.New(src)
	m := mat.NewDense(n, len(mean), nil)
	for i := range n {
		for j, mu := range mean {
			m.Set(i, j, mu+r.NormFloat64())
		}
	}
	return m
}

// within fails the test unless got is within tol of want.
func within(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s: C2ST = %.4f, want %.4f ± %.4f", name, got, want, tol)
	} else {
		t.Logf("%s: C2ST = %.4f (want %.4f ± %.4f)", name, got, want, tol)
	}
}

// Under the null the held-out predictions of 4,000 points are coin flips:
// the accuracy has standard error sqrt(0.25/4000) ≈ 0.008, so ±0.04 is five
// standard errors.
func TestC2STIdenticalDistributions(t *testing.T) {
	ref := normal(2000, []float64{0, 0}, rand.NewPCG(1, 1))
	alg := normal(2000, []float64{0, 0}, rand.NewPCG(2, 2))
	got, err := diagnostics.C2ST(context.Background(), ref, alg, diagnostics.C2STOptions{})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "N(0,I) vs N(0,I)", got, 0.5, 0.04)
}

// Means 5 apart per coordinate in 2-D: the best classifier is right with
// probability Φ(5·√2/2) > 0.9999.
func TestC2STSeparatedDistributions(t *testing.T) {
	ref := normal(1000, []float64{0, 0}, rand.NewPCG(3, 3))
	alg := normal(1000, []float64{5, 5}, rand.NewPCG(4, 4))
	got, err := diagnostics.C2ST(context.Background(), ref, alg, diagnostics.C2STOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got <= 0.95 {
		t.Errorf("N(0,I) vs N(5,I): C2ST = %.4f, want > 0.95", got)
	}
}

// N(0,1) against N(0.5,1): the Bayes classifier thresholds at 0.25 and is
// right with probability Φ(0.25) ≈ 0.599. With 6,000 held-out points the
// standard error is sqrt(0.24/6000) ≈ 0.0063; ±0.03 allows that five times
// over, with room for the fitted threshold being slightly off the optimum.
func TestC2STOverlappingDistributions(t *testing.T) {
	ref := normal(3000, []float64{0}, rand.NewPCG(5, 5))
	alg := normal(3000, []float64{0.5}, rand.NewPCG(6, 6))
	got, err := diagnostics.C2ST(context.Background(), ref, alg, diagnostics.C2STOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := distuv.UnitNormal.CDF(0.25)
	within(t, "N(0,1) vs N(0.5,1)", got, want, 0.03)
}

func TestC2STDeterministic(t *testing.T) {
	ref := normal(600, []float64{0, 0}, rand.NewPCG(7, 7))
	alg := normal(600, []float64{0.3, 0}, rand.NewPCG(8, 8))
	run := func(opts diagnostics.C2STOptions) float64 {
		t.Helper()
		opts.MaxEpochs = 50 // many mini-batch shuffles, and fast
		got, err := diagnostics.C2ST(context.Background(), ref, alg, opts)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	base := run(diagnostics.C2STOptions{Seed: 1, Workers: 1})
	for _, opts := range []diagnostics.C2STOptions{
		{Seed: 1, Workers: 1},
		{Seed: 1, Workers: 2},
		{Seed: 1, Workers: 5},
		{Workers: 3}, // Seed 0 means the default seed 1
	} {
		if got := run(opts); got != base {
			t.Errorf("%+v: C2ST = %v, want %v as with one worker and seed 1", opts, got, base)
		}
	}
	// A different seed gives a different split and a different classifier;
	// 1,200 held-out predictions make an identical accuracy very unlikely.
	if other := run(diagnostics.C2STOptions{Seed: 2}); other == base {
		t.Errorf("seeds 1 and 2 both gave %v", base)
	}
}

func TestC2STErrors(t *testing.T) {
	ok := normal(20, []float64{0, 0}, rand.NewPCG(9, 9))
	bad := func(v float64) *mat.Dense {
		m := mat.DenseCopyOf(ok)
		m.Set(7, 1, v)
		return m
	}
	huge := mat.NewDense(3, 1, []float64{math.MaxFloat64, math.MaxFloat64, math.MaxFloat64})
	// Unscaled, such values overflow inside the network instead. In 20
	// dimensions the first layer's weighted sums leave float64's range; in
	// one, only the gradient sums might, depending on where the BLAS
	// applies the 1/batch scale.
	wide := mat.NewDense(3, 20, slices.Repeat([]float64{math.MaxFloat64}, 3*20))
	tiny := mat.NewDense(2, 1, []float64{0, 1})
	cases := []struct {
		name     string
		ref, alg *mat.Dense
		opts     diagnostics.C2STOptions
		want     error
	}{
		{"nil reference", nil, ok, diagnostics.C2STOptions{}, diagnostics.ErrEmptySamples},
		{"empty algorithm", ok, &mat.Dense{}, diagnostics.C2STOptions{}, diagnostics.ErrEmptySamples},
		{"dimension mismatch", ok, normal(20, []float64{0, 0, 0}, rand.NewPCG(1, 2)), diagnostics.C2STOptions{}, diagnostics.ErrDimensionMismatch},
		{"NaN", ok, bad(math.NaN()), diagnostics.C2STOptions{}, diagnostics.ErrNonFinite},
		{"+Inf", bad(math.Inf(1)), ok, diagnostics.C2STOptions{}, diagnostics.ErrNonFinite},
		{"z-score overflow", huge, huge, diagnostics.C2STOptions{}, diagnostics.ErrNonFinite},
		{"network overflow", wide, wide, diagnostics.C2STOptions{NoZScore: true, Folds: 2}, diagnostics.ErrDiverged},
		{"one fold", ok, ok, diagnostics.C2STOptions{Folds: 1}, diagnostics.ErrInvalidOption},
		{"negative folds", ok, ok, diagnostics.C2STOptions{Folds: -2}, diagnostics.ErrInvalidOption},
		{"more folds than samples", tiny, tiny, diagnostics.C2STOptions{}, diagnostics.ErrInvalidOption},
		{"negative hidden", ok, ok, diagnostics.C2STOptions{Hidden: -1}, diagnostics.ErrInvalidOption},
		{"negative epochs", ok, ok, diagnostics.C2STOptions{MaxEpochs: -1}, diagnostics.ErrInvalidOption},
		{"negative workers", ok, ok, diagnostics.C2STOptions{Workers: -1}, diagnostics.ErrInvalidOption},
	}
	for _, c := range cases {
		got, err := diagnostics.C2ST(context.Background(), c.ref, c.alg, c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: C2ST = %v, %v; want error %v", c.name, got, err, c.want)
		}
	}
	// Samples and coordinates are numbered from 1, as rows everywhere.
	_, err := diagnostics.C2ST(context.Background(), ok, bad(math.NaN()), diagnostics.C2STOptions{})
	if want := "algorithm sample 8, coordinate 2 is NaN"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NaN: %v, want %q", err, want)
	}
}

func TestC2STContext(t *testing.T) {
	ref := normal(5000, []float64{0, 0}, rand.NewPCG(10, 10))
	alg := normal(5000, []float64{0.1, 0}, rand.NewPCG(11, 11))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := diagnostics.C2ST(ctx, ref, alg, diagnostics.C2STOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v, want %v", err, context.Canceled)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := diagnostics.C2ST(ctx, ref, alg, diagnostics.C2STOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired deadline: error %v, want %v", err, context.DeadlineExceeded)
	}
	// One epoch of 8,000 rows takes milliseconds; a second is generous.
	if d := time.Since(start); d > time.Second {
		t.Errorf("C2ST returned %v after its 50ms deadline", d)
	}
}

// Two slices of the same sbibm reference sample are draws from one
// distribution: C2ST must find them indistinguishable. 2,000 held-out
// points give a standard error of 0.011; ±0.05 is about four of them.
// (K-fold accuracy under the null sits slightly below 0.5, because each
// held-out fold's class balance mirrors the training folds'; scikit-learn
// averages 0.481 on this pair over seeds 1–30, this implementation 0.478.)
func TestC2STReferenceSamples(t *testing.T) {
	const path = "two_moons/obs01/reference_posterior_samples.csv"
	samples := readCSV(t, path)
	if r, _ := samples.Dims(); r < 6000 {
		t.Fatalf("%s: %d rows, want at least 6,000", path, r)
	}
	ref := samples.Slice(0, 1000, 0, 2).(*mat.Dense)
	alg := samples.Slice(5000, 6000, 0, 2).(*mat.Dense)
	got, err := diagnostics.C2ST(context.Background(), ref, alg, diagnostics.C2STOptions{})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "two_moons obs01 rows 1–1000 vs 5001–6000", got, 0.5, 0.05)
}

// readCSV reads a numeric CSV file with a header row from the reference
// data.
func readCSV(tb testing.TB, path string) *mat.Dense {
	tb.Helper()
	f, err := benchmarks.Open(benchmarks.FS, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	if len(records) < 2 {
		tb.Fatalf("%s: no data rows", path)
	}
	cols := len(records[0])
	m := mat.NewDense(len(records)-1, cols, nil)
	for i, rec := range records[1:] {
		for j, s := range rec {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				tb.Fatalf("%s row %d: %v", path, i+2, err)
			}
			m.Set(i, j, v)
		}
	}
	return m
}

// BenchmarkC2ST2D10k times the sbibm setting in 2-D: 10,000 reference
// samples on a crescent, like two_moons' posterior, against 10,000 from the
// Gaussian with the same mean and covariance. The classifier needs about a
// hundred epochs per fold to carve out the crescent.
func BenchmarkC2ST2D10k(b *testing.B) {
	const n = 10000
	r := rand.New(rand.NewPCG(12, 12))
	ref := mat.NewDense(n, 2, nil)
	for i := range n {
		phi := math.Pi * r.Float64()
		rad := 1 + 0.1*r.NormFloat64()
		ref.Set(i, 0, rad*math.Cos(phi))
		ref.Set(i, 1, rad*math.Sin(phi))
	}
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, ref, nil)
	mean := []float64{stat.Mean(mat.Col(nil, 0, ref), nil), stat.Mean(mat.Col(nil, 1, ref), nil)}
	gauss, ok := distmv.NewNormal(mean, &cov, rand.NewPCG(13, 13))
	if !ok {
		b.Fatal("crescent covariance is not positive definite")
	}
	alg := mat.NewDense(n, 2, nil)
	for i := range n {
		gauss.Rand(alg.RawRowView(i))
	}
	for b.Loop() {
		if _, err := diagnostics.C2ST(context.Background(), ref, alg, diagnostics.C2STOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
