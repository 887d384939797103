package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sync"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// A Sampler draws posterior samples of one model for many concurrent
// callers, sharing onnxruntime calls between them. A call has a fixed cost
// (about a millisecond for sbi's default NSF, whose graph has some 1,800
// nodes) that dwarfs the cost per draw at the sizes one request needs, so
// under load one call for many requests multiplies throughput. Without load
// a request runs alone, at once: nothing waits to fill a batch.
//
// It rejects draws outside the prior support as posterior.Direct does, and
// its answers do not depend on the batching: observation row of a call with
// seed gets the first n accepted draws of its own noise sequence,
// Source(seed, row), and every chunk of that sequence sits at the same
// offset modulo 16 draws of a runtime call (onnxruntime's vector kernels
// round the lanes of a 16-wide register differently from a scalar tail).
// posterior.Direct.Sample with the same source gives the same draws up to
// float32 rounding.
//
// A Sampler is safe for concurrent use. Close stops its goroutines.
type Sampler struct {
	rt       *runtime.Model
	prior    prior.Prior
	minAcc   float64
	minProp  int
	maxDraws int
	observe  func(draws float64)

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
	// posterior.DirectOptions does (defaults 1e-4 and 10,000).
	MinAcceptance float64
	MinProposals  int
	// BatchDraws bounds the draws of one runtime call (default 2,048;
	// rounded up to a multiple of 16).
	BatchDraws int
	// Workers is the number of goroutines making runtime calls (default
	// GOMAXPROCS: a call with one intra-op thread uses one core).
	Workers int
	// Observe, when set, receives the draws of every runtime call.
	Observe func(draws float64)
}

// chunk is the granularity of the draws a stream gets in one call: no
// fewer, as in posterior.Direct, and always a multiple, for alignment.
const chunk = 16

// ErrClosed is returned for requests to a closed Sampler.
var ErrClosed = errors.New("serve: sampler is closed")

// NewSampler starts a sampler of m.
func NewSampler(m *runtime.Model, opts SamplerOptions) (*Sampler, error) {
	p := opts.Prior
	if p == nil {
		p = m.Prior()
	}
	switch {
	case p == nil:
		return nil, errors.New("serve: the model file has no prior; pass SamplerOptions.Prior")
	case p.Dim() != m.ThetaDim():
		return nil, fmt.Errorf("serve: prior dimension %d, model θ dimension %d", p.Dim(), m.ThetaDim())
	case opts.MinAcceptance < 0 || opts.MinAcceptance > 1 || opts.MinProposals < 0 || opts.BatchDraws < 0 || opts.Workers < 0:
		return nil, fmt.Errorf("serve: bad sampler options %+v", opts)
	}
	s := &Sampler{
		rt:       m,
		prior:    p,
		minAcc:   opts.MinAcceptance,
		minProp:  opts.MinProposals,
		maxDraws: opts.BatchDraws,
		observe:  opts.Observe,
		queue:    make(chan *stream),
		quit:     make(chan struct{}),
	}
	// posterior.DirectOptions' defaults.
	setDefault(&s.minAcc, 1e-4)
	setDefault(&s.minProp, 10_000)
	setDefault(&s.maxDraws, DefaultBatchDraws)
	s.maxDraws = roundUp(s.maxDraws)
	workers := opts.Workers
	setDefault(&workers, goruntime.GOMAXPROCS(0))
	s.wg.Add(workers)
	for range workers {
		go s.work()
	}
	return s, nil
}

// Close stops the workers once their streams are done; later calls to
// Sample fail with ErrClosed.
func (s *Sampler) Close() {
	s.once.Do(func() { close(s.quit) })
	s.wg.Wait()
}

