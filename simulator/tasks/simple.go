package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/simulator"
)

// gaussianLinear: θ ~ N(0, 0.1 I₁₀), x = θ + N(0, 0.1 I₁₀). sbibm passes 0.1
// as a "scale" but uses it as the covariance diagonal, so both variances are
// 0.1 (TASKS.md).
func gaussianLinear() (*Task, error) {
	const dim, variance = 10, 0.1
	cov := mat.NewSymDense(dim, nil)
	for i := range dim {
		cov.SetSym(i, i, variance)
	}
	p, err := prior.NewMultivariateNormal(make([]float64, dim), cov)
	if err != nil {
		return nil, err
	}
	sd := math.Sqrt(variance)
	return &Task{
		Name:  "gaussian_linear",
		Prior: p,
		Simulator: simulator.Rows(dim, dim, stateless(func(x, theta []float64, rnd *rand.Rand) {
			for i, t := range theta {
				x[i] = t + sd*rnd.NormFloat64()
			}
		})),
		ThetaNames:  numbered("theta", dim),
		XNames:      numbered("x", dim),
		Description: "Linear Gaussian model (sbibm): θ ~ N(0, 0.1·I) in 10 dimensions, x = θ + N(0, 0.1·I). The posterior is N(x/2, 0.05·I).",
		Posterior:   boxNormalPosterior(dim, 0.5, 0, math.Sqrt(0.05), math.Inf(-1), math.Inf(1)),
	}, nil
}

// twoMoons follows sbibm's two_moons simulator (TASKS.md).
func twoMoons() (*Task, error) {
	p, err := prior.NewBoxUniform(constant(2, -1), constant(2, 1))
	if err != nil {
		return nil, err
	}
	return &Task{
		Name:        "two_moons",
		Prior:       p,
		Simulator:   simulator.Rows(2, 2, stateless(twoMoonsRow)),
		ThetaNames:  numbered("theta", 2),
		XNames:      numbered("x", 2),
		Description: "Two moons (sbibm): θ ~ U[-1,1]², x is a noisy point on a half circle of radius 0.1 shifted by the rotated θ; |θ₁+θ₂| makes the posterior bimodal and crescent-shaped.",
	}, nil
}

func twoMoonsRow(x, theta []float64, rnd *rand.Rand) {
	a := math.Pi * (rnd.Float64() - 0.5) // U(-π/2, π/2)
	r := 0.1 + 0.01*rnd.NormFloat64()
	sin, cos := math.Sincos(a)
	z0 := (theta[0] + theta[1]) / math.Sqrt2
	z1 := (theta[1] - theta[0]) / math.Sqrt2
	x[0] = r*cos + 0.25 - math.Abs(z0)
	x[1] = r*sin + z1
}

// slcp follows sbibm's slcp simulator: four i.i.d. draws of a 2-D Gaussian
// whose mean, scales and correlation are functions of θ (TASKS.md).
func slcp() (*Task, error) {
	p, err := prior.NewBoxUniform(constant(5, -3), constant(5, 3))
	if err != nil {
		return nil, err
	}
	return &Task{
		Name:        "slcp",
		Prior:       p,
		Simulator:   simulator.Rows(5, 8, stateless(slcpRow)),
		ThetaNames:  numbered("theta", 5),
		XNames:      numbered("x", 8),
		Description: "Simple likelihood, complex posterior (sbibm): θ ~ U[-3,3]⁵; x holds 4 draws from N((θ₁,θ₂), S) with sds θ₃², θ₄² and correlation tanh(θ₅), giving four posterior modes.",
	}, nil
}

func slcpRow(x, theta []float64, rnd *rand.Rand) {
	s1 := theta[2] * theta[2]
	s2 := theta[3] * theta[3]
	rho := math.Tanh(theta[4])
	// Cholesky factor of S = [[s1²+ε, ρ s1 s2], [ρ s1 s2, s2²+ε]]; the
	// remaining variance s2²+ε-l21² ≥ s2²(1-ρ²)+ε stays positive.
	const eps = 1e-6
	l11 := math.Sqrt(s1*s1 + eps)
	l21 := rho * s1 * s2 / l11
	l22 := math.Sqrt(s2*s2 + eps - l21*l21)
	for j := 0; j < 8; j += 2 {
		u, v := rnd.NormFloat64(), rnd.NormFloat64()
		x[j] = theta[0] + l11*u
		x[j+1] = theta[1] + l21*u + l22*v
	}
}

