// Package api holds the JSON of amortize's HTTP API and of amortize-infer's
// --json output, which speak the same objects: the requests and responses
// of the model routes, the description of a model file (Describe), and the
// hand-written encoders of the hot responses. Both serve and the commands
// import it, so the commands need not import the server to write its JSON.
package api

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/amortize/amortize/posterior"
)

// ModelSummary is one entry of GET /v1/models.
type ModelSummary struct {
	Name      string `json:"name"`
	Method    string `json:"method"`
	Estimator string `json:"estimator"`
	ThetaDim  int    `json:"theta_dim"`
	XDim      int    `json:"x_dim"`
}

// SampleRequest is the body of POST /v1/models/{name}/sample. X is one
// observation ([...]) or several ([[...], ...]); N samples are drawn for
// each. Seed is optional. Method is "direct" (the default for NPE models)
// or "mcmc" (the default, and the only method, for NLE and NRE models);
// MCMC, an MCMCRequest object, sets the chains for "mcmc". Method and
// MCMC are raw JSON so that the server can refuse a null in them.
type SampleRequest struct {
	X      json.RawMessage `json:"x"`
	N      *int            `json:"n"`
	Seed   *uint64         `json:"seed,omitempty"`
	Method json.RawMessage `json:"method,omitempty"`
	MCMC   json.RawMessage `json:"mcmc,omitempty"`
}

// SampleResponse is the answer to a SampleRequest: one result per
// observation, in order, and the seed that reproduces them.
type SampleResponse struct {
	Model   string         `json:"model"`
	Seed    uint64         `json:"seed"`
	N       int            `json:"n"`
	Results []SampleResult `json:"results"`
}

// SampleResult holds the samples of one observation: N rows of θ; the
// draws of the estimator examined until the N-th fell inside the prior
// support, and N over that count (MCMC: the sampler's moves proposed and
// the fraction accepted); the x dimensions more than 5
// training standard deviations from the training mean, where the
// posterior is an extrapolation; and, for MCMC, the convergence summary.
type SampleResult struct {
	Acceptance    float64      `json:"acceptance"`
	Proposed      int          `json:"proposed"`
	Extrapolating []int        `json:"extrapolating,omitempty"`
	Samples       [][]float64  `json:"samples"`
	Convergence   *Convergence `json:"convergence,omitempty"`
}

// MCMCRequest is the "mcmc" object of a SampleRequest, every field
// optional, with amortize sample's defaults: 20 chains per observation,
// 100 warm-up steps, thinning 10, the slice sampler, SIR initial states.
type MCMCRequest struct {
	Chains  *int    `json:"chains,omitempty"`
	Warmup  *int    `json:"warmup,omitempty"`
	Thin    *int    `json:"thin,omitempty"`
	Sampler *string `json:"sampler,omitempty"`
	Init    *string `json:"init,omitempty"`
}

// Convergence is the "convergence" object of an MCMC sample result: the
// sampler's settings, split R-hat and bulk ESS per θ dimension (null where
// too few draws), the ensemble's acceptance or the slice sampler's
// potential evaluations per chain and step, and a warning when the chains
// did not mix (see docs/MCMC.md).
type Convergence struct {
	Sampler      string    `json:"sampler"`
	Chains       int       `json:"chains"`
	Warmup       int       `json:"warmup"`
	Thin         int       `json:"thin"`
	Draws        int       `json:"draws"`
	RHat         []float64 `json:"rhat"`
	ESS          []float64 `json:"ess"`
	Acceptance   *float64  `json:"acceptance,omitempty"`
	EvalsPerStep *float64  `json:"evals_per_step,omitempty"`
	Warning      string    `json:"warning,omitempty"`
}

// LogProbRequest is the body of POST /v1/models/{name}/log_prob: rows of θ
// ([[...], ...]) scored under the posterior of one observation X ([...]).
// Leakage divides by the estimator's mass inside the prior support,
// estimated by sampling with Seed (optional). X and Theta are raw JSON so
// that the server can refuse a null in them, which encoding/json reads
// as 0.
type LogProbRequest struct {
	X       json.RawMessage `json:"x"`
	Theta   json.RawMessage `json:"theta"`
	Leakage bool            `json:"leakage,omitempty"`
	Seed    *uint64         `json:"seed,omitempty"`
}

