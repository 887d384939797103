package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/simulator"
)

// The two ODE tasks follow sbibm's sbibm/tasks/lotka_volterra/task.py and
// sbibm/tasks/sir/task.py (v1.1.1). sbibm solves them with Julia's
// DifferentialEquations.jl at its default tolerances, saves the solution on a
// regular grid and keeps every 21st (Lotka–Volterra) or 17th (SIR) grid point.
// Here an adaptive Dormand–Prince 5(4) solver with tighter tolerances lands
// exactly on those times.

// Lotka–Volterra: sbibm saves every 0.1 on [0, 20] and keeps grid points
// 0, 21, …, 189, i.e. times 0, 2.1, …, 18.9.
const (
	lvTimes   = 10
	lvSpacing = 2.1
	lvNoise   = 0.1 // sd of the log-normal observation noise
	// The solver works on log populations, where an absolute error is a
	// relative population error: 1e-6 per step keeps the global error
	// below ~3e-4 across prior draws, negligible against the noise.
	lvRTol = 0
	lvATol = 1e-6
)

// lvMinState and lvMaxState are sbibm's clamp of the state before the
// log-normal noise; the solver works in log space, so they are logs.
var lvMinState, lvMaxState = math.Log(1e-10), math.Log(1e4)

// lvInit is the initial (prey, predator) population in log space.
var lvInit = []float64{math.Log(30), math.Log(1)}

// lvRHS is the Lotka–Volterra system in log space, u = log prey and
// v = log predator:
//
//	u' = α − β e^v,  v' = −γ + δ e^u.
//
// Working with logs keeps populations positive and makes the relative
// tolerance apply to small populations too, which matters because the
// observation noise is multiplicative.
func lvRHS(p, y, dy []float64) {
	dy[0] = p[0] - p[1]*math.Exp(y[1])
	dy[1] = -p[2] + p[3]*math.Exp(y[0])
}

func lvObservationTimes() []float64 {
	ts := make([]float64, lvTimes)
	for i := range ts {
		ts[i] = lvSpacing * float64(i)
	}
	return ts
}

func lotkaVolterra() (*Task, error) {
	const muFast, muSlow, sigma = -0.125, -3.0, 0.5
	p, err := prior.NewIndependent([]prior.Marginal{
		{Family: "lognormal", Params: []float64{muFast, sigma}},
		{Family: "lognormal", Params: []float64{muSlow, sigma}},
		{Family: "lognormal", Params: []float64{muFast, sigma}},
		{Family: "lognormal", Params: []float64{muSlow, sigma}},
	})
	if err != nil {
		return nil, err
	}
	times := lvObservationTimes()
	newKernel := func() simulator.Kernel {
		solver := newODESolver(2, lvRTol, lvATol, lvRHS)
		return func(x, theta []float64, rnd *rand.Rand) {
			// x doubles as the output buffer: prey at all times, then predator.
			if !solver.solve(theta, lvInit, times, x) {
				setNaN(x)
				return
			}
			for i, logState := range x {
				logState = min(max(logState, lvMinState), lvMaxState)
				x[i] = math.Exp(logState + lvNoise*rnd.NormFloat64())
			}
		}
	}
	var xNames []string
	for _, species := range []string{"prey", "predator"} {
		for _, t := range times {
			xNames = append(xNames, fmt.Sprintf("%s_t%.1f", species, t))
		}
	}
	return &Task{
		Name:        "lotka_volterra",
		Prior:       p,
		Simulator:   simulator.Rows(4, 2*lvTimes, newKernel),
		ThetaNames:  []string{"alpha", "beta", "gamma", "delta"},
		XNames:      xNames,
		Description: "Lotka–Volterra predator–prey model (sbibm): prey' = α·prey − β·prey·predator, predator' = −γ·predator + δ·prey·predator from (30, 1); x holds both populations at t = 0, 2.1, …, 18.9 with log-normal noise (sd 0.1 on the log). Log-normal priors: LogNormal(−0.125, 0.5) for α, γ and LogNormal(−3, 0.5) for β, δ.",
	}, nil
}

// SIR: sbibm saves daily on [0, 160] and keeps days 0, 17, …, 153 of the
// infected compartment only; its observations are Binomial(1000, I/N) counts.
const (
	sirTimes   = 10
	sirSpacing = 17.0
	sirN       = 1e6 // population size
	sirCount   = 1000
	sirRTol    = 1e-6
	sirATol    = 1e-12 // on population fractions, well below 1/N
)

// sirInit holds the initial fractions (S, I, R) = (N−1, 1, 0)/N.
var sirInit = []float64{1 - 1/sirN, 1 / sirN, 0}

// sirRHS is the SIR system on population fractions, so that I/N is the state.
func sirRHS(p, y, dy []float64) {
	infection := p[0] * y[0] * y[1]
	recovery := p[1] * y[1]
	dy[0] = -infection
	dy[1] = infection - recovery
	dy[2] = recovery
}

func sirObservationTimes() []float64 {
	ts := make([]float64, sirTimes)
	for i := range ts {
		ts[i] = sirSpacing * float64(i)
	}
	return ts
}

func sir() (*Task, error) {
	p, err := prior.NewIndependent([]prior.Marginal{
		{Family: "lognormal", Params: []float64{math.Log(0.4), 0.5}},
		{Family: "lognormal", Params: []float64{math.Log(1.0 / 8), 0.2}},
	})
	if err != nil {
		return nil, err
	}
	times := sirObservationTimes()
	newKernel := func() simulator.Kernel {
		solver := newODESolver(3, sirRTol, sirATol, sirRHS)
		traj := make([]float64, 3*sirTimes)
		return func(x, theta []float64, rnd *rand.Rand) {
			if !solver.solve(theta, sirInit, times, traj) {
				setNaN(x)
				return
			}
			for j, frac := range traj[sirTimes : 2*sirTimes] {
				x[j] = binomial(sirCount, min(max(frac, 0), 1), rnd)
			}
		}
	}
	xNames := make([]string, sirTimes)
	for j, t := range times {
		xNames[j] = fmt.Sprintf("infected_t%g", t)
	}
	return &Task{
		Name:        "sir",
		Prior:       p,
		Simulator:   simulator.Rows(2, sirTimes, newKernel),
		ThetaNames:  []string{"beta", "gamma"},
		XNames:      xNames,
		Description: "SIR epidemic model (sbibm): contact rate β and recovery rate γ, N = 10⁶ people starting with one infected; x holds Binomial(1000, I(t)/N) counts at days 0, 17, …, 153. Priors β ~ LogNormal(log 0.4, 0.5), γ ~ LogNormal(log 1/8, 0.2).",
	}, nil
}
