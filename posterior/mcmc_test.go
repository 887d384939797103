package posterior_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"
)

// target is a posterior known in closed form: a potential, its prior, an
// observation and exact draws.
type target struct {
	name  string
	prior prior.Prior
	pot   posterior.Potential
	x     []float64
	exact func(n int, src rand.Source) *mat.Dense
	// mean, where known, is the exact posterior mean for any x.
	mean func(x []float64) []float64
}

// linearGaussian is θ ~ N(0, I), x | θ ~ N(Aθ, σ²I) in d dimensions with a
// fixed A that couples the coordinates: the posterior is N(m, S) with
// S = (I + AᵀA/σ²)⁻¹ and m = S·Aᵀx/σ².
func linearGaussian(t testing.TB, d int) target {
	t.Helper()
	const sigma = 0.5
	rng := rand.New(rand.NewPCG(uint64(d), 99))
	a := mat.NewDense(d, d, nil)
	for i := range d {
		for j := range d {
			v := 0.3 * rng.NormFloat64() / math.Sqrt(float64(d))
			if i == j {
				v += 1
			}
			a.Set(i, j, v)
		}
	}
	x := make([]float64, d)
	for i := range x {
		x[i] = 0.8*rng.NormFloat64() + 0.3
	}
	var prec mat.SymDense
	prec.SymOuterK(1/(sigma*sigma), a.T())
	for i := range d {
		prec.SetSym(i, i, prec.At(i, i)+1)
	}
	var chol mat.Cholesky
	if !chol.Factorize(&prec) {
		t.Fatal("precision not positive definite")
	}
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		t.Fatal(err)
	}
	meanOf := func(x []float64) []float64 {
		var atx, mean mat.VecDense
		atx.MulVec(a.T(), mat.NewVecDense(d, x))
		atx.ScaleVec(1/(sigma*sigma), &atx)
		mean.MulVec(&cov, &atx)
		return mean.RawVector().Data
	}
	zero := make([]float64, d)
	eye := mat.NewSymDense(d, nil)
	for i := range d {
		eye.SetSym(i, i, 1)
	}
	pr, err := prior.NewMultivariateNormal(zero, eye)
	if err != nil {
		t.Fatal(err)
	}
	resid := make([]float64, d)
	return target{
		name:  fmt.Sprintf("linear_gaussian_%dd", d),
		prior: pr,
		x:     x,
		pot: posterior.PotentialFunc{Dim: d, XLen: d, F: func(th, x []float64) float64 {
			s := 0.0
			for i := range d {
				r := x[i]
				for j := range d {
					r -= a.At(i, j) * th[j]
				}
				resid[i] = r
				s -= 0.5*th[i]*th[i] + 0.5*r*r/(sigma*sigma)
			}
			return s
		}},
		exact: func(n int, src rand.Source) *mat.Dense {
			nd, ok := distmv.NewNormal(meanOf(x), &cov, src)
			if !ok {
				t.Fatal("bad exact posterior")
			}
			out := mat.NewDense(n, d, nil)
			for i := range n {
				nd.Rand(out.RawRowView(i))
			}
			return out
		},
		mean: meanOf,
	}
}

