package models

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/amortize/amortize/format"
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
	Method     string          `json:"method"` // npe, nle, nre: Spec.MethodName()
	// Loss is how the model was trained (nil for NPE models of format 1.0).
	Loss    *Loss   `json:"loss,omitempty"`
	Summary Summary `json:"summary"`
}

// Summary records how a model was trained; the model file carries it.
type Summary = format.Training

// Estimator rebuilds the model's density estimator (NPE, NLE) and checks
// that the weights and z-score statistics match it: the check every
// consumer of a Model needs.
func (m *Model) Estimator() (Estimator, error) {
	if m.Spec.Method == MethodNRE {
		return nil, fmt.Errorf("%w: an nre model is a classifier, not a density estimator", ErrMethod)
	}
	e, err := New(m.Spec)
	if err != nil {
		return nil, err
	}
	return e, m.check(e)
}

// Classifier rebuilds the model's ratio estimator (NRE) and checks it as
// Estimator does.
func (m *Model) Classifier() (Classifier, error) {
	c, err := NewClassifier(m.Spec)
	if err != nil {
		return nil, err
	}
	return c, m.check(c)
}

// Network is the model's estimator or classifier, checked.
func (m *Model) Network() (Network, error) {
	if m.Spec.Method == MethodNRE {
		return m.Classifier()
	}
	return m.Estimator()
}

func (m *Model) check(e Network) error {
	if m.Method != m.Spec.MethodName() {
		return fmt.Errorf("%w: model method %q but spec method %q", ErrMethod, m.Method, m.Spec.MethodName())
	}
	for _, p := range e.Params() {
		w, ok := m.Weights[p.Name]
		if !ok {
			return fmt.Errorf("models: weights lack parameter %q", p.Name)
		}
		if len(w) != p.Size() {
			return fmt.Errorf("models: parameter %q has %d values, want %d×%d", p.Name, len(w), p.Rows, p.Cols)
		}
		for i, v := range w {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("models: parameter %q[%d] is %v", p.Name, i, v)
			}
		}
	}
	if len(m.Weights) != len(e.Params()) {
		return fmt.Errorf("models: %d weight tensors for %d parameters", len(m.Weights), len(e.Params()))
	}
	if err := checkStats("theta", m.ThetaMean, m.ThetaStd, m.Spec.ThetaDim); err != nil {
		return err
	}
	return checkStats("x", m.XMean, m.XStd, m.Spec.XDim)
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

// LogJacobian is Σ log std of the density's variable (θ for NPE, x for
// NLE): the density of the raw variable is the density of its z-score
// minus this.
func (m *Model) LogJacobian() float64 {
	std := m.ThetaStd
	if m.Spec.Method == MethodNLE {
		std = m.XStd
	}
	var s float64
	for _, v := range std {
		s += math.Log(v)
	}
	return s
}

// roles returns the density variable's and the condition's z-scores.
func (m *Model) roles() (inMean, inStd, condMean, condStd []float64) {
	if m.Spec.Method == MethodNLE {
		return m.XMean, m.XStd, m.ThetaMean, m.ThetaStd
	}
	return m.ThetaMean, m.ThetaStd, m.XMean, m.XStd
}

// LogProb is the density in raw units → [N,1], z-score Jacobian included:
// log q(θ|x) for NPE, log q(x|θ) for NLE.
func (m *Model) LogProb(o Ops, e Estimator, theta, x Tensor) Tensor {
	zt := Standardize(o, theta, m.ThetaMean, m.ThetaStd)
	zx := Standardize(o, x, m.XMean, m.XStd)
	if m.Spec.Method == MethodNLE {
		zt, zx = zx, zt
	}
	return o.Sub(e.LogProb(o, zt, zx), o.Scalar(m.LogJacobian()))
}

// Sample maps noise and the raw condition (x for NPE, θ for NLE) to a raw
// draw of the density's variable and its log-density → ([N,InDim], [N,1]).
func (m *Model) Sample(o Ops, e Estimator, noise, cond Tensor) (draw, logProb Tensor) {
	inMean, inStd, condMean, condStd := m.roles()
	z, lp := e.Sample(o, noise, Standardize(o, cond, condMean, condStd))
	return Unstandardize(o, z, inMean, inStd), o.Sub(lp, o.Scalar(m.LogJacobian()))
}

// LogRatio is an NRE classifier's logit for raw θ and x → [N,1].
func (m *Model) LogRatio(o Ops, c Classifier, theta, x Tensor) Tensor {
	return c.Logit(o, Standardize(o, theta, m.ThetaMean, m.ThetaStd), Standardize(o, x, m.XMean, m.XStd))
}