// gaussianMixture picks one of two components per simulation (sbibm ≥ 1.1.0;
// earlier versions picked one per batch, see TASKS.md).
func gaussianMixture() (*Task, error) {
	p, err := prior.NewBoxUniform(constant(2, -10), constant(2, 10))
	if err != nil {
		return nil, err
	}
	return &Task{
		Name:  "gaussian_mixture",
		Prior: p,
		Simulator: simulator.Rows(2, 2, stateless(func(x, theta []float64, rnd *rand.Rand) {
			sd := 1.0
			if rnd.Float64() < 0.5 {
				sd = 0.1
			}
			x[0] = theta[0] + sd*rnd.NormFloat64()
			x[1] = theta[1] + sd*rnd.NormFloat64()
		})),
		ThetaNames:  numbered("theta", 2),
		XNames:      numbered("x", 2),
		Description: "Gaussian mixture (sbibm): θ ~ U[-10,10]², x ~ 0.5·N(θ, I) + 0.5·N(θ, 0.01·I), one component per simulation.",
	}, nil
}

// gaussianLinear3D is the three-dimensional linear Gaussian of the tutorials.
func gaussianLinear3D() (*Task, error) {
	p, err := prior.NewBoxUniform(constant(3, -2), constant(3, 2))
	if err != nil {
		return nil, err
	}
	return &Task{
		Name:  "gaussian_linear_3d",
		Prior: p,
		Simulator: simulator.Rows(3, 3, stateless(func(x, theta []float64, rnd *rand.Rand) {
			for i, t := range theta {
				x[i] = t + 1 + 0.1*rnd.NormFloat64()
			}
		})),
		ThetaNames:  numbered("theta", 3),
		XNames:      numbered("x", 3),
		Description: "Shifted linear Gaussian: θ ~ U[-2,2]³, x = θ + 1 + N(0, 0.1²·I). The posterior is N(x − 1, 0.1²·I) cut to the box.",
		Posterior:   boxNormalPosterior(3, 1, -1, 0.1, -2, 2),
	}, nil
}

// sinusoid1D is the one-dimensional nonlinear task of the tutorials.
func sinusoid1D() (*Task, error) {
	p, err := prior.NewBoxUniform([]float64{0}, []float64{1})
	if err != nil {
		return nil, err
	}
	return &Task{
		Name:  "sinusoid_1d",
		Prior: p,
		Simulator: simulator.Rows(1, 1, stateless(func(x, theta []float64, rnd *rand.Rand) {
			t := theta[0]
			x[0] = t + 0.3*math.Sin(2*math.Pi*t) + 0.05*rnd.NormFloat64()
		})),
		ThetaNames:  []string{"theta"},
		XNames:      []string{"x"},
		Description: "Sinusoid: θ ~ U(0,1), x = θ + 0.3·sin(2πθ) + N(0, 0.05²); the map θ → x is not monotone, so some x have bimodal posteriors.",
	}, nil
}

// boxNormalPosterior samples independent coordinates θ_i ~ N(a·x_i + b, sd²)
// truncated to [lo, hi] (exact rejection per coordinate): the posterior of
// the linear Gaussian tasks.
func boxNormalPosterior(dim int, a, b, sd, lo, hi float64) func([]float64, int, rand.Source) (*mat.Dense, error) {
	return func(x []float64, n int, src rand.Source) (*mat.Dense, error) {
		if len(x) != dim || n < 1 {
			return nil, fmt.Errorf("%w: posterior of %d values for x of dimension %d", ErrShape, n, len(x))
		}
		rnd := rand.New(src)
		out := mat.NewDense(n, dim, nil)
		for j, xj := range x {
			mu := a*xj + b
			// Mass inside the box, to refuse hopeless rejection loops.
			mass := 0.5 * (math.Erf((hi-mu)/(sd*math.Sqrt2)) - math.Erf((lo-mu)/(sd*math.Sqrt2)))
			if !(mass > 1e-6) {
				return nil, fmt.Errorf("tasks: x[%d] = %v leaves posterior mass %g inside the prior", j, xj, mass)
			}
			for i := range n {
				for {
					v := mu + sd*rnd.NormFloat64()
					if v >= lo && v <= hi {
						out.Set(i, j, v)
						break
					}
				}
			}
		}
		return out, nil
	}
}