// Sample draws n samples for each row of xs, row i from Source(seed, i).
// It stops early when ctx is done.
func (s *Sampler) Sample(ctx context.Context, xs *mat.Dense, n int, seed uint64) ([]*posterior.Samples, error) {
	rows, xd := xs.Dims()
	d := s.rt.ThetaDim()
	switch {
	case rows < 1 || xd != s.rt.XDim():
		return nil, fmt.Errorf("%w: x is %d×%d, the model expects rows of %d", posterior.ErrInput, rows, xd, s.rt.XDim())
	case n < 1:
		return nil, fmt.Errorf("%w: %d samples requested", posterior.ErrInput, n)
	case n > math.MaxInt32/d/rows:
		return nil, fmt.Errorf("%w: %d samples for %d observations is too many", posterior.ErrInput, n, rows)
	}
	x := make([]float32, rows*xd)
	for i := range rows {
		for j, v := range xs.RawRowView(i) {
			if f := float32(v); math.IsInf(float64(f), 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("%w: x[%d][%d] = %v is not a finite float32", posterior.ErrInput, i, j, v)
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
			return nil, fmt.Errorf("serve: sampling stopped: %w", ctx.Err())
		case <-s.quit:
			return nil, ErrClosed
		}
	}
	out := make([]*posterior.Samples, rows)
	for i, st := range streams {
		select {
		case err := <-st.done:
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("serve: sampling stopped: %w", ctx.Err())
		}
		out[i] = &posterior.Samples{
			Theta:         mat.NewDense(n, d, st.theta),
			Proposed:      st.proposed,
			Acceptance:    float64(n) / float64(st.proposed),
			Extrapolating: extrapolating(xs.RawRowView(i), s.rt),
		}
	}
	return out, nil
}

// extrapolating lists the dimensions of x more than 5 training standard
// deviations from the training mean, as posterior.Direct does: there the
// estimate is an extrapolation, not a fit.
func extrapolating(x []float64, m *runtime.Model) []int {
	z := m.Metadata().ZScore
	var out []int
	for j, v := range x {
		if math.Abs(v-z.XMean[j]) > 5*z.XStd[j] {
			out = append(out, j)
		}
	}
	return out
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
	theta    []float64 // accepted draws, n × θ dim
	got      int
	proposed int // draws examined up to the last one accepted
}

func (st *stream) finish(err error) { st.done <- err }

// batch is a worker's reusable memory.
type batch struct {
	plan  []int
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
		for len(active) < s.maxDraws/chunk {
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

// round makes one runtime call for the active streams and returns those
// still short of their n draws, in order.
func (s *Sampler) round(active []*stream, b *batch) []*stream {
	all := active
	defer func() { clear(all[len(active):]) }() // let finished streams go
	live := active[:0]
	for _, st := range active {
		if err := st.ctx.Err(); err != nil {
			st.finish(fmt.Errorf("serve: sampling stopped: %w", err))
			continue
		}
		live = append(live, st)
	}
	active = live
	if len(active) == 0 {
		return active
	}

	// Plan, first come first served: each stream asks for its shortfall
	// over its acceptance so far (10% spare), capped at a quarter of the
	// call so that a huge request cannot hold up the rest. Streams the call
	// cannot fit wait for the next one, first in line; a typical request
	// is done in one call.
	limit := roundUp(s.maxDraws / 4)
	b.plan = b.plan[:0]
	total := 0
	for _, st := range active {
		acc := 1.0
		if st.proposed > 0 {
			acc = math.Max(float64(st.got)/float64(st.proposed), s.minAcc)
		}
		k := int(math.Min(math.Ceil(1.1*float64(st.n-st.got)/acc), float64(limit)))
		k = min(roundUp(k), s.maxDraws-total)
		b.plan = append(b.plan, k)
		total += k
	}

	xd, d := s.rt.XDim(), s.rt.ThetaDim()
	nd := s.rt.Metadata().Noise.Dim()
	b.x = grow(b.x, total*xd)
	b.noise = grow(b.noise, total*nd)
	off := 0
	for i, st := range active {
		k := b.plan[i]
		for r := range k {
			copy(b.x[(off+r)*xd:], st.x)
		}
		s.rt.Noise(b.noise[off*nd:(off+k)*nd], k, st.src)
		off += k
	}
	if _, err := s.rt.Run(b.x, total, nil, 0, b.noise, 1, &b.out); err != nil {
		for _, st := range active {
			st.finish(err)
		}
		active = active[:0]
		return active
	}
	if s.observe != nil {
		s.observe(float64(total))
	}

	b.theta = grow64(b.theta, d)
	keep := active[:0]
	off = 0
	for i, st := range active {
		k := b.plan[i]
		for r := 0; r < k && st.got < st.n; r++ {
			for j, v := range b.out.Sample[(off+r)*d : (off+r+1)*d] {
				b.theta[j] = float64(v)
			}
			st.proposed++
			if s.prior.InSupport(b.theta) {
				copy(st.theta[st.got*d:], b.theta)
				st.got++
			}
		}
		off += k
		switch {
		case st.got == st.n:
			st.finish(nil)
		case st.proposed >= s.minProp && float64(st.got)/float64(st.proposed) < s.minAcc:
			// A hopeless observation fails instead of looping for ever.
			st.finish(fmt.Errorf("%w: observation %d accepted %d of %d draws (rate %.2g < %.2g); the observation may be outside what the prior can produce",
				posterior.ErrLowAcceptance, st.row, st.got, st.proposed, float64(st.got)/float64(st.proposed), s.minAcc))
		default:
			keep = append(keep, st)
		}
	}
	active = keep
	return active
}

// roundUp rounds k up to a positive multiple of chunk.
func roundUp(k int) int { return max((k+chunk-1)/chunk, 1) * chunk }

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func grow64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
