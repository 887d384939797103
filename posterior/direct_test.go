package posterior_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// linear is a gaussian estimator whose weights are set by hand so that
// q(θ|x) = N(θ; μ(x), diag σ²) exactly, with μ affine in x, under a
// BoxUniform prior on [lo, hi]²: every posterior quantity has a closed form
// (a product of truncated normals).
//
// In z-scored units (zx = (x − xMean)/xStd) the one hidden layer is
// h = relu(zx + shift), linear while zx > −shift, and the output layer maps
// h to μz = zx·a + base and to a constant log σz². Raw θ is
// θMean + θStd·z.
var linear = struct {
	a                [2][2]float64
	base, sigmaZ     [2]float64
	shift            float64
	thetaMean, thStd [2]float64
	xMean, xStd      [2]float64
	lo, hi           float64
}{
	a:         [2][2]float64{{1.5, 0.4}, {0, -1.2}},
	base:      [2]float64{0.1, -0.4},
	sigmaZ:    [2]float64{0.6, 0.9},
	shift:     10,
	thetaMean: [2]float64{0.5, -0.2},
	thStd:     [2]float64{1.5, 0.8},
	xMean:     [2]float64{1, -1},
	xStd:      [2]float64{2, 0.5},
	lo:        -3, hi: 3,
}

func linearModel(t testing.TB) *models.Model {
	t.Helper()
	l := linear
	e, err := models.New(models.Spec{Kind: "gaussian", ThetaDim: 2, XDim: 2, Hidden: 2, Layers: 1, Activation: "relu"})
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{
		"hidden0.w": {1, 0, 0, 1},
		"hidden0.b": {float32(l.shift), float32(l.shift)},
		// Columns μ0, μ1, log σ0², log σ1².
		"out.w": {float32(l.a[0][0]), float32(l.a[0][1]), 0, 0, float32(l.a[1][0]), float32(l.a[1][1]), 0, 0},
		"out.b": {
			float32(l.base[0] - l.shift*(l.a[0][0]+l.a[1][0])),
			float32(l.base[1] - l.shift*(l.a[0][1]+l.a[1][1])),
			float32(2 * math.Log(l.sigmaZ[0])), float32(2 * math.Log(l.sigmaZ[1])),
		},
	}
	m := &models.Model{
		Spec: e.Spec(), Weights: w, Method: "npe",
		ThetaMean: l.thetaMean[:], ThetaStd: l.thStd[:], XMean: l.xMean[:], XStd: l.xStd[:],
		ThetaNames: []string{"a", "b"}, XNames: []string{"u", "v"},
	}
	runtimetest.SetBox(t, m, l.lo, l.hi)
	return m
}

// moments are μ and σ of q(θ|x) in raw units.
func moments(x []float64) (mu, sigma [2]float64) {
	l := linear
	zx := [2]float64{(x[0] - l.xMean[0]) / l.xStd[0], (x[1] - l.xMean[1]) / l.xStd[1]}
	for j := range 2 {
		muZ := l.base[j] + zx[0]*l.a[0][j] + zx[1]*l.a[1][j]
		mu[j] = l.thetaMean[j] + l.thStd[j]*muZ
		sigma[j] = l.thStd[j] * l.sigmaZ[j]
	}
	return mu, sigma
}

// xFor is the observation whose μ is the given raw θ, solving the affine map.
func xFor(mu [2]float64) []float64 {
	l := linear
	var muZ [2]float64
	for j := range 2 {
		muZ[j] = (mu[j]-l.thetaMean[j])/l.thStd[j] - l.base[j]
	}
	// muZ = zx·a with a upper triangular: a[1][0] = 0.
	zx0 := muZ[0] / l.a[0][0]
	zx1 := (muZ[1] - zx0*l.a[0][1]) / l.a[1][1]
	return []float64{l.xMean[0] + l.xStd[0]*zx0, l.xMean[1] + l.xStd[1]*zx1}
}

// truncated is N(μ, σ²) restricted to [lo, hi] in one dimension.
type truncated struct{ mu, sigma, alpha, beta, mass float64 }

func newTruncated(mu, sigma float64) truncated {
	n := distuv.UnitNormal
	a, b := (linear.lo-mu)/sigma, (linear.hi-mu)/sigma
	return truncated{mu, sigma, a, b, n.CDF(b) - n.CDF(a)}
}

func (t truncated) mean() float64 {
	n := distuv.UnitNormal
	return t.mu + t.sigma*(n.Prob(t.alpha)-n.Prob(t.beta))/t.mass
}

func (t truncated) variance() float64 {
	n := distuv.UnitNormal
	r := (n.Prob(t.alpha) - n.Prob(t.beta)) / t.mass
	return t.sigma * t.sigma * (1 + (t.alpha*n.Prob(t.alpha)-t.beta*n.Prob(t.beta))/t.mass - r*r)
}

