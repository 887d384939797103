package posterior

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// SampleEach draws n samples for each row of xs, as SampleBatched does,
// and returns the samples alone: the form that package diagnostics'
// calibration checks take (its Sampler interface).
func (d *Direct) SampleEach(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error) {
	res, err := d.SampleBatched(ctx, xs, n, src)
	if err != nil {
		return nil, err
	}
	return thetas(res), nil
}

// LogDensityEach returns log q(θ|x) of the rows of theta[i] given row i of
// xs, −Inf outside the prior support, without the leakage correction: a
// constant per observation, which rankings by density (expected coverage)
// do not need. Observations with equal numbers of θ rows share one
// runtime call.
func (d *Direct) LogDensityEach(ctx context.Context, xs *mat.Dense, theta []*mat.Dense) ([][]float64, error) {
	if err := checkX(d.eng.model, xs); err != nil {
		return nil, err
	}
	b, _ := xs.Dims()
	if len(theta) != b {
		return nil, fmt.Errorf("%w: %d θ sets for %d observations", ErrInput, len(theta), b)
	}
	dim := d.eng.model.ThetaDim()
	// Group observations by their number of θ rows: one call per group.
	groups := map[int][]int{}
	var order []int
	for i, t := range theta {
		if t == nil || t.IsEmpty() {
			return nil, fmt.Errorf("%w: no θ rows for observation %d", ErrInput, i)
		}
		r, c := t.Dims()
		if c != dim {
			return nil, fmt.Errorf("%w: θ of observation %d has dimension %d, the model expects %d", ErrInput, i, c, dim)
		}
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], i)
	}
	out := make([][]float64, b)
	var x32, t32 []float32
	for _, r := range order {
		idx := groups[r]
		if len(idx) > math.MaxInt32/r {
			return nil, fmt.Errorf("%w: %d observations × %d θ rows in one call", ErrInput, len(idx), r)
		}
		x32, t32 = x32[:0], t32[:0]
		for _, i := range idx {
			for _, v := range xs.RawRowView(i) {
				x32 = append(x32, float32(v))
			}
			for s := range r {
				for j, v := range theta[i].RawRowView(s) {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, fmt.Errorf("%w: θ[%d][%d][%d] is %v", ErrInput, i, s, j, v)
					}
					t32 = append(t32, float32(v))
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("posterior: log-density stopped: %w", err)
		}
		lp, err := d.eng.model.LogProb(x32, len(idx), t32, r)
		if err != nil {
			return nil, err
		}
		for k, i := range idx {
			row := make([]float64, r)
			for s := range r {
				if d.eng.prior.InSupport(theta[i].RawRowView(s)) {
					row[s] = float64(lp[k*r+s])
				} else {
					row[s] = math.Inf(-1)
				}
			}
			out[i] = row
		}
	}
	return out, nil
}

// SampleEach draws n samples for each row of xs, all observations' chains
// in one run as SampleBatched does, and returns the samples alone: the
// form of package diagnostics' Sampler, so that the calibration checks
// run on NLE and NRE models. The convergence of each observation is not
// returned; a check over many observations judges the draws as a whole.
func (m *MCMC) SampleEach(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error) {
	res, err := m.SampleBatched(ctx, xs, n, src)
	if err != nil {
		return nil, err
	}
	return thetas(res), nil
}

// LogDensityEach returns the potential, the log posterior density up to a
// constant per observation, of the rows of theta[i] given row i of xs:
// −Inf outside the prior support. It is package diagnostics' LogDensity,
// by which expected coverage ranks θ. All rows go through the potential
// in calls of at most 65,536 rows.
func (m *MCMC) LogDensityEach(ctx context.Context, xs *mat.Dense, theta []*mat.Dense) ([][]float64, error) {
	obsX, err := m.checkX(xs)
	if err != nil {
		return nil, err
	}
	if len(theta) != len(obsX) {
		return nil, fmt.Errorf("%w: %d θ sets for %d observations", ErrInput, len(theta), len(obsX))
	}
	dim := m.pot.ThetaDim()
	total := 0
	for i, t := range theta {
		if t == nil || t.IsEmpty() {
			return nil, fmt.Errorf("%w: no θ rows for observation %d", ErrInput, i)
		}
		r, c := t.Dims()
		if c != dim {
			return nil, fmt.Errorf("%w: θ of observation %d has dimension %d, the potential expects %d", ErrInput, i, c, dim)
		}
		if r > maxRows/dim-total {
			return nil, fmt.Errorf("%w: more than %d θ values in one call", ErrInput, maxRows)
		}
		total += r
	}
	const maxEvalRows = 1 << 16
	flat := make([]float64, 0, min(total, maxEvalRows)*dim)
	obs := make([]int, 0, min(total, maxEvalRows))
	out := make([][]float64, len(theta))
	var pending [][]float64 // destinations of the rows in flat, in order
	flush := func() error {
		if len(obs) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("posterior: log-density stopped: %w", err)
		}
		dst := make([]float64, len(obs))
		if err := m.pot.LogPotential(ctx, dst, flat, obsX, obs); err != nil {
			return err
		}
		k := 0
		for _, d := range pending {
			k += copy(d, dst[k:])
		}
		flat, obs, pending = flat[:0], obs[:0], pending[:0]
		return nil
	}
	for i, t := range theta {
		r, _ := t.Dims()
		out[i] = make([]float64, r)
		for s := 0; s < r; {
			take := min(r-s, maxEvalRows-len(obs))
			for k := s; k < s+take; k++ {
				for j, v := range t.RawRowView(k) {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, fmt.Errorf("%w: θ[%d][%d][%d] is %v", ErrInput, i, k, j, v)
					}
				}
				flat = append(flat, t.RawRowView(k)...)
				obs = append(obs, i)
			}
			pending = append(pending, out[i][s:s+take])
			s += take
			if len(obs) == maxEvalRows {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// thetas are the draws of each result, without their statistics.
func thetas(res []*Samples) []*mat.Dense {
	out := make([]*mat.Dense, len(res))
	for i, r := range res {
		out[i] = r.Theta
	}
	return out
}
