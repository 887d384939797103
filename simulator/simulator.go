// Package simulator runs simulators θ → x in parallel, reproducibly, and
// runs external programs as simulators (Command). The (θ, x) datasets it
// produces, and their files, are package dataset's.
//
// Simulate calls a Simulator from several goroutines at once, each with its
// own matrices and random source, so a Simulator must be safe for
// concurrent use; Func values are when their function is.
package simulator

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Simulator maps a batch of parameters to a batch of data.
//
// Simulate writes one row of x (n×XDim) for each row of theta (n×θdim),
// drawing all randomness from src. It must not modify theta, nor keep src
// or the matrices.
// Simulations that fail numerically may return NaN/Inf rows: the runner
// counts and drops them.
type Simulator interface {
	XDim() int
	Simulate(x, theta *mat.Dense, src rand.Source) error
}

// Func adapts a function to the Simulator interface.
func Func(xdim int, f func(x, theta *mat.Dense, src rand.Source) error) Simulator {
	return funcSim{xdim, f}
}

type funcSim struct {
	xdim int
	f    func(x, theta *mat.Dense, src rand.Source) error
}

func (s funcSim) XDim() int                                           { return s.xdim }
func (s funcSim) Simulate(x, theta *mat.Dense, src rand.Source) error { return s.f(x, theta, src) }
