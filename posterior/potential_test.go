package posterior_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"
)

// gaussModel is an analytic stand-in for a runtime model of each method,
// in float32 as the models compute: x | θ ~ N(θ, σ²I) in two dimensions,
// so that log q(x | θ) (NLE), log r(θ, x) = log q(x | θ) + const (NRE) and
// log q(θ | x) = N(θ; x, σ²I) (NPE, the posterior under a flat prior) are
// exact. It records the shape of every call.
type gaussModel struct {
	sigma float64
	calls []string
}

func (*gaussModel) ThetaDim() int { return 2 }
func (*gaussModel) XDim() int     { return 2 }

func (g *gaussModel) logN(x, theta []float32) float32 {
	s := -math.Log(2 * math.Pi * g.sigma * g.sigma)
	for j := range 2 {
		d := float64(x[j] - theta[j])
		s -= d * d / (2 * g.sigma * g.sigma)
	}
	return float32(s)
}

func (g *gaussModel) LogLikelihood(theta []float32, b int, x []float32, n int) ([]float32, error) {
	g.calls = append(g.calls, fmt.Sprintf("nle b=%d n=%d", b, n))
	if len(theta) != b*2 || len(x) != b*n*2 {
		return nil, fmt.Errorf("%w: shapes", runtime.ErrInput)
	}
	out := make([]float32, b*n)
	for i := range b {
		for k := range n {
			out[i*n+k] = g.logN(x[(i*n+k)*2:], theta[i*2:])
		}
	}
	return out, nil
}

func (g *gaussModel) LogRatio(x []float32, b int, theta []float32, n int) ([]float32, error) {
	g.calls = append(g.calls, fmt.Sprintf("nre b=%d n=%d", b, n))
	if len(x) != b*2 || len(theta) != b*n*2 {
		return nil, fmt.Errorf("%w: shapes", runtime.ErrInput)
	}
	out := make([]float32, b*n)
	for i := range b {
		for k := range n {
			out[i*n+k] = g.logN(x[i*2:], theta[(i*n+k)*2:]) + 7 // a ratio is known up to a constant
		}
	}
	return out, nil
}

func (g *gaussModel) LogProb(x []float32, b int, theta []float32, n int) ([]float32, error) {
	g.calls = append(g.calls, fmt.Sprintf("npe b=%d n=%d", b, n))
	if len(x) != b*2 || len(theta) != b*n*2 {
		return nil, fmt.Errorf("%w: shapes", runtime.ErrInput)
	}
	out := make([]float32, b*n)
	for i := range b {
		for k := range n {
			out[i*n+k] = g.logN(x[i*2:], theta[(i*n+k)*2:])
		}
	}
	return out, nil
}

