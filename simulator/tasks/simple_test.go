package tasks

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// ksCritical is the Kolmogorov–Smirnov critical value at level 1e-4
// (sqrt(-ln(α/2)/2)), to be divided by √n.
var ksCritical = math.Sqrt(-math.Log(1e-4/2) / 2)

// ksStatistic is sup |F_n − F| of the sample against cdf.
func ksStatistic(sample []float64, cdf func(float64) float64) float64 {
	s := slices.Clone(sample)
	slices.Sort(s)
	n := float64(len(s))
	var d float64
	for i, v := range s {
		f := cdf(v)
		d = max(d, f-float64(i)/n, float64(i+1)/n-f)
	}
	return d
}

func checkKS(t *testing.T, what string, sample []float64, cdf func(float64) float64) {
	t.Helper()
	crit := ksCritical / math.Sqrt(float64(len(sample)))
	if d := ksStatistic(sample, cdf); d > crit {
		t.Errorf("%s: KS distance %.4f > %.4f", what, d, crit)
	}
}

// checkMoments compares mean and variance of a sample with a distribution of
// the given mean and variance (fourth moment kurt·var² for the se of the
// variance; kurt = 3 for a Gaussian).
func checkMoments(t *testing.T, what string, sample []float64, mean, variance, kurt float64) {
	t.Helper()
	n := float64(len(sample))
	m, v := stat.MeanVariance(sample, nil)
	checkZ(t, what+" mean", m, mean, math.Sqrt(variance/n))
	checkZ(t, what+" variance", v, variance, variance*math.Sqrt((kurt-1)/n))
}

func TestTwoMoonsLikelihood(t *testing.T) {
	task := mustGet(t, "two_moons")
	const n = 20000
	radius := distuv.Normal{Mu: 0.1, Sigma: 0.01}
	angle := distuv.Uniform{Min: -math.Pi / 2, Max: math.Pi / 2}
	for _, theta := range [][]float64{{0.3, -0.6}, {-0.5, -0.2}, {0.8, 0.9}} {
		x := simulateFixed(t, task, theta, n, 11)
		// Invert the simulator (TASKS.md): u, v are the point on the moon
		// relative to its centre.
		z0 := (theta[0] + theta[1]) / math.Sqrt2
		z1 := (theta[1] - theta[0]) / math.Sqrt2
		rho, phi := make([]float64, n), make([]float64, n)
		for i := range n {
			u := x.At(i, 0) + math.Abs(z0) - 0.25
			v := x.At(i, 1) - z1
			if u < 0 {
				t.Fatalf("θ=%v: u = %g < 0", theta, u)
			}
			rho[i], phi[i] = math.Hypot(u, v), math.Atan2(v, u)
		}
		checkMoments(t, "rho", rho, 0.1, 0.01*0.01, 3)
		checkKS(t, "rho", rho, radius.CDF)
		checkKS(t, "angle", phi, angle.CDF)
		if c := stat.Correlation(rho, phi, nil); math.Abs(c) > zTol/math.Sqrt(n) {
			t.Errorf("θ=%v: radius and angle correlate (%.4f)", theta, c)
		}
	}
}

func TestGaussianLinear(t *testing.T) {
	task := mustGet(t, "gaussian_linear")
	const n, variance = 20000, 0.1
	theta := []float64{0.1, -0.2, 0.3, -0.4, 0.5, 0, 0.7, -0.8, 0.9, -1}
	x := simulateFixed(t, task, theta, n, 12)
	var cov mat.SymDense
	stat.CovarianceMatrix(&cov, x, nil)
	for j, th := range theta {
		col := mat.Col(nil, j, x)
		checkMoments(t, "x", col, th, variance, 3)
		for k := j + 1; k < len(theta); k++ {
			checkZ(t, "cov", cov.At(j, k), 0, variance/math.Sqrt(n))
		}
	}
}

func TestGaussianLinear3D(t *testing.T) {
	task := mustGet(t, "gaussian_linear_3d")
	const n = 20000
	theta := []float64{-1.5, 0.2, 1.9}
	x := simulateFixed(t, task, theta, n, 13)
	for j, th := range theta {
		checkMoments(t, "x", mat.Col(nil, j, x), th+1, 0.01, 3)
	}
}

func TestSinusoid1D(t *testing.T) {
	task := mustGet(t, "sinusoid_1d")
	const n = 20000
	for _, th := range []float64{0.05, 0.25, 0.6, 0.95} {
		x := simulateFixed(t, task, []float64{th}, n, 14)
		want := distuv.Normal{Mu: th + 0.3*math.Sin(2*math.Pi*th), Sigma: 0.05}
		col := mat.Col(nil, 0, x)
		checkMoments(t, "x", col, want.Mu, want.Sigma*want.Sigma, 3)
		checkKS(t, "x", col, want.CDF)
	}
}

func TestSLCPMoments(t *testing.T) {
	task := mustGet(t, "slcp")
	const n = 20000
	// The second θ has a scale small enough for the 1e-6 jitter to matter.
	for _, theta := range [][]float64{{0.5, -1, 1.2, -0.8, 0.7}, {0, 2, 0.05, -1.5, -1}} {
		x := simulateFixed(t, task, theta, n, 15)
		s1, s2, rho := theta[2]*theta[2], theta[3]*theta[3], math.Tanh(theta[4])
		v1, v2, c12 := s1*s1+1e-6, s2*s2+1e-6, rho*s1*s2
		for j := range 4 {
			a, b := mat.Col(nil, 2*j, x), mat.Col(nil, 2*j+1, x)
			checkMoments(t, "first coordinate", a, theta[0], v1, 3)
			checkMoments(t, "second coordinate", b, theta[1], v2, 3)
			// Var of the product of a bivariate Gaussian pair: v1 v2 + c12².
			checkZ(t, "covariance", stat.Covariance(a, b, nil), c12, math.Sqrt((v1*v2+c12*c12)/n))
			if j > 0 {
				prev := mat.Col(nil, 2*(j-1), x)
				checkZ(t, "correlation between draws", stat.Correlation(prev, a, nil), 0, 1/math.Sqrt(n))
			}
		}
	}
}

func TestGaussianMixtureComponents(t *testing.T) {
	task := mustGet(t, "gaussian_mixture")
	const n = 20000
	theta := []float64{2, -3}
	x := simulateFixed(t, task, theta, n, 16)
	// Posterior responsibility of the narrow component given x; its mean
	// over draws is the component's weight, 1/2, within this single batch
	// (a per-batch choice would give ≈ 0 or ≈ 1).
	resp, prod := make([]float64, n), make([]float64, n)
	for i := range n {
		d1, d2 := x.At(i, 0)-theta[0], x.At(i, 1)-theta[1]
		d := d1*d1 + d2*d2
		// log N(d; 0, I) − log N(d; 0, 0.01 I) = 49.5 d² + 2 log 0.1.
		resp[i] = 1 / (1 + math.Exp(49.5*d+2*math.Log(0.1)))
		prod[i] = d1 * d1 * d2 * d2
	}
	m, v := stat.MeanVariance(resp, nil)
	checkZ(t, "narrow-component fraction", m, 0.5, math.Sqrt(v/n))
	// Both coordinates share the component: E[d1² d2²] = (1 + 1e-4)/2, and
	// Var = (9 + 9e-8)/2 − mean²; independent picks would give 0.505².
	mean := (1 + 1e-4) / 2
	checkZ(t, "E[d1² d2²]", stat.Mean(prod, nil), mean, math.Sqrt(((9+9e-8)/2-mean*mean)/n))
}
