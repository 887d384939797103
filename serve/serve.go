// Package serve is an HTTP JSON API over a directory of amortize model files:
// list and describe models, draw posterior samples, score parameters and
// find MAP estimates.
//
// Routes (every error body is {"error": "..."}):
//
//	GET  /v1/models                  models served, with their dimensions
//	GET  /v1/models/{name}           contract and metadata of one model
//	POST /v1/models/{name}/sample    {"x": [...] or [[...],...], "n": 1000, "seed": 1,
//	                                  "method": "mcmc", "mcmc": {"chains": 20, "warmup": 100,
//	                                  "thin": 10, "sampler": "slice", "init": "sir"}}
//	POST /v1/models/{name}/log_prob  {"x": [...], "theta": [[...],...], "leakage": false, "seed": 1}
//	POST /v1/models/{name}/map       {"x": [...], "seed": 1}
//	GET  /healthz                    the process is up
//	GET  /readyz                     the models are loaded (503 until then)
//	GET  /metrics                    Prometheus metrics
//
// The bodies are package api's types (api.SampleRequest, api.ModelInfo, …),
// which amortize-infer's --json output shares.
//
// NPE models sample directly by default ("method": "direct"), NLE and NRE
// models by MCMC, their only method: each MCMC result carries a
// "convergence" object (R-hat, ESS, acceptance or evaluations per step, a
// warning when the chains did not mix). log_prob and map need an NPE
// model's normalised density: on NLE and NRE models they answer 400.
//
// A model's name is its file name without ".onnx". Requests without a seed
// get one drawn by the server, returned in the response, so every answer can
// be reproduced; posterior.Source is the one mapping from seed to
// randomness, shared with the amortize-infer command line. Drawn seeds are
// below 2^53, so that clients parsing JSON numbers as doubles read them
// exactly.
//
// Client mistakes get 4xx: malformed JSON, unknown fields, a null, a wrong
// dimension or a value outside the float32 range in x or θ 400 (naming
// the element), too many samples 400, an unknown model 404, a wrong method
// 405, a body not received within BodyTimeout 408, a body over
// MaxBodyBytes or work over MaxWork 413, a header over MaxHeaderBytes 431,
// an observation whose posterior mass inside the prior is too small to
// sample 422. A full server answers 503 with Retry-After (the limit
// protects the server as a whole, not one client's quota, so it is not
// 429), as does a request that runs past its time limit. Other failures are
// 500, panics included: a handler's panic is logged and never stops the
// server. Every error the handler writes is JSON; net/http itself answers
// a malformed request line or header, or a header over 16 times
// MaxHeaderBytes, in plain text before any handler runs.
//
// Every request is bounded before the server allocates for it: its body
// by MaxBodyBytes and BodyTimeout (a request takes one of the
// MaxConcurrent slots only once its body is in), its samples by
// MaxSamples, its work by MaxWork, its time by Timeout.
//
// Reload brings the served models in line with the directory without
// failing a request; the command line calls it on SIGHUP.
//
// A Server is safe for concurrent use.
package serve

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
)

