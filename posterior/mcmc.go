package posterior

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// Samplers and initialisations of MCMCOptions.
const (
	MethodSlice    = "slice"    // per-coordinate slice sampling, sbi's slice_np_vectorized
	MethodEnsemble = "ensemble" // affine-invariant ensemble, emcee's stretch move

	InitSIR      = "sir"      // sbi's "resample": prior draws resampled by their weights
	InitPrior    = "prior"    // prior draws
	InitProposal = "proposal" // draws of MCMCOptions.Proposal, an NPE posterior say
)

// Proposal draws initial states for the chains of each observation: Direct
// is one.
type Proposal interface {
	SampleBatched(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*Samples, error)
}

// MCMCOptions configure an MCMC posterior, with sbi's names and defaults
// where sbi has them. Zero values take the defaults.
type MCMCOptions struct {
	// Method is MethodSlice (default) or MethodEnsemble.
	Method string
	// NumChains is the chains (ensemble: walkers) per observation (default
	// 20, as sbi; the ensemble needs at least 2·dim+2).
	NumChains int
	// WarmupSteps are the steps per chain discarded before any draw is
	// kept (default 100; negative: none). Slice widths are tuned during
	// warm-up only, so that the kept draws come from one fixed kernel.
	WarmupSteps int
	// Thin keeps every Thin-th step after warm-up (default 10; 1 keeps all).
	Thin int
	// Init is InitSIR (default), InitPrior or InitProposal.
	Init string
	// Proposal draws the initial states for InitProposal.
	Proposal Proposal
	// InitCandidates are the prior draws per observation that InitSIR
	// resamples (default 10,000, as sbi).
	InitCandidates int
	// NoTransform samples θ itself instead of its unconstrained image
	// (sbi's enable_transform=False). Chains may then step onto the
	// support's walls, where the potential is −Inf.
	NoTransform bool
	// Progress, when set, is called after each potential evaluation with
	// the steps done per chain (on average) and the steps to do.
	Progress func(done, total int)
}

func (o *MCMCOptions) defaults(dim int) error {
	if o.Method == "" {
		o.Method = MethodSlice
	}
	if o.Init == "" {
		o.Init = InitSIR
	}
	if o.NumChains == 0 {
		o.NumChains = 20
		if o.Method == MethodEnsemble {
			o.NumChains = max(20, 2*dim+2)
		}
	}
	switch {
	case o.WarmupSteps == 0:
		o.WarmupSteps = 100
	case o.WarmupSteps < 0:
		o.WarmupSteps = 0
	}
	if o.Thin == 0 {
		o.Thin = 10
	}
	if o.InitCandidates == 0 {
		o.InitCandidates = 10_000
	}
	switch {
	case o.Method != MethodSlice && o.Method != MethodEnsemble:
		return fmt.Errorf("%w: MCMC method %q: want %q or %q", ErrInput, o.Method, MethodSlice, MethodEnsemble)
	case o.Init != InitSIR && o.Init != InitPrior && o.Init != InitProposal:
		return fmt.Errorf("%w: MCMC init %q: want %q, %q or %q", ErrInput, o.Init, InitSIR, InitPrior, InitProposal)
	case o.Init == InitProposal && o.Proposal == nil:
		return fmt.Errorf("%w: MCMC init %q needs a Proposal", ErrInput, InitProposal)
	case o.NumChains < 1 || o.NumChains > maxChains:
		return fmt.Errorf("%w: NumChains %d: want 1 to %d", ErrInput, o.NumChains, maxChains)
	case o.Method == MethodEnsemble && o.NumChains < 2*dim+2:
		return fmt.Errorf("%w: NumChains %d: the ensemble sampler needs at least 2·dim+2 = %d walkers", ErrInput, o.NumChains, 2*dim+2)
	case o.Thin < 1 || o.Thin > maxSteps:
		return fmt.Errorf("%w: Thin %d: want 1 to %d", ErrInput, o.Thin, maxSteps)
	case o.WarmupSteps > maxSteps:
		return fmt.Errorf("%w: WarmupSteps %d: want at most %d", ErrInput, o.WarmupSteps, maxSteps)
	case o.InitCandidates < 1 || o.InitCandidates > maxCandidates:
		return fmt.Errorf("%w: InitCandidates %d: want 1 to %d", ErrInput, o.InitCandidates, maxCandidates)
	}
	return nil
}

