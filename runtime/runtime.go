// Package runtime loads amortize model files (docs/FORMAT.md) through
// onnxruntime and evaluates them: batched log-probabilities and samples.
//
// A Model is safe for concurrent use by multiple goroutines: it holds one
// onnxruntime session per path of the file's graph, pruned to that path
// (scoring, and sampling where the method has it), whose Run is
// goroutine-safe, and no mutable state. Close releases them; a closed Model
// returns ErrClosed.
//
// Open checks a file in Go before onnxruntime parses it: the protobuf, the
// contract's metadata and its size limits, inputs and outputs, every stored
// tensor (sizes that match their dimensions, no external data, in
// subgraphs too) and every operator (the exporter's set, format.Ops, and
// no functions or other domains). Bytes that fail are an ErrContract and
// never reach onnxruntime's C++ code (docs/FORMAT.md, "What a reader
// accepts").
//
// The onnxruntime library is loaded once per process (FindLibrary says
// from where), by the first Open. Its usage telemetry is switched off
// (ORT_DISABLE_TELEMETRY=1) unless that variable is set already or
// Options.Telemetry asks to leave it on.
//
// The package never imports the trainer: a service that only evaluates
// models links onnxruntime_go, the contract and the prior package.
package runtime

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/amortize/amortize/export/format"
	"github.com/amortize/amortize/prior"
	ort "github.com/yalue/onnxruntime_go"
)

// Device selects the execution provider.
type Device int

const (
	CPU Device = iota
	CUDA
)

func (d Device) String() string {
	switch d {
	case CPU:
		return "cpu"
	case CUDA:
		return "cuda"
	}
	return fmt.Sprintf("Device(%d)", int(d))
}

// ParseDevice reads a device name as String writes it: "cpu" or "cuda".
func ParseDevice(s string) (Device, error) {
	switch s {
	case "cpu":
		return CPU, nil
	case "cuda":
		return CUDA, nil
	}
	return CPU, fmt.Errorf("%w: unknown device %q (want cpu or cuda)", ErrInput, s)
}

// Options configure Open. The zero value runs on the CPU, a large call cut
// into pieces that run on every core, finding the library as FindLibrary
// does.
type Options struct {
	// LibraryPath is an explicit onnxruntime shared library.
	LibraryPath string
	// Threads is onnxruntime's intra-op thread count per call (0: 1 when
	// Workers share a call out, else onnxruntime's default).
	Threads int
	// Workers is how many pieces of one call run at once on the CPU, each
	// an onnxruntime call of its own (0: GOMAXPROCS). onnxruntime's
	// intra-op threads share out little but the matrix products; pieces
	// share out every node. Calls of fewer than 2·MinPieceRows rows are not
	// cut for it.
	Workers int
	// Device is CPU or CUDA; DeviceID picks the GPU.
	Device   Device
	DeviceID int
	// FallbackToCPU runs on the CPU, with a logged warning, when the CUDA
	// provider cannot be set up. Without it that is an error.
	FallbackToCPU bool
	// Logger receives warnings (nil: slog.Default()).
	Logger *slog.Logger
	// ChunkRows bounds the rows (θ to score plus draws) of one onnxruntime
	// call; Run splits larger requests. Every graph node makes a full pass
	// over its input, so rows that stay in the CPU's caches run faster:
	// pieces of a few thousand rows beat one call of 100,000. 0 means
	// DefaultChunkRows on the CPU and no limit on CUDA; negative, no limit.
	ChunkRows int
	// Telemetry leaves onnxruntime's usage telemetry as the library has
	// it: on, in the official builds. By default the Open that loads the
	// library switches it off first, by setting ORT_DISABLE_TELEMETRY=1 in
	// the process's environment unless the variable is set already (the
	// library reads nothing else): its telemetry writes a database under
	// the user's cache, whose lock stalls concurrent processes. Like the
	// library, the setting is the process's: later Opens must ask for the
	// same.
	Telemetry bool
}

// MinPieceRows is the fewest rows a call is cut to for Workers: below it
// onnxruntime's fixed cost per node outweighs the gain.
const MinPieceRows = 512

