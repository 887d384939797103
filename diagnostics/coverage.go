package diagnostics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// CoverageResult is the outcome of ExpectedCoverage.
type CoverageResult struct {
	N     int     `json:"n"`
	Draws int     `json:"draws"`
	Alpha float64 `json:"alpha"`
	Bins  int     `json:"bins"`
	// Ranks[i] is the number of θ_i's L draws with a higher posterior
	// density than θ_i, on 0…L.
	Ranks []int `json:"ranks"`
	// Levels[i] is the credibility level of the smallest highest-density
	// region that contains θ_i: (Ranks[i] + V)/(L+1), V uniform on [0,1).
	Levels []float64 `json:"levels"`
	// Empirical[k] is the fraction of Levels at most Nominal[k]: the
	// coverage of the nominal credible regions.
	Nominal   []float64 `json:"nominal"`
	Empirical []float64 `json:"empirical"`
	// Area is the signed area between the coverage curve and the
	// diagonal, 1/2 − mean(Levels): positive when the posterior is
	// under-confident (regions cover more than they claim), negative when
	// it is over-confident; standard error 1/√(12N) under calibration.
	Area float64 `json:"area"`
	// Uniformity tests Levels against U(0,1).
	Uniformity Uniformity `json:"uniformity"`
	// Band is the simultaneous 1−Alpha band of the coverage curve.
	Band       *ECDFBand `json:"band"`
	Calibrated bool      `json:"calibrated"`
}

// nominalGrid is 0, 0.01, …, 1: the levels a coverage curve is tabulated at.
func nominalGrid() []float64 {
	g := make([]float64, 101)
	for i := range g {
		g[i] = float64(i) / 100
	}
	return g
}

// ecdfAt returns the fraction of v at most each of the increasing grid.
func ecdfAt(v, grid []float64) []float64 {
	s := sortedCopy(v)
	out := make([]float64, len(grid))
	j := 0
	for k, g := range grid {
		for j < len(s) && s[j] <= g {
			j++
		}
		out[k] = float64(j) / float64(len(s))
	}
	return out
}

