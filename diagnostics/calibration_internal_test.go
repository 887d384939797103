package diagnostics

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestRankOfByHand(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	if r, err := rankOf(0.5, []float64{0.1, 0.7, 0.3, 0.9}, rnd); err != nil || r != 2 {
		t.Fatalf("rank %d, %v; want 2", r, err)
	}
	// Two ties and one value below: ranks 1, 2 and 3 equally often.
	var counts [4]int
	for range 3000 {
		r, err := rankOf(0.3, []float64{0.3, 0.3, 0.1}, rnd)
		if err != nil {
			t.Fatal(err)
		}
		counts[r]++
	}
	if counts[0] != 0 {
		t.Fatalf("rank 0 drawn %d times with a value below", counts[0])
	}
	for r := 1; r <= 3; r++ {
		if math.Abs(float64(counts[r])-1000) > 4*math.Sqrt(3000*(1./3)*(2./3)) {
			t.Errorf("rank %d drawn %d times of 3000, want about 1000", r, counts[r])
		}
	}
	if _, err := rankOf(math.NaN(), []float64{1}, rnd); err == nil {
		t.Error("NaN statistic accepted")
	}
}

// fixed is a sampler that returns the same draws for every call.
type fixed [][]float64

func (f fixed) SampleEach(_ context.Context, xs *mat.Dense, n int, _ rand.Source) ([]*mat.Dense, error) {
	r, _ := xs.Dims()
	out := make([]*mat.Dense, r)
	for i := range r {
		row := int(xs.At(i, 0)) // x holds the observation's index
		out[i] = mat.NewDense(n, 1, f[row])
	}
	return out, nil
}

// LogDensityEach is −θ², whatever x.
func (fixed) LogDensityEach(_ context.Context, _ *mat.Dense, theta []*mat.Dense) ([][]float64, error) {
	out := make([][]float64, len(theta))
	for i, t := range theta {
		r, _ := t.Dims()
		for s := range r {
			out[i] = append(out[i], -t.At(s, 0)*t.At(s, 0))
		}
	}
	return out, nil
}

func TestSBCAndCoverageByHand(t *testing.T) {
	post := fixed{
		{0.1, 0.7, -0.3, 0.9, -0.6},
		{0.1, 0.7, -0.3, 0.9, -0.6},
		{0.1, 0.7, -0.3, 0.9, -0.6},
	}
	theta := mat.NewDense(3, 1, []float64{0.5, 2, -1})
	xs := mat.NewDense(3, 1, []float64{0, 1, 2})
	opts := CheckOptions{Draws: 5, Chunk: 2}
	sbc, err := SBC(context.Background(), post, theta, xs, opts)
	if err != nil {
		t.Fatal(err)
	}
	// 0.5 is above 0.1, −0.3, −0.6; 2 above all five; −1 above none.
	for i, want := range []int{3, 5, 0} {
		if sbc.Ranks[0][i] != want {
			t.Errorf("SBC rank %d = %d, want %d", i, sbc.Ranks[0][i], want)
		}
		if u := sbc.U[0][i]; u < float64(want)/6 || u >= float64(want+1)/6 {
			t.Errorf("normalised rank %d = %v, want in [%d/6, %d/6)", i, u, want, want+1)
		}
	}
	cov, err := ExpectedCoverage(context.Background(), post, theta, xs, opts)
	if err != nil {
		t.Fatal(err)
	}
	// log q = −θ²: draws of higher density than 0.5 (−0.25) are 0.1 and
	// −0.3; than 2, all five; than −1, all five.
	for i, want := range []int{2, 5, 5} {
		if cov.Ranks[i] != want {
			t.Errorf("coverage rank %d = %d, want %d", i, cov.Ranks[i], want)
		}
	}
	// Level 2/6 ≤ l₀ < 3/6 and l₁, l₂ ≥ 5/6: the 50% region covers one
	// of three, the 80% region the same one.
	if cov.Empirical[50] != 1./3 || cov.Empirical[80] != 1./3 || cov.Empirical[100] != 1 {
		t.Errorf("coverage at 0.5, 0.8, 1: %v, %v, %v; want 1/3, 1/3, 1", cov.Empirical[50], cov.Empirical[80], cov.Empirical[100])
	}
	if want := 0.5 - (cov.Levels[0]+cov.Levels[1]+cov.Levels[2])/3; math.Abs(cov.Area-want) > 1e-15 {
		t.Errorf("area %v, want %v", cov.Area, want)
	}
}

func TestUniformityByHand(t *testing.T) {
	// Ranks on 0…3 in 4 bins, 4 values: expected one per bin, counts
	// 2, 1, 0, 1, so χ² = 1 + 0 + 1 + 0 = 2 on 3 degrees of freedom,
	// p = 0.5724 (tables).
	u := []float64{0.1, 0.2, 0.3, 0.9}
	band, err := NewECDFBand(4, 0.05, 1)
	if err != nil {
		t.Fatal(err)
	}
	res := uniformity([]int{0, 0, 1, 3}, u, 3, 4, band)
	if res.ChiSq != 2 || res.ChiSqDOF != 3 || math.Abs(res.ChiSqP-0.5724) > 1e-4 {
		t.Errorf("χ² %v on %d, p %v; want 2 on 3, p 0.5724", res.ChiSq, res.ChiSqDOF, res.ChiSqP)
	}
	// KS distance of {0.1, 0.2, 0.3, 0.9}: at 0.3, 3/4 − 0.3 = 0.45.
	if math.Abs(res.KS-0.45) > 1e-15 {
		t.Errorf("KS distance %v, want 0.45", res.KS)
	}
	if res.Mean != 0.375 || res.Central != 0.25 || res.Tails != 0.25 {
		t.Errorf("mean %v, central %v, tails %v; want 0.375, 0.25, 0.25", res.Mean, res.Central, res.Tails)
	}
	// Kolmogorov's law: P(√n·D > 1.3581) = 0.05, P(√n·D > 1.6276) = 0.01.
	n := 1_000_000
	for _, c := range []struct{ l, p float64 }{{1.3581, 0.05}, {1.6276, 0.01}} {
		if p := ksPValue(c.l/math.Sqrt(float64(n)), n); math.Abs(p-c.p) > 2e-4 {
			t.Errorf("KS p at λ = %v: %v, want %v", c.l, p, c.p)
		}
	}
}

// TestECDFBandCoverage checks that the band is simultaneous: uniform
// samples stay inside the whole band with probability about 1−α, while
// each pointwise interval alone is wider in level (γ < α).
func TestECDFBandCoverage(t *testing.T) {
	const n, alpha, trials = 200, 0.05, 2000
	band, err := NewECDFBand(n, alpha, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !(band.Gamma > 0 && band.Gamma < alpha/2) {
		t.Fatalf("pointwise level γ = %v, want in (0, α/2) for %d points", band.Gamma, len(band.Z))
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	inside := 0
	u := make([]float64, n)
	for range trials {
		for i := range u {
			u[i] = rnd.Float64()
		}
		if band.Contains(u) {
			inside++
		}
	}
	se := math.Sqrt(alpha * (1 - alpha) / trials)
	if got := float64(inside) / trials; math.Abs(got-(1-alpha)) > 4*se+0.01 {
		t.Errorf("band holds %.3f of uniform samples, want %.3f", got, 1-alpha)
	}
}
