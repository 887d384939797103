package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

func init() { register("nsf", nsfDefaults, newNSF) }

// nsfDefaults are the defaults of sbi's build_nsf.
func nsfDefaults(s *Spec) {
	s.Hidden, s.Layers, s.Activation = 50, 2, "relu"
	s.Transforms, s.Bins, s.TailBound = 5, 10, 3
}

// luEps is the floor nflows' LULinear adds to the diagonal of U.
const luEps = 1e-3

// ErrSpline is returned for a spline that cannot be built: too few or too
// many bins, or a tail bound that is not a positive number.
var ErrSpline = errors.New("models: invalid spline")

// nsf is the neural spline flow of sbi's build_nsf (Durkan et al., 2019):
// Transforms rational-quadratic coupling layers with linear tails on
// [−TailBound, TailBound], each followed, when θ has more than one
// dimension, by an LU-parameterised linear map started at the identity.
//
// Layer t transforms the dimensions of θ whose index has the parity of t
// and keeps the others. Its conditioner is nflows' ResidualNet from the kept
// dimensions and x: a linear layer to Hidden units, Layers pre-activation
// residual blocks whose output is gated by a sigmoid of x, and a linear
// layer to 3·Bins−1 spline parameters per transformed dimension; widths and
// heights are divided by √Hidden as nflows' coupling transform does. For
// one-dimensional θ nothing can be kept, so, as in sbi, the spline
// parameters come from x alone through a net of two hidden layers
// (ContextSplineMap); Layers is then unused. Both nets use Activation,
// which sbi fixes at relu.
//
// Parameters follow nflows' layout, with weights stored [in,out]: per layer
// t, "t<t>.in", "t<t>.b<b>.ctx", "t<t>.b<b>.l0", "t<t>.b<b>.l1" and
// "t<t>.out" (ContextSplineMap: "t<t>.in", "t<t>.hidden", "t<t>.out"), and
// for the LU map "t<t>.lu.lower" and "t<t>.lu.upper" (the strict triangles,
// row by row), "t<t>.lu.diag" (U's diagonal before softplus) and
// "t<t>.lu.bias".
type nsf struct {
	spec   Spec
	spline SplineConfig
	params []ParamSpec
}

var _ Estimator = (*nsf)(nil)

func newNSF(s Spec) (Estimator, error) {
	if s.Bins < 2 || float64(s.Bins)*DefaultMinBinWidth > 1 {
		return nil, fmt.Errorf("%w: %d bins, want 2 to %d", ErrSpline, s.Bins, int(1/DefaultMinBinWidth))
	}
	if !(s.TailBound > 0) || math.IsInf(s.TailBound, 0) {
		return nil, fmt.Errorf("%w: tail bound %v, want a positive number", ErrSpline, s.TailBound)
	}
	n := &nsf{
		spec: s,
		spline: SplineConfig{
			Bins:          s.Bins,
			TailBound:     s.TailBound,
			MinBinWidth:   DefaultMinBinWidth,
			MinBinHeight:  DefaultMinBinHeight,
			MinDerivative: DefaultMinDerivative,
		},
	}
	n.params = n.declare()
	return n, nil
}

func (n *nsf) declare() []ParamSpec {
	s := n.spec
	h, d, out := s.Hidden, s.InDim(), 3*s.Bins-1
	var ps []ParamSpec
	for t := range s.Transforms {
		p := fmt.Sprintf("t%d.", t)
		if d == 1 {
			ps = append(ps, LinearParams(p+"in", s.CondDim(), h)...)
			ps = append(ps, LinearParams(p+"hidden", h, h)...)
			ps = append(ps, LinearParams(p+"out", h, out)...)
			continue
		}
		kept, moved := nsfMask(d, t)
		ps = append(ps, LinearParams(p+"in", len(kept)+s.CondDim(), h)...)
		for b := range s.Layers {
			q := fmt.Sprintf("%sb%d.", p, b)
			ps = append(ps, LinearParams(q+"ctx", s.CondDim(), h)...)
			ps = append(ps, LinearParams(q+"l0", h, h)...)
			// nflows starts each block near the identity.
			ps = append(ps,
				ParamSpec{Name: q + "l1.w", Rows: h, Cols: h, Init: Uniform(1e-3)},
				ParamSpec{Name: q + "l1.b", Rows: 1, Cols: h, Init: Uniform(1e-3)})
		}
		ps = append(ps, LinearParams(p+"out", h, len(moved)*out)...)
		tri := d * (d - 1) / 2
		ps = append(ps,
			ParamSpec{Name: p + "lu.lower", Rows: 1, Cols: tri},
			ParamSpec{Name: p + "lu.upper", Rows: 1, Cols: tri},
			ParamSpec{Name: p + "lu.diag", Rows: 1, Cols: d, Init: Constant(rqInvSoftplus(1 - luEps))},
			ParamSpec{Name: p + "lu.bias", Rows: 1, Cols: d})
	}
	return ps
}

