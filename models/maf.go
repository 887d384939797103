package models

import "fmt"

// maf is sbi's masked autoregressive flow (build_maf): Transforms affine
// autoregressive transforms, each conditioned by its own MADE (made.go), with
// a standard normal base.
//
// A transform maps y to z_i = y_i·s_i + t_i, where the MADE computes s_i and
// t_i from y_1 … y_{i−1} and x, and s = softplus(u) + 10⁻³ as nflows'
// MaskedAffineAutoregressiveTransform does; its log|det| is Σ log s_i.
//
// sbi puts a RandomPermutation after every transform. This flow reverses the
// columns between consecutive transforms instead, so that a model does not
// depend on a random draw, and it drops sbi's trailing permutation, which
// leaves a standard normal unchanged. The reversal is a product with a
// constant permutation matrix: one small GEMM, where a column-by-column
// Slice and Concat would be D+1 graph nodes.
type maf struct {
	spec  Spec
	mades []*made
	// reverse is the [D,D] permutation matrix; nil when D = 1.
	reverse []float64
}

// mafEpsilon bounds the scale below, as nflows' _epsilon does.
const mafEpsilon = 1e-3

func init() {
	register("maf", func(s *Spec) {
		s.Hidden = 50
		s.Layers = 2
		s.Transforms = 5
		s.Activation = "tanh"
	}, newMAF)
}

func newMAF(s Spec) (Estimator, error) {
	if s.Components != 0 || s.Bins != 0 || s.TailBound != 0 {
		return nil, fmt.Errorf("models: maf takes no components, bins or tail bound, got %d, %d and %v", s.Components, s.Bins, s.TailBound)
	}
	e := &maf{spec: s}
	for t := range s.Transforms {
		e.mades = append(e.mades, newMADE(fmt.Sprintf("maf%d", t), s.InDim(), s.CondDim(), s.Hidden, s.Layers, s.Activation))
	}
	if d := s.InDim(); d > 1 {
		e.reverse = make([]float64, d*d)
		for i := range d {
			e.reverse[i*d+d-1-i] = 1
		}
	}
	return e, nil
}

func (e *maf) Spec() Spec { return e.spec }

func (e *maf) Params() []ParamSpec {
	var ps []ParamSpec
	for _, m := range e.mades {
		ps = append(ps, m.params()...)
	}
	return ps
}

func (e *maf) Noise() (normal, uniform int) { return e.spec.InDim(), 0 }

// permute reverses the columns; the reversal is its own inverse.
func (e *maf) permute(o Ops, y Tensor) Tensor {
	if e.reverse == nil {
		return y
	}
	d := e.spec.InDim()
	return o.MatMul(y, o.Const(d, d, e.reverse))
}

// mafScale is softplus(u) + ε.
func mafScale(o Ops, u Tensor) Tensor {
	return o.Add(Softplus(o, u), o.Scalar(mafEpsilon))
}

// Forward maps θ to the base variable z with one MADE pass per transform and
// returns z [N,D] and log|det ∂z/∂θ| [N,1].
func (e *maf) Forward(o Ops, theta, x Tensor) (z, logDet Tensor) {
	y := theta
	for t, m := range e.mades {
		if t > 0 {
			y = e.permute(o, y)
		}
		u, shift := m.bind(o, x).params(o, y)
		s := mafScale(o, u)
		y = o.Add(o.Mul(y, s), shift)
		logDet = mafAddLogDet(o, logDet, o.SumCols(o.Log(s)))
	}
	return y, logDet
}

func mafAddLogDet(o Ops, sum, term Tensor) Tensor {
	if sum == nil {
		return term
	}
	return o.Add(sum, term)
}

func (e *maf) LogProb(o Ops, theta, x Tensor) Tensor {
	z, logDet := e.Forward(o, theta, x)
	return o.Add(StdNormalLogProb(o, z), logDet)
}

// Sample inverts the transforms last to first. Inverting one takes D MADE
// passes, unrolled: pass k sees coordinates 1 … k−1 already right, so it gets
// coordinate k right too. The last pass's scales are exact for every
// coordinate and give the log-determinant.
func (e *maf) Sample(o Ops, noise, x Tensor) (theta, logProb Tensor) {
	var logDet Tensor
	y := noise
	for t := len(e.mades) - 1; t >= 0; t-- {
		net := e.mades[t].bind(o, x)
		var cur, s Tensor // cur nil: the first pass sees zeros
		for range e.spec.InDim() {
			u, shift := net.params(o, cur)
			s = mafScale(o, u)
			cur = o.Div(o.Sub(y, shift), s)
		}
		logDet = mafAddLogDet(o, logDet, o.SumCols(o.Log(s)))
		y = cur
		if t > 0 {
			y = e.permute(o, y)
		}
	}
	return y, o.Add(StdNormalLogProb(o, noise), logDet)
}