// Config configures a Server. Zero values take the defaults listed.
type Config struct {
	// Dir holds the model files: each *.onnx in it is served under its
	// file name without the extension.
	Dir string
	// Runtime opens every model. Its zero Threads and Workers suit a
	// server: one intra-op thread per onnxruntime call, large calls cut
	// over the cores, so concurrent requests do not oversubscribe them.
	Runtime runtime.Options
	// Posterior configures each model's posterior: Prior overrides the
	// file's prior, MinAcceptance and MinProposals judge hopeless
	// observations on every route, the rest applies to log_prob and map.
	Posterior posterior.DirectOptions

	// MaxBodyBytes bounds a request body (default 1 MiB).
	MaxBodyBytes int64
	// BodyTimeout bounds the reading of a request body once its header is
	// in (default 10 s); a body not in by then is answered 408. A request
	// takes its concurrency slot only once its body is in, so slow clients
	// cannot hold the slots.
	BodyTimeout time.Duration
	// MaxHeaderBytes bounds the request line and header (default 64 KiB);
	// beyond it the answer is a JSON 431. Serve lets net/http read up to
	// 16 times as much, beyond which net/http itself answers 431 in plain
	// text and closes the connection.
	MaxHeaderBytes int
	// MaxSamples bounds the samples of one request, n times the number of
	// observations, and the θ rows of one log_prob request (default 100,000).
	MaxSamples int
	// MaxWork bounds the work of one request, in model values: the
	// evaluations of the model it asks for times the model's θ plus x
	// dimensions (default 4,000,000). Evaluations are the samples drawn
	// plus 64 per observation, which costs about as much (sample); the θ
	// rows scored plus 64, plus the leakage draws when asked (log_prob);
	// the 1,000 candidates plus 4 × 2,000 search steps plus 64 (map). Over
	// it the answer is 413: at the default, two_moons (2 + 2 dimensions)
	// allows 100,000 samples of one observation but 15,000 observations at
	// n = 1, which take about as long as 50,000 samples each. An MCMC
	// sample request evaluates, per observation, its initial candidates
	// (10,000 for "sir") plus chains × (warmup + ⌈n / chains⌉ · thin)
	// steps × the sampler's evaluations per step (slice: 8 per θ
	// coordinate, as measured; ensemble: 1).
	MaxWork int
	// MaxConcurrent bounds the /v1 requests in progress at once; one more
	// is answered 503 at once (default 256).
	MaxConcurrent int
	// MaxMCMC bounds the sample requests running MCMC at once, within
	// MaxConcurrent; one more is answered 503 at once (default: Workers).
	// An MCMC request runs its chains in one goroutine of its own, outside
	// the batching Sampler, and each of its rounds is a runtime call cut
	// over the runtime's workers: a few at a time keep every core busy.
	MaxMCMC int
	// Timeout bounds one request's work (default 30 s).
	Timeout time.Duration
	// BatchDraws bounds the draws of one round of onnxruntime calls that
	// serves concurrent sample requests together (default
	// posterior.DefaultBatchDraws; see posterior.SamplerOptions).
	BatchDraws int
	// Workers is the number of goroutines per model that make those calls
	// (default GOMAXPROCS when New runs: each call runs on one core). New
	// also sets Runtime.Workers to GOMAXPROCS when it is 0.
	Workers int
	// KeepGOMAXPROCS leaves GOMAXPROCS alone. By default Serve runs one Go
	// processor more than the workers while it serves (and restores the
	// setting when the last serving Server of the process stops): while
	// every worker's thread is inside an onnxruntime call, the spare one
	// keeps reading and answering requests. On two_moons it cut the p99
	// latency at 16 clients from 46–59 to 13–16 ms, and at 64 from 36–114
	// to 36–45 ms, at about the same throughput.
	KeepGOMAXPROCS bool
	// ShutdownTimeout bounds the wait for in-flight requests and for
	// closing the models when Serve stops (default 30 s). Serve returns
	// when it runs out even if a request is stuck in an onnxruntime call.
	ShutdownTimeout time.Duration

	// Seeds draws the seed of a request that brings none (nil: the
	// process-wide source of math/rand/v2).
	Seeds rand.Source
	// Logger receives one line per request and the server's events
	// (nil: slog.Default()).
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultBodyTimeout     = 10 * time.Second
	DefaultMaxHeaderBytes  = 64 << 10
	DefaultMaxSamples      = 100_000
	DefaultMaxWork         = 4_000_000
	DefaultMaxConcurrent   = 256
	DefaultTimeout         = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultAddr is ListenAndServe's address when it is given none: the
	// loopback interface only. Listening on every interface is a choice
	// to make explicitly (":8080" or "0.0.0.0:8080").
	DefaultAddr = "127.0.0.1:8080"
	// defaultLeakageDraws is posterior.DirectOptions' default, spelt out
	// for the work bound of log_prob.
	defaultLeakageDraws = 10_000
)

// Errors of the server.
var (
	ErrNoModels = errors.New("serve: no *.onnx model files")
	ErrConfig   = errors.New("serve: bad configuration")
	// ErrModelsBusy: the grace period ran out with a model still in use.
	ErrModelsBusy = errors.New("serve: models still in use")
)

// Server serves the models of one directory.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	slots   chan struct{} // the MaxConcurrent semaphore
	mcmc    chan struct{} // the MaxMCMC semaphore

	models atomic.Pointer[map[string]*model] // nil until Load finishes

	loadMu   sync.Mutex     // serializes Load, Reload and closing
	closed   bool           // the models are closing; no more reloads
	retiring sync.WaitGroup // models retired, not yet closed
	closeMu  sync.Mutex     // guards closeErr
	closeErr []error

	seedMu sync.Mutex // guards cfg.Seeds
	reqSeq atomic.Uint64
	reqTag string // distinguishes request ids across restarts
}