// nsfMask splits 0…d−1 into the dimensions layer t keeps and those it
// transforms: sbi's alternating mask, even layers transforming even indices.
func nsfMask(d, t int) (kept, moved []int) {
	for j := range d {
		if j%2 == t%2 {
			moved = append(moved, j)
		} else {
			kept = append(kept, j)
		}
	}
	return kept, moved
}

// Spec returns the estimator's spec with defaults filled in.
func (n *nsf) Spec() Spec { return n.spec }

// Params declares the parameters, layer by layer.
func (n *nsf) Params() []ParamSpec { return slices.Clone(n.params) }

// Noise is one standard-normal column per dimension of θ.
func (n *nsf) Noise() (normal, uniform int) { return n.spec.InDim(), 0 }

// LogProb is log N(z; 0, I) + log|det ∂z/∂θ| with z the flow's image of θ.
func (n *nsf) LogProb(o Ops, theta, x Tensor) Tensor {
	z, lad := n.Forward(o, theta, x)
	return o.Add(StdNormalLogProb(o, z), lad)
}

// Sample pushes the noise through the inverse flow.
func (n *nsf) Sample(o Ops, noise, x Tensor) (theta, logProb Tensor) {
	theta, lad := n.Inverse(o, noise, x)
	return theta, o.Sub(StdNormalLogProb(o, noise), lad)
}

// Forward maps θ [N,ThetaDim] given x to the base variable z and the log
// |det ∂z/∂θ| [N,1].
func (n *nsf) Forward(o Ops, theta, x Tensor) (z, logAbsDet Tensor) {
	z = theta
	lad := newNSFLogDet(o, false)
	for t := range n.spec.Transforms {
		z = n.coupling(o, t, z, x, lad)
		if n.spec.InDim() > 1 {
			z = n.lu(o, t, z, lad)
		}
	}
	return z, lad.total()
}

// Inverse maps z [N,ThetaDim] given x back to θ and the log|det ∂θ/∂z|
// [N,1], the negative of Forward's at that θ.
func (n *nsf) Inverse(o Ops, z, x Tensor) (theta, logAbsDet Tensor) {
	theta = z
	lad := newNSFLogDet(o, true)
	for t := n.spec.Transforms - 1; t >= 0; t-- {
		if n.spec.InDim() > 1 {
			theta = n.lu(o, t, theta, lad)
		}
		theta = n.coupling(o, t, theta, x, lad)
	}
	return theta, lad.total()
}

// nsfLogDet sums the log|det| of a flow's layers in one direction: the
// splines' as they come, or, for backends implementing DeferredSplineOps,
// all at once at the end; the LU maps' apart, as they depend on the
// parameters alone.
type nsfLogDet struct {
	o        Ops
	inverse  bool
	deferred DeferredSplineOps
	dets     []SplineDet
	splines  Tensor
	lu       Tensor
}

func newNSFLogDet(o Ops, inverse bool) *nsfLogDet {
	l := &nsfLogDet{o: o, inverse: inverse}
	l.deferred, _ = o.(DeferredSplineOps)
	return l
}

func (l *nsfLogDet) total() Tensor {
	if len(l.dets) > 0 {
		l.splines = l.deferred.SplineLogDets(l.dets, l.inverse)
	}
	if l.lu == nil {
		return l.splines
	}
	return l.o.Add(l.splines, l.lu)
}

