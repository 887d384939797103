package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// A sampler draws the posterior samples of concurrent requests to one model
// in shared onnxruntime calls. A call has a fixed cost (about a millisecond
// for sbi's default NSF, whose graph has some 1,800 nodes) that dwarfs the
// cost per draw at the sizes one request needs, so under load one call for
// many requests multiplies throughput. Without load a request runs alone,
// at once: nothing waits to fill a batch.
//
// Each observation of a request is a stream: the first n draws of its own
// noise sequence, Source(seed, row), that fall inside the prior support.
// That makes the answer independent of which requests shared a call, and
// equal to posterior.Direct.Sample with the same source.
type sampler struct {
	rt       *runtime.Model
	prior    prior.Prior
	minAcc   float64
	minProp  int
	maxDraws int // draws per runtime call
	observe  func(draws float64)

	queue chan *stream
	quit  chan struct{}
	wg    sync.WaitGroup
}

// minChunk is the fewest draws a stream gets in a call, as in
// posterior.Direct: tiny chunks would make the rejection loop crawl.
const minChunk = 16

// stream is one observation's share of a sample request.
type stream struct {
	ctx  context.Context
	row  int // index of the observation in its request
	x    []float32
	n    int
	src  rand.Source
	done chan error // receives the outcome once; buffered

	// Owned by the worker until done is sent.
	theta    []float32 // accepted draws, n × θ dim
	got      int
	proposed int // draws examined up to the last one accepted
}

func (s *stream) finish(err error) { s.done <- err }

// ErrClosed is returned for requests to a model being shut down.
var ErrClosed = errors.New("serve: model is closed")

func newSampler(rt *runtime.Model, p prior.Prior, opts posterior.DirectOptions, maxDraws, workers int, observe func(draws float64)) *sampler {
	s := &sampler{
		rt:       rt,
		prior:    p,
		minAcc:   opts.MinAcceptance,
		minProp:  opts.MinProposals,
		maxDraws: max(maxDraws, minChunk),
		observe:  observe,
		queue:    make(chan *stream),
		quit:     make(chan struct{}),
	}
	// The same defaults as posterior.DirectOptions.
	if s.minAcc == 0 {
		s.minAcc = 1e-4
	}
	if s.minProp == 0 {
		s.minProp = 10_000
	}
	s.wg.Add(workers)
	for range workers {
		go s.work()
	}
	return s
}

// close stops the workers once they have no streams left.
func (s *sampler) close() {
	close(s.quit)
	s.wg.Wait()
}

// Sample draws n samples for each row of xs, row i from Source(seed, i).
func (s *sampler) sample(ctx context.Context, xs *mat.Dense, n int, seed uint64) ([]*stream, error) {
	rows, xd := xs.Dims()
	d := s.rt.ThetaDim()
	streams := make([]*stream, rows)
	x := make([]float32, rows*xd)
	for i := range rows {
		for j, v := range xs.RawRowView(i) {
			x[i*xd+j] = float32(v)
		}
		st := &stream{
			ctx:   ctx,
			row:   i,
			x:     x[i*xd : (i+1)*xd],
			n:     n,
			src:   Source(seed, i),
			done:  make(chan error, 1),
			theta: make([]float32, n*d),
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
	for _, st := range streams {
		select {
		case err := <-st.done:
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("serve: sampling stopped: %w", ctx.Err())
		}
	}
	return streams, nil
}

// batch is a worker's reusable memory.
type batch struct {
	plan  []int
	x     []float32
	noise []float32
	out   runtime.Output
	theta []float64
}

func (s *sampler) work() {
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
		for len(active) < s.maxDraws/minChunk {
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
func (s *sampler) round(active []*stream, b *batch) []*stream {
	n0 := len(active)
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
		clear(active[:n0])
		return active
	}

	// Plan: each stream asks for its shortfall over its acceptance so far
	// (10% spare), within a fair share of the call; streams beyond the
	// call's size wait for the next one, first in line.
	share := max(s.maxDraws/len(active), minChunk)
	b.plan = b.plan[:0]
	total := 0
	for _, st := range active {
		acc := 1.0
		if st.proposed > 0 {
			acc = math.Max(float64(st.got)/float64(st.proposed), s.minAcc)
		}
		k := int(math.Min(math.Ceil(1.1*float64(st.n-st.got)/acc), float64(share)))
		k = min(max(k, minChunk), s.maxDraws-total)
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
		clear(active[:n0])
		return active[:0]
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
			row := b.out.Sample[(off+r)*d : (off+r+1)*d]
			for j, v := range row {
				b.theta[j] = float64(v)
			}
			st.proposed++
			if s.prior.InSupport(b.theta) {
				copy(st.theta[st.got*d:], row)
				st.got++
			}
		}
		off += k
		switch {
		case st.got == st.n:
			st.finish(nil)
		case st.proposed >= s.minProp && float64(st.got)/float64(st.proposed) < s.minAcc:
			// The same judgment as posterior.Direct, for the same reason:
			// a hopeless observation must fail, not loop for ever.
			st.finish(fmt.Errorf("%w: observation %d accepted %d of %d draws (rate %.2g < %.2g); the observation may be outside what the prior can produce",
				posterior.ErrLowAcceptance, st.row, st.got, st.proposed, float64(st.got)/float64(st.proposed), s.minAcc))
		default:
			keep = append(keep, st)
		}
	}
	clear(active[len(keep):n0]) // let finished streams be collected
	return keep
}

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