// Bounds on what one call may ask for, so that hostile options cannot
// allocate without limit.
const (
	maxChains     = 100_000
	maxSteps      = 1_000_000
	maxCandidates = 1_000_000
	maxRows       = 1 << 24 // θ values held for draws or candidates in one call
)

// MCMC samples a posterior by Markov chain Monte Carlo over a Potential:
// sbi's MCMCPosterior. All chains of all observations of a call advance
// together, one potential evaluation per sampler round, so that a neural
// potential makes one runtime call for all of them.
//
// Results depend on the seed alone, not on GOMAXPROCS or the runtime's
// workers: the samplers run in one goroutine, and each observation draws
// from its own stream, split from src in order.
//
// An MCMC is safe for concurrent use when its Potential is: it keeps no
// state between calls.
type MCMC struct {
	pot   Potential
	prior prior.Prior
	opts  MCMCOptions
	tr    *transform // nil: sample θ itself
}

// NewMCMC returns the MCMC posterior of potential pot whose prior (the
// proposal of sbi's MCMCPosterior) is p: p gives the support for the
// transform and the draws of InitPrior and InitSIR.
func NewMCMC(pot Potential, p prior.Prior, opts MCMCOptions) (*MCMC, error) {
	if pot == nil || p == nil {
		return nil, fmt.Errorf("%w: NewMCMC needs a potential and a prior", ErrInput)
	}
	if p.Dim() != pot.ThetaDim() {
		return nil, fmt.Errorf("%w: prior dimension %d, potential θ dimension %d", ErrInput, p.Dim(), pot.ThetaDim())
	}
	if err := opts.defaults(p.Dim()); err != nil {
		return nil, err
	}
	m := &MCMC{pot: pot, prior: p, opts: opts}
	if !opts.NoTransform {
		lo, hi := p.Bounds()
		t := newTransform(lo, hi)
		m.tr = &t
	}
	return m, nil
}

// NewModelMCMC returns the MCMC posterior of a model file, with the
// potential its method calls for: log q(θ|x) inside the support for "npe"
// (sbi's sample_with="mcmc"), the likelihood potential for "nle", the ratio
// potential for "nre". A nil p means the file's prior.
func NewModelMCMC(m *runtime.Model, p prior.Prior, opts MCMCOptions) (*MCMC, error) {
	if p == nil {
		p = m.Prior()
	}
	if p == nil {
		return nil, ErrNoPrior
	}
	var (
		pot Potential
		err error
	)
	switch method := m.Method(); method {
	case format.MethodNPE:
		pot, err = NewPosteriorPotential(m, p)
	case format.MethodNLE:
		pot, err = NewLikelihoodPotential(m, p)
	case format.MethodNRE:
		pot, err = NewRatioPotential(m, p)
	default:
		return nil, fmt.Errorf("%w: model method %q has no MCMC potential", ErrInput, method)
	}
	if err != nil {
		return nil, err
	}
	return NewMCMC(pot, p, opts)
}

