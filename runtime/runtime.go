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
	"os"
	goruntime "runtime"
	"sync"

	"github.com/amortize/amortize/format"
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
