package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

func TestODESolverExact(t *testing.T) {
	times := []float64{0, 0.3, 1, 2.5, 7, 20}
	// y' = −p y, exact e^{−pt}.
	decay := newODESolver(1, 1e-10, 1e-14, func(p, y, dy []float64) { dy[0] = -p[0] * y[0] })
	out := make([]float64, len(times))
	if !decay.solve([]float64{0.7}, []float64{1}, times, out) {
		t.Fatal("decay: solver failed")
	}
	for j, tt := range times {
		if want := math.Exp(-0.7 * tt); math.Abs(out[j]-want) > 1e-8*want {
			t.Errorf("decay at %g = %.12g, want %.12g", tt, out[j], want)
		}
	}
	// Harmonic oscillator y'' = −ω² y from (1, 0): y = cos ωt, y' = −ω sin ωt.
	osc := newODESolver(2, 1e-10, 1e-12, func(p, y, dy []float64) { dy[0], dy[1] = y[1], -p[0]*p[0]*y[0] })
	out = make([]float64, 2*len(times))
	if !osc.solve([]float64{2}, []float64{1, 0}, times, out) {
		t.Fatal("oscillator: solver failed")
	}
	for j, tt := range times {
		if d := math.Abs(out[j] - math.Cos(2*tt)); d > 1e-7 {
			t.Errorf("oscillator at %g: error %g", tt, d)
		}
		if d := math.Abs(out[len(times)+j] + 2*math.Sin(2*tt)); d > 1e-7 {
			t.Errorf("oscillator velocity at %g: error %g", tt, d)
		}
	}
}

func TestODESolverBlowUp(t *testing.T) {
	// y' = y² from 1 is 1/(1−t): infinite at t = 1.
	s := newODESolver(1, 1e-6, 1e-9, func(p, y, dy []float64) { dy[0] = y[0] * y[0] })
	if s.solve(nil, []float64{1}, []float64{0.5, 2}, make([]float64, 2)) {
		t.Error("solver reported success through a singularity")
	}
}

// lvInvariant is conserved by Lotka–Volterra: δx − γ log x + βy − α log y,
// written in the log states u, v.
func lvInvariant(p []float64, u, v float64) float64 {
	return p[3]*math.Exp(u) - p[2]*u + p[1]*math.Exp(v) - p[0]*v
}

var lvTestThetas = [][]float64{
	{0.6859157, 0.10761319, 0.88789904, 0.116794825}, // sbibm observation 1
	{0.52359414, 0.04218707, 1.0599382, 0.11769616},  // sbibm observation 2
	{2.5, 0.2, 0.3, 0.01},
	{0.3, 0.01, 3, 0.2},
}

func TestLotkaVolterraSolution(t *testing.T) {
	times := lvObservationTimes()
	coarse := newODESolver(2, lvRTol, lvATol, lvRHS)
	fine := newODESolver(2, 1e-11, 1e-11, lvRHS)
	a, b := make([]float64, 2*lvTimes), make([]float64, 2*lvTimes)
	for _, p := range lvTestThetas {
		if !coarse.solve(p, lvInit, times, a) || !fine.solve(p, lvInit, times, b) {
			t.Fatalf("θ=%v: solver failed", p)
		}
		v0 := lvInvariant(p, lvInit[0], lvInit[1])
		// The ODE error must be negligible against the observation noise:
		// allow 1% of its sd on the log populations.
		const tol = 0.01 * lvNoise
		for j := range lvTimes {
			u, v := a[j], a[lvTimes+j]
			for _, d := range []float64{u - b[j], v - b[lvTimes+j]} {
				if math.Abs(d) > tol {
					t.Errorf("θ=%v t=%g: log state differs by %g from a 1e-11-tolerance solve", p, times[j], d)
				}
			}
			// |∂V/∂u| + |∂V/∂v| bounds the drift caused by log-state errors ≤ tol.
			grad := math.Abs(p[3]*math.Exp(u)-p[2]) + math.Abs(p[1]*math.Exp(v)-p[0])
			if d := lvInvariant(p, u, v) - v0; math.Abs(d) > tol*grad {
				t.Errorf("θ=%v t=%g: invariant drifted by %g", p, times[j], d)
			}
		}
	}
}

