package simulator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/prior"
)

// DefaultChunkSize is the number of simulations per chunk when
// Options.ChunkSize is zero.
const DefaultChunkSize = 1000

var (
	// ErrAllDropped is returned by Simulate when every simulation produced
	// a non-finite x.
	ErrAllDropped = errors.New("all simulations returned NaN or Inf")

	// ErrPanic marks an error recovered from a panicking prior or simulator.
	ErrPanic = errors.New("panic during simulation")
)

// Options configures Simulate and SimulateTheta.
//
// The output is a function of Seed and ChunkSize only: every chunk of
// ChunkSize rows draws from its own random streams derived from
// (Seed, chunk index), so any number of workers gives bit-identical results,
// while changing ChunkSize changes the draws.
type Options struct {
	// Seed selects the random streams.
	Seed uint64
	// Workers is the number of goroutines; zero means GOMAXPROCS.
	Workers int
	// ChunkSize is the number of rows per chunk; zero means DefaultChunkSize.
	ChunkSize int
	// Progress, if not nil, is called from the calling goroutine after each
	// chunk with the number of rows simulated so far (NaN rows included)
	// and the total. Calls are serialized and done increases; on success
	// the last call has done == total.
	Progress func(done, total int)
}

// Result is the outcome of Simulate.
type Result struct {
	// Data holds the simulations whose x is finite, in chunk order.
	Data *dataset.Dataset
	// Dropped is the number of simulations removed because x held NaN or Inf.
	Dropped int
	// Simulated is the number of simulations run: Data.Len() + Dropped.
	Simulated int
}

// Random streams of a chunk: θ and x draw from separate streams so that
// SimulateTheta on Simulate's θ reproduces Simulate's x.
const (
	streamPrior = 0
	streamSim   = 1
)

// Simulate draws n parameter sets θ from p, runs sim on them in parallel and
// returns the (θ, x) pairs whose x is finite, as sbi does.
//
// It stops between chunks when ctx is cancelled and returns the wrapped
// ctx.Err(). A simulator error or panic stops the run; the error returned is
// that of the lowest failing chunk, so it too is the same for any number of
// workers.
func Simulate(ctx context.Context, p prior.Prior, sim Simulator, n int, opts Options) (*Result, error) {
	if p == nil || sim == nil {
		return nil, errors.New("simulator: nil prior or simulator")
	}
	if n <= 0 {
		return nil, fmt.Errorf("simulator: number of simulations %d is not positive", n)
	}
	d, xd := p.Dim(), sim.XDim()
	if d <= 0 || xd <= 0 {
		return nil, fmt.Errorf("simulator: theta dimension %d and x dimension %d must be positive", d, xd)
	}
	theta := mat.NewDense(n, d, nil)
	x := nanDense(n, xd)
	err := forEachChunk(ctx, n, opts, func(c, lo, hi int) error {
		th := theta.Slice(lo, hi, 0, d).(*mat.Dense)
		p.Sample(th, chunkSource(opts.Seed, c, streamPrior))
		return sim.Simulate(x.Slice(lo, hi, 0, xd).(*mat.Dense), th, chunkSource(opts.Seed, c, streamSim))
	})
	if err != nil {
		return nil, err
	}
	kept := dropNonFinite(theta, x)
	if kept == 0 {
		return nil, fmt.Errorf("simulator: %w (%d simulations)", ErrAllDropped, n)
	}
	// The kept rows are packed at the front of the backing arrays.
	data := &dataset.Dataset{
		Theta:      mat.NewDense(kept, d, theta.RawMatrix().Data[:kept*d]),
		X:          mat.NewDense(kept, xd, x.RawMatrix().Data[:kept*xd]),
		ThetaNames: dataset.DefaultNames("theta", d),
		XNames:     dataset.DefaultNames("x", xd),
	}
	return &Result{Data: data, Dropped: n - kept, Simulated: n}, nil
}

