package posterior

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// Samples are the draws for one observation and how they were obtained.
// Acceptance is always Inside / Proposed, accepted over proposed as sbi
// reports it (0 when nothing was proposed).
//
// From Direct and Sampler, Proposed counts the draws of the observation's
// stream up to and including the n-th one inside the prior support, and
// Inside those inside it: n. A runtime call may compute draws past the
// n-th accepted one; they are dropped uncounted, so that every field, like
// Theta, depends on the source alone, never on how draws were batched.
// n/Proposed overestimates the mass inside the support by a fraction of
// about (1−a)/n at acceptance a.
//
// From MCMC, Proposed and Inside count the moves proposed and accepted,
// and Convergence is set.
type Samples struct {
	Theta      *mat.Dense // n × θ dim
	Proposed   int
	Inside     int
	Acceptance float64
	// Extrapolating lists the x dimensions more than 5 training standard
	// deviations from the training mean: the estimate there is an
	// extrapolation, not a fit.
	Extrapolating []int
	// Convergence, for MCMC only, holds R-hat, ESS and the sampler's
	// figures.
	Convergence *Convergence
}

// splitSources returns one source per observation, drawn from src in
// order: observation i's draws depend on src and i alone, not on the other
// observations of the call nor on how their draws are batched. A nil src
// means math/rand/v2's global generator.
func splitSources(src rand.Source, k int) []rand.Source {
	if src == nil {
		src = globalSource{}
	}
	out := make([]rand.Source, k)
	for i := range out {
		out[i] = rand.NewPCG(src.Uint64(), src.Uint64())
	}
	return out
}

// globalSource draws from math/rand/v2's global generator, standing in for
// a nil source.
type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }

// engine is the rejection sampler behind Direct and Sampler. Each
// observation is a stream with its own source; a round of runtime calls
// serves every stream that fits, and a stream keeps the draws inside the
// prior support until it has n. Direct runs the rounds of one call in the
// caller's goroutine, a Sampler's workers run rounds for all its callers
// at once.
//
// Its answers do not depend on the batching: every call holds a multiple
// of runtime.Lanes draws, so a draw's θ depends on its noise and x alone
// (TestDrawPlace, TestObservationPlace), and a stream examines its draws
// in order up to its n-th accepted one.
type engine struct {
	model *runtime.Model
	prior prior.Prior
	// minAcceptance and minProposals judge a hopeless stream.
	minAcceptance float64
	minProposals  int
	maxDraws      int // draws planned for one round
	maxNeed       int // draws one stream may plan for one round
	observe       func(draws float64)

	// The draws accepted and examined in recent calls, each call's
	// counts decayed by a tenth: their ratio is the acceptance guessed for
	// streams that have no draws of their own yet.
	acceptMu            sync.Mutex
	recentIn, recentAll float64
}

// newEngine checks model m and prior p (nil: the file's) for rejection
// sampling and the acceptance bounds (zero: the defaults 1e-4 and 10,000),
// and plans rounds of maxDraws (at least 1) draws, rounded up to whole
// runtime.Lanes.
func newEngine(m *runtime.Model, p prior.Prior, minAcceptance float64, minProposals, maxDraws int) (*engine, error) {
	if m.Method() != format.MethodNPE {
		return nil, fmt.Errorf("%w: a direct posterior needs an npe model, this one is %s (sample it by MCMC)", ErrInput, m.Method())
	}
	if p == nil {
		p = m.Prior()
	}
	switch {
	case p == nil:
		return nil, ErrNoPrior
	case p.Dim() != m.ThetaDim():
		return nil, fmt.Errorf("%w: prior dimension %d, model θ dimension %d", ErrInput, p.Dim(), m.ThetaDim())
	case !(minAcceptance >= 0 && minAcceptance <= 1):
		return nil, fmt.Errorf("%w: MinAcceptance %v: want 0 to 1", ErrInput, minAcceptance)
	case minProposals < 0:
		return nil, fmt.Errorf("%w: MinProposals %d: want 0 or more", ErrInput, minProposals)
	}
	if minAcceptance == 0 {
		minAcceptance = 1e-4
	}
	if minProposals == 0 {
		minProposals = 10_000
	}
	maxDraws = callDraws(m, roundUp(maxDraws, runtime.Lanes))
	return &engine{model: m, prior: p, minAcceptance: minAcceptance, minProposals: minProposals,
		maxDraws: maxDraws, maxNeed: maxDraws}, nil
}

