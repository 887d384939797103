package trainer

import (
	"fmt"
	"math"

	"github.com/amortize/amortize/models"
	"gorgonia.org/tensor"
)

// The rational-quadratic spline as one op. Written over Ops it is about
// sixty graph nodes per direction, most of them on [M,K] tensors, and as
// many again for the gradient; fused, it is one forward node, which keeps
// each row's knots, and one gradient node, which reuses them, with the
// gradient derived by hand below.

var _ models.SplineOps = (*graph)(nil)

// RQSpline implements models.SplineOps: the same function as
// models.RQSpline's composite, computed by one op whose output packs y and
// log|det| side by side.
func (g *graph) RQSpline(x, widths, heights, derivs models.Tensor, inverse bool, c models.SplineConfig) (y, logAbsDet models.Tensor) {
	m, _ := shapeOf(x)
	for _, t := range []models.Tensor{widths, heights, derivs} {
		if r, _ := shapeOf(t); r != m {
			panic(fmt.Sprintf("trainer: spline of %d rows given parameters of %d rows", m, r))
		}
	}
	o := &op{code: opSpline, arg: [2]int{c.Bins, b2i(inverse)}, shape: tensor.Shape{m, 2}, spline: c}
	out := applyOp(o, node(x), node(widths), node(heights), node(derivs))
	return g.Slice(out, 0, 1), g.Slice(out, 1, 2)
}

// splineRow is one row's spline: its knots and knot derivatives, computed
// by the forward op and reused by the gradient op of the same run.
type splineRow struct {
	c      models.SplineConfig
	k      int
	inside bool      // within the tail bounds
	bin    int       // the input's bin
	u      float64   // the inverse's result
	pw, ph []float64 // softmax of the unnormalised widths and heights
	cw, ch []float64 // knots, K+1 each
	der    []float64 // derivatives at the knots, K+1
	sp     []float64 // sigmoid of the unnormalised interior derivatives, for their gradient
	gcw    []float64 // gradient scratch for the knots
	gch    []float64
	gder   []float64
	gp     []float64
}

func newSplineRow(c models.SplineConfig) *splineRow {
	k := c.Bins
	f := make([]float64, 10*k+5)
	next := func(n int) []float64 { s := f[:n:n]; f = f[n:]; return s }
	return &splineRow{c: c, k: k, pw: next(k), ph: next(k), cw: next(k + 1), ch: next(k + 1), der: next(k + 1),
		sp: next(k - 1), gcw: next(k + 1), gch: next(k + 1), gder: next(k + 1), gp: next(k)}
}

// setRow computes the knots from one row's unnormalised parameters, as
// models.RQSpline's rqKnots and rqDerivatives do.
func setRow[T float](r *splineRow, w, h, d []T) {
	knots := func(p, knots []float64, u []T, minSize float64) {
		m := math.Inf(-1)
		for _, v := range u {
			m = math.Max(m, float64(v))
		}
		var z float64
		for j, v := range u {
			p[j] = math.Exp(float64(v) - m)
			z += p[j]
		}
		b := r.c.TailBound
		var sum float64
		knots[0] = -b
		for j := range p {
			p[j] /= z
			if j < r.k-1 {
				sum += minSize + (1-minSize*float64(r.k))*p[j]
				knots[j+1] = 2*b*sum - b
			}
		}
		knots[r.k] = b
	}
	knots(r.pw, r.cw, w, r.c.MinBinWidth)
	knots(r.ph, r.ch, h, r.c.MinBinHeight)
	r.der[0] = r.c.MinDerivative + softplus(math.Log(math.Exp(1-r.c.MinDerivative)-1))
	r.der[r.k] = r.der[0]
	for j, v := range d {
		u := float64(v)
		r.der[j+1] = r.c.MinDerivative + softplus(u)
		r.sp[j] = 1 / (1 + math.Exp(-u))
	}
}

func softplus(v float64) float64 { return math.Max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))) }

