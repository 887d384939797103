package serve

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/posterior"
	"gonum.org/v1/gonum/mat"
)

// routes builds the mux. Every pattern also gets a method-less twin that
// answers 405 in JSON (the mux's own 405 is plain text), and "/" answers
// 404 in JSON. A new route is one line of the table: its handler decodes
// its body with decode, finds its model with s.model and bounds its work
// with s.work before it allocates.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range []struct {
		method, path string
		limited      bool
		h            handlerFunc
	}{
		{http.MethodGet, "/v1/models", true, s.listModels},
		{http.MethodGet, "/v1/models/{name}", true, s.getModel},
		{http.MethodPost, "/v1/models/{name}/sample", true, s.sample},
		{http.MethodPost, "/v1/models/{name}/log_prob", true, s.logProb},
		{http.MethodPost, "/v1/models/{name}/map", true, s.mapEstimate},
		{http.MethodGet, "/healthz", false, s.healthz},
		{http.MethodGet, "/readyz", false, s.readyz},
		{http.MethodGet, "/metrics", false, s.serveMetrics},
	} {
		// The twin's 405s count under the route's own label: one series
		// per route.
		pattern := rt.method + " " + rt.path
		mux.Handle(pattern, s.endpoint(pattern, rt.limited, rt.h))
		mux.Handle(rt.path, s.endpoint(pattern, false, methodNotAllowed(rt.method)))
	}
	mux.Handle("/", s.endpoint("unmatched", false, func(w *statusWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no route %s %s; see GET /v1/models", r.Method, r.URL.Path)
	}))
	return mux
}

func methodNotAllowed(allow string) handlerFunc {
	if allow == http.MethodGet {
		allow = "GET, HEAD" // the mux routes HEAD to GET patterns
	}
	return func(w *statusWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)
	}
}

// model finds the model the path names and holds it for the request:
// call release when done. A model replaced or removed by Reload is closed
// once its last request has released it.
func (s *Server) model(r *http.Request) (*model, error) {
	name := r.PathValue("name")
	for {
		p := s.models.Load()
		if p == nil {
			return nil, errorf(http.StatusServiceUnavailable, "models are still loading")
		}
		m, ok := (*p)[name]
		if !ok {
			return nil, errorf(http.StatusNotFound, "unknown model %q; GET /v1/models lists them", name)
		}
		if m.acquire() {
			return m, nil
		}
		// m was retired after p was read: by Reload, which has stored
		// the new map already, or by closing.
		if s.models.Load() == p {
			return nil, errorf(http.StatusServiceUnavailable, "the server is shutting down")
		}
	}
}

// work checks the work of a request to m, evals evaluations of the model,
// against MaxWork (see Config.MaxWork); what says what they are.
func (s *Server) work(m *model, evals int, what func() string) error {
	dims := m.info.ThetaDim + m.info.XDim
	if evals > s.cfg.MaxWork/dims {
		return errorf(http.StatusRequestEntityTooLarge,
			"request too large: %s, %d model evaluations × %d dimensions, over the server's limit of %d per request; split it into smaller requests",
			what(), evals, dims, s.cfg.MaxWork)
	}
	return nil
}

// obsWork is the fixed work of one observation, in model evaluations: on
// the sample route an observation costs about as much as 45 draws beyond
// its own (its stream, its share of a call padded to runtime.Lanes rows,
// its checks), measured with n = 1 against n = 100,000.
const obsWork = 64