// MaxSampleValues bounds the θ values one sampling call returns, samples
// × observations × θ dimension (1 GiB of float64): a larger request is an
// ErrInput before anything is allocated for it.
const MaxSampleValues = 1 << 27

func checkCount(n, rows, d int) error {
	switch {
	case n < 1:
		return fmt.Errorf("%w: %d samples requested", ErrInput, n)
	case n > MaxSampleValues/d/rows:
		return fmt.Errorf("%w: %d samples for %d observations of θ dimension %d exceed the limit of %d values",
			ErrInput, n, rows, d, MaxSampleValues)
	}
	return nil
}

// maxCallValues bounds the noise values, and the θ values, of one runtime
// call: a model of many noise or θ columns gets fewer draws per call,
// rather than buffers its file's dimensions size (64 MiB each at most).
const maxCallValues = 1 << 24

// callDraws caps draws, the draws of one runtime call, at maxCallValues
// for m, keeping a whole multiple of runtime.Lanes when it cuts.
func callDraws(m *runtime.Model, draws int) int {
	return capDraws(draws, max(m.Metadata().Noise.Dim(), m.ThetaDim()))
}

func capDraws(draws, cols int) int {
	return min(draws, max(maxCallValues/cols/runtime.Lanes*runtime.Lanes, runtime.Lanes))
}

// checkX checks observations for the model: its dimension, and values
// finite in float32, as the model takes them.
func checkX(m *runtime.Model, xs *mat.Dense) error {
	if xs == nil || xs.IsEmpty() {
		return fmt.Errorf("%w: no observations", ErrInput)
	}
	b, xd := xs.Dims()
	if xd != m.XDim() {
		return fmt.Errorf("%w: x has dimension %d, the model expects %d", ErrInput, xd, m.XDim())
	}
	for i := range b {
		for j, v := range xs.RawRowView(i) {
			switch {
			case math.IsNaN(v) || math.IsInf(v, 0):
				return fmt.Errorf("%w: x[%d][%d] is %v", ErrInput, i, j, v)
			case math.IsInf(float64(float32(v)), 0):
				return fmt.Errorf("%w: x[%d][%d] = %v is beyond float32", ErrInput, i, j, v)
			}
		}
	}
	return nil
}

// extrapolating lists the dimensions of x far from the training data.
func extrapolating(m *runtime.Model, x []float64) []int {
	z := m.Metadata().ZScore
	var out []int
	for j, v := range x {
		if math.Abs(v-z.XMean[j])/z.XStd[j] > 5 {
			out = append(out, j)
		}
	}
	return out
}

// stream is one observation's share of a sampling call.
type stream struct {
	ctx  context.Context
	row  int
	x    []float32
	n    int
	src  rand.Source
	done chan error // receives the outcome once; buffered

	// Owned by the goroutine running rounds until done is sent.
	theta            []float64 // accepted draws, n × θ dim
	proposed, inside int       // as in Samples
	// ended and err are set by finish, before done is sent; the goroutine
	// running rounds reads them after, to drop the stream.
	ended bool
	err   error
}

// finish hands the stream back to its caller with its outcome.
func (st *stream) finish(err error) {
	st.ended, st.err = true, err
	st.done <- err
}