// search is the bin of v among knots, the last knot widened as in
// models.RQSpline.
func (r *splineRow) search(v float64, knots []float64) int {
	b := -1
	for j, kn := range knots {
		if j == r.k {
			kn += 1e-6
		}
		if v >= kn {
			b++
		}
	}
	return min(max(b, 0), r.k-1)
}

func (r *splineRow) inRange(v float64) bool { return v >= -r.c.TailBound && v <= r.c.TailBound }

// forward maps x in bin b to y and log dy/dx.
func (r *splineRow) forward(x float64, b int) (y, lad float64) {
	x0, wb := r.cw[b], r.cw[b+1]-r.cw[b]
	y0, hb := r.ch[b], r.ch[b+1]-r.ch[b]
	d0, d1 := r.der[b], r.der[b+1]
	delta := hb / wb
	s := d0 + d1 - 2*delta
	th := (x - x0) / wb
	t := th * (1 - th)
	den := delta + s*t
	y = y0 + hb*(delta*th*th+d0*t)/den
	dnum := delta * delta * (d1*th*th + 2*delta*t + d0*(1-th)*(1-th))
	return y, math.Log(dnum) - 2*math.Log(den)
}

// inverse maps y in bin b (found among the height knots) to x.
func (r *splineRow) inverse(y float64, b int) float64 {
	x0, wb := r.cw[b], r.cw[b+1]-r.cw[b]
	y0, hb := r.ch[b], r.ch[b+1]-r.ch[b]
	d0, d1 := r.der[b], r.der[b+1]
	delta := hb / wb
	s := d0 + d1 - 2*delta
	dy := y - y0
	qa := dy*s + hb*(delta-d0)
	qb := hb*d0 - dy*s
	qc := -delta * dy
	disc := math.Max(qb*qb-4*qa*qc, 0)
	return 2*qc/(-qb-math.Sqrt(disc))*wb + x0
}

// backward is reverse mode through forward at x in bin b: given the
// gradients gy and gl of y and log dy/dx, it adds the gradients of the
// knots and knot derivatives to r.gcw, r.gch, r.gder and returns that of x.
func (r *splineRow) backward(x float64, b int, gy, gl float64) float64 {
	x0, wb := r.cw[b], r.cw[b+1]-r.cw[b]
	hb := r.ch[b+1] - r.ch[b]
	d0, d1 := r.der[b], r.der[b+1]
	delta := hb / wb
	s := d0 + d1 - 2*delta
	th := (x - x0) / wb
	t := th * (1 - th)
	om := 1 - th
	den := delta + s*t
	a := delta*th*th + d0*t
	num := hb * a
	b2 := d1*th*th + 2*delta*t + d0*om*om
	dnum := delta * delta * b2

	gy0 := gy
	gnum := gy / den
	gden := -gy*num/(den*den) - 2*gl/den
	gdnum := gl / dnum
	ghb := gnum * a
	ga := gnum * hb
	gdelta := ga*th*th + gden + gdnum*2*delta*b2
	gth := ga * 2 * delta * th
	gd0 := ga * t
	gt := ga*d0 + gden*s
	gs := gden * t
	gb2 := gdnum * delta * delta
	gd1 := gb2 * th * th
	gth += gb2 * (2*d1*th - 2*d0*om)
	gdelta += gb2 * 2 * t
	gt += gb2 * 2 * delta
	gd0 += gb2 * om * om
	gth += gt * (1 - 2*th)
	gd0 += gs
	gd1 += gs
	gdelta -= 2 * gs
	ghb += gdelta / wb
	gwb := -gdelta*hb/(wb*wb) - gth*th/wb
	gx := gth / wb
	gx0 := -gx

	r.gcw[b] += gx0 - gwb
	r.gcw[b+1] += gwb
	r.gch[b] += gy0 - ghb
	r.gch[b+1] += ghb
	r.gder[b] += gd0
	r.gder[b+1] += gd1
	return gx
}

