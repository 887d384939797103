package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/posterior"
	"gonum.org/v1/gonum/mat"
)

// sliceEvalsPerCoordinate is the work bound's potential evaluations per
// chain, step and θ coordinate of the slice sampler, rounded up: it
// measured 7.2 to 7.4 on the golden NLE, NRE and NPE files at the
// defaults (14.3 to 14.7 per step in two dimensions, 22.2 in three). The
// ensemble evaluates each walker once per step.
const sliceEvalsPerCoordinate = 8

// initCandidates are the prior draws per observation that SIR weighs, as
// amortize sample draws them (posterior.MCMCOptions' default).
const initCandidates = 10_000

// sampleMethod reads the request's "method" for m: its default when
// absent.
func sampleMethod(raw json.RawMessage, m *model) (string, error) {
	allowed := m.info.Sampling
	if len(raw) == 0 {
		return allowed[0], nil
	}
	var meth string
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &meth) != nil {
		return "", errorf(http.StatusBadRequest, "method is %s, want \"direct\" or \"mcmc\" (or leave it out)", (&scanner{b: raw}).kind())
	}
	switch {
	case meth != api.SamplingDirect && meth != api.SamplingMCMC:
		return "", errorf(http.StatusBadRequest, "method %q: want \"direct\" or \"mcmc\"", meth)
	case meth == api.SamplingDirect && len(allowed) == 1:
		return "", errorf(http.StatusBadRequest,
			"method \"direct\": model %s is an %s model, which has no posterior to draw from directly; sample it with \"method\": \"mcmc\" (its default)",
			m.name, m.info.Method)
	}
	return meth, nil
}

// mcmcOptions reads the request's "mcmc" object into the posterior's
// options, as amortize sample's flags give them.
func mcmcOptions(raw json.RawMessage) (posterior.MCMCOptions, error) {
	opts := posterior.MCMCOptions{
		Method: posterior.MethodSlice, NumChains: 20, WarmupSteps: 100, Thin: 10, Init: posterior.InitSIR,
	}
	if len(raw) == 0 {
		return opts, nil
	}
	if c := (&scanner{b: raw}).peek(); c != '{' {
		return opts, errorf(http.StatusBadRequest, "mcmc is %s, want an object such as {\"chains\": 20, \"thin\": 10} (or leave it out)", (&scanner{b: raw}).kind())
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return opts, errorf(http.StatusBadRequest, "mcmc: %s", trimJSON(err))
	}
	for name, v := range fields {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return opts, errorf(http.StatusBadRequest, "mcmc.%s is null: give a value or leave it out", name)
		}
	}
	var req api.MCMCRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return opts, errorf(http.StatusBadRequest, "mcmc: %s (fields: chains, warmup, thin, sampler, init)", trimJSON(err))
	}
	switch {
	case req.Chains != nil && *req.Chains < 1:
		return opts, errorf(http.StatusBadRequest, "mcmc.chains = %d, want at least 1", *req.Chains)
	case req.Warmup != nil && *req.Warmup < 0:
		return opts, errorf(http.StatusBadRequest, "mcmc.warmup = %d, want 0 or more", *req.Warmup)
	case req.Thin != nil && *req.Thin < 1:
		return opts, errorf(http.StatusBadRequest, "mcmc.thin = %d, want at least 1", *req.Thin)
	case req.Sampler != nil && *req.Sampler != posterior.MethodSlice && *req.Sampler != posterior.MethodEnsemble:
		return opts, errorf(http.StatusBadRequest, "mcmc.sampler %q: want \"slice\" or \"ensemble\"", *req.Sampler)
	case req.Init != nil && *req.Init != posterior.InitSIR && *req.Init != posterior.InitPrior:
		return opts, errorf(http.StatusBadRequest, "mcmc.init %q: want \"sir\" or \"prior\" (the server has no proposal model)", *req.Init)
	}
	if req.Chains != nil {
		opts.NumChains = *req.Chains
	}
	if req.Warmup != nil {
		opts.WarmupSteps = *req.Warmup
		if opts.WarmupSteps == 0 {
			opts.WarmupSteps = -1 // none, as asked
		}
	}
	if req.Thin != nil {
		opts.Thin = *req.Thin
	}
	if req.Sampler != nil {
		opts.Method = *req.Sampler
	}
	if req.Init != nil {
		opts.Init = *req.Init
	}
	return opts, nil
}

// mcmcWork is the work bound's evaluations of an MCMC request: per
// observation, the SIR candidates and (warm-up + ⌈n / chains⌉·thin) steps
// of every chain at the sampler's evaluations per step. It is a float, so
// that hostile options cannot overflow it.
func mcmcWork(o posterior.MCMCOptions, dim, n, rows int) (evals float64, what string) {
	perStep, per := 1.0, "1 evaluation per step (ensemble)"
	if o.Method == posterior.MethodSlice {
		perStep = float64(sliceEvalsPerCoordinate * dim)
		per = fmt.Sprintf("%d evaluations per step (slice, %d per θ coordinate)", sliceEvalsPerCoordinate*dim, sliceEvalsPerCoordinate)
	}
	warmup := max(o.WarmupSteps, 0)
	draws := (n + o.NumChains - 1) / o.NumChains
	steps := float64(warmup) + float64(draws)*float64(o.Thin)
	init := 0
	if o.Init == posterior.InitSIR {
		init = initCandidates
	}
	evals = float64(rows) * (float64(init) + float64(o.NumChains)*steps*perStep)
	what = fmt.Sprintf("%d observations × (%d initial candidates + %d chains × (%d warm-up + %d draws × thin %d) steps × %s)",
		rows, init, o.NumChains, warmup, draws, o.Thin, per)
	return evals, what
}

// sampleMCMC answers a sample request by MCMC: outside the batching
// Sampler, within MaxMCMC such requests at once, cancelled by the
// request's context (its timeout included).
func (s *Server) sampleMCMC(w *statusWriter, r *http.Request, m *model, raw json.RawMessage, xs *mat.Dense, n int, seed *uint64) error {
	opts, err := mcmcOptions(raw)
	if err != nil {
		return err
	}
	rows := xs.RawMatrix().Rows
	evals, what := mcmcWork(opts, m.info.ThetaDim, n, rows)
	if err := s.work(m, int(math.Min(evals, 1<<62)), func() string { return what }); err != nil {
		return err
	}
	post, err := posterior.NewModelMCMC(m.rt, m.prior, opts)
	if err != nil {
		return err
	}
	select {
	case s.mcmc <- struct{}{}:
		defer func() { <-s.mcmc }()
	default:
		s.metrics.rejected.Inc()
		return errorf(http.StatusServiceUnavailable, "server busy: %d MCMC requests in progress, retry shortly", cap(s.mcmc))
	}
	return s.answerSamples(w, r, m, post, xs, n, rows, s.seed(seed))
}