// DefaultChunkRows is the CPU's ChunkRows, measured on the default sizes
// of the estimators: throughput peaks between 3,000 and 10,000 rows.
const DefaultChunkRows = 4096

// Errors of the runtime.
var (
	ErrClosed   = errors.New("runtime: model is closed")
	ErrContract = errors.New("runtime: model file breaks the amortize contract")
	ErrInput    = errors.New("runtime: bad input")
	// ErrDevice is returned when the requested execution provider cannot
	// be set up; the error carries onnxruntime's reason.
	ErrDevice = errors.New("runtime: execution provider unavailable")
)

// Model is an opened model file.
type Model struct {
	meta   *format.Metadata
	layout format.Layout
	prior  prior.Prior // nil when the file has none

	mu        sync.RWMutex // guards paths against Close during Run
	paths     [2]*path     // log-prob and sampling; nil once closed
	device    Device
	chunkRows int // ≤ 0: no limit
	workers   int
}

// Open reads and opens a model file.
func Open(path string, opts Options) (*Model, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	m, err := OpenBytes(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return m, nil
}

// readFile reads a regular file of at most format.MaxFileBytes: a larger
// one, or an endless one (/dev/zero, a pipe), is refused, not read.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	tooLarge := fmt.Errorf("%w: %s is larger than %d bytes", ErrContract, path, format.MaxFileBytes)
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrContract, path)
	case fi.Size() > format.MaxFileBytes:
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, format.MaxFileBytes+1)) // it may grow
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	if len(data) > format.MaxFileBytes {
		return nil, tooLarge
	}
	return data, nil
}

// OpenBytes opens a model file held in memory.
func OpenBytes(data []byte, opts Options) (*Model, error) {
	if opts.Device != CPU && opts.Device != CUDA {
		return nil, fmt.Errorf("%w: unknown device %v", ErrDevice, opts.Device)
	}
	if err := initEnvironment(opts.LibraryPath, opts.Device, opts.Telemetry); err != nil {
		return nil, err
	}
	mp, meta, err := parse(data)
	if err != nil {
		return nil, err
	}
	m := &Model{meta: meta, layout: meta.Layout()}
	if meta.Prior != nil {
		if m.prior, err = prior.Unmarshal(meta.Prior); err != nil {
			return nil, fmt.Errorf("%w: prior: %w", ErrContract, err)
		}
		if m.prior.Dim() != meta.ThetaDim {
			return nil, fmt.Errorf("%w: prior has dimension %d, theta_dim is %d", ErrContract, m.prior.Dim(), meta.ThetaDim)
		}
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	defer so.Destroy()
	m.device = CPU
	if opts.Device == CUDA {
		if err := appendCUDA(so, opts.DeviceID); err != nil {
			if !opts.FallbackToCPU {
				return nil, err
			}
			logger(opts).Warn("CUDA unavailable, running on the CPU", "error", err)
		} else {
			m.device = CUDA
		}
	}
	m.chunkRows, m.workers = opts.ChunkRows, opts.Workers
	if m.device == CPU {
		if m.chunkRows == 0 {
			m.chunkRows = DefaultChunkRows
		}
		if m.workers == 0 {
			m.workers = goruntime.GOMAXPROCS(0)
		}
	}
	threads := opts.Threads
	if threads == 0 && m.workers > 1 {
		threads = 1 // the pieces already keep every core busy
	}
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			return nil, fmt.Errorf("runtime: threads: %w", err)
		}
	}
	if m.paths, err = openPaths(mp, m.layout, so); err != nil {
		return nil, err
	}
	return m, nil
}

func logger(o Options) *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// Metadata is the file's contract metadata. Callers must not modify it.
func (m *Model) Metadata() *format.Metadata { return m.meta }

// ThetaDim and XDim are the dimensions of θ and x, whatever the method.
func (m *Model) ThetaDim() int { return m.meta.ThetaDim }
func (m *Model) XDim() int     { return m.meta.XDim }

