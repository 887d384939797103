package posterior

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// MAPOptions configure MAP. Zero values take the defaults.
type MAPOptions struct {
	// Candidates is the number of posterior samples whose best starts the
	// search (default 1,000, as sbi's num_init_samples).
	Candidates int
	// Starts is how many of the best candidates are refined (default 4).
	Starts int
	// MaxEvaluations bounds the log-prob evaluations per start (default 2,000).
	MaxEvaluations int
}

// MAPResult is the posterior mode estimate.
type MAPResult struct {
	Theta   []float64
	LogProb float64 // log q(θ|x) at Theta
}

// MAP estimates argmax p(θ|x): the best of Candidates posterior samples,
// refined by Nelder–Mead on the log-density (gradient-free: the model file
// has no gradient graph). The prior support bounds the search.
func (d *Direct) MAP(ctx context.Context, x []float64, opts MAPOptions, src rand.Source) (*MAPResult, error) {
	if opts.Candidates <= 0 {
		opts.Candidates = 1000
	}
	if opts.Starts <= 0 {
		opts.Starts = 4
	}
	if opts.MaxEvaluations <= 0 {
		opts.MaxEvaluations = 2000
	}
	s, err := d.Sample(ctx, x, opts.Candidates, src)
	if err != nil {
		return nil, err
	}
	lp, err := d.LogProb(ctx, s.Theta, x)
	if err != nil {
		return nil, err
	}
	order := argsortDesc(lp)
	dim := d.eng.model.ThetaDim()
	best := &MAPResult{LogProb: math.Inf(-1)}
	one := mat.NewDense(1, dim, nil)
	var evalErr error
	f := func(theta []float64) float64 {
		if evalErr != nil || ctx.Err() != nil {
			return math.Inf(1)
		}
		copy(one.RawRowView(0), theta)
		v, err := d.LogProb(ctx, one, x)
		if err != nil {
			evalErr = err
			return math.Inf(1)
		}
		return -v[0]
	}
	for _, i := range order[:min(opts.Starts, len(order))] {
		start := mat.Row(nil, i, s.Theta)
		r, _ := optimize.Minimize(optimize.Problem{Func: f}, start,
			&optimize.Settings{FuncEvaluations: opts.MaxEvaluations}, &optimize.NelderMead{})
		if evalErr != nil {
			return nil, evalErr
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("posterior: MAP stopped: %w", err)
		}
		cand, val := start, lp[i]
		// Nelder–Mead may stop on its evaluation budget with a usable point.
		if r != nil && r.X != nil {
			if v := -r.F; v > val && !math.IsInf(v, 0) {
				cand, val = r.X, v
			}
		}
		if val > best.LogProb {
			best.Theta, best.LogProb = append([]float64(nil), cand...), val
		}
	}
	return best, nil
}

func argsortDesc(v []float64) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return v[idx[a]] > v[idx[b]] })
	return idx
}
