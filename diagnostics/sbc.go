package diagnostics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// SBCResult is the outcome of simulation-based calibration.
type SBCResult struct {
	N     int     `json:"n"`     // (θ, x) pairs
	Draws int     `json:"draws"` // posterior draws per pair, L
	Alpha float64 `json:"alpha"` // family-wise level of the verdict
	Bins  int     `json:"bins"`  // χ² bins
	// Ranks[j][i] is the rank of θ_i's coordinate j among its L draws,
	// on 0…L.
	Ranks [][]int `json:"ranks"`
	// U[j][i] is that rank normalised to [0, 1) (see Uniformity).
	U [][]float64 `json:"-"`
	// Dims are the uniformity tests of each coordinate.
	Dims []Uniformity `json:"dims"`
	// Band is the simultaneous 1−Alpha band for the ECDF of U[j].
	Band *ECDFBand `json:"band"`
	// Contraction[j] is 1 − (mean posterior variance of coordinate j) /
	// (its variance over the N θ): near 0 for a posterior as wide as the
	// prior, near 1 for a sharp one. Calibration says nothing of
	// sharpness: the prior itself passes SBC.
	Contraction []float64 `json:"contraction"`
	// Calibrated is false when some p-value is below Alpha/(2·dim).
	Calibrated bool `json:"calibrated"`
}

// SBC runs simulation-based calibration (Talts et al. 2018, "Validating
// Bayesian inference algorithms with simulation-based calibration"): for
// each of the N pairs (θ_i, x_i) drawn from the prior and the simulator it
// draws L samples from the posterior at x_i and ranks each coordinate of
// θ_i among them. For the true posterior, and for any posterior calibrated
// on average over the prior predictive, every coordinate's ranks are
// uniform on 0…L. KS and χ² tests of each coordinate decide, at the
// family-wise level Alpha with a Bonferroni correction over the 2·dim
// tests.
//
// A ∪-shaped rank histogram (Central below 0.5) marks a posterior too
// narrow, a ∩ shape (Central above 0.5) one too wide, and a slope (Mean
// away from 0.5) a biased one.
func SBC(ctx context.Context, s Sampler, theta, xs *mat.Dense, opts CheckOptions) (*SBCResult, error) {
	n, dim, opts, err := prepare(theta, xs, opts)
	if err != nil {
		return nil, err
	}
	L := opts.Draws
	rnd := rand.New(rand.NewPCG(opts.Seed, normStream))
	ranks := make([][]int, dim)
	postVar := make([][]float64, dim)
	for j := range ranks {
		ranks[j] = make([]int, n)
		postVar[j] = make([]float64, n)
	}
	err = eachDraws(ctx, s, xs, dim, opts, func(lo int, _ *mat.Dense, draws []*mat.Dense, rnd *rand.Rand) error {
		col := make([]float64, L)
		for k, d := range draws {
			i := lo + k
			for j := range dim {
				mat.Col(col, j, d)
				r, err := rankOf(theta.At(i, j), col, rnd)
				if err != nil {
					return fmt.Errorf("observation %d, coordinate %d: %w", i, j, err)
				}
				ranks[j][i] = r
				postVar[j][i] = stat.Variance(col, nil)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &SBCResult{N: n, Draws: L, Alpha: opts.Alpha, Ranks: ranks, Calibrated: true}
	res.Bins = opts.Bins
	if res.Bins == 0 {
		res.Bins = defaultBins(n, L)
	}
	if res.Band, err = NewECDFBand(n, opts.Alpha, opts.Seed); err != nil {
		return nil, err
	}
	thetaCol := make([]float64, n)
	for j := range dim {
		mat.Col(thetaCol, j, theta)
		c := 1 - stat.Mean(postVar[j], nil)/stat.Variance(thetaCol, nil)
		if math.IsNaN(c) || math.IsInf(c, 0) {
			c = 0 // one pair, or a constant θ: nothing to contract
		}
		res.Contraction = append(res.Contraction, c)
		u := normalised(ranks[j], L, rnd)
		res.U = append(res.U, u)
		t := uniformity(ranks[j], u, L, res.Bins, res.Band)
		res.Dims = append(res.Dims, t)
		if t.P() < opts.Alpha/float64(2*dim) {
			res.Calibrated = false
		}
	}
	return res, nil
}

// Verdict is a one-paragraph reading of the result, with names for the
// coordinates (nil: theta_1, …).
func (r *SBCResult) Verdict(names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SBC with %d simulations × %d posterior draws: ", r.N, r.Draws)
	if r.Calibrated {
		b.WriteString("no sign of miscalibration")
	} else {
		b.WriteString("MISCALIBRATED")
	}
	fmt.Fprintf(&b, " at family-wise level %g (Bonferroni over %d KS and χ² tests).", r.Alpha, 2*len(r.Dims))
	for j, u := range r.Dims {
		fmt.Fprintf(&b, " %s: KS p = %.3g, χ² p = %.3g, mean rank %.3f, central half %.3f, outer fifth %.3f, contraction %.2f",
			coordName(names, j), u.KSP, u.ChiSqP, u.Mean, u.Central, u.Tails, r.Contraction[j])
		if u.P() < r.Alpha/float64(2*len(r.Dims)) {
			fmt.Fprintf(&b, " (%s)", rankShape(u, r.N))
		}
		b.WriteString(";")
	}
	s := strings.TrimSuffix(b.String(), ";") + "."
	if r.Calibrated && slices.Max(r.Contraction) < 0.2 {
		s += " The posterior is hardly narrower than the prior (contraction below 0.2): calibrated, but it has learned little from x."
	}
	return s
}

// rankShape says which departure from uniform ranks dominates, judged by
// z-scores: a location (the mean rank), or a width, claimed only when the
// central half and the outer fifth agree (∩: too wide, ∪: too narrow).
// Anything else is a wrong shape that the histogram shows.
func rankShape(u Uniformity, n int) string {
	const sure = 3
	mz, cz, tz := u.MeanZ(n), u.CentralZ(n), u.TailsZ(n)
	switch {
	case math.Abs(mz) >= sure && math.Abs(mz) >= math.Abs(cz) && mz > 0:
		return "posterior biased low: the truth ranks high"
	case math.Abs(mz) >= sure && math.Abs(mz) >= math.Abs(cz):
		return "posterior biased high: the truth ranks low"
	case cz >= sure && tz <= -sure:
		return "posterior too wide: ∩-shaped ranks"
	case cz <= -sure && tz >= sure:
		return "posterior too narrow: ∪-shaped ranks"
	default:
		return "ranks neither ∪, ∩ nor sloped: the posterior's shape is wrong, see the rank histogram"
	}
}

// coordName is names[j], or theta_{j+1} without names.
func coordName(names []string, j int) string {
	if j < len(names) && names[j] != "" {
		return names[j]
	}
	return fmt.Sprintf("theta_%d", j+1)
}