// model is one served model file.
type model struct {
	name    string
	sum     [sha256.Size]byte // of the file, to see it change on Reload
	rt      *runtime.Model
	prior   prior.Prior        // the posterior's: Config.Posterior.Prior or the file's
	post    *posterior.Direct  // log_prob and map; nil for nle and nre
	sampler *posterior.Sampler // sample by direct draws; nil for nle and nre
	info    api.ModelInfo
	samples counter // samples served

	mu      sync.Mutex
	refs    int           // requests holding the model
	retired bool          // no new requests; close once refs is 0
	idle    chan struct{} // closed when retired with refs 0
}

// acquire holds m for a request; false when m is retired.
func (m *model) acquire() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.retired {
		return false
	}
	m.refs++
	return true
}

func (m *model) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refs--
	if m.refs == 0 && m.retired {
		close(m.idle)
	}
}

// retire turns new requests away from m; the channel closes when the
// requests holding it are done.
func (m *model) retire() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.retired {
		m.retired = true
		if m.refs == 0 {
			close(m.idle)
		}
	}
	return m.idle
}

// New checks the configuration and returns a Server with no models loaded.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no model directory", ErrConfig)
	}
	if cfg.MaxBodyBytes < 0 || cfg.BodyTimeout < 0 || cfg.MaxHeaderBytes < 0 || cfg.MaxSamples < 0 ||
		cfg.MaxWork < 0 || cfg.MaxConcurrent < 0 || cfg.MaxMCMC < 0 || cfg.Timeout < 0 || cfg.ShutdownTimeout < 0 ||
		cfg.BatchDraws < 0 || cfg.Workers < 0 || cfg.Runtime.Workers < 0 || cfg.Posterior.LeakageDraws < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrConfig)
	}
	if cfg.Runtime.Threads < 0 {
		return nil, fmt.Errorf("%w: %d threads", ErrConfig, cfg.Runtime.Threads)
	}
	setDefault(&cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&cfg.BodyTimeout, DefaultBodyTimeout)
	setDefault(&cfg.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&cfg.MaxSamples, DefaultMaxSamples)
	setDefault(&cfg.MaxWork, DefaultMaxWork)
	setDefault(&cfg.Posterior.LeakageDraws, defaultLeakageDraws)
	// Fixed now, so that models opened by Reload while Serve runs a spare
	// processor get the same counts.
	procs := cores()
	setDefault(&cfg.Workers, procs)
	setDefault(&cfg.Runtime.Workers, procs)
	setDefault(&cfg.MaxConcurrent, DefaultMaxConcurrent)
	setDefault(&cfg.MaxMCMC, cfg.Workers)
	setDefault(&cfg.Timeout, DefaultTimeout)
	setDefault(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Runtime.Logger == nil {
		cfg.Runtime.Logger = cfg.Logger
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newMetrics(),
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		mcmc:    make(chan struct{}, cfg.MaxMCMC),
		reqTag:  fmt.Sprintf("%06x", rand.Uint32()&0xffffff),
	}
	s.handler = s.routes()
	return s, nil
}

func setDefault[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Load opens every *.onnx file of the directory; the server is ready when
// it returns nil. A file that fails to open fails the whole load: a server
// missing one of its models should not look healthy.
func (s *Server) Load() error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.models.Load() != nil || s.closed {
		return errors.New("serve: models already loaded, or the server closed")
	}
	paths, err := s.scan()
	if err != nil {
		return err
	}
	models := make(map[string]*model, len(paths))
	for _, p := range paths {
		m, err := s.open(p, nil)
		if err != nil {
			for _, m := range models {
				m.close()
			}
			return err
		}
		models[m.name] = m
		s.logLoaded("model loaded", m)
	}
	s.models.Store(&models)
	s.metrics.models.Set(float64(len(models)))
	return nil
}

