// Package serve is an HTTP JSON API over a directory of amortize model files:
// list and describe models, draw posterior samples, score parameters and
// find MAP estimates.
//
// Routes (every error body is {"error": "..."}):
//
//	GET  /v1/models                  models served, with their dimensions
//	GET  /v1/models/{name}           contract and metadata of one model
//	POST /v1/models/{name}/sample    {"x": [...] or [[...],...], "n": 1000, "seed": 1}
//	POST /v1/models/{name}/log_prob  {"x": [...], "theta": [[...],...], "leakage": false, "seed": 1}
//	POST /v1/models/{name}/map       {"x": [...], "seed": 1}
//	GET  /healthz                    the process is up
//	GET  /readyz                     the models are loaded (503 until then)
//	GET  /metrics                    Prometheus metrics
//
// A model's name is its file name without ".onnx". Requests without a seed
// get one drawn by the server, returned in the response, so every answer can
// be reproduced; posterior.Source is the one mapping from seed to
// randomness, shared with the amortize-infer command line. Drawn seeds are
// below 2^53, so that clients parsing JSON numbers as doubles read them
// exactly.
//
// Client mistakes get 4xx: malformed JSON or unknown fields 400, a wrong
// dimension or a value outside the float32 range 400, too many samples 400,
// an unknown model 404, a wrong method 405, a body over the limit 413, an
// observation whose posterior mass inside the prior is too small to sample
// 422. A full server answers 503 with Retry-After (the limit protects the
// server as a whole, not one client's quota, so it is not 429), as does a
// request that runs past its time limit. Other failures are 500, panics
// included: a handler's panic is logged and never stops the server.
//
// A Server is safe for concurrent use.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amortize/amortize/posterior"
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
	// MaxSamples bounds the samples of one request, n times the number of
	// observations, and the θ rows of one log_prob request (default 100,000).
	MaxSamples int
	// MaxConcurrent bounds the /v1 requests in progress at once; one more
	// is answered 503 at once (default 256).
	MaxConcurrent int
	// Timeout bounds one request's work (default 30 s).
	Timeout time.Duration
	// BatchDraws bounds the draws of one round of onnxruntime calls that
	// serves concurrent sample requests together (default
	// posterior.DefaultBatchDraws; see posterior.SamplerOptions).
	BatchDraws int
	// Workers is the number of goroutines per model that make those calls
	// (default GOMAXPROCS: each call runs on one core).
	Workers int
	// ShutdownTimeout bounds the wait for in-flight requests when Serve
	// stops (default 30 s).
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
	DefaultMaxSamples      = 100_000
	DefaultMaxConcurrent   = 256
	DefaultTimeout         = 30 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
)

// Errors of the server.
var (
	ErrNoModels = errors.New("serve: no *.onnx model files")
	ErrConfig   = errors.New("serve: bad configuration")
)

// Server serves the models of one directory.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
	slots   chan struct{} // the MaxConcurrent semaphore

	models atomic.Pointer[map[string]*model] // nil until Load finishes

	seedMu sync.Mutex // guards cfg.Seeds
	reqSeq atomic.Uint64
	reqTag string // distinguishes request ids across restarts
}

// model is one served model file.
type model struct {
	name    string
	rt      *runtime.Model
	post    *posterior.Direct  // log_prob and map
	sampler *posterior.Sampler // sample
	info    ModelInfo
	samples counter // samples served
}

// New checks the configuration and returns a Server with no models loaded.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no model directory", ErrConfig)
	}
	if cfg.MaxBodyBytes < 0 || cfg.MaxSamples < 0 || cfg.MaxConcurrent < 0 || cfg.Timeout < 0 ||
		cfg.ShutdownTimeout < 0 || cfg.BatchDraws < 0 || cfg.Workers < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrConfig)
	}
	if cfg.Runtime.Threads < 0 {
		return nil, fmt.Errorf("%w: %d threads", ErrConfig, cfg.Runtime.Threads)
	}
	setDefault(&cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&cfg.MaxSamples, DefaultMaxSamples)
	setDefault(&cfg.MaxConcurrent, DefaultMaxConcurrent)
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
	if s.models.Load() != nil {
		return errors.New("serve: models already loaded")
	}
	paths, err := filepath.Glob(filepath.Join(s.cfg.Dir, "*.onnx"))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if len(paths) == 0 {
		if _, err := os.Stat(s.cfg.Dir); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return fmt.Errorf("%w in %s", ErrNoModels, s.cfg.Dir)
	}
	sort.Strings(paths)
	models := make(map[string]*model, len(paths))
	for _, p := range paths {
		m, err := s.open(p)
		if err != nil {
			for _, m := range models {
				m.close()
			}
			return err
		}
		models[m.name] = m
		s.log.Info("model loaded", "model", m.name, "estimator", m.info.Estimator,
			"theta_dim", m.info.ThetaDim, "x_dim", m.info.XDim, "device", deviceName(m.rt.Device()))
	}
	s.models.Store(&models)
	s.metrics.models.Set(float64(len(models)))
	return nil
}

func (s *Server) open(path string) (*model, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".onnx")
	rt, err := runtime.Open(path, s.cfg.Runtime)
	if err != nil {
		return nil, fmt.Errorf("serve: model %s: %w", name, err)
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
	return &model{
		name:    name,
		rt:      rt,
		post:    post,
		sampler: sampler,
		info:    Describe(name, rt.Metadata()),
		samples: s.metrics.samples.WithLabelValues(name),
	}, nil
}

func (m *model) close() error {
	m.sampler.Close()
	return m.rt.Close()
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

// Close releases the models. Requests still running finish first.
func (s *Server) Close() error {
	p := s.models.Load()
	if p == nil {
		return nil
	}
	var errs []error
	for _, m := range *p {
		errs = append(errs, m.close())
	}
	return errors.Join(errs...)
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln, loads the models (health checks are
// answered meanwhile; /readyz turns 200 when they are in), and serves until
// ctx is done. Then it stops accepting, lets in-flight requests finish
// within ShutdownTimeout, closes the models and returns nil. It returns an
// error when loading or serving fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.Timeout,
		// The handler's own deadline is Timeout; the margin lets it write
		// the timeout answer.
		WriteTimeout: s.cfg.Timeout + 10*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
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
	if e := s.Close(); e != nil && err == nil {
		err = fmt.Errorf("serve: closing models: %w", e)
	}
	return err
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