// streams checks a request of n samples for each row of xs and returns a
// stream per row, row i drawing from the i-th source split from src.
func (e *engine) streams(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*stream, error) {
	if err := checkX(e.model, xs); err != nil {
		return nil, err
	}
	rows, xd := xs.Dims()
	d := e.model.ThetaDim()
	if err := checkCount(n, rows, d); err != nil {
		return nil, err
	}
	x := make([]float32, rows*xd)
	for i := range rows {
		for j, v := range xs.RawRowView(i) {
			x[i*xd+j] = float32(v)
		}
	}
	out := make([]*stream, rows)
	for i, s := range splitSources(src, rows) {
		out[i] = &stream{
			ctx: ctx, row: i, x: x[i*xd : (i+1)*xd], n: n, src: s,
			done: make(chan error, 1), theta: make([]float64, n*d),
		}
	}
	return out, nil
}

// result is the Samples of a finished stream for observation x.
func (e *engine) result(st *stream, x []float64) *Samples {
	return &Samples{
		Theta:         mat.NewDense(st.n, e.model.ThetaDim(), st.theta),
		Proposed:      st.proposed,
		Inside:        st.inside,
		Acceptance:    float64(st.inside) / float64(st.proposed),
		Extrapolating: extrapolating(e.model, x),
	}
}

// batch is the reusable memory of the goroutine running rounds.
type batch struct {
	plan  []int // draws per active stream
	order []int
	group [][]int
	x     []float32
	noise []float32
	out   runtime.Output
	theta []float64
}

// round makes the runtime calls for the active streams and returns those
// still short of their n draws, in order.
func (e *engine) round(active []*stream, b *batch) []*stream {
	all := active
	defer func() { clear(all[len(active):]) }() // let finished streams go
	live := active[:0]
	for _, st := range active {
		if err := st.ctx.Err(); err != nil {
			st.finish(fmt.Errorf("posterior: sampling stopped: %w", err))
			continue
		}
		live = append(live, st)
	}
	active = live
	if len(active) == 0 {
		return active
	}

	// Plan, first come first served. Streams the round cannot fit wait
	// for the next one, first in line; a typical request is done in one
	// round.
	b.plan = b.plan[:0]
	total := 0
	guess := e.guess()
	for _, st := range active {
		k := e.need(st, guess)
		if total+k > e.maxDraws {
			k = 0
		}
		b.plan = append(b.plan, k)
		total += k
	}
	var inside, proposed int
	for _, g := range b.groups() {
		in, pr := e.call(active, g, b)
		inside, proposed = inside+in, proposed+pr
	}
	keep := active[:0]
	for _, st := range active {
		if !st.ended {
			keep = append(keep, st)
		}
	}
	active = keep
	e.acceptMu.Lock()
	e.recentIn = 0.9*e.recentIn + float64(inside)
	e.recentAll = 0.9*e.recentAll + float64(proposed)
	e.acceptMu.Unlock()
	return active
}

// maxWaste is the most draws a group's streams may get beyond their plans
// (a group gives each the largest plan among them) before they had better
// take a call of their own: about the fixed cost of a call of sbi's
// default NSF, in draws.
const maxWaste = 64

// groups cuts the planned streams into groups of about equal plans, one
// call each: a call has one count of draws per observation, so that what
// is computed from x alone is computed once per observation. Each group
// lists indices into the plan, the largest plan first.
func (b *batch) groups() [][]int {
	b.order = b.order[:0]
	for i, k := range b.plan {
		if k > 0 {
			b.order = append(b.order, i)
		}
	}
	slices.SortStableFunc(b.order, func(i, j int) int { return b.plan[j] - b.plan[i] })
	b.group = b.group[:0]
	for start := 0; start < len(b.order); {
		n, waste, end := b.plan[b.order[start]], 0, start+1
		for ; end < len(b.order); end++ {
			if waste += n - b.plan[b.order[end]]; waste > maxWaste {
				break
			}
		}
		b.group = append(b.group, b.order[start:end])
		start = end
	}
	return b.group
}