func TestLotkaVolterraNoise(t *testing.T) {
	task := mustGet(t, "lotka_volterra")
	const n = 2000
	p := lvTestThetas[0]
	traj := make([]float64, 2*lvTimes)
	newODESolver(2, lvRTol, lvATol, lvRHS).solve(p, lvInit, lvObservationTimes(), traj)
	x := simulateFixed(t, task, p, n, 19)
	noise := distuv.Normal{Sigma: lvNoise}
	for j := range 2 * lvTimes {
		z := make([]float64, n)
		for i := range n {
			if x.At(i, j) <= 0 {
				t.Fatalf("x[%d] = %g is not positive", j, x.At(i, j))
			}
			z[i] = math.Log(x.At(i, j)) - traj[j]
		}
		checkKS(t, task.XNames[j], z, noise.CDF)
	}
}

// TestLotkaVolterraSBIBM checks that sbibm's stored observations (from
// sbibm/tasks/lotka_volterra/files/num_observation_{1,2}) are typical under
// this simulator at their true parameters: 20 log-normal residuals give a
// chi-square with 20 degrees of freedom.
func TestLotkaVolterraSBIBM(t *testing.T) {
	observations := [][]float64{
		{31.783262, 1.1971166, 0.29703617, 0.71145046, 2.9415865, 11.482614, 36.09036, 0.46229604, 0.38081983, 0.9173736,
			0.8910395, 27.039942, 4.356176, 0.78444487, 0.17100818, 0.1325878, 8.727008, 16.97251, 2.7902339, 0.47567415},
		{30.08668, 2.746265, 0.5838125, 1.142794, 3.2575288, 8.075945, 23.771442, 5.4086976, 0.4585322, 0.987719,
			0.91488636, 66.98573, 10.695971, 1.1389576, 0.2448028, 0.10622074, 0.6781424, 62.156113, 12.377046, 1.5941441},
	}
	// 0.9999 quantile of chi-square(20).
	const chi2Max = 52.4
	traj := make([]float64, 2*lvTimes)
	s := newODESolver(2, lvRTol, lvATol, lvRHS)
	for k, obs := range observations {
		if !s.solve(lvTestThetas[k], lvInit, lvObservationTimes(), traj) {
			t.Fatal("solver failed")
		}
		var chi2 float64
		for j, v := range obs {
			z := (math.Log(v) - traj[j]) / lvNoise
			chi2 += z * z
		}
		if chi2 > chi2Max {
			t.Errorf("observation %d: chi-square %.1f > %.1f", k+1, chi2, chi2Max)
		}
	}
}

func TestSIRSolution(t *testing.T) {
	times := sirObservationTimes()
	s := newODESolver(3, sirRTol, sirATol, sirRHS)
	traj := make([]float64, 3*sirTimes)
	for _, p := range [][]float64{{0.61479264, 0.19172086}, {0.4, 0.125}, {1.5, 0.1}, {0.1, 0.15}} {
		if !s.solve(p, sirInit, times, traj) {
			t.Fatalf("θ=%v: solver failed", p)
		}
		// Along a trajectory S + I − (γ/β) log S is constant (dI/dS = −1 + γ/(βS)).
		inv := func(sf, i float64) float64 { return sf + i - p[1]/p[0]*math.Log(sf) }
		inv0 := inv(sirInit[0], sirInit[1])
		for j := range sirTimes {
			sf, i, r := traj[j], traj[sirTimes+j], traj[2*sirTimes+j]
			// The solver controls the error only to atol near zero.
			if min(sf, i, r) < -sirATol {
				t.Errorf("θ=%v t=%g: negative compartment (%g, %g, %g)", p, times[j], sf, i, r)
			}
			if d := sf + i + r - 1; math.Abs(d) > 1e-12 {
				t.Errorf("θ=%v t=%g: S+I+R = N(1%+.2g)", p, times[j], d)
			}
			if d := inv(sf, i) - inv0; math.Abs(d) > 1e-5*math.Abs(inv0) {
				t.Errorf("θ=%v t=%g: invariant drifted by %g", p, times[j], d)
			}
		}
	}
}

func TestSIRCounts(t *testing.T) {
	task := mustGet(t, "sir")
	const n = 5000
	p := []float64{0.61479264, 0.19172086}
	traj := make([]float64, 3*sirTimes)
	newODESolver(3, sirRTol, sirATol, sirRHS).solve(p, sirInit, sirObservationTimes(), traj)
	x := simulateFixed(t, task, p, n, 20)
	for j := range sirTimes {
		col := mat.Col(nil, j, x)
		for _, c := range col {
			if c != math.Trunc(c) || c < 0 || c > sirCount {
				t.Fatalf("%s: %g is not a count in [0, %d]", task.XNames[j], c, sirCount)
			}
		}
		// The normal approximation needs enough expected counts in total.
		if q := traj[sirTimes+j]; n*sirCount*q >= 10 {
			checkZ(t, task.XNames[j], stat.Mean(col, nil), sirCount*q, math.Sqrt(sirCount*q*(1-q)/n))
		}
	}
}