// Sample draws n samples from the posterior of observation x (nil when the
// potential takes none). Samples.Convergence says whether the chains mixed.
func (m *MCMC) Sample(ctx context.Context, x []float64, n int, src rand.Source) (*Samples, error) {
	var xs *mat.Dense
	if len(x) > 0 {
		xs = mat.NewDense(1, len(x), append([]float64(nil), x...))
	}
	out, err := m.SampleBatched(ctx, xs, n, src)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// SampleBatched draws n samples for each row of xs (nil: one observation
// of a potential that takes none), each with chains of its own, all
// advancing in the same potential calls. Observation i draws from the
// i-th stream split from src, so its samples do not depend on the others.
func (m *MCMC) SampleBatched(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*Samples, error) {
	obsX, err := m.checkX(xs)
	if err != nil {
		return nil, err
	}
	o := m.opts
	dim := m.pot.ThetaDim()
	draws := (n + o.NumChains - 1) / max(o.NumChains, 1)
	rows := len(obsX) * o.NumChains
	switch {
	case n < 1:
		return nil, fmt.Errorf("%w: %d samples requested", ErrInput, n)
	case n > maxRows/dim/len(obsX) || rows > maxRows/dim:
		return nil, fmt.Errorf("%w: %d samples of %d observations of dimension %d are more than one call may hold", ErrInput, n, len(obsX), dim)
	case o.WarmupSteps+draws*o.Thin > maxSteps:
		return nil, fmt.Errorf("%w: %d warm-up and %d×%d steps per chain: more than %d", ErrInput, o.WarmupSteps, draws, o.Thin, maxSteps)
	}
	if src == nil {
		src = globalSource{}
	}
	r := &chains{
		ctx: ctx, m: m, dim: dim, k: o.NumChains, xs: obsX,
		z: make([]float64, rows*dim), lp: make([]float64, rows), obs: make([]int, rows),
		rng: make([]*rand.Rand, len(obsX)), evals: make([]int, len(obsX)),
		draws: draws, warmup: o.WarmupSteps, thin: o.Thin,
		kept: make([][]float64, rows), accepted: make([]int, len(obsX)), moves: make([]int, len(obsX)),
	}
	r.total = r.warmup + draws*r.thin
	for i := range obsX {
		// Two words per observation, drawn in order: its stream.
		r.rng[i] = rand.New(rand.NewPCG(src.Uint64(), src.Uint64()))
	}
	for c := range rows {
		r.obs[c] = c / r.k
		r.kept[c] = make([]float64, 0, draws*dim)
	}
	if err := r.init(src); err != nil {
		return nil, err
	}
	// Steps are counted from here: the initial candidates and states are
	// evaluated once per run, not per step.
	clear(r.evals)
	switch o.Method {
	case MethodSlice:
		err = r.slice()
	case MethodEnsemble:
		err = r.ensemble()
	}
	if err != nil {
		return nil, err
	}
	return r.results(n), nil
}

// checkX returns the observations as rows, checked against the potential.
func (m *MCMC) checkX(xs *mat.Dense) ([][]float64, error) {
	xd := m.pot.XDim()
	if xs == nil || xs.IsEmpty() {
		if xd > 0 {
			return nil, fmt.Errorf("%w: no observations", ErrInput)
		}
		return [][]float64{nil}, nil
	}
	b, c := xs.Dims()
	if xd == 0 || c%xd != 0 {
		return nil, fmt.Errorf("%w: x has %d values per row, the potential takes a multiple of %d", ErrInput, c, xd)
	}
	out := make([][]float64, b)
	for i := range b {
		out[i] = append([]float64(nil), xs.RawRowView(i)...)
		for j, v := range out[i] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: x[%d][%d] is %v", ErrInput, i, j, v)
			}
		}
	}
	return out, nil
}

// chains is the state of one SampleBatched call: k chains for each
// observation, row c of z belonging to observation obs[c] = c / k.
type chains struct {
	ctx                        context.Context
	m                          *MCMC
	dim, k                     int
	xs                         [][]float64
	z, lp                      []float64 // positions (unconstrained when transformed) and their potentials
	obs                        []int
	rng                        []*rand.Rand // per observation
	evals                      []int        // potential evaluations per observation
	kept                       [][]float64  // per chain, θ of the kept draws
	accepted                   []int        // per observation, accepted moves
	moves                      []int        // per observation, proposed moves
	draws, warmup, thin, total int

	theta, lj []float64 // buffers of eval
	done      int       // progress last reported
}

// eval sets dst[i] to the potential of position row i of z (rows × dim)
// for observation obs[i], plus the log-Jacobian of the transform.
func (r *chains) eval(dst, z []float64, obs []int) error {
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("posterior: sampling stopped: %w", err)
	}
	rows := len(dst)
	r.theta, r.lj = grow(r.theta, rows*r.dim), grow(r.lj, rows)
	lj := r.lj
	if r.m.tr == nil {
		clear(lj)
		copy(r.theta, z)
	} else {
		for i := range rows {
			lj[i] = r.m.tr.forward(r.theta[i*r.dim:(i+1)*r.dim], z[i*r.dim:(i+1)*r.dim])
		}
	}
	if err := r.m.pot.LogPotential(r.ctx, dst, r.theta, r.xs, obs); err != nil {
		if ctxErr := r.ctx.Err(); ctxErr != nil {
			return fmt.Errorf("posterior: sampling stopped: %w", ctxErr)
		}
		return err
	}
	for i := range rows {
		r.evals[obs[i]]++
		v := dst[i]
		if math.IsNaN(v) {
			v = math.Inf(-1)
		}
		if !math.IsInf(v, 0) {
			v += lj[i]
		}
		dst[i] = v
	}
	return nil
}