func nsfAccumulate(o Ops, sum, v Tensor) Tensor {
	if sum == nil {
		return v
	}
	return o.Add(sum, v)
}

// coupling is layer t's spline, in the direction of lad: the kept
// dimensions pass unchanged, so the conditioner sees the same input both
// ways.
func (n *nsf) coupling(o Ops, t int, z, x Tensor, lad *nsfLogDet) Tensor {
	d := n.spec.InDim()
	if d == 1 {
		return n.splines(o, z, n.contextNet(o, t, x), lad)
	}
	kept, moved := nsfMask(d, t)
	y := n.splines(o, nsfColumns(o, z, moved), n.residualNet(o, t, nsfColumns(o, z, kept), x), lad)
	cols := make([]Tensor, d)
	for i, j := range moved {
		cols[j] = o.Slice(y, i, i+1)
	}
	for _, j := range kept {
		cols[j] = o.Slice(z, j, j+1)
	}
	return o.Concat(cols...)
}

// nsfColumns gathers the listed columns of a.
func nsfColumns(o Ops, a Tensor, idx []int) Tensor {
	if len(idx) == 1 {
		return o.Slice(a, idx[0], idx[0]+1)
	}
	cols := make([]Tensor, len(idx))
	for i, j := range idx {
		cols[i] = o.Slice(a, j, j+1)
	}
	return o.Concat(cols...)
}

// splines applies one spline per column of a [N,Dt], all at once, adding
// their log|det| to lad: the conditioner's [N, Dt·(3K−1)] output is read as
// one row of parameters per (sample, dimension) pair, the row-major order
// nflows reshapes it in.
func (n *nsf) splines(o Ops, a, params Tensor, lad *nsfLogDet) Tensor {
	k := n.spec.Bins
	dt := o.Cols(a)
	p := nsfReshape(o, params, 3*k-1)
	a1, w, h, d := nsfReshape(o, a, 1), o.Slice(p, 0, k), o.Slice(p, k, 2*k), o.Slice(p, 2*k, 3*k-1)
	if lad.deferred != nil {
		y, det := lad.deferred.RQSplineDeferred(a1, w, h, d, lad.inverse, n.spline)
		for _, f := range []*Tensor{&det.Theta, &det.TwoDelta, &det.D0, &det.D1} {
			*f = nsfReshape(o, *f, dt)
		}
		lad.dets = append(lad.dets, det)
		return nsfReshape(o, y, dt)
	}
	y, l := RQSpline(o, a1, w, h, d, lad.inverse, n.spline)
	lad.splines = nsfAccumulate(o, lad.splines, o.SumCols(nsfReshape(o, l, dt)))
	return nsfReshape(o, y, dt)
}

// nsfReshape skips reshapes that would change nothing, keeping graphs small.
func nsfReshape(o Ops, a Tensor, cols int) Tensor {
	if o.Cols(a) == cols {
		return a
	}
	return o.Reshape(a, cols)
}

// residualNet is nflows' ResidualNet conditioner of layer t.
//
// Each block's context gate is its own product: computing all gates in
// one product and splitting it was 10–15% slower at 10,000 rows, the
// split copying every gate once more, for a few nodes less.
func (n *nsf) residualNet(o Ops, t int, kept, x Tensor) Tensor {
	p := fmt.Sprintf("t%d.", t)
	act := func(a Tensor) Tensor { return Activate(o, a, n.spec.Activation) }
	h := Linear(o, o.Concat(kept, x), p+"in")
	for b := range n.spec.Layers {
		q := fmt.Sprintf("%sb%d.", p, b)
		r := Linear(o, act(Linear(o, act(h), q+"l0")), q+"l1")
		// GLU of the block output with a context projection.
		h = o.Add(h, o.Mul(r, o.Sigmoid(Linear(o, x, q+"ctx"))))
	}
	return n.outLinear(o, h, p+"out")
}