// Method is what the file estimates: format.MethodNPE (also for format-1.0
// files), format.MethodNLE or format.MethodNRE.
func (m *Model) Method() string { return m.meta.Method }

// is returns an error wrapping ErrInput unless the model is of method.
func (m *Model) is(method, call string) error {
	if m.meta.Method != method {
		return fmt.Errorf("%w: %s needs an %s model, this one is %s", ErrInput, call, method, m.meta.Method)
	}
	return nil
}

// Prior is the prior stored in the file, or nil.
func (m *Model) Prior() prior.Prior { return m.prior }

// Device is where the model runs.
func (m *Model) Device() Device { return m.device }

// Close releases the session. It waits for running calls to finish.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paths[0] == nil {
		return nil
	}
	err := closePaths(m.paths)
	m.paths = [2]*path{}
	return err
}

// Run evaluates the graph for b observations x (b×XDim, row-major): the
// log-probability of nTheta parameter vectors per observation (theta:
// b×nTheta×ThetaDim) and nSample samples per observation from explicit
// noise (b×nSample×noise dim). Either count may be 0 and costs nothing.
// It returns logProb (b×nTheta), sample (b×nSample×ThetaDim) and
// sampleLogProb (b×nSample), written into dst when its slices are large
// enough (the destination idiom: a hot loop allocates nothing of its own).
//
// That is an NPE file's layout. For other methods (format.Layout) x is the
// per-observation input and theta the values scored: an NLE file's θ
// (b×ThetaDim) and x (b×nTheta×XDim), giving log q(x|θ) and x draws; an
// NRE file's x and θ as for NPE, giving log r(θ, x) in logProb and no
// draws (nSample must be 0).
func (m *Model) Run(x []float32, b int, theta []float32, nTheta int, noise []float32, nSample int, dst *Output) (*Output, error) {
	l := m.layout
	d, xd, nd := l.ValueDim, l.CondDim, m.meta.Noise.Dim()
	switch {
	case b < 1:
		return nil, fmt.Errorf("%w: %d observations", ErrInput, b)
	case nTheta < 0 || nSample < 0:
		return nil, fmt.Errorf("%w: negative count", ErrInput)
	case nSample > 0 && !l.Sampling:
		return nil, fmt.Errorf("%w: an %s model draws no samples", ErrInput, m.meta.Method)
	case !holds(x, b, 1, xd):
		return nil, fmt.Errorf("%w: %s has %d values, want %d %s × %s_dim %d", ErrInput, l.Cond, len(x), b, rowsName(l), l.Cond, xd)
	case !holds(theta, b, nTheta, d):
		return nil, fmt.Errorf("%w: %s has %d values, want %d %s × %d × %s_dim %d", ErrInput, l.Values, len(theta), b, rowsName(l), nTheta, l.Values, d)
	case nSample > 0 && !holds(noise, b, nSample, nd), nSample == 0 && len(noise) != 0:
		return nil, fmt.Errorf("%w: noise has %d values, want %d %s × %d × noise dim %d", ErrInput, len(noise), b, rowsName(l), nSample, nd)
	}
	for _, in := range []struct {
		name string
		v    []float32
	}{{l.Cond, x}, {l.Values, theta}, {"noise", noise}} {
		if err := finite(in.name, in.v); err != nil {
			return nil, err
		}
	}
	if dst == nil {
		dst = new(Output)
	}
	dst.LogProb = grow(dst.LogProb, b*nTheta)
	dst.Sample = grow(dst.Sample, b*nSample*d)
	dst.SampleLogProb = grow(dst.SampleLogProb, b*nSample)

	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.paths[0] == nil {
		return nil, ErrClosed
	}
	if err := m.chunks(call{x, b, theta, nTheta, noise, nSample, dst}); err != nil {
		return nil, err
	}
	return dst, nil
}

// rowsName is what a call's rows are: observations, or parameter vectors
// for NLE.
func rowsName(l format.Layout) string {
	if l.Cond == format.InputTheta {
		return "parameter vectors"
	}
	return "observations"
}