// ExpectedCoverage is sbi's expected coverage by log-probability ranking
// (run_sbc with reduce_fns = −log_prob): for each pair (θ_i, x_i) it draws
// L samples at x_i and finds the credibility level of the highest-density
// region whose edge passes through θ_i, the fraction of draws with a higher
// posterior density. For a calibrated posterior the levels are uniform, so
// the fraction of θ_i inside the nominal c region is c. A curve below the
// diagonal (negative Area) marks an over-confident posterior, too narrow
// or biased; above it, an under-confident one.
//
// The densities need only be right up to a constant per observation, so
// an NPE's density without leakage correction, or an MCMC posterior's
// potential, serves.
func ExpectedCoverage(ctx context.Context, p Posterior, theta, xs *mat.Dense, opts CheckOptions) (*CoverageResult, error) {
	n, dim, opts, err := prepare(theta, xs, opts)
	if err != nil {
		return nil, err
	}
	L := opts.Draws
	rnd := rand.New(rand.NewPCG(opts.Seed, normStream))
	ranks := make([]int, n)
	err = eachDraws(ctx, p, xs, dim, opts, func(lo int, sub *mat.Dense, draws []*mat.Dense, rnd *rand.Rand) error {
		neg := make([]float64, L)
		sets := make([]*mat.Dense, len(draws))
		for k, d := range draws {
			set := mat.NewDense(L+1, dim, nil)
			set.SetRow(0, theta.RawRowView(lo+k))
			set.Slice(1, L+1, 0, dim).(*mat.Dense).Copy(d)
			sets[k] = set
		}
		lps, err := p.LogDensityEach(ctx, sub, sets)
		if err != nil {
			return fmt.Errorf("diagnostics: log-densities of observations %d–%d: %w", lo, lo+len(draws)-1, err)
		}
		if len(lps) != len(draws) {
			return fmt.Errorf("diagnostics: %d log-density sets for %d observations", len(lps), len(draws))
		}
		for k, lp := range lps {
			if len(lp) != L+1 {
				return fmt.Errorf("%w: %d log-densities for %d parameter sets", ErrDimensionMismatch, len(lp), L+1)
			}
			// Ranking −log q counts the draws of higher density.
			for s, v := range lp[1:] {
				neg[s] = -v
			}
			r, err := rankOf(-lp[0], neg, rnd)
			if err != nil {
				return fmt.Errorf("observation %d: %w", lo+k, err)
			}
			ranks[lo+k] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &CoverageResult{N: n, Draws: L, Alpha: opts.Alpha, Ranks: ranks, Bins: opts.Bins, Nominal: nominalGrid()}
	if res.Bins == 0 {
		res.Bins = defaultBins(n, L)
	}
	if res.Band, err = NewECDFBand(n, opts.Alpha, opts.Seed); err != nil {
		return nil, err
	}
	res.Levels = normalised(ranks, L, rnd)
	res.Empirical = ecdfAt(res.Levels, res.Nominal)
	res.Uniformity = uniformity(ranks, res.Levels, L, res.Bins, res.Band)
	res.Area = 0.5 - res.Uniformity.Mean
	res.Calibrated = res.Uniformity.P() >= opts.Alpha/2
	return res, nil
}

// confidence reads a signed area (curve minus diagonal) of n values.
func confidence(area float64, n int) string {
	z := area * math.Sqrt(12*float64(n))
	switch {
	case z < -3:
		return "over-confident: credible regions cover less than they claim (posterior too narrow or biased)"
	case z > 3:
		return "under-confident: credible regions cover more than they claim (posterior too wide)"
	default:
		return "coverage curve close to the diagonal on average"
	}
}

// largestDeparture returns the level where the curve is farthest from
// the diagonal, with the curve's value there.
func largestDeparture(levels, curve []float64) (level, value float64) {
	worst := -1.0
	for k, l := range levels {
		if d := math.Abs(curve[k] - l); d > worst {
			worst, level, value = d, l, curve[k]
		}
	}
	return level, value
}

// Verdict is a one-paragraph reading of the result.
func (r *CoverageResult) Verdict() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Expected coverage with %d simulations × %d posterior draws: ", r.N, r.Draws)
	if r.Calibrated {
		b.WriteString("no sign of miscalibration")
	} else {
		b.WriteString("MISCALIBRATED")
	}
	level, value := largestDeparture(r.Nominal, r.Empirical)
	fmt.Fprintf(&b, " at family-wise level %g (KS p = %.3g, χ² p = %.3g). Signed area between the coverage curve and the diagonal %+.4f (±%.4f): %s. Coverage of the 50%% / 90%% / 95%% regions: %.3f / %.3f / %.3f; largest departure at the %g%% region, covering %.1f%%.",
		r.Alpha, r.Uniformity.KSP, r.Uniformity.ChiSqP, r.Area, 1/math.Sqrt(12*float64(r.N)), confidence(r.Area, r.N),
		r.Empirical[50], r.Empirical[90], r.Empirical[95], 100*level, 100*value)
	return b.String()
}

// TARPResult is the outcome of TARP.
type TARPResult struct {
	N     int     `json:"n"`
	Draws int     `json:"draws"`
	Alpha float64 `json:"alpha"`
	Bins  int     `json:"bins"`
	// F[i] is the fraction of θ_i's draws closer to its reference point
	// than θ_i, jittered like Levels in CoverageResult.
	F []float64 `json:"f"`
	// ECP[k] is the expected coverage probability at the credibility
	// level Levels[k] = k/Bins: the fraction of F at most Levels[k].
	Levels []float64 `json:"levels"`
	ECP    []float64 `json:"ecp"`
	// ATC is sbi's area to curve, the sum of ECP − level over the levels
	// from 0.5 up: positive when under-confident, negative when
	// over-confident.
	ATC float64 `json:"atc"`
	// Uniformity tests F against U(0,1); its KS is TARP's KS statistic.
	Uniformity Uniformity `json:"uniformity"`
	Band       *ECDFBand  `json:"band"`
	Calibrated bool       `json:"calibrated"`
}

// tarpBins is sbi's num_bins.
const tarpBins = 30

// TARP runs the tests of accuracy with random points (Lemos et al. 2023,
// "Sampling-based accuracy testing of posterior estimators for general
// inference"), with sbi's defaults: θ z-scored by the mean and standard
// deviation of theta's rows, one reference point per pair drawn uniformly
// from the bounding box of the z-scored θ, Euclidean distances. For each
// pair it finds the fraction f_i of the L draws closer to the reference
// than θ_i; a calibrated posterior makes f uniform, so the expected
// coverage ECP(α) = P(f ≤ α) is the diagonal. Unlike the rank tests, this
// is necessary and sufficient for calibration of the whole joint
// posterior, given enough pairs.
//
// The ECP curve has sbi's 30 levels; the verdict comes from the KS and
// χ² tests of f, the χ² over the bins of CheckOptions.
func TARP(ctx context.Context, s Sampler, theta, xs *mat.Dense, opts CheckOptions) (*TARPResult, error) {
	n, dim, opts, err := prepare(theta, xs, opts)
	if err != nil {
		return nil, err
	}
	L := opts.Draws
	mean, scale := standardiser(packRows(theta), dim, n)
	z := func(v []float64, j int) float64 { return (v[j] - mean[j]) * scale[j] }
	lo, hi := make([]float64, dim), make([]float64, dim)
	for j := range dim {
		lo[j], hi[j] = math.Inf(1), math.Inf(-1)
		for i := range n {
			v := z(theta.RawRowView(i), j)
			lo[j], hi[j] = math.Min(lo[j], v), math.Max(hi[j], v)
		}
	}
	refRnd := rand.New(rand.NewPCG(opts.Seed, refStream))
	refs := make([]float64, n*dim)
	for i := range n {
		for j := range dim {
			refs[i*dim+j] = lo[j] + (hi[j]-lo[j])*refRnd.Float64()
		}
	}
	dist := func(v []float64, ref []float64) float64 {
		var s float64
		for j, r := range ref {
			d := z(v, j) - r
			s += d * d
		}
		return s
	}
	rnd := rand.New(rand.NewPCG(opts.Seed, normStream))
	ranks := make([]int, n)
	err = eachDraws(ctx, s, xs, dim, opts, func(first int, _ *mat.Dense, draws []*mat.Dense, rnd *rand.Rand) error {
		ds := make([]float64, L)
		for k, d := range draws {
			i := first + k
			ref := refs[i*dim : (i+1)*dim]
			for r := range L {
				ds[r] = dist(d.RawRowView(r), ref)
			}
			rk, err := rankOf(dist(theta.RawRowView(i), ref), ds, rnd)
			if err != nil {
				return fmt.Errorf("observation %d: %w", i, err)
			}
			ranks[i] = rk
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &TARPResult{N: n, Draws: L, Alpha: opts.Alpha, Bins: tarpBins}
	if res.Band, err = NewECDFBand(n, opts.Alpha, opts.Seed); err != nil {
		return nil, err
	}
	res.F = normalised(ranks, L, rnd)
	for k := 0; k <= tarpBins; k++ {
		res.Levels = append(res.Levels, float64(k)/tarpBins)
	}
	res.ECP = ecdfAt(res.F, res.Levels)
	for k := tarpBins / 2; k <= tarpBins; k++ {
		res.ATC += res.ECP[k] - res.Levels[k]
	}
	bins := opts.Bins
	if bins == 0 {
		bins = defaultBins(n, L)
	}
	res.Uniformity = uniformity(ranks, res.F, L, bins, res.Band)
	res.Calibrated = res.Uniformity.P() >= opts.Alpha/2
	return res, nil
}

// Verdict is a one-paragraph reading of the result.
func (r *TARPResult) Verdict() string {
	var b strings.Builder
	fmt.Fprintf(&b, "TARP with %d simulations × %d posterior draws: ", r.N, r.Draws)
	if r.Calibrated {
		b.WriteString("no sign of miscalibration")
	} else {
		b.WriteString("MISCALIBRATED")
	}
	level, value := largestDeparture(r.Levels, r.ECP)
	fmt.Fprintf(&b, " at family-wise level %g (KS distance %.4f, p = %.3g; χ² p = %.3g). ATC %+.3f; mean of f %.3f: %s; largest departure at level %.3f, coverage %.3f.",
		r.Alpha, r.Uniformity.KS, r.Uniformity.KSP, r.Uniformity.ChiSqP, r.ATC, r.Uniformity.Mean, confidence(0.5-r.Uniformity.Mean, r.N), level, value)
	return b.String()
}

// packRows returns the rows of m packed into one slice.
func packRows(m *mat.Dense) []float64 {
	n, dim := m.Dims()
	out := make([]float64, 0, n*dim)
	for i := range n {
		out = append(out, m.RawRowView(i)...)
	}
	return out
}