func box(t testing.TB, lo, hi []float64) *prior.BoxUniform {
	t.Helper()
	b, err := prior.NewBoxUniform(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bimodal is a mixture 0.3·N((−1, 0), 0.5²I) + 0.7·N((1, 0.5), 0.5²I)
// under a uniform prior on [−5, 5]², which truncates nothing that a
// float64 sees (8σ): modes close enough for a sampler to cross between.
func bimodal(t testing.TB) target {
	pr := box(t, []float64{-5, -5}, []float64{5, 5})
	mu := [2][2]float64{{-1, 0}, {1, 0.5}}
	w := [2]float64{0.3, 0.7}
	const s = 0.5
	return target{
		name: "bimodal", prior: pr,
		pot: posterior.PotentialFunc{Dim: 2, F: func(th, _ []float64) float64 {
			if !pr.InSupport(th) {
				return math.Inf(-1)
			}
			p := 0.0
			for k := range 2 {
				d0, d1 := th[0]-mu[k][0], th[1]-mu[k][1]
				p += w[k] * math.Exp(-(d0*d0+d1*d1)/(2*s*s))
			}
			return math.Log(p)
		}},
		exact: func(n int, src rand.Source) *mat.Dense {
			r := rand.New(src)
			out := mat.NewDense(n, 2, nil)
			for i := range n {
				k := 0
				if r.Float64() >= w[0] {
					k = 1
				}
				out.Set(i, 0, mu[k][0]+s*r.NormFloat64())
				out.Set(i, 1, mu[k][1]+s*r.NormFloat64())
			}
			return out
		},
	}
}

// boxFace is a correlated Gaussian N((0.3, 1.5), [[0.25, 0.1], [0.1, 0.16]])
// under a uniform prior on [0, 4] × [−2, 2]: the faces θ0 = 0 and θ1 = 2
// cut off about a quarter and a tenth of its mass. Exact draws by
// rejection.
func boxFace(t testing.TB) target {
	pr := box(t, []float64{0, -2}, []float64{4, 2})
	mean := []float64{0.3, 1.5}
	cov := mat.NewSymDense(2, []float64{0.25, 0.1, 0.1, 0.16})
	g, ok := distmv.NewNormal(mean, cov, nil)
	if !ok {
		t.Fatal("bad covariance")
	}
	return target{
		name: "box_face", prior: pr,
		pot: posterior.PotentialFunc{Dim: 2, F: func(th, _ []float64) float64 {
			if !pr.InSupport(th) {
				return math.Inf(-1)
			}
			return g.LogProb(th)
		}},
		exact: func(n int, src rand.Source) *mat.Dense {
			gs, _ := distmv.NewNormal(mean, cov, src)
			out := mat.NewDense(n, 2, nil)
			for i := 0; i < n; {
				gs.Rand(out.RawRowView(i))
				if pr.InSupport(out.RawRowView(i)) {
					i++
				}
			}
			return out
		},
	}
}

// checkC2ST fails unless the classifier cannot tell the samples from exact
// draws: C2ST ≤ 0.52, where 0.5 is indistinguishable and the standard
// error with 2,000 draws a side is 0.008.
func checkC2ST(t *testing.T, name string, got, exact *mat.Dense) {
	t.Helper()
	c, err := diagnostics.C2ST(context.Background(), exact, got, diagnostics.C2STOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c > 0.52 {
		t.Errorf("%s: C2ST %.4f > 0.52", name, c)
	} else {
		t.Logf("%s: C2ST %.4f", name, c)
	}
}

func checkRHat(t *testing.T, name string, s *posterior.Samples) {
	t.Helper()
	conv := s.Convergence
	for j, r := range conv.RHat {
		if !(r <= posterior.MaxRHat) {
			t.Errorf("%s: R-hat[%d] = %.4f > %.2f", name, j, r, posterior.MaxRHat)
		}
	}
	if conv.Warning != "" {
		t.Errorf("%s: warning %q", name, conv.Warning)
	}
	t.Logf("%s: %s", name, conv)
}

func sample(t *testing.T, tg target, opts posterior.MCMCOptions, n int, seed uint64) *posterior.Samples {
	t.Helper()
	m, err := posterior.NewMCMC(tg.pot, tg.prior, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Sample(context.Background(), tg.x, n, rand.NewPCG(seed, 1))
	if err != nil {
		t.Fatal(err)
	}
	if r, c := s.Theta.Dims(); r != n || c != tg.pot.ThetaDim() {
		t.Fatalf("%d×%d samples, want %d×%d", r, c, n, tg.pot.ThetaDim())
	}
	return s
}

// Each sampler on posteriors known exactly: C2ST against exact draws and
// R-hat. A sampler that left out the transform's Jacobian, tuned its slice
// widths after warm-up or lost a mode would fail here.
func TestMCMCExactPosteriors(t *testing.T) {
	const n = 2000
	targets := []target{linearGaussian(t, 1), linearGaussian(t, 3), bimodal(t), boxFace(t)}
	// Walkers of an ensemble stay correlated for longer than slice
	// chains: thinned as little as slice chains, their split R-hat sits
	// about τ/2N above 1 (τ the autocorrelation time in draws, N the draws
	// per split chain), above 1.01 at these sizes.
	thin := map[string]int{posterior.MethodSlice: 10, posterior.MethodEnsemble: 100}
	for _, method := range []string{posterior.MethodSlice, posterior.MethodEnsemble} {
		for i, tg := range targets {
			t.Run(method+"/"+tg.name, func(t *testing.T) {
				t.Parallel()
				s := sample(t, tg, posterior.MCMCOptions{Method: method, Thin: thin[method]}, n, uint64(10+i))
				checkRHat(t, tg.name, s)
				checkC2ST(t, tg.name, s.Theta, tg.exact(n, rand.NewPCG(uint64(20+i), 2)))
				for r := range n {
					if !tg.prior.InSupport(s.Theta.RawRowView(r)) {
						t.Fatalf("sample %d %v outside the support", r, s.Theta.RawRowView(r))
					}
				}
			})
		}
	}
}

// In 10 dimensions a C2ST takes minutes, so the check is on moments: each
// mean within 4 standard errors (by the run's own ESS) of the exact one,
// each standard deviation within 15%.
func TestMCMCLinearGaussian10D(t *testing.T) {
	tg := linearGaussian(t, 10)
	exact := tg.exact(100_000, rand.NewPCG(5, 5))
	for _, method := range []string{posterior.MethodSlice, posterior.MethodEnsemble} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			opts := posterior.MCMCOptions{Method: method, WarmupSteps: 300}
			if method == posterior.MethodEnsemble {
				opts.Thin = 400
			}
			s := sample(t, tg, opts, 2000, 3)
			checkRHat(t, tg.name, s)
			for j := range 10 {
				em, es := colMeanSD(exact, j)
				gm, gs := colMeanSD(s.Theta, j)
				se := es / math.Sqrt(s.Convergence.ESS[j])
				if math.Abs(gm-em) > 4*se {
					t.Errorf("θ[%d]: mean %.4f, exact %.4f (4 SE = %.4f)", j, gm, em, 4*se)
				}
				if math.Abs(gs/es-1) > 0.15 {
					t.Errorf("θ[%d]: sd %.4f, exact %.4f", j, gs, es)
				}
			}
		})
	}
}

func colMeanSD(m *mat.Dense, j int) (mean, sd float64) {
	r, _ := m.Dims()
	for i := range r {
		mean += m.At(i, j)
	}
	mean /= float64(r)
	for i := range r {
		d := m.At(i, j) - mean
		sd += d * d
	}
	return mean, math.Sqrt(sd / float64(r-1))
}

// The prior and proposal initialisations reach the same posterior.
func TestMCMCInit(t *testing.T) {
	tg := boxFace(t)
	prop := proposalFunc(func(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*posterior.Samples, error) {
		return []*posterior.Samples{{Theta: tg.exact(n, src)}}, nil
	})
	for _, o := range []posterior.MCMCOptions{{Init: posterior.InitPrior}, {Init: posterior.InitProposal, Proposal: prop}} {
		t.Run(o.Init, func(t *testing.T) {
			s := sample(t, tg, o, 2000, 8)
			checkRHat(t, o.Init, s)
			checkC2ST(t, o.Init, s.Theta, tg.exact(2000, rand.NewPCG(8, 8)))
		})
	}
}

type proposalFunc func(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*posterior.Samples, error)

func (f proposalFunc) SampleBatched(ctx context.Context, xs *mat.Dense, n int, src rand.Source) ([]*posterior.Samples, error) {
	return f(ctx, xs, n, src)
}

// countingPotential counts LogPotential calls.
type countingPotential struct {
	posterior.Potential
	calls atomic.Int64
}

func (c *countingPotential) LogPotential(ctx context.Context, dst, theta []float64, xs [][]float64, obs []int) error {
	c.calls.Add(1)
	return c.Potential.LogPotential(ctx, dst, theta, xs, obs)
}

// Chains for several observations share each potential call, and an
// observation's draws do not depend on the others in the call.
func TestMCMCManyObservations(t *testing.T) {
	tg := linearGaussian(t, 3)
	x1 := []float64{-0.5, 0.2, 1.0}
	for _, method := range []string{posterior.MethodSlice, posterior.MethodEnsemble} {
		t.Run(method, func(t *testing.T) {
			pot := &countingPotential{Potential: tg.pot}
			m, err := posterior.NewMCMC(pot, tg.prior, posterior.MCMCOptions{Method: method})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			alone, err := m.Sample(ctx, tg.x, 500, rand.NewPCG(1, 2))
			if err != nil {
				t.Fatal(err)
			}
			single := pot.calls.Swap(0)
			xs := mat.NewDense(2, 3, append(append([]float64(nil), tg.x...), x1...))
			both, err := m.SampleBatched(ctx, xs, 500, rand.NewPCG(1, 2))
			if err != nil {
				t.Fatal(err)
			}
			if !mat.Equal(alone.Theta, both[0].Theta) {
				t.Error("observation 0's draws change when observation 1 shares the calls")
			}
			if calls := pot.calls.Load(); calls > single*3/2 {
				t.Errorf("%d potential calls for two observations, %d for one: not shared", calls, single)
			}
			if mat.Equal(both[0].Theta, both[1].Theta) {
				t.Error("both observations got the same draws")
			}
			// Each observation's posterior mean is its exact one.
			for i, x := range [][]float64{tg.x, x1} {
				want := tg.mean(x)
				for j := range 3 {
					got, sd := colMeanSD(both[i].Theta, j)
					if se := sd / math.Sqrt(both[i].Convergence.ESS[j]); math.Abs(got-want[j]) > 4*se {
						t.Errorf("observation %d θ[%d]: mean %.4f, exact %.4f (4 SE = %.4f)", i, j, got, want[j], 4*se)
					}
				}
			}
		})
	}
}

// Results depend on the seed alone: not on GOMAXPROCS, which sets the
// runtime's workers that cut a large call into pieces.
func TestMCMCReproducible(t *testing.T) {
	run := func(procs int, method string) *mat.Dense {
		defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(procs))
		rm, err := runtime.Open("../testdata/golden/nsf.onnx", runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer rm.Close()
		m, err := posterior.NewModelMCMC(rm, nil, posterior.MCMCOptions{
			Method: method, NumChains: 1100, WarmupSteps: 3, Thin: 1, InitCandidates: 3000,
		})
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Sample(context.Background(), []float64{0.2, -0.4}, 2200, rand.NewPCG(3, 4))
		if err != nil {
			t.Fatal(err)
		}
		return s.Theta
	}
	for _, method := range []string{posterior.MethodSlice, posterior.MethodEnsemble} {
		a, b := run(1, method), run(2, method)
		if !mat.Equal(a, b) {
			t.Errorf("%s: draws differ between GOMAXPROCS 1 and 2", method)
		}
		if c := run(2, method); !mat.Equal(b, c) {
			t.Errorf("%s: draws differ between two runs", method)
		}
	}
}

// Cancelling stops sampling within a potential call and returns ctx.Err().
func TestMCMCCancel(t *testing.T) {
	tg := linearGaussian(t, 3)
	for _, method := range []string{posterior.MethodSlice, posterior.MethodEnsemble} {
		ctx, cancel := context.WithCancel(context.Background())
		var at time.Time
		m, err := posterior.NewMCMC(tg.pot, tg.prior, posterior.MCMCOptions{
			Method: method, WarmupSteps: 1_000_000 - 100_000,
			Progress: func(done, total int) {
				if done == 10 {
					at = time.Now()
					cancel()
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Sample(ctx, tg.x, 1000, rand.NewPCG(1, 1))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: error %v, want context.Canceled", method, err)
		}
		if d := time.Since(at); d > time.Second {
			t.Errorf("%s: returned %v after the cancel", method, d)
		}
		cancel()
	}
}

// Bad options and observations are errors naming the problem.
func TestMCMCBadInput(t *testing.T) {
	tg := linearGaussian(t, 3)
	for _, o := range []posterior.MCMCOptions{
		{Method: "hmc"}, {Init: "map"}, {Init: posterior.InitProposal}, {NumChains: -1},
		{Method: posterior.MethodEnsemble, NumChains: 7}, {Thin: -2}, {InitCandidates: -1},
	} {
		if _, err := posterior.NewMCMC(tg.pot, tg.prior, o); !errors.Is(err, posterior.ErrInput) {
			t.Errorf("%+v: error %v, want ErrInput", o, err)
		}
	}
	m, err := posterior.NewMCMC(tg.pot, tg.prior, posterior.MCMCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, x := range [][]float64{nil, {1, 2}, {1, math.NaN(), 3}} {
		if _, err := m.Sample(ctx, x, 10, nil); !errors.Is(err, posterior.ErrInput) {
			t.Errorf("x %v: error %v, want ErrInput", x, err)
		}
	}
	if _, err := m.Sample(ctx, tg.x, 0, nil); !errors.Is(err, posterior.ErrInput) {
		t.Errorf("n 0: error %v, want ErrInput", err)
	}
	// A potential that is −Inf everywhere has nowhere to start.
	flat := posterior.PotentialFunc{Dim: 3, F: func([]float64, []float64) float64 { return math.Inf(-1) }}
	m, err = posterior.NewMCMC(flat, tg.prior, posterior.MCMCOptions{InitCandidates: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sample(ctx, nil, 10, nil); !errors.Is(err, posterior.ErrLowAcceptance) {
		t.Errorf("−Inf potential: error %v, want ErrLowAcceptance", err)
	}
}

// Too short a run says so instead of reporting numbers that mean nothing.
func TestMCMCWarnsShortRun(t *testing.T) {
	tg := bimodal(t)
	s := sample(t, tg, posterior.MCMCOptions{WarmupSteps: -1, Thin: 1, Init: posterior.InitPrior, NumChains: 4}, 40, 1)
	if s.Convergence.Warning == "" {
		t.Errorf("no warning for 10 unthinned draws per chain from the prior: %s", s.Convergence)
	}
}