// Reload brings the served models in line with the directory: it opens new
// and changed files and drops removed ones, without failing any request.
// A request in progress finishes on the model it started with, which is
// closed once its last request is done; requests arriving after Reload
// returns get the new one. A file that fails to open leaves its name
// served as before (or not at all, if it is new), and Reload returns the
// error after applying everything else; a directory without model files
// changes nothing and returns ErrNoModels. Write a new model file under
// another extension and rename it into place, so that Reload never reads
// it half written. The command line reloads on SIGHUP.
func (s *Server) Reload() error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	p := s.models.Load()
	switch {
	case s.closed:
		return errors.New("serve: the server is closed")
	case p == nil:
		return errors.New("serve: the models are not loaded yet")
	}
	old := *p
	paths, err := s.scan()
	if err != nil {
		return err
	}
	var errs []error
	models := make(map[string]*model, len(paths))
	for _, path := range paths {
		name := modelName(path)
		m, err := s.open(path, old[name])
		if err != nil {
			s.log.Error("model not reloaded", "model", name, "error", err)
			errs = append(errs, err)
			if o, ok := old[name]; ok {
				models[name] = o
			}
			continue
		}
		if m != old[name] {
			s.logLoaded("model reloaded", m)
		}
		models[name] = m
	}
	s.models.Store(&models)
	s.metrics.models.Set(float64(len(models)))
	for name, o := range old {
		if models[name] == o {
			continue
		}
		if _, ok := models[name]; !ok {
			s.log.Info("model removed", "model", name)
			s.metrics.samples.DeleteLabelValues(name)
			s.metrics.batch.DeleteLabelValues(name)
		}
		s.retire(o)
	}
	return errors.Join(errs...)
}

// scan lists the model files of the directory.
func (s *Server) scan() ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(s.cfg.Dir, "*.onnx"))
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if len(paths) == 0 {
		if _, err := os.Stat(s.cfg.Dir); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		return nil, fmt.Errorf("%w in %s", ErrNoModels, s.cfg.Dir)
	}
	sort.Strings(paths)
	return paths, nil
}

func modelName(path string) string { return strings.TrimSuffix(filepath.Base(path), ".onnx") }

func (s *Server) logLoaded(msg string, m *model) {
	s.log.Info(msg, "model", m.name, "estimator", m.info.Estimator,
		"theta_dim", m.info.ThetaDim, "x_dim", m.info.XDim, "device", deviceName(m.rt.Device()))
}

// open opens the model file at path; it returns old itself when the file
// holds the same bytes.
func (s *Server) open(path string, old *model) (*model, error) {
	name := modelName(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve: model %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	if old != nil && old.sum == sum {
		return old, nil
	}
	rt, err := runtime.OpenBytes(data, s.cfg.Runtime)
	if err != nil {
		return nil, fmt.Errorf("serve: model %s: %w", name, err)
	}
	m := &model{
		name:    name,
		sum:     sum,
		rt:      rt,
		prior:   s.cfg.Posterior.Prior,
		info:    api.Describe(name, rt.Metadata()),
		samples: s.metrics.samples.WithLabelValues(name),
		idle:    make(chan struct{}),
	}
	if m.prior == nil {
		m.prior = rt.Prior()
	}
	if rt.Method() != format.MethodNPE {
		// Sampled by MCMC alone, built per request from its options;
		// checked now so that a file that cannot be sampled is not served.
		if _, err := posterior.NewModelMCMC(rt, m.prior, posterior.MCMCOptions{}); err != nil {
			rt.Close()
			return nil, fmt.Errorf("serve: model %s: %w", name, err)
		}
		return m, nil
	}
	post, err := posterior.NewDirect(rt, s.cfg.Posterior)
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("serve: model %s: %w", name, err)
	}
	batch := s.metrics.batch.WithLabelValues(name)
	sampler, err := posterior.NewSampler(rt, posterior.SamplerOptions{
		Prior:         s.cfg.Posterior.Prior,
		MinAcceptance: s.cfg.Posterior.MinAcceptance,
		MinProposals:  s.cfg.Posterior.MinProposals,
		BatchDraws:    s.cfg.BatchDraws,
		Workers:       s.cfg.Workers,
		Observe:       batch.Observe,
	})
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("serve: model %s: %w", name, err)
	}
	m.post, m.sampler = post, sampler
	return m, nil
}

func (m *model) close() error {
	if m.sampler != nil {
		m.sampler.Close()
	}
	return m.rt.Close()
}

// retire closes m once its requests are done.
func (s *Server) retire(m *model) {
	s.retiring.Add(1)
	go func() {
		defer s.retiring.Done()
		<-m.retire()
		if err := m.close(); err != nil {
			s.log.Error("closing a model", "model", m.name, "error", err)
			s.closeMu.Lock()
			s.closeErr = append(s.closeErr, fmt.Errorf("model %s: %w", m.name, err))
			s.closeMu.Unlock()
		}
	}()
}

