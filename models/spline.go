package models

import (
	"fmt"
	"math"
)

// Smallest bin width, bin height and knot derivative of a spline, nflows'
// defaults. They keep every bin invertible in float32: without them a
// trained spline can grow bins so steep that its inverse loses all accuracy.
const (
	DefaultMinBinWidth   = 1e-3
	DefaultMinBinHeight  = 1e-3
	DefaultMinDerivative = 1e-3
)

// rqKnotEps widens the last knot for the bin search, as nflows'
// searchsorted does, so that an input exactly at the right end falls in the
// last bin rather than past it.
const rqKnotEps = 1e-6

// SplineConfig fixes the shape of a rational-quadratic spline.
type SplineConfig struct {
	Bins                                                int
	TailBound, MinBinWidth, MinBinHeight, MinDerivative float64
}

// SplineOps is implemented by backends that fuse the spline into one op.
type SplineOps interface {
	RQSpline(x, widths, heights, derivs Tensor, inverse bool, c SplineConfig) (y, logAbsDet Tensor)
}

// RQSpline is the monotonic rational-quadratic spline of Durkan et al.
// (2019) with linear tails, as nflows' unconstrained_rational_quadratic_spline
// with tails="linear" computes it, applied to every row independently.
//
// x is [M,1]; widths and heights are [M,K] unnormalised bin sizes (softmax
// logits, already scaled by the caller) and derivs [M,K−1] unnormalised
// derivatives at the interior knots (softplus inputs; the derivative at both
// ends is 1 so the linear tails join smoothly). Inside [−B, B] the spline maps
// x to y; outside, y = x with zero log-determinant. y and logAbsDet, the log
// of |dy/dx|, are [M,1]. With inverse set, x is an output of the forward map
// and the result is its preimage together with the inverse map's log|det|.
//
// The knots are cumulative sums of the floored softmax sizes, pinned to ±B at
// both ends; the bin of an input is found by counting knots it reaches, the
// last knot widened by 1e-6. The inverse solves the bin's quadratic in the
// cancellation-free form 2c / (−b − √(b²−4ac)).
//
// Backends implementing SplineOps compute it in one op; other backends get
// the composite over primitive ops. Shape mismatches are bugs in the caller
// and panic, like misuse of Ops.
func RQSpline(o Ops, x, widths, heights, derivs Tensor, inverse bool, c SplineConfig) (y, logAbsDet Tensor) {
	k := c.Bins
	if k < 2 || o.Cols(x) != 1 || o.Cols(widths) != k || o.Cols(heights) != k || o.Cols(derivs) != k-1 {
		panic(fmt.Sprintf("models: spline of %d bins given x, widths, heights, derivs of %d, %d, %d, %d columns",
			k, o.Cols(x), o.Cols(widths), o.Cols(heights), o.Cols(derivs)))
	}
	if f, ok := o.(SplineOps); ok {
		return f.RQSpline(x, widths, heights, derivs, inverse, c)
	}
	b := c.TailBound
	lo, hi := o.Scalar(-b), o.Scalar(b)
	// The spline sees inputs clamped into [−B, B], so the branch that the
	// tail mask discards stays finite and cannot leak NaN, not even through
	// a gradient multiplied by zero.
	inside := o.Mul(o.Step(x, lo), o.Step(hi, x))
	xc := o.Minimum(o.Maximum(x, lo), hi)

	cw := rqKnots(o, widths, b, c.MinBinWidth)
	ch := rqKnots(o, heights, b, c.MinBinHeight)
	d := rqDerivatives(o, derivs, c.MinDerivative)
	cwLo, chLo := o.Slice(cw, 0, k), o.Slice(ch, 0, k)
	search := cw
	if inverse {
		search = ch
	}
	onehot := rqBin(o, xc, search)
	pick := func(v Tensor) Tensor { return Select(o, onehot, v) }
	w := pick(o.Sub(o.Slice(cw, 1, k+1), cwLo))
	bin := SplineBin{
		X0: pick(cwLo), W: w, HalfW: o.Mul(w, o.Scalar(0.5)),
		Y0: pick(chLo), Y1: pick(o.Slice(ch, 1, k+1)), H: pick(o.Sub(o.Slice(ch, 1, k+1), chLo)),
		D0: pick(o.Slice(d, 0, k)), D1: pick(o.Slice(d, 1, k+1)),
	}
	ys, det := RQSplineBinMap(o, xc, bin, inverse)
	one := o.Scalar(1)
	y = o.Add(o.Mul(inside, ys), o.Mul(o.Sub(one, inside), x))
	return y, o.Mul(inside, RQSplineLogDet(o, det, inverse))
}

