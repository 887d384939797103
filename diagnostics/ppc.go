package diagnostics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/simulator"
)

// PPCResult is the outcome of a posterior predictive check at x_o.
type PPCResult struct {
	X     []float64 `json:"x"`
	Draws int       `json:"draws"`
	// Failed counts the predictive simulations that returned NaN or Inf;
	// they are left out.
	Failed int `json:"failed"`
	// Theta are the posterior draws and Predictive the x simulated from
	// them, one row each (failed rows removed from Predictive only).
	Theta      *mat.Dense `json:"-"`
	Predictive *mat.Dense `json:"-"`
	// Quantile[j] is the fraction of predictive x_j below x_o,j, ties
	// counted half; PValue[j] = 2·min(Quantile, 1 − Quantile).
	Quantile []float64 `json:"quantile"`
	PValue   []float64 `json:"p_value"`
	Alpha    float64   `json:"alpha"`
	// Consistent is false when some PValue is below Alpha/xdim.
	Consistent bool `json:"consistent"`
}

// PPC runs a posterior predictive check: it draws opts.Draws samples of θ
// from s at xo, simulates x from each with sim (randomness from
// opts.Seed) and places x_o among the predictive x, coordinate by
// coordinate. An x_o in the far tail of its own predictive distribution
// means the posterior, or the model, does not explain the data.
func PPC(ctx context.Context, s Sampler, sim simulator.Simulator, xo []float64, opts CheckOptions) (*PPCResult, error) {
	if sim == nil {
		return nil, fmt.Errorf("%w: no simulator for the predictive check", ErrInvalidOption)
	}
	xm := mat.NewDense(1, max(len(xo), 1), nil)
	if len(xo) == 0 || len(xo) != sim.XDim() {
		return nil, fmt.Errorf("%w: x_o has %d values, the simulator writes %d", ErrDimensionMismatch, len(xo), sim.XDim())
	}
	xm.SetRow(0, xo)
	if _, _, err := sampleDims("x_o", xm); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	draws, err := s.SampleEach(ctx, xm, opts.Draws, rand.NewPCG(opts.Seed, 0))
	if err != nil {
		return nil, fmt.Errorf("diagnostics: posterior draws at x_o: %w", err)
	}
	if len(draws) != 1 || draws[0] == nil {
		return nil, fmt.Errorf("diagnostics: sampler returned %d sample sets for one observation", len(draws))
	}
	if r, _ := draws[0].Dims(); r != opts.Draws {
		return nil, fmt.Errorf("%w: sampler returned %d draws, want %d", ErrDimensionMismatch, r, opts.Draws)
	}
	x, err := simulator.SimulateTheta(ctx, draws[0], sim, simulator.Options{Seed: opts.Seed, Progress: opts.Progress})
	if err != nil {
		return nil, fmt.Errorf("diagnostics: predictive simulations: %w", err)
	}
	xd := len(xo)
	kept := make([]float64, 0, opts.Draws*xd)
	for i := range opts.Draws {
		row := x.RawRowView(i)
		if !slices.ContainsFunc(row, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			kept = append(kept, row...)
		}
	}
	res := &PPCResult{X: slices.Clone(xo), Draws: opts.Draws, Theta: draws[0], Alpha: opts.Alpha, Consistent: true}
	res.Failed = opts.Draws - len(kept)/xd
	if len(kept) == 0 {
		return nil, fmt.Errorf("diagnostics: all %d predictive simulations failed", opts.Draws)
	}
	res.Predictive = mat.NewDense(len(kept)/xd, xd, kept)
	m := len(kept) / xd
	for j, v := range xo {
		below, ties := 0, 0
		for i := range m {
			switch w := kept[i*xd+j]; {
			case w < v:
				below++
			case w == v:
				ties++
			}
		}
		q := (float64(below) + 0.5*float64(ties)) / float64(m)
		p := math.Min(1, 2*math.Min(q, 1-q))
		res.Quantile = append(res.Quantile, q)
		res.PValue = append(res.PValue, p)
		if p < opts.Alpha/float64(xd) {
			res.Consistent = false
		}
	}
	return res, nil
}

// Verdict is a one-paragraph reading of the result, with names for the
// coordinates of x (nil: x_1, …).
func (r *PPCResult) Verdict(names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Posterior predictive check at x_o with %d draws", r.Draws)
	if r.Failed > 0 {
		fmt.Fprintf(&b, " (%d simulations failed)", r.Failed)
	}
	if r.Consistent {
		b.WriteString(": x_o is typical of its posterior predictive distribution")
	} else {
		b.WriteString(": x_o is NOT typical of its posterior predictive distribution")
	}
	fmt.Fprintf(&b, " at family-wise level %g.", r.Alpha)
	for j, q := range r.Quantile {
		name := fmt.Sprintf("x_%d", j+1)
		if j < len(names) && names[j] != "" {
			name = names[j]
		}
		fmt.Fprintf(&b, " %s: quantile %.3f, p = %.3g;", name, q, r.PValue[j])
	}
	return strings.TrimSuffix(b.String(), ";") + "."
}
