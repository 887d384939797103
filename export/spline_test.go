package export_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/internal/splinetest"
	"github.com/amortize/amortize/models"
)

// TestSplineEdges checks the exported spline against nflows' formulas in
// float64 (splinetest.RQSpline) where a bin search can go wrong: exactly
// at the knots, at and just beyond the tail bound, and far in the tails, in
// both directions. The model is one spline whose parameters are the out
// layer's bias, so the reference needs nothing but that bias.
func TestSplineEdges(t *testing.T) {
	spec, err := models.DefaultSpec("nsf", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	spec.Hidden, spec.Transforms = 8, 1
	e, err := models.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	w := map[string][]float32{}
	for name, v := range models.InitParams(e, rand.NewPCG(5, 1)) {
		w[name] = make([]float32, len(v))
		for i := range v {
			switch name {
			case "t0.out.w":
			case "t0.out.b":
				w[name][i] = float32(2 * rng.NormFloat64())
			default:
				w[name][i] = float32(v[i])
			}
		}
	}
	m := &models.Model{
		Spec: e.Spec(), Weights: w, Method: "npe",
		ThetaMean: []float64{0}, ThetaStd: []float64{1}, ThetaNames: []string{"theta"},
		XMean: []float64{0, 0}, XStd: []float64{1, 1}, XNames: []string{"a", "b"},
	}
	rm, _ := open(t, m)

	k, b := spec.Bins, spec.TailBound
	c := models.SplineConfig{Bins: k, TailBound: b, MinBinWidth: models.DefaultMinBinWidth,
		MinBinHeight: models.DefaultMinBinHeight, MinDerivative: models.DefaultMinDerivative}
	bias := w["t0.out.b"]
	root := math.Sqrt(float64(spec.Hidden))
	wu, hu, du := make([]float64, k), make([]float64, k), make([]float64, k-1)
	for i := range k {
		wu[i], hu[i] = float64(bias[i])/root, float64(bias[k+i])/root
	}
	for i := range du {
		du[i] = float64(bias[2*k+i])
	}

	points := []float64{-b - 2, -b - 1e-3, -b, -b + 1e-3, 0, b - 1e-3, b, b + 1e-3, b + 2,
		-1e5, -1e3, -50, 50, 1e3, 1e5} // far in the tails, where the inverse's tail bins must stay exact
	// The knots of both directions, exactly: the images of the x knots are
	// the y knots.
	for _, knots := range [][]float64{splineKnots(wu, b, c.MinBinWidth), splineKnots(hu, b, c.MinBinHeight)} {
		points = append(points, knots...)
	}
	for range 50 {
		points = append(points, (2*rng.Float64()-1)*(b+1))
	}
	theta := make([]float32, len(points))
	for i, p := range points {
		theta[i] = float32(p)
	}
	x := []float32{0.3, -0.7}
	out, err := rm.Run(x, 1, theta, len(theta), theta, len(theta), nil)
	if err != nil {
		t.Fatal(err)
	}
	logN := func(z float64) float64 { return -0.5*z*z - 0.5*math.Log(2*math.Pi) }
	close := func(what string, p float64, got float32, want float64) {
		t.Helper()
		if d := math.Abs(float64(got) - want); !(d <= 2e-4*math.Max(1, math.Abs(want))) {
			t.Errorf("%s at %v = %v, want %v", what, p, got, want)
		}
	}
	for i, p := range points {
		z, lad := splinetest.RQSpline(float64(theta[i]), wu, hu, du, false, c)
		close("log_prob", p, out.LogProb[i], logN(z)+lad)
		th, ladInv := splinetest.RQSpline(float64(theta[i]), wu, hu, du, true, c)
		close("sample", p, out.Sample[i], th)
		close("sample_log_prob", p, out.SampleLogProb[i], logN(float64(theta[i]))-ladInv)
		// The tails are the identity to float32 rounding, whichever way.
		if v := float64(theta[i]); math.Abs(v) > b {
			for what, got := range map[string]float32{"log_prob": out.LogProb[i] - float32(logN(v)), "sample_log_prob": out.SampleLogProb[i] - float32(logN(v))} {
				if math.Abs(float64(got)) > 1e-6*math.Max(1, v*v) {
					t.Errorf("%s at %v is off the identity's by %v", what, p, got)
				}
			}
			if d := math.Abs(float64(out.Sample[i]) - v); d > 2e-7*math.Abs(v) {
				t.Errorf("sample at %v = %v, off the identity by %v", p, out.Sample[i], d)
			}
		}
	}
}

// splineKnots are the K+1 knots of the unnormalised sizes u on [−b, b], as
// nflows computes them.
func splineKnots(u []float64, b, minSize float64) []float64 {
	k := len(u)
	var z float64
	for _, v := range u {
		z += math.Exp(v)
	}
	knots := []float64{-b}
	var sum float64
	for j := range k - 1 {
		sum += minSize + (1-minSize*float64(k))*math.Exp(u[j])/z
		knots = append(knots, 2*b*sum-b)
	}
	return append(knots, b)
}