// outLinear is the conditioner's last linear layer, the widths and heights
// of its output divided by √Hidden as nflows' coupling transform divides
// them. Dividing the weights rather than the output lets an exported graph
// fold the division into the constant weights.
func (n *nsf) outLinear(o Ops, h Tensor, name string) Tensor {
	k := n.spec.Bins
	w, b := o.Param(name+".w"), o.Param(name+".b")
	scale := make([]float64, o.Cols(b))
	for i := range scale {
		scale[i] = 1
		if i%(3*k-1) < 2*k {
			scale[i] = math.Sqrt(float64(n.spec.Hidden))
		}
	}
	s := o.Const(1, len(scale), scale)
	return o.Add(o.MatMul(h, o.Div(w, s)), o.Div(b, s))
}

// contextNet is sbi's ContextSplineMap of layer t: spline parameters from
// x alone, for one-dimensional θ.
func (n *nsf) contextNet(o Ops, t int, x Tensor) Tensor {
	p := fmt.Sprintf("t%d.", t)
	h := Activate(o, Linear(o, x, p+"in"), n.spec.Activation)
	h = Activate(o, Linear(o, h, p+"hidden"), n.spec.Activation)
	return n.outLinear(o, h, p+"out")
}

// lu is nflows' LULinear of layer t, y = L·U·z + bias per row, with L unit
// lower triangular and U upper triangular with diagonal softplus(·)+1e-3,
// in the direction of lad, to which it adds its log|det|, a [1,1] tensor.
//
// Both directions are a matrix product plus a bias. The matrix is the map
// applied to the identity's rows, computed from the parameters alone, so an
// exported graph folds it into a constant and pays one product per layer,
// not the d−1 sweeps of each triangle per row.
func (n *nsf) lu(o Ops, t int, z Tensor, lad *nsfLogDet) Tensor {
	p := fmt.Sprintf("t%d.lu.", t)
	d := n.spec.InDim()
	diag := o.Add(Softplus(o, o.Param(p+"diag")), o.Scalar(luEps))
	logDet := o.SumCols(o.Log(diag))
	lower := func(a Tensor) Tensor { return luStrict(o, a, o.Param(p+"lower"), d, false) }
	upper := func(a Tensor) Tensor { return luStrict(o, a, o.Param(p+"upper"), d, true) }
	eye := make([]float64, d*d)
	for i := range d {
		eye[i*d+i] = 1
	}
	id := o.Const(d, d, eye)
	bias := o.Param(p + "bias")
	if !lad.inverse {
		lad.lu = nsfAccumulate(o, lad.lu, logDet)
		u := o.Add(o.Mul(id, diag), upper(id))
		return o.Add(o.MatMul(z, o.Add(u, lower(u))), bias)
	}
	lad.lu = nsfAccumulate(o, lad.lu, o.Neg(logDet))
	// The strict triangles are nilpotent, so the sweeps v ← r − N·v settle
	// to the exact triangular solve after d−1 of them, each fixing one more
	// component in the order substitution would.
	v := id
	for range d - 1 {
		v = o.Sub(id, lower(v))
	}
	w := o.Div(v, diag)
	for range d - 1 {
		w = o.Div(o.Sub(v, upper(w)), diag)
	}
	return o.Add(o.MatMul(z, w), o.Neg(o.MatMul(bias, w)))
}

// luStrict multiplies each row a [N,d] by the transpose of a strictly lower
// or upper triangular matrix whose entries, row by row, are the [1,d(d−1)/2]
// tensor entries: out_i = Σ_j M_ij a_j. Constant 0/1 matrices spread a's
// columns over the entries and sum the products back per row, so the
// parameter never has to be scattered into a matrix.
func luStrict(o Ops, a, entries Tensor, d int, upper bool) Tensor {
	m := d * (d - 1) / 2
	spread := make([]float64, d*m)
	gather := make([]float64, m*d)
	e := 0
	for i := range d {
		for j := range d {
			if (upper && j > i) || (!upper && j < i) {
				spread[j*m+e] = 1
				gather[e*d+i] = 1
				e++
			}
		}
	}
	return o.MatMul(o.Mul(o.MatMul(a, o.Const(d, m, spread)), entries), o.Const(m, d, gather))
}