// call is one evaluation: inputs and the outputs to fill.
type call struct {
	x       []float32
	b       int
	theta   []float32
	nTheta  int
	noise   []float32
	nSample int
	out     *Output
}

// obs is the part of c for observations [i, j).
func (c call) obs(m *Model, i, j int) call {
	d, xd, nd := m.layout.ValueDim, m.layout.CondDim, m.meta.Noise.Dim()
	t, s := c.nTheta, c.nSample
	return call{
		x: c.x[i*xd : j*xd], b: j - i,
		theta: c.theta[i*t*d : j*t*d], nTheta: t,
		noise: c.noise[i*s*nd : j*s*nd], nSample: s,
		out: &Output{
			LogProb:       c.out.LogProb[i*t : j*t],
			Sample:        c.out.Sample[i*s*d : j*s*d],
			SampleLogProb: c.out.SampleLogProb[i*s : j*s],
		},
	}
}

// rows is the part of c, one observation, for θ rows [t0, t1) and draws
// [s0, s1).
func (c call) rows(m *Model, t0, t1, s0, s1 int) call {
	d, nd := m.layout.ValueDim, m.meta.Noise.Dim()
	return call{
		x: c.x, b: 1,
		theta: c.theta[t0*d : t1*d], nTheta: t1 - t0,
		noise: c.noise[s0*nd : s1*nd], nSample: s1 - s0,
		out: &Output{
			LogProb:       c.out.LogProb[t0:t1],
			Sample:        c.out.Sample[s0*d : s1*d],
			SampleLogProb: c.out.SampleLogProb[s0:s1],
		},
	}
}

