package models

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/amortize/amortize/export/format"
)

// Model is a trained estimator: its spec, weights and the z-scoring it was
// trained with. It is what the trainer produces and the exporter consumes.
type Model struct {
	Spec Spec `json:"spec"`
	// Weights holds every parameter of Spec's estimator, row-major float32.
	Weights map[string][]float32 `json:"weights"`

	ThetaMean []float64 `json:"theta_mean"`
	ThetaStd  []float64 `json:"theta_std"`
	XMean     []float64 `json:"x_mean"`
	XStd      []float64 `json:"x_std"`

	ThetaNames []string        `json:"theta_names"`
	XNames     []string        `json:"x_names"`
	Prior      json.RawMessage `json:"prior,omitempty"`
	Method     string          `json:"method"` // npe
	Summary    Summary         `json:"summary"`
}

// Summary records how a model was trained; the model file carries it.
type Summary = format.Training

// Estimator rebuilds the model's estimator and checks that the weights and
// z-score statistics match it: the check every consumer of a Model needs.
func (m *Model) Estimator() (Estimator, error) {
	e, err := New(m.Spec)
	if err != nil {
		return nil, err
	}
	for _, p := range e.Params() {
		w, ok := m.Weights[p.Name]
		if !ok {
			return nil, fmt.Errorf("models: weights lack parameter %q", p.Name)
		}
		if len(w) != p.Size() {
			return nil, fmt.Errorf("models: parameter %q has %d values, want %d×%d", p.Name, len(w), p.Rows, p.Cols)
		}
		for i, v := range w {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("models: parameter %q[%d] is %v", p.Name, i, v)
			}
		}
	}
	if len(m.Weights) != len(e.Params()) {
		return nil, fmt.Errorf("models: %d weight tensors for %d parameters", len(m.Weights), len(e.Params()))
	}
	if err := checkStats("theta", m.ThetaMean, m.ThetaStd, m.Spec.ThetaDim); err != nil {
		return nil, err
	}
	if err := checkStats("x", m.XMean, m.XStd, m.Spec.XDim); err != nil {
		return nil, err
	}
	return e, nil
}

func checkStats(what string, mean, std []float64, dim int) error {
	if len(mean) != dim || len(std) != dim {
		return fmt.Errorf("models: %s z-score has %d means and %d stds, want %d", what, len(mean), len(std), dim)
	}
	for i := range dim {
		if math.IsNaN(mean[i]) || math.IsInf(mean[i], 0) || !(std[i] > 0) || math.IsInf(std[i], 0) {
			return fmt.Errorf("models: %s z-score %d is mean %v std %v", what, i, mean[i], std[i])
		}
	}
	return nil
}

// Standardize maps raw columns to z-scores: (v − mean) / std.
func Standardize(o Ops, v Tensor, mean, std []float64) Tensor {
	d := len(mean)
	inv := make([]float64, d)
	for i, s := range std {
		inv[i] = 1 / s
	}
	return o.Mul(o.Sub(v, o.Const(1, d, mean)), o.Const(1, d, inv))
}

// Unstandardize maps z-scores back to raw columns.
func Unstandardize(o Ops, z Tensor, mean, std []float64) Tensor {
	d := len(mean)
	return o.Add(o.Mul(z, o.Const(1, d, std)), o.Const(1, d, mean))
}

// logJacobian is Σ log std_θ: the density of raw θ is the density of its
// z-score minus this.
func (m *Model) logJacobian() float64 {
	var s float64
	for _, v := range m.ThetaStd {
		s += math.Log(v)
	}
	return s
}

// LogProb is log q(θ|x) in raw units → [N,1], z-score Jacobian included.
func (m *Model) LogProb(o Ops, e Estimator, theta, x Tensor) Tensor {
	zt := Standardize(o, theta, m.ThetaMean, m.ThetaStd)
	zx := Standardize(o, x, m.XMean, m.XStd)
	return o.Sub(e.LogProb(o, zt, zx), o.Scalar(m.logJacobian()))
}

// Sample maps noise and raw x to raw θ and its log q(θ|x) → ([N,D], [N,1]).
func (m *Model) Sample(o Ops, e Estimator, noise, x Tensor) (theta, logProb Tensor) {
	zx := Standardize(o, x, m.XMean, m.XStd)
	zt, lp := e.Sample(o, noise, zx)
	return Unstandardize(o, zt, m.ThetaMean, m.ThetaStd), o.Sub(lp, o.Scalar(m.logJacobian()))
}