// paramGrads maps the knot gradients in r back to the unnormalised
// widths, heights and derivatives, writing them to gw, gh, gd.
func paramGrads[T float](r *splineRow, gw, gh, gd []T) {
	logitGrads(r, gw, r.pw, r.gcw, r.c.MinBinWidth)
	logitGrads(r, gh, r.ph, r.gch, r.c.MinBinHeight)
	for j := range gd {
		gd[j] = T(r.gder[j+1] * r.sp[j])
	}
}

// logitGrads turns knot gradients gk into gradients g of the softmax
// logits. Knot j (1 ≤ j ≤ K−1) is −B + 2B·Σ_{i<j} size_i, so size_i gets
// 2B·Σ_{j=i+1}^{K−1} gk_j; size = min + (1 − min·K)·p with p the softmax,
// whose backward is p_i·(gp_i − Σ p·gp).
func logitGrads[T float](r *splineRow, g []T, p, gk []float64, minSize float64) {
	scale := 2 * r.c.TailBound * (1 - minSize*float64(r.k))
	gp := r.gp
	var acc, dot float64
	for i := r.k - 1; i >= 0; i-- {
		gp[i] = scale * acc
		acc += gk[i]
		dot += gp[i] * p[i]
	}
	for i := range g {
		g[i] = T(p[i] * (gp[i] - dot))
	}
}

// splineRows runs the spline forward (or inverse) on each row: out packs
// y and log|det| per row.
func splineRows[T float](o *op, out, x, w, h, d []T) {
	if len(o.rows) != len(x) {
		o.rows = make([]*splineRow, len(x))
		for i := range o.rows {
			o.rows[i] = newSplineRow(o.spline)
		}
	}
	k, inverse := o.spline.Bins, o.arg[1] != 0
	for i, xv := range x {
		r, v := o.rows[i], float64(xv)
		if r.inside = r.inRange(v); !r.inside {
			out[2*i], out[2*i+1] = xv, 0
			continue
		}
		setRow(r, w[i*k:(i+1)*k], h[i*k:(i+1)*k], d[i*(k-1):(i+1)*(k-1)])
		if inverse {
			r.bin = r.search(v, r.ch)
			r.u = r.inverse(v, r.bin)
			_, lad := r.forward(r.u, r.bin)
			out[2*i], out[2*i+1] = T(r.u), T(-lad)
		} else {
			r.bin = r.search(v, r.cw)
			y, lad := r.forward(v, r.bin)
			out[2*i], out[2*i+1] = T(y), T(lad)
		}
	}
}

// splineGradRows is the gradient of fwd's splineRows, whose knots it
// reuses, given g, the gradient of its packed output; out packs, per row,
// the gradients of x, the K widths, the K heights and the K−1 derivatives.
//
// The inverse's gradient follows from the forward one by the implicit
// function theorem: with u = f⁻¹(y) and L = log f′, du/dy = 1/f′(u),
// du/dp = −(∂f/∂p)/f′(u), and the inverse's log|det| is −L(u).
func splineGradRows[T float](fwd *op, out, x, g []T) {
	k, inverse := fwd.spline.Bins, fwd.arg[1] != 0
	for i := range x {
		r, row := fwd.rows[i], out[i*3*k:(i+1)*3*k]
		gy, gl := float64(g[2*i]), float64(g[2*i+1])
		clear(row)
		if !r.inside {
			row[0] = T(gy)
			continue
		}
		r.clearGrads()
		var gx float64
		if inverse {
			_, lad := r.forward(r.u, r.bin)
			lx := r.backward(r.u, r.bin, 0, 1) // ∂L/∂u
			r.clearGrads()
			gx = (gy - gl*lx) / math.Exp(lad)
			r.backward(r.u, r.bin, -gx, -gl)
		} else {
			gx = r.backward(float64(x[i]), r.bin, gy, gl)
		}
		row[0] = T(gx)
		paramGrads(r, row[1:1+k], row[1+k:1+2*k], row[1+2*k:])
	}
}

func (r *splineRow) clearGrads() {
	clear(r.gcw)
	clear(r.gch)
	clear(r.gder)
}
