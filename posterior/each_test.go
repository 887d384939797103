package posterior_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
)

// TestEachMatchesDirect: SampleEach returns SampleBatched's draws, and
// LogDensityEach, one call for many observations and unequal θ counts,
// gives LogProb's uncorrected values, −Inf outside the support.
func TestEachMatchesDirect(t *testing.T) {
	ctx := context.Background()
	rm := runtimetest.Open(t, linearModel(t), runtime.Options{})
	d, err := posterior.NewDirect(rm, posterior.DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	xs := mat.NewDense(3, 2, []float64{0.5, -1, 1, -0.5, 2, -1.5})
	got, err := d.SampleEach(ctx, xs, 40, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	want, err := d.SampleBatched(ctx, xs, 40, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !mat.Equal(got[i], want[i].Theta) {
			t.Fatalf("observation %d: SampleEach differs from SampleBatched", i)
		}
	}
	// Observations 0 and 2 share a call (3 rows), 1 has its own (2 rows);
	// the last θ of observation 2 lies outside the box [−3, 3]².
	theta := []*mat.Dense{
		mat.NewDense(3, 2, []float64{0, 0, 1, -1, 0.5, 0.2}),
		mat.NewDense(2, 2, []float64{-1, 2, 0.3, 0.3}),
		mat.NewDense(3, 2, []float64{0.1, 0.1, -2, 1, 3.5, 0}),
	}
	lps, err := d.LogDensityEach(ctx, xs, theta)
	if err != nil {
		t.Fatal(err)
	}
	for i, th := range theta {
		ref, err := d.LogProb(ctx, th, xs.RawRowView(i))
		if err != nil {
			t.Fatal(err)
		}
		for s := range ref {
			if lps[i][s] != ref[s] {
				t.Errorf("observation %d, θ %d: %v, LogProb %v", i, s, lps[i][s], ref[s])
			}
		}
	}
	if !math.IsInf(lps[2][2], -1) {
		t.Errorf("θ outside the support: %v, want −Inf", lps[2][2])
	}
	if _, err := d.LogDensityEach(ctx, xs, theta[:2]); err == nil {
		t.Error("2 θ sets for 3 observations accepted")
	}
	if _, err := d.LogDensityEach(ctx, xs, []*mat.Dense{theta[0], mat.NewDense(1, 3, nil), theta[2]}); err == nil {
		t.Error("θ of dimension 3 accepted")
	}
}
