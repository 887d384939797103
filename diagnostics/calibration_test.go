package diagnostics_test

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/simulator"
	"github.com/amortize/amortize/simulator/tasks"
)

// gaussPosterior is the exact posterior of the gaussian_linear task,
// N(x/2, 0.05·I), widened by Scale and moved by Shift posterior standard
// deviations in every coordinate: Scale 1 and Shift 0 is exact.
type gaussPosterior struct {
	Scale, Shift float64
}

const glSD = 0.22360679774997896 // √0.05

func (g gaussPosterior) mean(x []float64, j int) float64 { return x[j]/2 + g.Shift*glSD }

func (g gaussPosterior) SampleEach(_ context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error) {
	rnd := rand.New(src)
	b, d := xs.Dims()
	out := make([]*mat.Dense, b)
	for i := range b {
		x := xs.RawRowView(i)
		m := mat.NewDense(n, d, nil)
		for s := range n {
			for j := range d {
				m.Set(s, j, g.mean(x, j)+g.Scale*glSD*rnd.NormFloat64())
			}
		}
		out[i] = m
	}
	return out, nil
}

func (g gaussPosterior) LogDensityEach(_ context.Context, xs *mat.Dense, theta []*mat.Dense) ([][]float64, error) {
	out := make([][]float64, len(theta))
	for i, t := range theta {
		x := xs.RawRowView(i)
		r, d := t.Dims()
		lp := make([]float64, r)
		for s := range r {
			for j := range d {
				z := (t.At(s, j) - g.mean(x, j)) / (g.Scale * glSD)
				lp[s] -= z * z / 2
			}
		}
		out[i] = lp
	}
	return out, nil
}

