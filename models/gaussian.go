package models

import (
	"fmt"
	"math"
)

// gaussian is the simplest amortised posterior: a multilayer perceptron maps x
// to the mean μ and log-variance log σ² of a Gaussian with diagonal
// covariance, q(θ|x) = Π_i N(θ_i; μ_i(x), σ_i²(x)).
//
// Its sizes are those sbi uses for its MLPs: two hidden layers of 50 ReLU
// units.
type gaussian struct {
	spec Spec
	net  hiddenNet
}

func init() {
	register("gaussian", func(s *Spec) {
		s.Hidden = 50
		s.Layers = 2
		s.Activation = "relu"
	}, newGaussian)
}

func newGaussian(s Spec) (Estimator, error) {
	if s.Components != 0 || s.Transforms != 0 || s.Bins != 0 || s.TailBound != 0 {
		return nil, fmt.Errorf("models: gaussian takes no components, transforms, bins or tail bound, got %d, %d, %d and %v",
			s.Components, s.Transforms, s.Bins, s.TailBound)
	}
	return &gaussian{spec: s, net: hiddenNet{in: s.CondDim(), hidden: s.Hidden, layers: s.Layers, activation: s.Activation}}, nil
}

func (e *gaussian) Spec() Spec { return e.spec }

func (e *gaussian) Params() []ParamSpec {
	return append(e.net.params(), LinearParams("out", e.spec.Hidden, 2*e.spec.InDim())...)
}

func (e *gaussian) Noise() (normal, uniform int) { return e.spec.InDim(), 0 }

// moments is μ [N,D] and log σ² [N,D]. One output layer feeds both, so the
// graph has one GEMM where two heads would need two.
func (e *gaussian) moments(o Ops, x Tensor) (mu, logVar Tensor) {
	d := e.spec.InDim()
	out := Linear(o, e.net.apply(o, x), "out")
	return o.Slice(out, 0, d), o.Slice(out, d, 2*d)
}

// LogProb is Σ_i −½[log 2π + log σ_i² + (θ_i − μ_i)²/σ_i²].
func (e *gaussian) LogProb(o Ops, theta, x Tensor) Tensor {
	mu, logVar := e.moments(o, x)
	sq := o.Mul(o.Square(o.Sub(theta, mu)), o.Exp(o.Neg(logVar)))
	d := float64(e.spec.InDim())
	return o.Sub(o.Mul(o.Scalar(-0.5), o.SumCols(o.Add(sq, logVar))), o.Scalar(0.5*d*math.Log(2*math.Pi)))
}

// Sample is θ = μ + σ ε, whose log-density is log N(ε; 0, I) − Σ log σ.
func (e *gaussian) Sample(o Ops, noise, x Tensor) (theta, logProb Tensor) {
	mu, logVar := e.moments(o, x)
	theta = o.Add(mu, o.Mul(o.Exp(o.Mul(o.Scalar(0.5), logVar)), noise))
	logProb = o.Sub(StdNormalLogProb(o, noise), o.Mul(o.Scalar(0.5), o.SumCols(logVar)))
	return theta, logProb
}

// hiddenNet is the multilayer perceptron between x and the output heads of
// the gaussian and mdn kinds (sbi's hidden_net): layers linear layers of
// hidden units, each followed by the activation.
type hiddenNet struct {
	in, hidden, layers int
	activation         string
}

func (n hiddenNet) name(l int) string { return fmt.Sprintf("hidden%d", l) }

func (n hiddenNet) params() []ParamSpec {
	var ps []ParamSpec
	in := n.in
	for l := range n.layers {
		ps = append(ps, LinearParams(n.name(l), in, n.hidden)...)
		in = n.hidden
	}
	return ps
}

func (n hiddenNet) apply(o Ops, x Tensor) Tensor {
	h := x
	for l := range n.layers {
		h = Activate(o, Linear(o, h, n.name(l)), n.activation)
	}
	return h
}