func deviceName(d runtime.Device) string {
	if d == runtime.CUDA {
		return "cuda"
	}
	return "cpu"
}

// Handler is the server's HTTP handler, for use with any http.Server or
// httptest. It answers 503 on model routes until Load has finished.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases the models. Requests still running finish first; later
// ones are answered 503.
func (s *Server) Close() error { return s.closeModels(context.Background()) }

// closeModels retires every model and waits, until ctx is done, for them
// to close: a request stuck in an onnxruntime call holds its model open.
func (s *Server) closeModels(ctx context.Context) error {
	s.loadMu.Lock()
	if p := s.models.Load(); p != nil && !s.closed {
		for _, m := range *p {
			s.retire(m)
		}
	}
	s.closed = true
	s.loadMu.Unlock()
	done := make(chan struct{})
	go func() {
		s.retiring.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrModelsBusy, ctx.Err())
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return errors.Join(s.closeErr...)
}

// ListenAndServe listens on the TCP address addr (DefaultAddr when empty)
// and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln, loads the models (health checks are
// answered meanwhile; /readyz turns 200 when they are in), and serves until
// ctx is done. Then it stops accepting, lets in-flight requests finish and
// closes the models, all within ShutdownTimeout, and returns nil: past
// it, requests still running are cut off and a model still in use is left
// open, with a logged warning, so that the process can exit. It returns an
// error when loading or serving fails. Unless KeepGOMAXPROCS is set, it
// raises GOMAXPROCS by one while it runs.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.cfg.KeepGOMAXPROCS {
		defer addSpare()()
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		// The endpoint reads the body under BodyTimeout and answers 408
		// past it (a server ReadTimeout would cut the connection instead).
		// Its own deadline is Timeout; the margin lets it write the
		// timeout answer.
		WriteTimeout:   s.cfg.BodyTimeout + s.cfg.Timeout + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 * s.cfg.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String())

	err := s.Load()
	if err == nil {
		s.log.Info("ready", "models", len(*s.models.Load()))
		select {
		case <-ctx.Done():
			s.log.Info("shutting down", "grace", s.cfg.ShutdownTimeout.String())
		case err = <-done:
			done <- err // let the drain below see it
			err = fmt.Errorf("serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if e := srv.Shutdown(sctx); e != nil {
		s.log.Warn("in-flight requests cut off", "error", e)
		srv.Close()
	}
	if e := <-done; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("serve: %w", e)
	}
	if e := s.closeModels(sctx); errors.Is(e, ErrModelsBusy) {
		s.log.Warn("models left open after the grace period", "error", e)
	} else if e != nil && err == nil {
		err = fmt.Errorf("serve: closing models: %w", e)
	}
	return err
}

// spare counts the Servers serving with one Go processor more than their
// workers (see Config.KeepGOMAXPROCS). GOMAXPROCS belongs to the process:
// the first raises it, the last restores it.
var spare struct {
	sync.Mutex
	n     int
	procs int // GOMAXPROCS before the first raised it
}

// cores is GOMAXPROCS without the spare processor.
func cores() int {
	spare.Lock()
	defer spare.Unlock()
	if spare.n > 0 {
		return spare.procs
	}
	return goruntime.GOMAXPROCS(0)
}

// addSpare adds the spare processor; call the function it returns to
// take it back.
func addSpare() (restore func()) {
	spare.Lock()
	defer spare.Unlock()
	if spare.n == 0 {
		spare.procs = goruntime.GOMAXPROCS(0)
		goruntime.GOMAXPROCS(spare.procs + 1)
	}
	spare.n++
	return func() {
		spare.Lock()
		defer spare.Unlock()
		if spare.n--; spare.n == 0 {
			goruntime.GOMAXPROCS(spare.procs)
		}
	}
}

// loaded returns the models, or nil while they are loading.
func (s *Server) loaded() map[string]*model {
	if p := s.models.Load(); p != nil {
		return *p
	}
	return nil
}

// seed returns the request's seed, or draws one.
func (s *Server) seed(req *uint64) uint64 {
	if req != nil {
		return *req
	}
	if s.cfg.Seeds == nil {
		return rand.Uint64() >> 11
	}
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	return s.cfg.Seeds.Uint64() >> 11
}