// linearPairs simulates n (θ, x) pairs of gaussian_linear.
func linearPairs(t *testing.T, n int) (theta, x *mat.Dense) {
	t.Helper()
	task, err := tasks.Get("gaussian_linear")
	if err != nil {
		t.Fatal(err)
	}
	res, err := simulator.Simulate(context.Background(), task.Prior, task.Simulator, n, simulator.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return res.Data.Theta, res.Data.X
}

var miscalibrated = []struct {
	name string
	post gaussPosterior
	// sign of the departure: SBC's central half minus 1/2 for the width
	// cases, its mean rank minus 1/2 for the shift; the coverage area's
	// sign; TARP's ATC sign, none for a bias, which moves ATC either way
	// depending on where the reference points fall.
	sbc, coverage, tarp float64
	shape               string
}{
	{"over-dispersed ×1.5", gaussPosterior{Scale: 1.5}, +1, +1, +1, "too wide"},
	{"under-dispersed ×0.6", gaussPosterior{Scale: 0.6}, -1, -1, -1, "too narrow"},
	{"shifted +0.5 sd", gaussPosterior{Scale: 1, Shift: 0.5}, -1, -1, 0, "biased high"},
}

func TestSBCExactAndMiscalibrated(t *testing.T) {
	ctx := context.Background()
	theta, x := linearPairs(t, 500)
	opts := diagnostics.CheckOptions{Draws: 200, Seed: 3}
	exact, err := diagnostics.SBC(ctx, gaussPosterior{Scale: 1}, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !exact.Calibrated {
		t.Fatalf("exact posterior judged miscalibrated: %s", exact.Verdict(nil))
	}
	for j, u := range exact.Dims {
		if !u.InBand {
			t.Errorf("exact posterior: coordinate %d ECDF leaves the simultaneous band", j)
		}
		// Posterior variance 0.05 against the prior's 0.1 (and the θ
		// sample's, near it): contraction about 1/2.
		if c := exact.Contraction[j]; math.Abs(c-0.5) > 0.1 {
			t.Errorf("coordinate %d: contraction %v, want about 0.5", j, c)
		}
	}
	// The exact posterior sampled by the task itself passes too.
	task, _ := tasks.Get("gaussian_linear")
	taskPost := diagnostics.SamplerFunc(func(_ context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error) {
		r, _ := xs.Dims()
		out := make([]*mat.Dense, r)
		for i := range r {
			var err error
			if out[i], err = task.Posterior(xs.RawRowView(i), n, src); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	if res, err := diagnostics.SBC(ctx, taskPost, theta, x, opts); err != nil || !res.Calibrated {
		t.Fatalf("task's exact posterior: %v, %v", err, res.Verdict(nil))
	}

	for _, c := range miscalibrated {
		t.Run(c.name, func(t *testing.T) {
			res, err := diagnostics.SBC(ctx, c.post, theta, x, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Calibrated {
				t.Fatalf("not detected: %s", res.Verdict(nil))
			}
			for j, u := range res.Dims {
				dep := u.Central - 0.5
				if c.post.Shift != 0 {
					dep = u.Mean - 0.5
				}
				if dep*c.sbc <= 0 {
					t.Errorf("coordinate %d: central %.3f, mean %.3f: wrong direction", j, u.Central, u.Mean)
				}
			}
			if v := res.Verdict(nil); !strings.Contains(v, c.shape) {
				t.Errorf("verdict does not say %q: %s", c.shape, v)
			}
		})
	}
}

func TestCoverageExactAndMiscalibrated(t *testing.T) {
	ctx := context.Background()
	theta, x := linearPairs(t, 500)
	opts := diagnostics.CheckOptions{Draws: 200, Seed: 5}
	exact, err := diagnostics.ExpectedCoverage(ctx, gaussPosterior{Scale: 1}, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !exact.Calibrated || !exact.Uniformity.InBand {
		t.Fatalf("exact posterior judged miscalibrated: %s", exact.Verdict())
	}
	// Area is 1/2 − mean level, standard error 1/√(12N).
	if se := 1 / math.Sqrt(12*500); math.Abs(exact.Area) > 4*se {
		t.Errorf("exact posterior: area %v, beyond 4 standard errors %v", exact.Area, se)
	}
	for _, c := range miscalibrated {
		t.Run(c.name, func(t *testing.T) {
			res, err := diagnostics.ExpectedCoverage(ctx, c.post, theta, x, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Calibrated || res.Area*c.coverage <= 0 {
				t.Fatalf("area %+.4f, calibrated %v: %s", res.Area, res.Calibrated, res.Verdict())
			}
			want := "over-confident"
			if c.coverage > 0 {
				want = "under-confident"
			}
			if !strings.Contains(res.Verdict(), want) {
				t.Errorf("verdict does not say %s: %s", want, res.Verdict())
			}
		})
	}
}

func TestTARPExactAndMiscalibrated(t *testing.T) {
	ctx := context.Background()
	theta, x := linearPairs(t, 3000)
	opts := diagnostics.CheckOptions{Draws: 200, Seed: 9}
	exact, err := diagnostics.TARP(ctx, gaussPosterior{Scale: 1}, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !exact.Calibrated {
		t.Fatalf("exact posterior judged miscalibrated: %s", exact.Verdict())
	}
	if len(exact.ECP) != 31 || exact.ECP[0] != 0 || exact.ECP[30] != 1 {
		t.Fatalf("ECP curve %v: want 31 levels from 0 to 1", exact.ECP)
	}
	for _, c := range miscalibrated {
		t.Run(c.name, func(t *testing.T) {
			res, err := diagnostics.TARP(ctx, c.post, theta, x, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ATC %+.3f: %s", res.ATC, res.Verdict())
			if res.Calibrated || res.ATC*c.tarp < 0 || (c.tarp != 0 && res.ATC == 0) {
				t.Fatalf("ATC %+.3f, calibrated %v: %s", res.ATC, res.Calibrated, res.Verdict())
			}
		})
	}
}

// linear2D is gaussian_linear in two dimensions: θ ~ N(0, 0.1·I),
// x = θ + N(0, 0.1·I), posterior N(x/2, 0.05·I), as gaussPosterior draws.
func linear2D(t *testing.T, n int) (theta, x *mat.Dense, sim simulator.Simulator) {
	t.Helper()
	cov := mat.NewSymDense(2, []float64{0.1, 0, 0, 0.1})
	p, err := prior.NewMultivariateNormal([]float64{0, 0}, cov)
	if err != nil {
		t.Fatal(err)
	}
	sim = simulator.Func(2, func(x, theta *mat.Dense, src rand.Source) error {
		rnd := rand.New(src)
		r, c := theta.Dims()
		for i := range r {
			for j := range c {
				x.Set(i, j, theta.At(i, j)+math.Sqrt(0.1)*rnd.NormFloat64())
			}
		}
		return nil
	})
	res, err := simulator.Simulate(context.Background(), p, sim, n, simulator.Options{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	return res.Data.Theta, res.Data.X, sim
}

func TestLC2STExactAndMiscalibrated(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 4 × 40 classifiers, a minute of CPU")
	}
	ctx := context.Background()
	theta, x, _ := linear2D(t, 1000)
	// 39 null classifiers: p-values come in steps of 0.025.
	opts := diagnostics.LC2STOptions{NullTrials: 39, Eval: 2000, Seed: 2, Alpha: 0.1}
	xo := []float64{0.2, -0.1}
	for _, c := range append([]struct {
		name                string
		post                gaussPosterior
		sbc, coverage, tarp float64
		shape               string
	}{{name: "exact", post: gaussPosterior{Scale: 1}}}, miscalibrated...) {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			l, err := diagnostics.NewLC2ST(ctx, c.post, theta, x, opts)
			t.Log(time.Since(start))
			if err != nil {
				t.Fatal(err)
			}
			res, err := l.Test(ctx, c.post, xo)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res.Verdict())
			if exact := c.name == "exact"; res.Valid != exact {
				t.Errorf("valid %v at p = %v (statistic %v, null median %v)", res.Valid, res.PValue, res.Statistic, res.Null[len(res.Null)/2])
			}
		})
	}
}

// TestWorkerInvariance: the chunks run concurrently, each with its own
// streams, so the ranks do not depend on the number of workers.
func TestWorkerInvariance(t *testing.T) {
	ctx := context.Background()
	theta, x := linearPairs(t, 230)
	post := gaussPosterior{Scale: 1.2}
	var ref *diagnostics.SBCResult
	var refCov *diagnostics.CoverageResult
	for _, w := range []int{1, 3, 8} {
		opts := diagnostics.CheckOptions{Draws: 50, Chunk: 17, Workers: w}
		res, err := diagnostics.SBC(ctx, post, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		cov, err := diagnostics.ExpectedCoverage(ctx, post, theta, x, opts)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref, refCov = res, cov
			continue
		}
		if !reflect.DeepEqual(res, ref) || !reflect.DeepEqual(cov.Levels, refCov.Levels) {
			t.Errorf("%d workers give other results than 1", w)
		}
	}
}

// TestSBCPriorAsPosterior: the prior is calibrated, so SBC passes it, and
// only the contraction tells that it learned nothing.
func TestSBCPriorAsPosterior(t *testing.T) {
	theta, x := linearPairs(t, 300)
	task, _ := tasks.Get("gaussian_linear")
	priorPost := diagnostics.SamplerFunc(func(_ context.Context, xs *mat.Dense, n int, src rand.Source) ([]*mat.Dense, error) {
		r, _ := xs.Dims()
		out := make([]*mat.Dense, r)
		for i := range r {
			out[i] = mat.NewDense(n, task.Prior.Dim(), nil)
			task.Prior.Sample(out[i], src)
		}
		return out, nil
	})
	res, err := diagnostics.SBC(context.Background(), priorPost, theta, x, diagnostics.CheckOptions{Draws: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Calibrated || slices.Max(res.Contraction) >= 0.2 || !strings.Contains(res.Verdict(nil), "learned little") {
		t.Errorf("contraction %v: %s", res.Contraction, res.Verdict(nil))
	}
}