// evalChunked is eval in pieces of at most maxEvalRows rows, so that
// init's large batches answer cancellation.
func (r *chains) evalChunked(dst, z []float64, obs []int) error {
	const maxEvalRows = 1 << 16
	for i := 0; i < len(dst); i += maxEvalRows {
		j := min(i+maxEvalRows, len(dst))
		if err := r.eval(dst[i:j], z[i*r.dim:j*r.dim], obs[i:j]); err != nil {
			return err
		}
	}
	return nil
}

// toZ maps θ (rows × dim) to positions in place.
func (r *chains) toZ(v []float64) {
	if r.m.tr == nil {
		return
	}
	for i := 0; i < len(v); i += r.dim {
		r.m.tr.inverse(v[i:i+r.dim], append([]float64(nil), v[i:i+r.dim]...))
	}
}

// init places the chains and evaluates their potentials.
func (r *chains) init(src rand.Source) error {
	o := r.m.opts
	switch o.Init {
	case InitPrior:
		for i := range r.xs {
			block := mat.NewDense(r.k, r.dim, r.z[i*r.k*r.dim:(i+1)*r.k*r.dim])
			r.m.prior.Sample(block, r.rng[i])
		}
	case InitProposal:
		var xs *mat.Dense
		if r.xs[0] != nil {
			xs = mat.NewDense(len(r.xs), len(r.xs[0]), nil)
			for i, x := range r.xs {
				xs.SetRow(i, x)
			}
		}
		res, err := o.Proposal.SampleBatched(r.ctx, xs, r.k, rand.NewPCG(src.Uint64(), src.Uint64()))
		if err != nil {
			return fmt.Errorf("posterior: initial states from the proposal: %w", err)
		}
		if len(res) != len(r.xs) {
			return fmt.Errorf("posterior: the proposal returned %d sample sets for %d observations", len(res), len(r.xs))
		}
		for i, s := range res {
			if s == nil || s.Theta == nil {
				return fmt.Errorf("posterior: the proposal returned no samples for observation %d", i)
			}
			if rr, cc := s.Theta.Dims(); rr != r.k || cc != r.dim {
				return fmt.Errorf("posterior: the proposal returned %d×%d samples, want %d×%d", rr, cc, r.k, r.dim)
			}
			for c := range r.k {
				copy(r.z[(i*r.k+c)*r.dim:], s.Theta.RawRowView(c))
			}
		}
	case InitSIR:
		if err := r.sir(); err != nil {
			return err
		}
	}
	r.toZ(r.z)
	if err := r.eval(r.lp, r.z, r.obs); err != nil {
		return err
	}
	for c, v := range r.lp {
		if math.IsInf(v, -1) {
			return fmt.Errorf("%w: observation %d: chain %d starts where the potential is −Inf", ErrLowAcceptance, r.obs[c], c%r.k)
		}
	}
	return nil
}