// SplineBin is the bin of each input, all [M,1]: its left knot (X0, Y0),
// width W, height H and the derivatives D0 and D1 at its knots. HalfW = W/2
// and Y1 = Y0 + H are redundant: backends that pick bins from a table get
// them for free, and they save the inverse ops.
type SplineBin struct {
	X0, W, HalfW, Y0, Y1, H, D0, D1 Tensor
}

// SplineDet is what the log|det| of a spline needs, per input: its
// position Theta in its bin, in [0, 1], twice the bin's slope, TwoDelta =
// 2h/w, and the derivatives D0 and D1 at the bin's knots. Backends that
// defer it cover the linear tails with bins of their own.
type SplineDet struct {
	Theta, TwoDelta, D0, D1 Tensor
}

// DeferredSplineOps is implemented by backends that pay per op rather than
// per element, as onnxruntime does for an exported graph: a flow then
// defers each spline's log|det| and computes them all at once, paying for
// the ops of one log|det| instead of one per layer.
type DeferredSplineOps interface {
	// RQSplineDeferred is RQSpline with what its log|det| needs in place
	// of the log|det|.
	RQSplineDeferred(x, widths, heights, derivs Tensor, inverse bool, c SplineConfig) (Tensor, SplineDet)
	// SplineLogDets is the sum of the splines' log|det| over dets and
	// their columns, [N,1]; the fields of every det are [N,F_i] tensors.
	SplineLogDets(dets []SplineDet, inverse bool) Tensor
}

// RQSplineBinMap is the spline inside its bin: xc [M,1], in [−B, B], lies
// in bin b. It returns the image of xc (its preimage with inverse set) and
// det, from which RQSplineLogDet computes that map's log|det|.
// Backends that find the bin their own way share this arithmetic with
// RQSpline.
func RQSplineBinMap(o Ops, xc Tensor, b SplineBin, inverse bool) (y Tensor, det SplineDet) {
	det = SplineDet{D0: b.D0, D1: b.D1}
	if inverse {
		// θ solves a·θ² + β·θ + c = 0 with a = h(δ−d0) + dy·s,
		// β = h·d0 − dy·s, c = −δ·dy (dy = x − y0, s = d0 + d1 − 2δ), as
		// nflows writes it. With dr = y1 − x, E = 2δ·dy, F = 2δ·dr and
		// P = d0·dr − d1·dy, β = P + E and β² − 4ac = P² + E·F: a sum of
		// terms ≥ 0 inside the bin, so only rounding can take it below 0,
		// where the floor keeps the root finite.
		det.TwoDelta = o.Div(b.H, b.HalfW)
		dy, dr := o.Sub(xc, b.Y0), o.Sub(b.Y1, xc)
		e, f := o.Mul(det.TwoDelta, dy), o.Mul(det.TwoDelta, dr)
		p := o.Sub(o.Mul(b.D0, dr), o.Mul(b.D1, dy))
		disc := o.Maximum(o.Add(o.Square(p), o.Mul(e, f)), o.Scalar(0))
		// 2c / (−β − √disc), the cancellation-free root.
		det.Theta = o.Div(e, o.Add(o.Add(p, e), o.Sqrt(disc)))
		return o.Add(o.Mul(det.Theta, b.W), b.X0), det
	}
	delta := o.Div(b.H, b.W)
	det.TwoDelta = o.Add(delta, delta)
	det.Theta = o.Div(o.Sub(xc, b.X0), b.W)
	t1t := o.Mul(det.Theta, o.Sub(o.Scalar(1), det.Theta))
	num := o.Mul(b.H, o.Add(o.Mul(delta, o.Square(det.Theta)), o.Mul(b.D0, t1t)))
	den := o.Add(delta, o.Mul(o.Sub(o.Add(b.D0, b.D1), det.TwoDelta), t1t))
	return o.Add(b.Y0, o.Div(num, den)), det
}

