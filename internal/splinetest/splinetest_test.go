package splinetest_test

import (
	"fmt"
	"math"

	"github.com/amortize/amortize/internal/splinetest"
	"github.com/amortize/amortize/models"
)

func ExampleRQSpline() {
	c := models.SplineConfig{Bins: 2, TailBound: 1, MinBinWidth: 1e-3, MinBinHeight: 1e-3, MinDerivative: 1e-3}
	// Equal bins and unit derivatives: the identity inside [−1, 1].
	one := math.Log(math.Exp(1-c.MinDerivative) - 1)
	y, lad := splinetest.RQSpline(0.25, []float64{0, 0}, []float64{0, 0}, []float64{one}, false, c)
	fmt.Printf("%.6f %.6f\n", y, lad)
	// A taller first bin leaves the second, where 0.25 lies, flatter.
	y, lad = splinetest.RQSpline(0.25, []float64{0, 0}, []float64{1, 0}, []float64{one}, false, c)
	fmt.Printf("%.6f %.6f\n", y, lad)
	// Output:
	// 0.250000 0.000000
	// 0.628626 -0.746638
}