// sir is sbi's resample initialisation: InitCandidates prior draws per
// observation weighted by potential over prior density (the likelihood),
// and NumChains of them drawn without replacement by those weights
// (Gumbel top-k), so that no two chains start at one point.
func (r *chains) sir() error {
	nc := r.m.opts.InitCandidates
	if len(r.xs)*nc > maxRows/r.dim {
		return fmt.Errorf("%w: %d observations × %d initial candidates are more than one call may hold", ErrInput, len(r.xs), nc)
	}
	theta := make([]float64, len(r.xs)*nc*r.dim)
	obs := make([]int, len(r.xs)*nc)
	for i := range r.xs {
		r.m.prior.Sample(mat.NewDense(nc, r.dim, theta[i*nc*r.dim:(i+1)*nc*r.dim]), r.rng[i])
		for c := range nc {
			obs[i*nc+c] = i
		}
	}
	// The candidates go through the same path as the chains, so the
	// weights are potentials of θ; the transform's Jacobian is left out.
	z := append([]float64(nil), theta...)
	r.toZ(z)
	lp := make([]float64, len(obs))
	if err := r.evalChunked(lp, z, obs); err != nil {
		return err
	}
	tmp := make([]float64, r.dim)
	for i := range r.xs {
		type cand struct {
			key float64
			c   int
		}
		var best []cand
		for c := range nc {
			row := theta[(i*nc+c)*r.dim : (i*nc+c+1)*r.dim]
			w := lp[i*nc+c] - r.jacobian(z[(i*nc+c)*r.dim:(i*nc+c+1)*r.dim], tmp) - r.m.prior.LogProb(row)
			if math.IsNaN(w) || math.IsInf(w, 0) {
				continue
			}
			// Gumbel top-k: the k largest w + G are a weighted draw
			// without replacement.
			best = append(best, cand{w - math.Log(-math.Log(1-r.rng[i].Float64())), c})
		}
		if len(best) == 0 {
			return fmt.Errorf("%w: observation %d: none of %d prior draws has a finite potential; the observation may be outside what the prior can produce", ErrLowAcceptance, i, nc)
		}
		sortDesc(best, func(a cand) float64 { return a.key })
		for c := range r.k {
			pick := best[c%len(best)].c
			copy(r.z[(i*r.k+c)*r.dim:(i*r.k+c+1)*r.dim], theta[(i*nc+pick)*r.dim:(i*nc+pick+1)*r.dim])
		}
	}
	return nil
}

// sortDesc sorts v by key, largest first, ties kept in order.
func sortDesc[T any](v []T, key func(T) float64) {
	slices.SortStableFunc(v, func(a, b T) int { return cmp.Compare(key(b), key(a)) })
}

// globalSource draws from math/rand/v2's global generator, standing in for
// a nil source.
type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }

// jacobian is the transform's log-Jacobian at z (0 without one).
func (r *chains) jacobian(z, tmp []float64) float64 {
	if r.m.tr == nil {
		return 0
	}
	return r.m.tr.forward(tmp, z)
}

// keep records the draw of chain c after its step t (0-based) when t is
// kept: past warm-up, every thin-th step.
func (r *chains) keep(c, t int) {
	if t < r.warmup || (t-r.warmup+1)%r.thin != 0 {
		return
	}
	z := r.z[c*r.dim : (c+1)*r.dim]
	n := len(r.kept[c])
	r.kept[c] = append(r.kept[c], z...)
	if r.m.tr != nil {
		r.m.tr.forward(r.kept[c][n:], z)
	}
}

// report calls Progress when the steps done have grown.
func (r *chains) report(done int) {
	if p := r.m.opts.Progress; p != nil && done > r.done {
		r.done = done
		p(done, r.total)
	}
}

// results interleaves each observation's chains step by step (so that a
// surplus is cut from the last step of every chain, not from one chain's
// end) and judges convergence.
func (r *chains) results(n int) []*Samples {
	out := make([]*Samples, len(r.xs))
	for i := range r.xs {
		theta := mat.NewDense(n, r.dim, nil)
		for s := range n {
			t, c := s/r.k, s%r.k
			theta.SetRow(s, r.kept[i*r.k+c][t*r.dim:(t+1)*r.dim])
		}
		conv := &Convergence{
			Method: r.m.opts.Method, Chains: r.k, Warmup: r.warmup, Thin: r.thin, Draws: r.draws,
			RHat: make([]float64, r.dim), ESS: make([]float64, r.dim),
			EvalsPerStep: float64(r.evals[i]) / float64(r.k*r.total),
		}
		if r.moves[i] > 0 {
			conv.Acceptance = float64(r.accepted[i]) / float64(r.moves[i])
		}
		if r.draws >= 4 {
			ch := make([][]float64, r.k)
			for j := range r.dim {
				for c := range r.k {
					ch[c] = make([]float64, r.draws)
					for t := range r.draws {
						ch[c][t] = r.kept[i*r.k+c][t*r.dim+j]
					}
				}
				conv.RHat[j], conv.ESS[j] = RHat(ch), BulkESS(ch)
			}
		} else {
			for j := range r.dim {
				conv.RHat[j], conv.ESS[j] = math.NaN(), math.NaN()
			}
		}
		conv.judge()
		out[i] = &Samples{
			Theta: theta, Proposed: r.moves[i], Inside: r.accepted[i], Acceptance: conv.Acceptance,
			Convergence: conv,
		}
	}
	return out
}