// chunks runs c in pieces of at most chunkRows rows (θ to score plus
// draws), on up to m.workers goroutines: whole observations while they fit,
// else one observation's rows in slices. Observations and their rows are
// contiguous in every input and output, so the pieces are sub-slices and
// nothing is copied. Every row is computed on its own, so the results do
// not depend on how the call is cut.
func (m *Model) chunks(c call) error {
	limit := m.chunkRows
	if total := c.b * (c.nTheta + c.nSample); m.workers > 1 && total >= 2*MinPieceRows {
		// A multiple of the workers' count of equal pieces, as few as the
		// chunk limit allows, none under MinPieceRows: 10,000 rows in
		// pieces of 4,096 would leave one worker idle for the third.
		n, most := 1, total
		if limit > 0 {
			n, most = (total+limit-1)/limit, limit
		}
		n = roundUp(n, m.workers)
		limit = min(max(roundUp((total+n-1)/n, Lanes), MinPieceRows), most)
	}
	pieces := c.pieces(m, limit)
	if len(pieces) == 1 {
		return m.run(pieces[0])
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range min(m.workers, len(pieces)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(pieces); i = int(next.Add(1)) - 1 {
				if err := m.run(pieces[i]); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// Lanes is the widest vector register's count of float32 values.
// onnxruntime's element-wise kernels compute the last (values mod Lanes)
// values of a tensor in a scalar tail that rounds differently, and a
// value's place elsewhere does not matter. So in a call of a multiple of
// Lanes rows, each row's result depends on its own inputs alone, wherever
// the call puts it; callers that batch unrelated rows pad to one. Pieces
// of a multiple of Lanes rows have no tail, and the last piece's tail holds
// the rows of the whole call's, so a cut call is rounded as the whole one
// (as long as the limit is a multiple too, as the defaults are).
const Lanes = 16

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// pieces cuts c into calls of at most limit rows (≤ 0: no limit).
func (c call) pieces(m *Model, limit int) []call {
	per := c.nTheta + c.nSample
	if limit <= 0 || c.b*per <= limit {
		return []call{c}
	}
	var out []call
	if per <= limit {
		k := limit / per
		for i := 0; i < c.b; i += k {
			out = append(out, c.obs(m, i, min(i+k, c.b)))
		}
		return out
	}
	// Both paths get the same slice of their rows, so a piece holds at
	// most limit rows.
	step := max(limit/2, 1)
	if step > Lanes {
		step -= step % Lanes
	}
	if c.nTheta == 0 || c.nSample == 0 {
		step = limit
	}
	for i := range c.b {
		one := c.obs(m, i, i+1)
		for r := 0; r < max(c.nTheta, c.nSample); r += step {
			t0, s0 := min(r, c.nTheta), min(r, c.nSample)
			out = append(out, one.rows(m, t0, min(r+step, c.nTheta), s0, min(r+step, c.nSample)))
		}
	}
	return out
}

// run is one onnxruntime call per path asked for, with tensors for the
// inputs and outputs of those paths only: each costs two cgo calls.
func (m *Model) run(c call) error {
	l := m.layout
	d, xd, nd := l.ValueDim, l.CondDim, m.meta.Noise.Dim()
	want := [2]bool{c.nTheta > 0, c.nSample > 0}
	var used [7]bool
	for i, p := range m.paths {
		if !want[i] || p == nil {
			continue
		}
		for _, j := range p.inputs {
			used[j] = true
		}
		for _, j := range p.outputs {
			used[len(format.Inputs)+j] = true
		}
	}
	var vals [7]ort.Value
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	type arg struct {
		shape ort.Shape
		data  []float32
	}
	// Slots in the order of format.Inputs and format.Outputs.
	var args [7]arg
	B, T, S := int64(c.b), int64(c.nTheta), int64(c.nSample)
	args[slices.Index(format.Inputs, l.Cond)] = arg{ort.NewShape(B, int64(xd)), c.x}
	args[slices.Index(format.Inputs, l.Values)] = arg{ort.NewShape(B, T, int64(d)), c.theta}
	args[2] = arg{ort.NewShape(B, S, int64(nd)), c.noise}
	args[3+slices.Index(format.Outputs, l.LogOut)] = arg{ort.NewShape(B, T), c.out.LogProb}
	args[4] = arg{ort.NewShape(B, S, int64(d)), c.out.Sample}
	args[5] = arg{ort.NewShape(B, S), c.out.SampleLogProb}
	for i, a := range args {
		if !used[i] {
			continue
		}
		t, err := ort.NewTensor(a.shape, a.data)
		if err != nil {
			return fmt.Errorf("runtime: tensor %v: %w", a.shape, err)
		}
		vals[i] = t
	}
	for i, p := range m.paths {
		if !want[i] || p == nil {
			continue
		}
		if err := p.run(vals[:]); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
	}
	return nil
}

// Output holds the results of Run.
type Output struct {
	LogProb       []float32
	Sample        []float32
	SampleLogProb []float32
}

// holds reports whether v has exactly b×n×dim values, by division so that
// huge counts cannot overflow into a match.
func holds(v []float32, b, n, dim int) bool {
	if n == 0 {
		return len(v) == 0
	}
	return len(v)%dim == 0 && len(v)/dim%n == 0 && len(v)/dim/n == b
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func finite(name string, v []float32) error {
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("%w: %s[%d] is %v", ErrInput, name, i, f)
		}
	}
	return nil
}

// LogProb returns log q(θ|x) of an NPE model for nTheta parameter vectors
// per observation.
func (m *Model) LogProb(x []float32, b int, theta []float32, nTheta int) ([]float32, error) {
	if err := m.is(format.MethodNPE, "LogProb"); err != nil {
		return nil, err
	}
	out, err := m.Run(x, b, theta, nTheta, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	return out.LogProb, nil
}

// Sample draws n samples per observation of an NPE model with noise from
// src, returning θ (b×n×ThetaDim) and log q(θ|x) (b×n).
func (m *Model) Sample(x []float32, b, n int, src rand.Source) (theta, logProb []float32, err error) {
	if err := m.is(format.MethodNPE, "Sample"); err != nil {
		return nil, nil, err
	}
	return m.sample(x, b, n, src)
}

func (m *Model) sample(x []float32, b, n int, src rand.Source) (theta, logProb []float32, err error) {
	if b < 1 || n < 0 || (n > 0 && b > math.MaxInt32/n/max(m.meta.Noise.Dim(), m.meta.ThetaDim, m.meta.XDim)) {
		return nil, nil, fmt.Errorf("%w: %d samples for %d observations", ErrInput, n, b)
	}
	noise := m.Noise(nil, b*n, src)
	out, err := m.Run(x, b, nil, 0, noise, n, nil)
	if err != nil {
		return nil, nil, err
	}
	return out.Sample, out.SampleLogProb, nil
}

// Noise fills dst (allocated when too small) with the noise of `draws`
// samples: standard normals then uniforms per draw, as the contract lays
// out. A nil src means math/rand/v2's global generator; draws < 0 count as 0.
func (m *Model) Noise(dst []float32, draws int, src rand.Source) []float32 {
	nn, nu := m.meta.Noise.Normal, m.meta.Noise.Uniform
	dst = grow(dst, max(draws, 0)*(nn+nu))
	if src == nil {
		src = globalSource{}
	}
	rng := rand.New(src)
	for i := 0; i < len(dst); {
		for range nn {
			dst[i] = float32(rng.NormFloat64())
			i++
		}
		for range nu {
			dst[i] = float32(rng.Float64())
			i++
		}
	}
	return dst
}

// globalSource draws from math/rand/v2's goroutine-safe global generator.
type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }

// LogLikelihood returns log q(x | θ) of an NLE model for b parameter
// vectors θ (b×ThetaDim) and n observations per θ (x: b×n×XDim), b×n
// values in one evaluation: the log-likelihood of n iid trials of one θ is
// the sum of its row (LogLikelihoodIID sums it).
func (m *Model) LogLikelihood(theta []float32, b int, x []float32, n int) ([]float32, error) {
	if err := m.is(format.MethodNLE, "LogLikelihood"); err != nil {
		return nil, err
	}
	out, err := m.Run(theta, b, x, n, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	return out.LogProb, nil
}

// LogLikelihoodIID returns Σ_j log q(x_j | θ_i) of an NLE model for b
// parameter vectors θ (b×ThetaDim) and one set of n iid trials x (n×XDim)
// shared by all of them: one evaluation of b·n rows, summed in float64.
func (m *Model) LogLikelihoodIID(theta []float32, b int, x []float32, n int) ([]float64, error) {
	xd := m.meta.XDim
	if b < 1 || n < 1 || !holds(x, 1, n, xd) || b > math.MaxInt32/n/xd {
		return nil, fmt.Errorf("%w: %d trials (x has %d values, x_dim %d) for %d parameter vectors", ErrInput, n, len(x), xd, b)
	}
	rep := make([]float32, 0, b*n*xd)
	for range b {
		rep = append(rep, x...)
	}
	lp, err := m.LogLikelihood(theta, b, rep, n)
	if err != nil {
		return nil, err
	}
	sums := make([]float64, b)
	for i := range b {
		for _, v := range lp[i*n : (i+1)*n] {
			sums[i] += float64(v)
		}
	}
	return sums, nil
}

// SampleX draws n observations x ~ q(x | θ) per parameter vector of an NLE
// model (theta: b×ThetaDim) with noise from src, returning x (b×n×XDim) and
// log q(x|θ) (b×n): the model as a surrogate simulator.
func (m *Model) SampleX(theta []float32, b, n int, src rand.Source) (x, logProb []float32, err error) {
	if err := m.is(format.MethodNLE, "SampleX"); err != nil {
		return nil, nil, err
	}
	return m.sample(theta, b, n, src)
}

// LogRatio returns an NRE model's log r(θ, x) for b observations x
// (b×XDim) and n parameter vectors per observation (theta: b×n×ThetaDim):
// b×n logits, log p(x|θ) − log p(x) up to a constant of x for NRE-B/C.
func (m *Model) LogRatio(x []float32, b int, theta []float32, n int) ([]float32, error) {
	if err := m.is(format.MethodNRE, "LogRatio"); err != nil {
		return nil, err
	}
	out, err := m.Run(x, b, theta, n, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	return out.LogProb, nil
}