// Each potential's values are the prior plus the summed estimator terms,
// −Inf outside the support, from one runtime call padded to whole
// runtime.Lanes rows.
func TestModelPotentialValues(t *testing.T) {
	pr := box(t, []float64{-4, -4}, []float64{4, 4})
	g := &gaussModel{sigma: 0.7}
	lik, err := posterior.NewLikelihoodPotential(g, pr)
	if err != nil {
		t.Fatal(err)
	}
	rat, err := posterior.NewRatioPotential(g, pr)
	if err != nil {
		t.Fatal(err)
	}
	post, err := posterior.NewPosteriorPotential(g, pr)
	if err != nil {
		t.Fatal(err)
	}
	theta := []float64{0.1, 0.2, -1, 3, 5, 0, 2, -2.5}
	trials := [][]float64{{0.3, 0.1, -0.2, 0.5, 0.9, 0.0}, {1, 1, 1.5, 0.5, 0.2, 0.4}}
	obs := []int{0, 1, 0, 1}
	exact := func(th, x []float64) float64 {
		s := 0.0
		for k := 0; k < len(x); k += 2 {
			s += float64(g.logN([]float32{float32(x[k]), float32(x[k+1])}, []float32{float32(th[0]), float32(th[1])}))
		}
		return s
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		pot  posterior.Potential
		xs   [][]float64
		want func(th, x []float64) float64
		call string
	}{
		{"likelihood", lik, trials, func(th, x []float64) float64 { return pr.LogProb(th) + exact(th, x) }, "nle b=16 n=3"},
		{"ratio", rat, trials, func(th, x []float64) float64 { return pr.LogProb(th) + exact(th, x) + 21 }, "nre b=48 n=1"},
		{"posterior", post, [][]float64{trials[0][:2], trials[1][:2]}, exact, "npe b=16 n=1"},
	} {
		g.calls = nil
		dst := make([]float64, 4)
		if err := c.pot.LogPotential(ctx, dst, theta, c.xs, obs); err != nil {
			t.Fatal(c.name, err)
		}
		if len(g.calls) != 1 || g.calls[0] != c.call {
			t.Errorf("%s: runtime calls %v, want one %q", c.name, g.calls, c.call)
		}
		for i, v := range dst {
			th := theta[i*2 : i*2+2]
			want := math.Inf(-1)
			if pr.InSupport(th) {
				want = c.want(th, c.xs[obs[i]])
			}
			if !(math.Abs(v-want) <= 1e-5*(1+math.Abs(want))) && v != want {
				t.Errorf("%s: row %d: %v, want %v", c.name, i, v, want)
			}
		}
	}
	// An NPE observation must be one x; iid sets must agree in size.
	if err := post.LogPotential(ctx, make([]float64, 4), theta, trials, obs); !errors.Is(err, posterior.ErrInput) {
		t.Errorf("NPE with 3 trials: error %v, want ErrInput", err)
	}
	if err := lik.LogPotential(ctx, make([]float64, 4), theta, [][]float64{{1, 2}, {1, 2, 3, 4}}, obs); !errors.Is(err, posterior.ErrInput) {
		t.Errorf("unequal trials: error %v, want ErrInput", err)
	}
	if _, err := posterior.NewLikelihoodPotential(g, box(t, []float64{0}, []float64{1})); !errors.Is(err, posterior.ErrInput) {
		t.Errorf("1-D prior for a 2-D model: error %v, want ErrInput", err)
	}
}

// MCMC over each model potential recovers the exact posterior: with a
// box prior [−1, 3]², three iid trials of N(θ, 0.7²I) give a normal
// posterior around their mean with σ²/3, cut by the face θ0 = −1 for the
// NLE and NRE cases; the NPE potential of N(θ; x, 0.7²I) is cut by it too.
func TestModelPotentialPosteriors(t *testing.T) {
	pr := box(t, []float64{-1, -1}, []float64{3, 3})
	g := &gaussModel{sigma: 0.7}
	trials := []float64{-0.9, 1.2, -0.5, 0.8, -0.7, 1.0}
	mean3 := []float64{-0.7, 1.0}
	lik, _ := posterior.NewLikelihoodPotential(g, pr)
	rat, _ := posterior.NewRatioPotential(g, pr)
	post, _ := posterior.NewPosteriorPotential(g, pr)
	truncated := func(mean []float64, sd float64) func(int, rand.Source) *mat.Dense {
		return func(n int, src rand.Source) *mat.Dense {
			cov := mat.NewSymDense(2, []float64{sd * sd, 0, 0, sd * sd})
			nd, _ := distmv.NewNormal(mean, cov, src)
			out := mat.NewDense(n, 2, nil)
			for i := 0; i < n; {
				nd.Rand(out.RawRowView(i))
				if pr.InSupport(out.RawRowView(i)) {
					i++
				}
			}
			return out
		}
	}
	for i, c := range []target{
		{name: "nle", prior: pr, pot: lik, x: trials, exact: truncated(mean3, 0.7/math.Sqrt(3))},
		{name: "nre", prior: pr, pot: rat, x: trials, exact: truncated(mean3, 0.7/math.Sqrt(3))},
		{name: "npe", prior: pr, pot: post, x: []float64{-0.6, 0.9}, exact: truncated([]float64{-0.6, 0.9}, 0.7)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := sample(t, c, posterior.MCMCOptions{}, 2000, uint64(40+i))
			checkRHat(t, c.name, s)
			checkC2ST(t, c.name, s.Theta, c.exact(2000, rand.NewPCG(uint64(50+i), 1)))
		})
	}
}