// SimulateTheta runs sim on the given rows of theta and returns x, keeping
// NaN and Inf rows in place so that rows stay aligned with theta, as
// posterior-predictive checks need. With the same Options it reproduces the
// x that Simulate computed for the same θ.
func SimulateTheta(ctx context.Context, theta *mat.Dense, sim Simulator, opts Options) (*mat.Dense, error) {
	if theta == nil || theta.IsEmpty() || sim == nil {
		return nil, errors.New("simulator: nil or empty theta, or nil simulator")
	}
	if sim.XDim() <= 0 {
		return nil, fmt.Errorf("simulator: x dimension %d is not positive", sim.XDim())
	}
	n, d := theta.Dims()
	xd := sim.XDim()
	x := nanDense(n, xd)
	err := forEachChunk(ctx, n, opts, func(c, lo, hi int) error {
		return sim.Simulate(x.Slice(lo, hi, 0, xd).(*mat.Dense), theta.Slice(lo, hi, 0, d).(*mat.Dense), chunkSource(opts.Seed, c, streamSim))
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// nanDense returns an r×c matrix of NaN, so rows a simulator leaves
// unwritten are dropped instead of passing as zeros.
func nanDense(r, c int) *mat.Dense {
	data := make([]float64, r*c)
	for i := range data {
		data[i] = math.NaN()
	}
	return mat.NewDense(r, c, data)
}

// dropNonFinite moves the rows whose x is finite to the front of theta and
// x, keeping their order, and returns how many there are. Both matrices
// must be contiguous (stride equal to columns).
func dropNonFinite(theta, x *mat.Dense) int {
	n, d := theta.Dims()
	_, xd := x.Dims()
	td, xdata := theta.RawMatrix().Data, x.RawMatrix().Data
	kept := 0
	for i := range n {
		row := xdata[i*xd : (i+1)*xd]
		if !allFinite(row) {
			continue
		}
		if kept != i {
			copy(xdata[kept*xd:], row)
			copy(td[kept*d:(kept+1)*d], td[i*d:(i+1)*d])
		}
		kept++
	}
	return kept
}

func allFinite(v []float64) bool {
	for _, f := range v {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// chunkSource returns the random stream of one chunk and purpose. The
// inputs pass through splitmix64 so that neighbouring seeds and chunks start
// PCG at unrelated states.
func chunkSource(seed uint64, chunk int, stream uint64) *rand.PCG {
	key := uint64(chunk)<<1 | stream
	hi := mix64(seed ^ mix64(key))
	return rand.NewPCG(hi, mix64(hi+key))
}

// mix64 is the splitmix64 finalizer.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// forEachChunk calls fn for each chunk [lo, hi) of n rows on the configured
// number of workers and reports progress from the calling goroutine. It
// returns the wrapped ctx.Err() if ctx was cancelled, otherwise the error of
// the lowest failing chunk.
func forEachChunk(ctx context.Context, n int, opts Options, fn func(chunk, lo, hi int) error) error {
	workers, size := opts.Workers, opts.ChunkSize
	if workers < 0 || size < 0 {
		return fmt.Errorf("simulator: negative workers (%d) or chunk size (%d)", workers, size)
	}
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if size == 0 {
		size = DefaultChunkSize
	}
	nchunks := (n-1)/size + 1
	workers = min(workers, nchunks)

	inner, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		next     atomic.Int64
		mu       sync.Mutex
		errChunk = nchunks
		firstErr error
		wg       sync.WaitGroup
	)
	done := make(chan int, workers)
	for range workers {
		wg.Go(func() {
			// Chunks are taken in increasing order and a taken chunk always
			// finishes, so once all workers stop every chunk below a
			// failing one has run: the lowest failure is deterministic.
			for inner.Err() == nil {
				c := int(next.Add(1) - 1)
				if c >= nchunks {
					return
				}
				lo, hi := c*size, min((c+1)*size, n)
				if err := runChunk(fn, c, lo, hi); err != nil {
					mu.Lock()
					if c < errChunk {
						errChunk = c
						firstErr = fmt.Errorf("simulator: chunk %d (rows %d to %d): %w", c+1, lo+1, hi, err) // 1-based, as every row number users see
					}
					mu.Unlock()
					cancel()
					return
				}
				done <- hi - lo
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	// Should Progress panic, stop and wait for the workers before unwinding.
	defer func() {
		cancel()
		for range done {
		}
	}()

	total := 0
	for k := range done {
		total += k
		if opts.Progress != nil {
			opts.Progress(total, n)
		}
	}
	if err := ctx.Err(); err != nil && total < n {
		return fmt.Errorf("simulator: %w", err)
	}
	return firstErr
}

// runChunk calls fn, turning a panic into an error.
func runChunk(fn func(chunk, lo, hi int) error, c, lo, hi int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	return fn(c, lo, hi)
}
