package serve

import (
	"encoding/json"

	"github.com/amortize/amortize/export/format"
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
	Inputs        []Tensor        `json:"inputs"`
	Outputs       []Tensor        `json:"outputs"`
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
	return ModelInfo{
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
		Inputs: []Tensor{
			t(format.InputX, "batch", xd),
			t(format.InputTheta, "batch", "n_theta", d),
			t(format.InputNoise, "batch", "n_samples", nd),
		},
		Outputs: []Tensor{
			t(format.OutputLogProb, "batch", "n_theta"),
			t(format.OutputSample, "batch", "n_samples", d),
			t(format.OutputSampleLog, "batch", "n_samples"),
		},
	}
}