// call makes one runtime call for the streams active[i], i in g, each
// getting the draws of the largest plan among them, and returns the draws
// accepted and examined.
func (e *engine) call(active []*stream, g []int, b *batch) (inside, proposed int) {
	m := e.model
	xd, d := m.XDim(), m.ThetaDim()
	nd := m.Metadata().Noise.Dim()
	// Whole multiples of runtime.Lanes draws per call, so that each draw
	// is the same bit for bit, whatever else the call holds.
	n := roundUp(b.plan[g[0]], runtime.Lanes/gcd(len(g), runtime.Lanes))
	b.x = grow(b.x, len(g)*xd)
	b.noise = grow(b.noise, len(g)*n*nd)
	for j, i := range g {
		copy(b.x[j*xd:], active[i].x)
		m.Noise(b.noise[j*n*nd:(j+1)*n*nd], n, active[i].src)
	}
	if _, err := m.Run(b.x, len(g), nil, 0, b.noise, n, &b.out); err != nil {
		for _, i := range g {
			active[i].finish(err)
		}
		return 0, 0
	}
	if e.observe != nil {
		e.observe(float64(len(g) * n))
	}
	b.theta = grow(b.theta, d)
	for j, i := range g {
		st := active[i]
		in0, pr0 := st.inside, st.proposed
		var err error
		for r := 0; r < n && st.inside < st.n && err == nil; r++ {
			for q, v := range b.out.Sample[(j*n+r)*d : (j*n+r+1)*d] {
				b.theta[q] = float64(v)
			}
			st.proposed++
			if e.prior.InSupport(b.theta) {
				copy(st.theta[st.inside*d:], b.theta)
				st.inside++
				continue
			}
			err = e.judge(st)
		}
		inside, proposed = inside+st.inside-in0, proposed+st.proposed-pr0
		switch {
		case err != nil:
			st.finish(err)
		case st.inside == st.n:
			st.finish(nil)
		}
	}
	return inside, proposed
}

// judge fails a hopeless stream instead of looping for ever, as sbi users
// meet (sbi issues #1699, #1292). It runs after every rejected draw, so
// that whether and where a stream fails depends on its draws alone.
func (e *engine) judge(st *stream) error {
	if st.proposed < e.minProposals || float64(st.inside) >= e.minAcceptance*float64(st.proposed) {
		return nil
	}
	return fmt.Errorf("%w: observation %d accepted %d of %d draws (rate %.2g < %.2g); the observation may be outside what the prior can produce",
		ErrLowAcceptance, st.row, st.inside, st.proposed, float64(st.inside)/float64(st.proposed), e.minAcceptance)
}

// need is the draws stream st asks of a call: enough that its shortfall s
// is met three standard deviations above the mean, at the stream's own
// acceptance a so far, (s + 3·√(s(1−a)))/a, capped at maxNeed. A stream
// without draws of its own yet takes guess.
func (e *engine) need(st *stream, guess float64) int {
	a := guess
	if st.proposed > 0 {
		a = float64(st.inside) / float64(st.proposed)
	}
	a = math.Max(a, e.minAcceptance)
	short := float64(st.n - st.inside)
	k := math.Ceil((short + 3*math.Sqrt(short*(1-a))) / a)
	return int(math.Min(k, float64(e.maxNeed)))
}

// guess is the acceptance assumed for streams without draws of their own:
// the recent one, but no less than minGuess, so that a few hopeless
// observations cannot make every new request ask for many draws (one that
// needs more takes another call).
func (e *engine) guess() float64 {
	e.acceptMu.Lock()
	defer e.acceptMu.Unlock()
	if e.recentAll == 0 {
		return 1
	}
	return math.Max(e.recentIn/e.recentAll, minGuess)
}

// minGuess is the least acceptance guess returns.
const minGuess = 0.9

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// roundUp rounds k up to a positive multiple of m.
func roundUp(k, m int) int { return max((k+m-1)/m, 1) * m }

// grow returns s with length n, reusing its memory when it is large enough.
func grow[T float32 | float64](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
