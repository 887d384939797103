package models

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// mdn is sbi's mixture density network (build_mdn, MultivariateGaussianMDN):
// a multilayer perceptron maps x to a mixture of K full-covariance Gaussians,
//
//	q(θ|x) = Σ_k w_k N(θ; μ_k, (U_kᵀU_k)⁻¹),
//
// with w = softmax(logits) and U_k upper triangular: softplus on its diagonal,
// unconstrained above it. log N(θ; μ, (UᵀU)⁻¹) = −D/2 log 2π + Σ log diag U −
// ½‖U(θ−μ)‖², so neither density nor sampling needs a matrix inverse.
//
// sbi adds ε = 10⁻⁴ to the diagonal of the precision UᵀU, yet uses Σ log diag U
// as its log-determinant and U alone for sampling, so its density is off by
// O(ε) and its sampler draws from a slightly different distribution. Here ε
// is added to the diagonal of U instead: the bound away from singular
// precision is kept, and density, normaliser and sampler agree exactly. sbi's
// initial diagonal bias softplus⁻¹(1−ε) then starts U at exactly I.
//
// The per-component work runs on N·K rows of D columns (Reshape), so the
// graph does not grow with K; only the back-substitution of sampling is
// unrolled over the D dimensions.
type mdn struct {
	spec Spec
	net  hiddenNet
	k, d int
	// pairs is the number of entries above the diagonal, D(D−1)/2, stored in
	// numpy's triu_indices(D, 1) order as sbi stores them.
	pairs int

	tile    []float64 // [D, K·D]: K copies of I_D, repeating θ per component
	pickCol []float64 // [D, pairs]: pair (i,j) reads δ_j
	pickRow []float64 // [pairs, D]: pair (i,j) adds into row i
	sumK    []float64 // [K·D, D]: sums the K blocks of D columns
	edge    []float64 // [1, K]: lifts the last upper edge past any u ≤ 1
}

// mdnEpsilon bounds the diagonal of the precision factors below (sbi's epsilon).
const mdnEpsilon = 1e-4

func init() {
	register("mdn", func(s *Spec) {
		s.Hidden = 50
		s.Layers = 2
		s.Components = 10
		s.Activation = "relu"
	}, newMDN)
}

func newMDN(s Spec) (Estimator, error) {
	if s.Transforms != 0 || s.Bins != 0 || s.TailBound != 0 {
		return nil, fmt.Errorf("models: mdn takes no transforms, bins or tail bound, got %d, %d and %v", s.Transforms, s.Bins, s.TailBound)
	}
	k, d := s.Components, s.InDim()
	e := &mdn{
		spec:  s,
		net:   hiddenNet{in: s.CondDim(), hidden: s.Hidden, layers: s.Layers, activation: s.Activation},
		k:     k,
		d:     d,
		pairs: d * (d - 1) / 2,
		tile:  make([]float64, d*k*d),
		sumK:  make([]float64, k*d*d),
		edge:  make([]float64, k),
	}
	for c := range k {
		for j := range d {
			e.tile[j*k*d+c*d+j] = 1
			e.sumK[(c*d+j)*d+j] = 1
		}
	}
	e.edge[k-1] = 1
	e.pickCol = make([]float64, d*e.pairs)
	e.pickRow = make([]float64, e.pairs*d)
	p := 0
	for i := range d {
		for j := i + 1; j < d; j++ {
			e.pickCol[j*e.pairs+p] = 1
			e.pickRow[p*d+i] = 1
			p++
		}
	}
	return e, nil
}

func (e *mdn) Spec() Spec { return e.spec }

// Params follows sbi's custom_initialization: near-uniform weights, precision
// factors near the identity, PyTorch's default for the means and hidden net.
func (e *mdn) Params() []ParamSpec {
	h := e.spec.Hidden
	ps := e.net.params()
	ps = append(ps, withInit(LinearParams("logits", h, e.k), normalInit(mdnEpsilon), normalInit(mdnEpsilon))...)
	ps = append(ps, LinearParams("means", h, e.k*e.d)...)
	ps = append(ps, withInit(LinearParams("diag", h, e.k*e.d), normalInit(mdnEpsilon), Constant(softplusInverse(1-mdnEpsilon)))...)
	if e.pairs > 0 {
		ps = append(ps, withInit(LinearParams("upper", h, e.k*e.pairs), normalInit(mdnEpsilon), nil)...)
	}
	return ps
}

// Noise is D standard normals for the Gaussian draw and one uniform for the
// choice of component.
func (e *mdn) Noise() (normal, uniform int) { return e.d, 1 }

// mixture holds the mixture parameters for a batch, per component on N·K rows
// (row n·K+k is component k of row n).
type mixture struct {
	logW  Tensor // [N, K] log weights
	means Tensor // [N·K, D]
	diag  Tensor // [N·K, D] diagonal of U, ≥ ε
	upper Tensor // [N·K, pairs] above the diagonal of U; nil when D = 1
}

