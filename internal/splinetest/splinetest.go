// Package splinetest holds the float64 reference of the rational-quadratic
// spline that the tests of models, trainer and export check their spline
// graphs against. It is independent of those graphs on purpose: nflows'
// formulas for one input, with nflows' constants.
package splinetest

import (
	"fmt"
	"math"

	"github.com/amortize/amortize/models"
)

// knotEps widens the last knot for the bin search, as nflows' searchsorted
// does.
const knotEps = 1e-6

// invSoftplus is log(eᵛ − 1), as nflows writes it.
func invSoftplus(v float64) float64 { return math.Log(math.Exp(v) - 1) }

// RQSpline is models.RQSpline for one input in plain float64, written
// straight from nflows' formulas: the reference the composite and any fused
// backend op are tested against. w and h hold c.Bins unnormalised widths and
// heights, d the c.Bins−1 unnormalised interior derivatives; mismatched
// lengths panic.
func RQSpline(x float64, w, h, d []float64, inverse bool, c models.SplineConfig) (y, logAbsDet float64) {
	k := c.Bins
	if k < 2 || len(w) != k || len(h) != k || len(d) != k-1 {
		panic(fmt.Sprintf("splinetest: spline of %d bins given %d widths, %d heights, %d derivatives", k, len(w), len(h), len(d)))
	}
	b := c.TailBound
	if math.IsNaN(x) {
		return x, x
	}
	if x < -b || x > b {
		return x, 0
	}
	cw := rowKnots(w, b, c.MinBinWidth)
	ch := rowKnots(h, b, c.MinBinHeight)
	der := make([]float64, k+1)
	der[0] = c.MinDerivative + softplus(invSoftplus(1-c.MinDerivative))
	der[k] = der[0]
	for i, v := range d {
		der[i+1] = c.MinDerivative + softplus(v)
	}
	search := cw
	if inverse {
		search = ch
	}
	bin := -1
	for j, v := range search {
		if j == k {
			v += knotEps
		}
		if x >= v {
			bin++
		}
	}
	x0, wb := cw[bin], cw[bin+1]-cw[bin]
	y0, hb := ch[bin], ch[bin+1]-ch[bin]
	d0, d1 := der[bin], der[bin+1]
	delta := hb / wb
	s := d0 + d1 - 2*delta

	var theta float64
	if inverse {
		dy := x - y0
		qa := dy*s + hb*(delta-d0)
		qb := hb*d0 - dy*s
		qc := -delta * dy
		disc := math.Max(qb*qb-4*qa*qc, 0)
		theta = 2 * qc / (-qb - math.Sqrt(disc))
		y = theta*wb + x0
	} else {
		theta = (x - x0) / wb
		t1t := theta * (1 - theta)
		y = y0 + hb*(delta*theta*theta+d0*t1t)/(delta+s*t1t)
	}
	t1t := theta * (1 - theta)
	den := delta + s*t1t
	dnum := delta * delta * (d1*theta*theta + 2*delta*t1t + d0*(1-theta)*(1-theta))
	logAbsDet = math.Log(dnum) - 2*math.Log(den)
	if inverse {
		logAbsDet = -logAbsDet
	}
	return y, logAbsDet
}

// rowKnots are the c.Bins+1 knots of one row: cumulative floored softmax
// sizes pinned to ±b.
func rowKnots(u []float64, b, minSize float64) []float64 {
	k := len(u)
	m := math.Inf(-1)
	for _, v := range u {
		m = math.Max(m, v)
	}
	var z float64
	for _, v := range u {
		z += math.Exp(v - m)
	}
	knots := make([]float64, k+1)
	var sum float64
	for j := 1; j < k; j++ {
		sum += minSize + (1-minSize*float64(k))*math.Exp(u[j-1]-m)/z
		knots[j] = 2*b*sum - b
	}
	knots[0], knots[k] = -b, b
	return knots
}

// softplus is log(1 + eᵛ), computed without overflow.
func softplus(v float64) float64 { return math.Max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))) }
