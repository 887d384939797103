package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/internal/splinetest"
	"github.com/amortize/amortize/models"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// splineEst puts one spline on parameters so that the fused op's value
// and gradient can be checked against models.RQSpline's composite (which
// package eager evaluates): log-prob is a·y + b·log|det| per row, with x,
// the unnormalised bin sizes and derivatives all parameters.
func splineEst(m int, inverse bool, c models.SplineConfig, a, b float64) funcEst {
	k := c.Bins
	return funcEst{
		spec: models.Spec{Kind: fmt.Sprintf("spline(inverse=%t)", inverse), ThetaDim: 1, XDim: 1},
		params: []models.ParamSpec{
			{Name: "x", Rows: m, Cols: 1, Init: models.Uniform(1.2 * c.TailBound)},
			{Name: "w", Rows: m, Cols: k, Init: models.Uniform(2)},
			{Name: "h", Rows: m, Cols: k, Init: models.Uniform(2)},
			{Name: "d", Rows: m, Cols: k - 1, Init: models.Uniform(2)},
		},
		logProb: func(o models.Ops, theta, x models.Tensor) models.Tensor {
			y, lad := models.RQSpline(o, o.Param("x"), o.Param("w"), o.Param("h"), o.Param("d"), inverse, c)
			return o.Add(o.Mul(o.Scalar(a), y), o.Mul(o.Scalar(b), lad))
		},
	}
}

var testSpline = models.SplineConfig{Bins: 5, TailBound: 3, MinBinWidth: 1e-3, MinBinHeight: 1e-3, MinDerivative: 1e-3}

// TestFusedSpline: the fused spline op equals the composite by value
// (forward and inverse, inside and in the tails) and its hand-derived
// gradient matches central differences of the composite for every input.
func TestFusedSpline(t *testing.T) {
	const m = 40
	rng := rand.New(rand.NewPCG(9, 9))
	for _, inverse := range []bool{false, true} {
		for _, ab := range [][2]float64{{1, 0}, {0, 1}, {0.7, -1.3}} {
			e := splineEst(m, inverse, testSpline, ab[0], ab[1])
			values := models.InitParams(e, rng)
			theta, x, w := batch(rng, m, 1, 1)
			for i := range w {
				w[i] = -1 // the loss is then Σ log-prob: every row counts fully
			}
			checkGradient(t, e, values, theta, x, w, 12, rng)
			checkFloat32(t, e, values, theta, x, w, 1e-5)
		}
	}
}

// TestFusedSplineRoundTrip: the fused inverse undoes the fused forward and
// their log-determinants cancel, and both agree with
// splinetest.RQSpline, nflows' formulas in plain float64.
func TestFusedSplineRoundTrip(t *testing.T) {
	const m = 200
	rng := rand.New(rand.NewPCG(10, 10))
	fwd := splineEst(m, false, testSpline, 1, 0)
	values := models.InitParams(fwd, rng)
	// Rows exactly on each tail bound, and one at the centre.
	values["x"][0], values["x"][1], values["x"][2] = -3, 3, 0
	k := testSpline.Bins
	eval := func(inverse bool, xs []float64) (y, lad []float64) {
		e := splineEst(m, inverse, testSpline, 1, 0)
		v := map[string][]float64{"x": xs, "w": values["w"], "h": values["h"], "d": values["d"]}
		wts, err := newWeights(e, v, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		g := newGraph(wts)
		yt, lt := g.RQSpline(g.Param("x"), g.Param("w"), g.Param("h"), g.Param("d"), inverse, testSpline)
		res := runGraph[float64](t, g, yt, lt)
		return res[0], res[1]
	}
	y, lad := eval(false, values["x"])
	back, ladInv := eval(true, y)
	for i := range m {
		xi := values["x"][i]
		wy, wl := splinetest.RQSpline(xi, values["w"][i*k:(i+1)*k], values["h"][i*k:(i+1)*k], values["d"][i*(k-1):(i+1)*(k-1)], false, testSpline)
		if math.Abs(y[i]-wy) > 1e-12 || math.Abs(lad[i]-wl) > 1e-10 {
			t.Errorf("row %d: forward (%v, %v), splinetest.RQSpline (%v, %v)", i, y[i], lad[i], wy, wl)
		}
		if math.Abs(back[i]-xi) > 1e-10 || math.Abs(lad[i]+ladInv[i]) > 1e-9 {
			t.Errorf("row %d: x %v → y %v → %v; log|det| %v and %v", i, xi, y[i], back[i], lad[i], ladInv[i])
		}
	}
}

// runGraph evaluates outputs of a forward graph whose inputs are already
// filled, returning each row-major in g's float type.
func runGraph[T float32 | float64](t *testing.T, g *graph, outs ...models.Tensor) [][]T {
	t.Helper()
	res := make([][]T, len(outs))
	var caps []*gorgonia.Node
	for i, o := range outs {
		r, c := shapeOf(o)
		res[i] = make([]T, r*c)
		caps = append(caps, capture(node(o), res[i]))
	}
	vm := gorgonia.NewTapeMachine(g.g.ExactSubgraphRoots(caps...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return res
}
