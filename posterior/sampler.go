package posterior

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
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
// It is Direct's rejection engine run by workers for all callers at once:
// a request gets the Samples that Direct gives it with the same source,
// field for field, however requests were batched.
//
// A Sampler is safe for concurrent use. Close stops its goroutines.
type Sampler struct {
	eng   *engine
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
	if opts.BatchDraws < 0 || opts.Workers < 0 {
		return nil, fmt.Errorf("%w: BatchDraws %d and Workers %d: want 0 (the default) or more", ErrInput, opts.BatchDraws, opts.Workers)
	}
	if opts.BatchDraws == 0 {
		opts.BatchDraws = DefaultBatchDraws
	}
	eng, err := newEngine(m, opts.Prior, opts.MinAcceptance, opts.MinProposals, opts.BatchDraws)
	if err != nil {
		return nil, err
	}
	// A quarter of a round at most per stream, so that a huge request
	// cannot hold up the rest.
	eng.maxNeed = eng.maxDraws / 4
	eng.observe = opts.Observe
	s := &Sampler{eng: eng, queue: make(chan *stream), quit: make(chan struct{})}
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

// Sample draws n samples from p(θ | x) with noise from the first stream
// split from src, as Direct.Sample does.
func (s *Sampler) Sample(ctx context.Context, x []float64, n int, src rand.Source) (*Samples, error) {
	return sampleOne(ctx, s.SampleBatched, x, n, src)
}

// SampleBatched draws n samples for each row of xs, row i from the i-th
// stream split from src, as Direct.SampleBatched does. It stops early when
// ctx is done.
func (s *Sampler) SampleBatched(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*Samples, error) {
	// Streams left when it returns early, on another's error, are dropped
	// at their next round.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams, err := s.eng.streams(ctx, xs, n, src)
	if err != nil {
		return nil, err
	}
	for _, st := range streams {
		select {
		case s.queue <- st:
		case <-ctx.Done():
			return nil, fmt.Errorf("posterior: sampling stopped: %w", ctx.Err())
		case <-s.quit:
			return nil, ErrSamplerClosed
		}
	}
	out := make([]*Samples, len(streams))
	for i, st := range streams {
		select {
		case err := <-st.done:
			if err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("posterior: sampling stopped: %w", ctx.Err())
		}
		out[i] = s.eng.result(st, xs.RawRowView(i))
	}
	return out, nil
}

// Source is the random source of seed. Services that take a seed from
// their callers use it for all their randomness, so that the same model,
// x, n and seed give the same samples everywhere, however requests were
// batched.
func Source(seed uint64) rand.Source {
	return rand.NewPCG(seed, 0x616d6f7274697a65) // "amortize"
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
		for len(active) < s.eng.maxDraws {
			select {
			case st := <-s.queue:
				active = append(active, st)
			default:
				break gather
			}
		}
		active = s.eng.round(active, &b)
	}
}