// LogProbResponse holds log p(θ|x) per row of θ; null for a θ outside the
// prior support (log 0, which JSON cannot write). Seed is set when the
// leakage correction drew samples.
type LogProbResponse struct {
	Model   string     `json:"model"`
	LogProb []*float64 `json:"log_prob"`
	Seed    *uint64    `json:"seed,omitempty"`
}

// MAPRequest is the body of POST /v1/models/{name}/map. X is an array of
// numbers.
type MAPRequest struct {
	X    json.RawMessage `json:"x"`
	Seed *uint64         `json:"seed,omitempty"`
}

// MAPResponse is the posterior mode estimate and its log-density.
type MAPResponse struct {
	Model   string    `json:"model"`
	Seed    uint64    `json:"seed"`
	Theta   []float64 `json:"theta"`
	LogProb float64   `json:"log_prob"`
}

// AppendSampleResponse appends the SampleResponse of res, as JSON and a
// newline, to dst: the body of the sample route, and the JSON output of
// amortize-infer sample. It is written by hand, for speed on the hot route;
// θ values are formatted as the float32 numbers they are, in the fewest
// digits that read back exactly.
func AppendSampleResponse(dst []byte, model string, seed uint64, res []*posterior.Samples) []byte {
	n := 0
	if len(res) > 0 {
		n, _ = res[0].Theta.Dims()
	}
	b := append(dst, `{"model":`...)
	b = appendString(b, model)
	b = append(b, `,"seed":`...)
	b = strconv.AppendUint(b, seed, 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"results":[`...)
	for i, r := range res {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"acceptance":`...)
		b = appendFloat(b, r.Acceptance, 64)
		b = append(b, `,"proposed":`...)
		b = strconv.AppendInt(b, int64(r.Proposed), 10)
		if len(r.Extrapolating) > 0 {
			b = append(b, `,"extrapolating":[`...)
			for j, e := range r.Extrapolating {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(e), 10)
			}
			b = append(b, ']')
		}
		b = append(b, `,"samples":[`...)
		rows, _ := r.Theta.Dims()
		for k := range rows {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendFloats(b, r.Theta.RawRowView(k), 32)
		}
		b = append(b, ']')
		if r.Convergence != nil {
			b = append(b, `,"convergence":`...)
			b = appendConvergence(b, r.Convergence)
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// AppendLogProbResponse appends the LogProbResponse of lp, as JSON and a
// newline, to dst: the body of the log_prob route. seed is written when
// not nil (the leakage correction drew samples).
func AppendLogProbResponse(dst []byte, model string, lp []float64, seed *uint64) []byte {
	b := append(dst, `{"model":`...)
	b = appendString(b, model)
	b = append(b, `,"log_prob":`...)
	b = appendFloats(b, lp, 64)
	if seed != nil {
		b = append(b, `,"seed":`...)
		b = strconv.AppendUint(b, *seed, 10)
	}
	return append(b, "}\n"...)
}

// appendConvergence writes c as the JSON Convergence object.
func appendConvergence(b []byte, c *posterior.Convergence) []byte {
	b = append(b, `{"sampler":`...)
	b = appendString(b, c.Method)
	for _, f := range []struct {
		name string
		v    int
	}{{"chains", c.Chains}, {"warmup", c.Warmup}, {"thin", c.Thin}, {"draws", c.Draws}} {
		b = append(b, `,"`...)
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(f.v), 10)
	}
	b = append(b, `,"rhat":`...)
	b = appendFloats(b, c.RHat, 64)
	b = append(b, `,"ess":`...)
	b = appendFloats(b, c.ESS, 64)
	if c.Method == posterior.MethodEnsemble {
		b = append(b, `,"acceptance":`...)
		b = appendFloat(b, c.Acceptance, 64)
	} else {
		b = append(b, `,"evals_per_step":`...)
		b = appendFloat(b, c.EvalsPerStep, 64)
	}
	if c.Warning != "" {
		b = append(b, `,"warning":`...)
		b = appendString(b, c.Warning)
	}
	return append(b, '}')
}

// appendFloat writes v with the fewest digits that read back as the same
// value of the given bit size; a non-finite v, which JSON cannot carry,
// becomes null (log-probabilities outside the prior support are -Inf).
func appendFloat(b []byte, v float64, bits int) []byte {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, bits)
}

// appendFloats writes v as a JSON array.
func appendFloats(b []byte, v []float64, bits int) []byte {
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, f, bits)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}