// TestSIRSBIBM checks sbibm's stored observations (from
// sbibm/tasks/sir/files/num_observation_{1,2}) against the binomial
// distribution at their true parameters.
func TestSIRSBIBM(t *testing.T) {
	cases := []struct{ theta, obs []float64 }{
		{[]float64{0.61479264, 0.19172086}, []float64{0, 1, 352, 40, 3, 0, 0, 0, 0, 0}},
		{[]float64{0.6667743, 0.09215801}, []float64{0, 21, 373, 85, 17, 5, 0, 0, 0, 0}},
	}
	traj := make([]float64, 3*sirTimes)
	s := newODESolver(3, sirRTol, sirATol, sirRHS)
	for k, c := range cases {
		if !s.solve(c.theta, sirInit, sirObservationTimes(), traj) {
			t.Fatal("solver failed")
		}
		for j, v := range c.obs {
			b := distuv.Binomial{N: sirCount, P: traj[sirTimes+j]}
			// Two-sided tail probability of the observed count.
			tail := min(b.CDF(v), 1-b.CDF(v-1))
			if tail < 1e-4 {
				t.Errorf("observation %d day %d: count %g has tail probability %.2g (mean %.1f)",
					k+1, j*int(sirSpacing), v, tail, b.Mean())
			}
		}
	}
}

func TestBinomial(t *testing.T) {
	rnd := rand.New(rand.NewPCG(21, 1))
	const draws = 40000
	for _, p := range []float64{0.0003, 0.004, 0.0099, 0.0101, 0.3, 0.5, 0.93, 0.9995} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			counts := make([]float64, sirCount+1)
			for range draws {
				k := binomial(sirCount, p, rnd)
				if k != math.Trunc(k) || k < 0 || k > sirCount {
					t.Fatalf("draw %g is not in 0..%d", k, sirCount)
				}
				counts[int(k)]++
			}
			// Pearson chi-square over bins with expected count ≥ 5, the
			// tails pooled into the nearest bin.
			b := distuv.Binomial{N: sirCount, P: p}
			var chi2, obs, exp float64
			df := -1
			for k := range counts {
				obs += counts[k]
				exp += draws * b.Prob(float64(k))
				if exp >= 5 && draws*(1-b.CDF(float64(k))) >= 5 {
					chi2 += (obs - exp) * (obs - exp) / exp
					obs, exp = 0, 0
					df++
				}
			}
			chi2 += (obs - exp) * (obs - exp) / max(exp, 1e-300)
			df++
			// Wilson–Hilferty 1e-4 upper quantile of chi-square(df).
			z, d := 3.719, float64(max(df, 1))
			crit := d * math.Pow(1-2/(9*d)+z*math.Sqrt(2/(9*d)), 3)
			if chi2 > crit {
				t.Errorf("chi-square %.1f > %.1f (df %d)", chi2, crit, df)
			}
		})
	}
	if v := binomial(10, 0, rnd); v != 0 {
		t.Errorf("Binomial(10, 0) = %g", v)
	}
	if v := binomial(10, 1, rnd); v != 10 {
		t.Errorf("Binomial(10, 1) = %g", v)
	}
	for _, p := range []float64{math.NaN(), -0.1, 1.1} {
		if v := binomial(10, p, rnd); !math.IsNaN(v) {
			t.Errorf("Binomial(10, %g) = %g, want NaN", p, v)
		}
	}
}

func TestODETaskFailureIsNaN(t *testing.T) {
	for _, name := range []string{"lotka_volterra", "sir"} {
		task := mustGet(t, name)
		theta := make([]float64, task.Prior.Dim())
		theta[0] = math.NaN()
		x := simulateFixed(t, task, theta, 2, 22)
		for i := range 2 {
			for j := range task.Simulator.XDim() {
				if !math.IsNaN(x.At(i, j)) {
					t.Errorf("%s: x[%d,%d] = %g for NaN θ, want NaN", name, i, j, x.At(i, j))
				}
			}
		}
	}
}