// RQSplineLogDet is log|dy/dx| inside the bin, the log of
// δ²·(d1·θ² + 2δ·θ(1−θ) + d0·(1−θ)²) / (δ + (d0 + d1 − 2δ)·θ(1−θ))², or
// its negative for the inverse.
func RQSplineLogDet(o Ops, det SplineDet, inverse bool) Tensor {
	theta, twoDelta, d0, d1 := det.Theta, det.TwoDelta, det.D0, det.D1
	delta := o.Mul(twoDelta, o.Scalar(0.5))
	u := o.Sub(o.Scalar(1), theta)
	t1t := o.Mul(theta, u)
	den := o.Add(delta, o.Mul(o.Sub(o.Add(d0, d1), twoDelta), t1t))
	dnum := o.Mul(o.Square(delta), o.Add(o.Add(o.Mul(d1, o.Square(theta)), o.Mul(twoDelta, t1t)), o.Mul(d0, o.Square(u))))
	if inverse {
		return o.Log(o.Div(o.Square(den), dnum))
	}
	return o.Log(o.Div(dnum, o.Square(den)))
}

// rqKnots maps unnormalised bin sizes [M,K] to the K+1 knots [M,K+1] on
// [−B, B]. The triangular constant puts the running sums of the first K−1
// sizes into knots 1…K−1 and nothing into knots 0 and K, which the offset
// row then pins to exactly −B and B, as nflows pins them.
func rqKnots(o Ops, u Tensor, b, minSize float64) Tensor {
	k := o.Cols(u)
	p := o.Add(o.Scalar(minSize), o.Mul(o.Scalar(1-minSize*float64(k)), Softmax(o, u)))
	tri := make([]float64, (k-1)*(k+1))
	for i := range k - 1 {
		for j := i + 1; j < k; j++ {
			tri[i*(k+1)+j] = 1
		}
	}
	ends := make([]float64, k+1)
	for j := range ends {
		ends[j] = -b
	}
	ends[k] = b
	sums := o.MatMul(o.Slice(p, 0, k-1), o.Const(k-1, k+1, tri))
	return o.Add(o.Mul(sums, o.Scalar(2*b)), o.Const(1, k+1, ends))
}

// rqDerivatives maps the K−1 unnormalised interior derivatives to all K+1
// knot derivatives. The ends get nflows' constant, whose softplus makes the
// derivative exactly 1 there, matching the identity tails.
func rqDerivatives(o Ops, u Tensor, minDeriv float64) Tensor {
	n := o.Cols(u)
	embed := make([]float64, n*(n+2))
	for i := range n {
		embed[i*(n+2)+i+1] = 1
	}
	ends := make([]float64, n+2)
	ends[0] = rqInvSoftplus(1 - minDeriv)
	ends[n+1] = ends[0]
	padded := o.Add(o.MatMul(u, o.Const(n, n+2, embed)), o.Const(1, n+2, ends))
	return o.Add(o.Scalar(minDeriv), Softplus(o, padded))
}

// rqBin is the one-hot [M,K] bin of each x [M,1] among knots [M,K+1]: the
// knots an input reaches form a prefix, and its last element marks the bin.
func rqBin(o Ops, x, knots Tensor) Tensor {
	k := o.Cols(knots) - 1
	eps := make([]float64, k+1)
	eps[k] = rqKnotEps
	reached := o.Step(x, o.Add(knots, o.Const(1, k+1, eps)))
	return o.Sub(o.Slice(reached, 0, k), o.Slice(reached, 1, k+1))
}

// rqInvSoftplus is log(eᵛ − 1), written as nflows writes it so that the
// constants agree to the last bit.
func rqInvSoftplus(v float64) float64 { return math.Log(math.Exp(v) - 1) }
