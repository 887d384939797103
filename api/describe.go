package api

import (
	"encoding/json"

	"github.com/amortize/amortize/format"
)

// ModelInfo describes a model file: its tensor contract and its metadata.
// It is the body of GET /v1/models/{name} and of `amortize-infer inspect --json`.
type ModelInfo struct {
	Name          string          `json:"name"`
	FormatVersion string          `json:"format_version"`
	Method        string          `json:"method"`
	Estimator     string          `json:"estimator"`
	Spec          json.RawMessage `json:"spec"`
	ThetaDim      int             `json:"theta_dim"`
	XDim          int             `json:"x_dim"`
	ThetaNames    []string        `json:"theta_names"`
	XNames        []string        `json:"x_names"`
	Prior         json.RawMessage `json:"prior"` // null when the file has none
	ZScore        format.ZScore   `json:"zscore"`
	Noise         format.Noise    `json:"noise"`
	Training      format.Training `json:"training"`
	Loss          json.RawMessage `json:"loss,omitempty"` // format 1.1, nle and nre files
	// Sampling lists the sample route's methods for this model, its
	// default first: "direct" and "mcmc" for npe, "mcmc" alone for nle
	// and nre, whose files hold a likelihood or a ratio, not a posterior
	// (their log_prob and map routes answer 400).
	Sampling []string `json:"sampling"`
	Inputs   []Tensor `json:"inputs"`
	Outputs  []Tensor `json:"outputs"`
}

// Tensor is one input or output of the graph. Shape holds an int for a
// fixed axis and the axis name for a dynamic one.
type Tensor struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Shape []any  `json:"shape"`
}

// Describe returns the description of a model file's metadata under name.
func Describe(name string, m *format.Metadata) ModelInfo {
	prior := m.Prior
	if len(prior) == 0 {
		prior = json.RawMessage("null")
	}
	spec := m.Spec
	if len(spec) == 0 {
		spec = json.RawMessage("null")
	}
	t := func(name string, shape ...any) Tensor { return Tensor{Name: name, Type: "float32", Shape: shape} }
	d, xd, nd := m.ThetaDim, m.XDim, m.Noise.Dim()
	l := m.Layout()
	n := "n_" + l.Values // n_theta (npe, nre) or n_x (nle), as the exporter names the axis
	info := ModelInfo{
		Name:          name,
		FormatVersion: m.FormatVersion,
		Method:        m.Method,
		Estimator:     m.Estimator,
		Spec:          spec,
		ThetaDim:      d,
		XDim:          xd,
		ThetaNames:    m.ThetaNames,
		XNames:        m.XNames,
		Prior:         prior,
		ZScore:        m.ZScore,
		Noise:         m.Noise,
		Training:      m.Training,
		Loss:          m.Loss,
		Sampling:      samplingMethods(m.Method),
		Inputs:        []Tensor{t(l.Cond, "batch", l.CondDim), t(l.Values, "batch", n, l.ValueDim)},
		Outputs:       []Tensor{t(l.LogOut, "batch", n)},
	}
	if l.Sampling {
		info.Inputs = append(info.Inputs, t(format.InputNoise, "batch", "n_samples", nd))
		info.Outputs = append(info.Outputs, t(format.OutputSample, "batch", "n_samples", l.ValueDim), t(format.OutputSampleLog, "batch", "n_samples"))
	}
	return info
}

// The sample route's methods, as ModelInfo.Sampling lists them.
const (
	SamplingDirect = "direct"
	SamplingMCMC   = "mcmc"
)

// samplingMethods are the methods a model of the given file method may
// be sampled with, its default first.
func samplingMethods(method string) []string {
	if method == format.MethodNPE {
		return []string{SamplingDirect, SamplingMCMC}
	}
	return []string{SamplingMCMC}
}