func (e *mdn) mixture(o Ops, x Tensor) mixture {
	h := e.net.apply(o, x)
	m := mixture{
		logW:  LogSoftmax(o, Linear(o, h, "logits")),
		means: o.Reshape(Linear(o, h, "means"), e.d),
		diag:  o.Reshape(o.Add(Softplus(o, Linear(o, h, "diag")), o.Scalar(mdnEpsilon)), e.d),
	}
	if e.pairs > 0 {
		m.upper = o.Reshape(Linear(o, h, "upper"), e.pairs)
	}
	return m
}

// perComponent repeats each row of a [N,D] tensor for the K components → [N·K, D].
func (e *mdn) perComponent(o Ops, a Tensor) Tensor {
	return o.Reshape(o.MatMul(a, o.Const(e.d, e.k*e.d, e.tile)), e.d)
}

// logProb is LogSumExp_k [log w_k + log N(θ; μ_k, (U_kᵀU_k)⁻¹)] → [N,1].
func (e *mdn) logProb(o Ops, m mixture, theta Tensor) Tensor {
	delta := o.Sub(e.perComponent(o, theta), m.means)
	ud := o.Mul(m.diag, delta)
	if m.upper != nil {
		// (Uδ)_i = diag_i δ_i + Σ_{j>i} U_ij δ_j, one column per pair (i,j).
		prod := o.Mul(m.upper, o.MatMul(delta, o.Const(e.d, e.pairs, e.pickCol)))
		ud = o.Add(ud, o.MatMul(prod, o.Const(e.pairs, e.d, e.pickRow)))
	}
	comp := o.Sub(o.SumCols(o.Log(m.diag)), o.Mul(o.Scalar(0.5), o.SumCols(o.Square(ud))))
	lse := LogSumExp(o, o.Add(m.logW, o.Reshape(comp, e.k)))
	return o.Sub(lse, o.Scalar(0.5*float64(e.d)*math.Log(2*math.Pi)))
}

func (e *mdn) LogProb(o Ops, theta, x Tensor) Tensor {
	return e.logProb(o, e.mixture(o, x), theta)
}

// choose is the one-hot [N,K] of the component whose interval
// [c_k, c_{k+1}) of the cumulative weights holds u [N,1] (inverse CDF). The
// last upper edge is lifted by 1 so that rounding in the cumulative sum
// never leaves a u near 1 without a component.
func (e *mdn) choose(o Ops, logW, u Tensor) Tensor {
	cum := CumSum(o, o.Exp(logW), true)
	lower := o.Slice(cum, 0, e.k)
	upper := o.Add(o.Slice(cum, 1, e.k+1), o.Const(1, e.k, e.edge))
	return o.Sub(o.Step(u, lower), o.Step(u, upper))
}

// Sample draws a component by inverse CDF from the uniform column and maps
// the normal columns ε through θ = μ_k + U_k⁻¹ε. The triangular solve runs
// for every component at once on the N·K rows, which costs the same graph as
// gathering U_k first would, and the one-hot then keeps the chosen one.
func (e *mdn) Sample(o Ops, noise, x Tensor) (theta, logProb Tensor) {
	m := e.mixture(o, x)
	eps := e.perComponent(o, o.Slice(noise, 0, e.d))
	onehot := e.choose(o, m.logW, o.Slice(noise, e.d, e.d+1))

	// Back-substitution, last dimension first: solved holds x_i … x_{D−1}.
	last := e.d - 1
	solved := o.Div(o.Slice(eps, last, e.d), o.Slice(m.diag, last, e.d))
	for i := last - 1; i >= 0; i-- {
		from := i*(e.d-1) - i*(i-1)/2 // first pair of row i
		s := o.SumCols(o.Mul(o.Slice(m.upper, from, from+last-i), solved))
		xi := o.Div(o.Sub(o.Slice(eps, i, i+1), s), o.Slice(m.diag, i, i+1))
		solved = o.Concat(xi, solved)
	}
	picked := o.Mul(o.Add(m.means, solved), o.Reshape(onehot, 1))
	theta = o.MatMul(o.Reshape(picked, e.k*e.d), o.Const(e.k*e.d, e.d, e.sumK))
	return theta, e.logProb(o, m, theta)
}

// normalInit initialises from N(0, std²), as torch.nn.init.normal_ does.
func normalInit(std float64) Init {
	return func(dst []float64, rng *rand.Rand) {
		for i := range dst {
			dst[i] = std * rng.NormFloat64()
		}
	}
}

// withInit replaces the initialisers of a LinearParams pair.
func withInit(ps []ParamSpec, w, b Init) []ParamSpec {
	ps[0].Init, ps[1].Init = w, b
	return ps
}

// softplusInverse is log(eʸ − 1), the x with softplus(x) = y.
func softplusInverse(y float64) float64 { return math.Log(math.Expm1(y)) }