func (s *Server) listModels(w *statusWriter, r *http.Request) error {
	ms := s.loaded()
	if ms == nil {
		return errorf(http.StatusServiceUnavailable, "models are still loading")
	}
	out := struct {
		Models []api.ModelSummary `json:"models"`
	}{Models: make([]api.ModelSummary, 0, len(ms))}
	for _, m := range ms {
		i := m.info
		out.Models = append(out.Models, api.ModelSummary{Name: i.Name, Method: i.Method, Estimator: i.Estimator, ThetaDim: i.ThetaDim, XDim: i.XDim})
	}
	sort.Slice(out.Models, func(a, b int) bool { return out.Models[a].Name < out.Models[b].Name })
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getModel(w *statusWriter, r *http.Request) error {
	m, err := s.model(r)
	if err != nil {
		return err
	}
	defer m.release()
	return writeJSON(w, http.StatusOK, m.info)
}

func (s *Server) sample(w *statusWriter, r *http.Request) error {
	var req api.SampleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := s.model(r)
	if err != nil {
		return err
	}
	defer m.release()
	xs, err := matrix(req.X, "x", m.info.XDim, true)
	if err != nil {
		return err
	}
	if req.N == nil {
		return errorf(http.StatusBadRequest, "n is required: the number of samples per observation")
	}
	n, rows := *req.N, xs.RawMatrix().Rows
	if n < 1 {
		return errorf(http.StatusBadRequest, "n = %d, want at least 1", n)
	}
	if n > s.cfg.MaxSamples || n*rows > s.cfg.MaxSamples {
		return errorf(http.StatusBadRequest, "n × observations = %d × %d exceeds the limit of %d samples per request",
			n, rows, s.cfg.MaxSamples)
	}
	meth, err := sampleMethod(req.Method, m)
	if err != nil {
		return err
	}
	if meth == api.SamplingMCMC {
		return s.sampleMCMC(w, r, m, req.MCMC, xs, n, req.Seed)
	}
	if len(req.MCMC) > 0 {
		return errorf(http.StatusBadRequest, "mcmc options are for \"method\": \"mcmc\"")
	}
	if err := s.work(m, rows*(n+obsWork), func() string {
		return fmt.Sprintf("%d observations × (n = %d + %d per observation)", rows, n, obsWork)
	}); err != nil {
		return err
	}
	return s.answerSamples(w, r, m, m.sampler, xs, n, rows, s.seed(req.Seed))
}

// answerSamples draws n samples for each of the rows of xs from post, by
// either method, and writes the sample route's answer.
func (s *Server) answerSamples(w *statusWriter, r *http.Request, m *model, post posterior.Proposal, xs *mat.Dense, n, rows int, seed uint64) error {
	res, err := post.SampleBatched(r.Context(), xs, n, posterior.Source(seed))
	if err != nil {
		return err
	}
	m.samples.Add(float64(n * rows))
	buf := getBuf()
	defer putBuf(buf)
	*buf = api.AppendSampleResponse((*buf)[:0], m.name, seed, res)
	writeBody(w, http.StatusOK, *buf)
	return nil
}

func (s *Server) logProb(w *statusWriter, r *http.Request) error {
	var req api.LogProbRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := s.model(r)
	if err != nil {
		return err
	}
	defer m.release()
	if err := densityRoute(m, "log_prob"); err != nil {
		return err
	}
	x, err := vector(req.X, "x", m.info.XDim)
	if err != nil {
		return err
	}
	theta, err := matrix(req.Theta, "theta", m.info.ThetaDim, false)
	if err != nil {
		return err
	}
	rows := theta.RawMatrix().Rows
	if rows > s.cfg.MaxSamples {
		return errorf(http.StatusBadRequest, "theta has %d rows, more than the limit of %d per request", rows, s.cfg.MaxSamples)
	}
	evals := rows + obsWork
	if req.Leakage {
		evals += s.cfg.Posterior.LeakageDraws
	}
	if err := s.work(m, evals, func() string {
		return fmt.Sprintf("%d θ rows + %d for the observation + %d leakage draws", rows, obsWork, evals-rows-obsWork)
	}); err != nil {
		return err
	}
	var (
		seed uint64
		drew *uint64 // the seed is answered only when the leakage correction drew samples
		lp   []float64
	)
	if req.Leakage {
		seed = s.seed(req.Seed)
		drew = &seed
		lp, err = m.post.NormalizedLogProb(r.Context(), theta, x, posterior.Source(seed))
	} else {
		lp, err = m.post.LogProb(r.Context(), theta, x)
	}
	if err != nil {
		return err
	}
	buf := getBuf()
	defer putBuf(buf)
	*buf = api.AppendLogProbResponse((*buf)[:0], m.name, lp, drew)
	writeBody(w, http.StatusOK, *buf)
	return nil
}

// densityRoute refuses route, which needs a normalised posterior
// density, on a model without one (nle, nre).
func densityRoute(m *model, route string) error {
	if m.post != nil {
		return nil
	}
	return errorf(http.StatusBadRequest,
		"%s is for npe models; model %s is an %s model, whose posterior is known only up to a constant: POST /v1/models/%s/sample samples it by MCMC",
		route, m.name, m.info.Method, m.name)
}

// mapOptions are the map route's settings (posterior's defaults), spelt
// out for its work bound.
var mapOptions = posterior.MAPOptions{Candidates: 1000, Starts: 4, MaxEvaluations: 2000}

func (s *Server) mapEstimate(w *statusWriter, r *http.Request) error {
	var req api.MAPRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := s.model(r)
	if err != nil {
		return err
	}
	defer m.release()
	if err := densityRoute(m, "map"); err != nil {
		return err
	}
	x, err := vector(req.X, "x", m.info.XDim)
	if err != nil {
		return err
	}
	o := mapOptions
	if err := s.work(m, obsWork+o.Candidates+o.Starts*o.MaxEvaluations, func() string {
		return fmt.Sprintf("%d candidates + %d starts × %d evaluations + %d for the observation", o.Candidates, o.Starts, o.MaxEvaluations, obsWork)
	}); err != nil {
		return err
	}
	seed := s.seed(req.Seed)
	res, err := m.post.MAP(r.Context(), x, mapOptions, posterior.Source(seed))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.MAPResponse{Model: m.name, Seed: seed, Theta: res.Theta, LogProb: res.LogProb})
}

func (s *Server) healthz(w *statusWriter, r *http.Request) error {
	writeBody(w, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
	return nil
}

func (s *Server) readyz(w *statusWriter, r *http.Request) error {
	ms := s.loaded()
	if ms == nil {
		return errorf(http.StatusServiceUnavailable, "models are still loading")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "models": len(ms)})
}

func (s *Server) serveMetrics(w *statusWriter, r *http.Request) error {
	s.metrics.http.ServeHTTP(w, r)
	return nil
}