// analytic is the closed form of the posterior at x.
type analytic struct {
	dims [2]truncated
	mass float64 // P_q(θ ∈ box)
}

func closedForm(x []float64) analytic {
	mu, sigma := moments(x)
	a := analytic{mass: 1}
	for j := range 2 {
		a.dims[j] = newTruncated(mu[j], sigma[j])
		a.mass *= a.dims[j].mass
	}
	return a
}

// logQ is log q(θ|x), the untruncated estimator density.
func (a analytic) logQ(theta []float64) float64 {
	var s float64
	for j, d := range a.dims {
		s += distuv.Normal{Mu: d.mu, Sigma: d.sigma}.LogProb(theta[j])
	}
	return s
}

func open(t testing.TB, opts posterior.DirectOptions) *posterior.Direct {
	t.Helper()
	rm := runtimetest.Open(t, linearModel(t), runtime.Options{Threads: 1})
	d, err := posterior.NewDirect(rm, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLinearModel checks the hand-set weights: the model's log-density is
// the closed form before any posterior logic is tested on it.
func TestLinearModel(t *testing.T) {
	rm := runtimetest.Open(t, linearModel(t), runtime.Options{})
	rng := rand.New(rand.NewPCG(1, 1))
	for range 20 {
		x := []float64{4 * rng.NormFloat64(), rng.NormFloat64()}
		theta := []float64{3 * rng.NormFloat64(), 3 * rng.NormFloat64()}
		lp, err := rm.LogProb([]float32{float32(x[0]), float32(x[1])}, 1, []float32{float32(theta[0]), float32(theta[1])}, 1)
		if err != nil {
			t.Fatal(err)
		}
		// The float32 inputs round x and θ: compare at the rounded values.
		x = []float64{float64(float32(x[0])), float64(float32(x[1]))}
		theta = []float64{float64(float32(theta[0])), float64(float32(theta[1]))}
		want := closedForm(x).logQ(theta)
		if math.Abs(float64(lp[0])-want) > 1e-4*math.Max(1, math.Abs(want)) {
			t.Fatalf("x %v θ %v: log q %v, closed form %v", x, theta, lp[0], want)
		}
	}
}

// within fails the test when got is more than 5 standard errors from want.
func within(t *testing.T, what string, got, want, se float64) {
	t.Helper()
	if math.Abs(got-want) > 5*se {
		t.Errorf("%s: %v, want %v ± 5×%.3g", what, got, want, se)
	}
}

// checkSamples compares accepted draws and the acceptance rate with the
// closed form: all draws in the box, per-dimension means and variances of
// the truncated normals, and the acceptance rate of the mass inside.
func checkSamples(t *testing.T, s *posterior.Samples, x []float64) {
	t.Helper()
	a := closedForm(x)
	n, _ := s.Theta.Dims()
	for i := range n {
		if row := s.Theta.RawRowView(i); row[0] < linear.lo || row[0] > linear.hi || row[1] < linear.lo || row[1] > linear.hi {
			t.Fatalf("x %v: sample %v outside the prior's box", x, row)
		}
	}
	for j, d := range a.dims {
		col := mat.Col(nil, j, s.Theta)
		var mean, ss float64
		for _, v := range col {
			mean += v
		}
		mean /= float64(n)
		for _, v := range col {
			ss += (v - mean) * (v - mean)
		}
		v := d.variance()
		within(t, "mean", mean, d.mean(), math.Sqrt(v/float64(n)))
		// The normal's standard error of a variance; a truncated normal has
		// thinner tails, so this is on the safe side.
		within(t, "variance", ss/float64(n-1), v, v*math.Sqrt(2/float64(n-1)))
	}
	if s.Inside < n || s.Inside > s.Proposed || s.Acceptance != float64(s.Inside)/float64(s.Proposed) {
		t.Errorf("%d inside of %d proposed for %d samples, acceptance %v", s.Inside, s.Proposed, n, s.Acceptance)
	}
	within(t, "acceptance", s.Acceptance, a.mass, math.Sqrt(a.mass*(1-a.mass)/float64(s.Proposed)))
}

func TestSample(t *testing.T) {
	d := open(t, posterior.DirectOptions{})
	// μ near a corner of the box: about half the mass inside.
	x := xFor([2]float64{2.6, -2.9})
	s, err := d.Sample(context.Background(), x, 4000, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if r, c := s.Theta.Dims(); r != 4000 || c != 2 {
		t.Fatalf("%d×%d samples", r, c)
	}
	if m := closedForm(x).mass; m > 0.6 || m < 0.2 {
		t.Fatalf("test setup: mass inside %v", m)
	}
	checkSamples(t, s, x)
	if len(s.Extrapolating) != 0 {
		t.Errorf("extrapolating %v", s.Extrapolating)
	}

	again, err := d.Sample(context.Background(), x, 4000, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(s.Theta, again.Theta) || s.Proposed != again.Proposed {
		t.Error("the same seed gave different samples")
	}
}

// TestSampleBatched checks every observation of one batched call against
// its own closed form, with acceptance rates from 0.03 to 1.
func TestSampleBatched(t *testing.T) {
	d := open(t, posterior.DirectOptions{})
	mus := [][2]float64{{0, 0}, {2.8, 1}, {-3.5, 3.5}, {1, -1.5}, {-2, 2.9}}
	xs := mat.NewDense(len(mus), 2, nil)
	for i, mu := range mus {
		xs.SetRow(i, xFor(mu))
	}
	out, err := d.SampleBatched(context.Background(), xs, 3000, rand.NewPCG(3, 4))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(mus) {
		t.Fatalf("%d results for %d observations", len(out), len(mus))
	}
	for i, s := range out {
		checkSamples(t, s, xs.RawRowView(i))
	}
}

// TestLogProb checks log-probabilities: the estimator's density inside the
// box, −Inf outside, and with leakage correction the truncated density.
func TestLogProb(t *testing.T) {
	const draws = 20_000
	d := open(t, posterior.DirectOptions{LeakageDraws: draws})
	x := xFor([2]float64{2.5, 0.5})
	a := closedForm(x)
	theta := mat.NewDense(4, 2, []float64{
		0, 0,
		2.9, -2.9,
		3, 3, // on the closed box's corner
		3.5, 0, // outside
	})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.NormalizedLogProb(cancelled, theta, x, rand.NewPCG(5, 5)); !errors.Is(err, context.Canceled) {
		t.Errorf("LogProb with a cancelled context: %v, want context.Canceled", err)
	}
	plain, err := d.LogProb(context.Background(), theta, x)
	if err != nil {
		t.Fatal(err)
	}
	corrected, err := d.NormalizedLogProb(context.Background(), theta, x, rand.NewPCG(5, 5))
	if err != nil {
		t.Fatal(err)
	}
	// The estimate of log mass from `draws` draws has standard error
	// √((1−p)/(p·draws)) by the delta method.
	se := math.Sqrt((1 - a.mass) / (a.mass * draws))
	for i := range 3 {
		row := theta.RawRowView(i)
		want := a.logQ(row)
		if math.Abs(plain[i]-want) > 1e-4*math.Max(1, math.Abs(want)) {
			t.Errorf("θ %v: log q %v, want %v", row, plain[i], want)
		}
		within(t, "corrected log-prob", corrected[i], want-math.Log(a.mass), se)
	}
	if !math.IsInf(plain[3], -1) || !math.IsInf(corrected[3], -1) {
		t.Errorf("outside the support: %v and %v, want −Inf", plain[3], corrected[3])
	}
	// The mass is estimated once per x: another source changes nothing.
	again, err := d.NormalizedLogProb(context.Background(), theta, x, rand.NewPCG(6, 6))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, corrected) {
		t.Errorf("corrected log-prob changed between calls: %v then %v", corrected, again)
	}
}

func TestMAP(t *testing.T) {
	d := open(t, posterior.DirectOptions{})
	mode := [2]float64{1.2, -0.7}
	x := xFor(mode)
	res, err := d.MAP(context.Background(), x, posterior.MAPOptions{}, rand.NewPCG(7, 7))
	if err != nil {
		t.Fatal(err)
	}
	// float32 arithmetic resolves log q to about 1e-6 near its maximum, so
	// the mode is determined to about σ·√(2·1e-6) ≈ 1.4e-3·σ: allow 1e-2·σ.
	_, sigma := moments(x)
	for j := range 2 {
		if math.Abs(res.Theta[j]-mode[j]) > 1e-2*sigma[j] {
			t.Errorf("MAP %v, mode %v", res.Theta, mode)
		}
	}
	if want := closedForm(x).logQ(mode[:]); math.Abs(res.LogProb-want) > 1e-4 {
		t.Errorf("log q at the MAP %v, at the mode %v", res.LogProb, want)
	}
}

// TestLowAcceptance: an observation whose posterior lies outside the prior
// fails fast instead of looping.
func TestLowAcceptance(t *testing.T) {
	d := open(t, posterior.DirectOptions{MinProposals: 2000, MinAcceptance: 1e-3, LeakageDraws: 1000})
	x := xFor([2]float64{12, 0})
	if m := closedForm(x).mass; m > 1e-20 {
		t.Fatalf("test setup: mass inside %v", m)
	}
	start := time.Now()
	_, err := d.Sample(context.Background(), x, 100, rand.NewPCG(1, 1))
	if !errors.Is(err, posterior.ErrLowAcceptance) {
		t.Fatalf("error %v, want ErrLowAcceptance", err)
	}
	if !strings.Contains(err.Error(), "observation 0 accepted 0 of") {
		t.Errorf("error %q does not say what was accepted", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
	if _, err := d.NormalizedLogProb(context.Background(), mat.NewDense(1, 2, []float64{0, 0}), x, rand.NewPCG(1, 1)); !errors.Is(err, posterior.ErrLowAcceptance) {
		t.Errorf("leakage correction with no mass inside: %v", err)
	}
}

func TestCancel(t *testing.T) {
	// Nothing is ever accepted and the acceptance is never judged: only
	// the context can stop sampling.
	never := posterior.DirectOptions{MinProposals: math.MaxInt, MaxBatch: 1000}
	x := xFor([2]float64{12, 0})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := open(t, never)
	if _, err := d.Sample(ctx, x, 10, rand.NewPCG(1, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if _, err := d.MAP(ctx, x, posterior.MAPOptions{}, rand.NewPCG(1, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("MAP with a cancelled context: %v", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := d.Sample(ctx, x, 10, rand.NewPCG(1, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("context deadline: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stopped after %v", el)
	}

}

func TestExtrapolating(t *testing.T) {
	// A prior wide enough for the posteriors of far-away observations.
	wide, err := prior.NewBoxUniform([]float64{-100, -100}, []float64{100, 100})
	if err != nil {
		t.Fatal(err)
	}
	d := open(t, posterior.DirectOptions{Prior: wide})
	l := linear
	for _, c := range []struct {
		zx   [2]float64
		want []int
	}{
		{[2]float64{4.9, -4.9}, nil},
		{[2]float64{0, 6}, []int{1}},
		{[2]float64{-5.5, 5.1}, []int{0, 1}},
	} {
		x := []float64{l.xMean[0] + l.xStd[0]*c.zx[0], l.xMean[1] + l.xStd[1]*c.zx[1]}
		s, err := d.Sample(context.Background(), x, 1, rand.NewPCG(1, 1))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Extrapolating, c.want) {
			t.Errorf("z-scored x %v: extrapolating %v, want %v", c.zx, s.Extrapolating, c.want)
		}
	}
}

func TestBadInputs(t *testing.T) {
	d := open(t, posterior.DirectOptions{})
	ctx, src := context.Background(), rand.NewPCG(1, 1)
	nan := math.NaN()
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"empty x", first(d.Sample(ctx, nil, 10, src)), "empty x"},
		{"x dim", first(d.Sample(ctx, []float64{1, 2, 3}, 10, src)), "x has dimension 3, the model expects 2"},
		{"NaN x", first(d.Sample(ctx, []float64{0, nan}, 10, src)), "x[0][1] is NaN"},
		{"no samples", first(d.Sample(ctx, []float64{0, 0}, 0, src)), "0 samples"},
		{"nil batch", first(d.SampleBatched(ctx, nil, 10, src)), "no observations"},
		{"Inf batch", first(d.SampleBatched(ctx, mat.NewDense(2, 2, []float64{0, 0, math.Inf(1), 0}), 10, src)), "x[1][0] is +Inf"},
		{"θ dim", first(d.LogProb(context.Background(), mat.NewDense(1, 3, nil), []float64{0, 0})), "θ has dimension 3"},
		{"NaN θ", first(d.LogProb(context.Background(), mat.NewDense(2, 2, []float64{0, 0, 0, nan}), []float64{0, 0})), "θ[1][1] is NaN"},
		{"LogProb x", first(d.LogProb(context.Background(), mat.NewDense(1, 2, nil), []float64{0})), "x has dimension 1"},
		{"MAP x", first(d.MAP(ctx, []float64{nan, 0}, posterior.MAPOptions{}, src)), "is NaN"},
	} {
		if !errors.Is(c.err, posterior.ErrInput) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrInput saying %q", c.name, c.err, c.want)
		}
	}

	rm := runtimetest.Open(t, linearModel(t), runtime.Options{})
	p, err := prior.NewBoxUniform([]float64{0}, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := posterior.NewDirect(rm, posterior.DirectOptions{Prior: p}); !errors.Is(err, posterior.ErrInput) {
		t.Errorf("prior of the wrong dimension: %v", err)
	}
	m := linearModel(t)
	m.Prior = nil
	noPrior := runtimetest.Open(t, m, runtime.Options{})
	if _, err := posterior.NewDirect(noPrior, posterior.DirectOptions{}); !errors.Is(err, posterior.ErrNoPrior) {
		t.Errorf("no prior anywhere: %v, want ErrNoPrior", err)
	}
	if _, err := posterior.NewSampler(noPrior, posterior.SamplerOptions{}); !errors.Is(err, posterior.ErrNoPrior) {
		t.Errorf("sampler, no prior anywhere: %v, want ErrNoPrior", err)
	}
}

func first[T any](_ T, err error) error { return err }
