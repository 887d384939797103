package posterior

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"sync"

	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// A Sampler draws posterior samples of one model for many concurrent
// callers, sharing onnxruntime calls between them. A runtime call has a
// fixed cost, set by the size of the model's graph (sbi's default NSF has
// about 300 nodes per path), that dwarfs the cost per draw at the sizes one
// request needs, so under load one call for many requests multiplies
// throughput. Without load a request runs alone, at once: nothing waits to
// fill a batch.
//
// A call gives every observation in it the same count of draws, so that
// the model computes what depends on x alone once per observation; streams
// of about equal need share a call, others get calls of their own.
//
// It rejects draws outside the prior support and judges hopeless
// observations as Direct does, and its answers do not depend on the
// batching: observation row of a call with seed gets the first n accepted
// draws of its own noise sequence, Source(seed, row), whichever calls
// computed them, as every call holds a multiple of runtime.Lanes draws.
// Direct.Sample with the same source gives the same draws.
//
// A Sampler is safe for concurrent use. Close stops its goroutines.
type Sampler struct {
	post     *Direct // the model, prior, acceptance bounds and extrapolation check
	maxDraws int
	observe  func(draws float64)

	// The draws accepted and examined in recent calls, each call's
	// counts decayed by a tenth: their ratio is the acceptance guessed for
	// streams that have no draws of their own yet.
	acceptMu            sync.Mutex
	recentIn, recentAll float64

	queue chan *stream
	quit  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// SamplerOptions configure NewSampler. Zero values take the defaults.
type SamplerOptions struct {
	// Prior overrides the prior stored in the model file.
	Prior prior.Prior
	// MinAcceptance and MinProposals judge a hopeless observation as
	// DirectOptions does (defaults 1e-4 and 10,000).
	MinAcceptance float64
	MinProposals  int
	// BatchDraws bounds the draws planned for one round of runtime calls
	// (default DefaultBatchDraws; rounded up to a multiple of
	// runtime.Lanes). A call may add a few draws per observation to reach
	// a multiple of runtime.Lanes, and streams sharing a call get the
	// largest plan among them.
	BatchDraws int
	// Workers is the number of goroutines making runtime calls (default
	// GOMAXPROCS: a call with one intra-op thread uses one core).
	Workers int
	// Observe, when set, receives the draws of every runtime call.
	Observe func(draws float64)
}

// DefaultBatchDraws is the default of SamplerOptions.BatchDraws.
const DefaultBatchDraws = 2048

// ErrSamplerClosed is returned for requests to a closed Sampler.
var ErrSamplerClosed = errors.New("posterior: sampler is closed")

// NewSampler starts a sampler of m.
func NewSampler(m *runtime.Model, opts SamplerOptions) (*Sampler, error) {
	switch {
	case opts.Prior == nil && m.Prior() == nil:
		return nil, ErrNoPrior
	case opts.MinAcceptance < 0 || opts.MinAcceptance > 1 || opts.MinProposals < 0 || opts.BatchDraws < 0 || opts.Workers < 0:
		return nil, fmt.Errorf("posterior: bad sampler options %+v", opts)
	}
	post, err := NewDirect(m, DirectOptions{Prior: opts.Prior, MinAcceptance: opts.MinAcceptance, MinProposals: opts.MinProposals})
	if err != nil {
		return nil, err
	}
	s := &Sampler{
		post:     post,
		maxDraws: opts.BatchDraws,
		observe:  opts.Observe,
		queue:    make(chan *stream),
		quit:     make(chan struct{}),
	}
	if s.maxDraws == 0 {
		s.maxDraws = DefaultBatchDraws
	}
	s.maxDraws = callDraws(m, roundUp(s.maxDraws, runtime.Lanes))
	workers := opts.Workers
	if workers == 0 {
		workers = goruntime.GOMAXPROCS(0)
	}
	s.wg.Add(workers)
	for range workers {
		go s.work()
	}
	return s, nil
}

// Close stops the workers once their streams are done; later calls to
// Sample fail with ErrSamplerClosed.
func (s *Sampler) Close() {
	s.once.Do(func() { close(s.quit) })
	s.wg.Wait()
}

// Sample draws n samples for each row of xs, row i from Source(seed, i).
// It stops early when ctx is done.
func (s *Sampler) Sample(ctx context.Context, xs *mat.Dense, n int, seed uint64) ([]*Samples, error) {
	m := s.post.model
	rows, xd := xs.Dims()
	d := m.ThetaDim()
	switch {
	case rows < 1 || xd != m.XDim():
		return nil, fmt.Errorf("%w: x is %d×%d, the model expects rows of %d", ErrInput, rows, xd, m.XDim())
	}
	if err := checkCount(n, rows, d); err != nil {
		return nil, err
	}
	x := make([]float32, rows*xd)
	for i := range rows {
		for j, v := range xs.RawRowView(i) {
			if f := float32(v); math.IsInf(float64(f), 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("%w: x[%d][%d] = %v is not a finite float32", ErrInput, i, j, v)
			}
			x[i*xd+j] = float32(v)
		}
	}
	streams := make([]*stream, rows)
	for i := range streams {
		st := &stream{
			ctx:   ctx,
			row:   i,
			x:     x[i*xd : (i+1)*xd],
			n:     n,
			src:   Source(seed, i),
			done:  make(chan error, 1),
			theta: make([]float64, n*d),
		}
		streams[i] = st
		select {
		case s.queue <- st:
		case <-ctx.Done():
			return nil, fmt.Errorf("posterior: sampling stopped: %w", ctx.Err())
		case <-s.quit:
			return nil, ErrSamplerClosed
		}
	}
	out := make([]*Samples, rows)
	for i, st := range streams {
		select {
		case err := <-st.done:
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("posterior: sampling stopped: %w", ctx.Err())
		}
		r := st.count
		r.Theta = mat.NewDense(n, d, st.theta)
		r.Acceptance = float64(n) / float64(r.Proposed)
		r.Extrapolating = s.post.extrapolating(xs.RawRowView(i))
		out[i] = &r
	}
	return out, nil
}

// Source is the random source of observation row of a Sampler call with
// seed. Services that take a seed from their callers use it for all their
// randomness, so that the same model, x, n and seed give the same samples
// everywhere, however requests were batched; row 0 also drives the
// leakage estimate of LogProb and the candidates of MAP.
func Source(seed uint64, row int) rand.Source {
	return rand.NewPCG(seed, 0x616d6f7274697a65+uint64(row)) // "amortize"
}

// stream is one observation's share of a Sample call.
type stream struct {
	ctx  context.Context
	row  int
	x    []float32
	n    int
	src  rand.Source
	done chan error // receives the outcome once; buffered

	// Owned by a worker until done is sent.
	theta []float64 // accepted draws, n × θ dim
	// count holds the draws accepted (Inside) and those examined up to
	// the last one accepted (Proposed).
	count Samples
	// ended is set by finish, before done is sent; the worker reads it
	// after, to drop the stream.
	ended bool
}

// finish hands the stream back to its caller with its outcome.
func (st *stream) finish(err error) {
	st.ended = true
	st.done <- err
}

// batch is a worker's reusable memory.
type batch struct {
	plan  []int // draws per active stream
	order []int
	group [][]int
	x     []float32
	noise []float32
	out   runtime.Output
	theta []float64
}

func (s *Sampler) work() {
	defer s.wg.Done()
	var (
		active []*stream
		b      batch
	)
	for {
		if len(active) == 0 {
			select {
			case st := <-s.queue:
				active = append(active, st)
			case <-s.quit:
				return
			}
		}
		// Take every stream already waiting, as far as one call can serve.
	gather:
		for len(active) < s.maxDraws {
			select {
			case st := <-s.queue:
				active = append(active, st)
			default:
				break gather
			}
		}
		active = s.round(active, &b)
	}
}

// round makes the runtime calls for the active streams and returns those
// still short of their n draws, in order.
func (s *Sampler) round(active []*stream, b *batch) []*stream {
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
	guess := s.guess()
	for _, st := range active {
		k := s.need(st, guess)
		if total+k > s.maxDraws {
			k = 0
		}
		b.plan = append(b.plan, k)
		total += k
	}
	var inside, proposed int
	for _, g := range b.groups() {
		in, pr := s.call(active, g, b)
		inside, proposed = inside+in, proposed+pr
	}
	keep := active[:0]
	for _, st := range active {
		if !st.ended {
			keep = append(keep, st)
		}
	}
	active = keep
	s.acceptMu.Lock()
	s.recentIn = 0.9*s.recentIn + float64(inside)
	s.recentAll = 0.9*s.recentAll + float64(proposed)
	s.acceptMu.Unlock()
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
func (s *Sampler) call(active []*stream, g []int, b *batch) (inside, proposed int) {
	m := s.post.model
	xd, d := m.XDim(), m.ThetaDim()
	nd := m.Metadata().Noise.Dim()
	// Whole multiples of runtime.Lanes draws per call, so that each draw
	// is Direct's bit for bit, whatever else the call holds.
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
	if s.observe != nil {
		s.observe(float64(len(g) * n))
	}
	b.theta = grow(b.theta, d)
	for j, i := range g {
		st := active[i]
		c := &st.count
		in0, pr0 := c.Inside, c.Proposed
		for r := 0; r < n && c.Inside < st.n; r++ {
			for q, v := range b.out.Sample[(j*n+r)*d : (j*n+r+1)*d] {
				b.theta[q] = float64(v)
			}
			c.Proposed++
			if s.post.prior.InSupport(b.theta) {
				copy(st.theta[c.Inside*d:], b.theta)
				c.Inside++
			}
		}
		inside, proposed = inside+c.Inside-in0, proposed+c.Proposed-pr0
		// A hopeless observation fails instead of looping for ever.
		switch err := s.post.judge(c, st.row); {
		case c.Inside == st.n:
			st.finish(nil)
		case err != nil:
			st.finish(err)
		}
	}
	return inside, proposed
}

// need is the draws stream st asks of a call: enough that its shortfall s
// is met three standard deviations above the mean, at the stream's own
// acceptance a so far, (s + 3·√(s(1−a)))/a, capped at a quarter of a call
// so that a huge request cannot hold up the rest. A stream without draws
// of its own yet takes guess.
func (s *Sampler) need(st *stream, guess float64) int {
	c := st.count
	a := guess
	if c.Proposed > 0 {
		a = float64(c.Inside) / float64(c.Proposed)
	}
	a = math.Max(a, s.post.opts.MinAcceptance)
	short := float64(st.n - c.Inside)
	k := math.Ceil((short + 3*math.Sqrt(short*(1-a))) / a)
	return int(math.Min(k, float64(s.maxDraws/4)))
}

// guess is the acceptance assumed for streams without draws of their own:
// the recent one, but no less than minGuess, so that a few hopeless
// observations cannot make every new request ask for many draws (one that
// needs more takes another call).
func (s *Sampler) guess() float64 {
	s.acceptMu.Lock()
	defer s.acceptMu.Unlock()
	if s.recentAll == 0 {
		return 1
	}
	return math.Max(s.recentIn/s.recentAll, minGuess)
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
