package tasks

import "math"

// Dormand–Prince 5(4) coefficients (Hairer, Nørsett & Wanner, Solving
// Ordinary Differential Equations I, table 5.2). The fifth-order weights
// equal the last stage row, so the final stage is reused as the next first
// stage (FSAL).
const (
	dpA21                                = 1.0 / 5
	dpA31, dpA32                         = 3.0 / 40, 9.0 / 40
	dpA41, dpA42, dpA43                  = 44.0 / 45, -56.0 / 15, 32.0 / 9
	dpA51, dpA52, dpA53, dpA54           = 19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729
	dpA61, dpA62, dpA63, dpA64, dpA65    = 9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656
	dpB1, dpB3, dpB4, dpB5, dpB6         = 35.0 / 384, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84
	dpE1, dpE3, dpE4, dpE5, dpE6, dpE7   = 71.0 / 57600, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40
	odeMaxSteps                          = 100000
	odeFirstStep, odeMinGrow, odeMaxGrow = 1e-3, 0.2, 5.0
	odeSafety                            = 0.9
)

// odeSolver integrates an autonomous system y' = f(p, y) with an adaptive
// Dormand–Prince 5(4) method, reporting the state exactly at requested times
// (steps are shortened to land on them). One solver owns its scratch space and
// is reused across rows without allocating.
type odeSolver struct {
	f          func(p, y, dy []float64)
	rtol, atol float64
	y, tmp     []float64
	k          [7][]float64
}

func newODESolver(dim int, rtol, atol float64, f func(p, y, dy []float64)) *odeSolver {
	s := &odeSolver{f: f, rtol: rtol, atol: atol, y: make([]float64, dim), tmp: make([]float64, dim)}
	for i := range s.k {
		s.k[i] = make([]float64, dim)
	}
	return s
}

// solve starts at y0 at time 0 and writes component i at times[j] to
// out[i*len(times)+j]. times must be ascending and non-negative. It reports
// false when the solution stops being finite or needs too many steps.
func (s *odeSolver) solve(p, y0, times, out []float64) bool {
	y, k, nt := s.y, &s.k, len(times)
	copy(y, y0)
	s.f(p, y, k[0])
	t, h, steps := 0.0, odeFirstStep, 0
	for j, tEnd := range times {
		for t < tEnd {
			if steps++; steps > odeMaxSteps {
				return false
			}
			hs, last := h, false
			if t+hs >= tEnd {
				hs, last = tEnd-t, true
			}
			errNorm := s.step(p, hs)
			if errNorm <= 1 {
				if last {
					t = tEnd
				} else {
					t += hs
				}
				copy(y, s.tmp)
				k[0], k[6] = k[6], k[0]
			}
			grow := odeMaxGrow
			switch {
			case math.IsNaN(errNorm) || math.IsInf(errNorm, 0):
				grow = odeMinGrow
			case errNorm > 0:
				grow = min(odeMaxGrow, max(odeMinGrow, odeSafety*math.Pow(errNorm, -0.2)))
				if errNorm > 1 {
					grow = min(grow, 1)
				}
			}
			// An accepted step that was shortened only to land on tEnd
			// says nothing against the longer step proposed before it.
			if last && errNorm <= 1 {
				h = max(h, hs*grow)
			} else {
				h = hs * grow
			}
			if h < 1e-12*max(1, tEnd) {
				return false
			}
		}
		for i, v := range y {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
			out[i*nt+j] = v
		}
	}
	return true
}

// step takes one trial step of size h from s.y (with k[0] = f(s.y)), writes
// the fifth-order result to s.tmp and its derivative to k[6], and returns the
// scaled RMS error estimate.
func (s *odeSolver) step(p []float64, h float64) float64 {
	y, tmp, k := s.y, s.tmp, s.k
	for i := range y {
		tmp[i] = y[i] + h*dpA21*k[0][i]
	}
	s.f(p, tmp, k[1])
	for i := range y {
		tmp[i] = y[i] + h*(dpA31*k[0][i]+dpA32*k[1][i])
	}
	s.f(p, tmp, k[2])
	for i := range y {
		tmp[i] = y[i] + h*(dpA41*k[0][i]+dpA42*k[1][i]+dpA43*k[2][i])
	}
	s.f(p, tmp, k[3])
	for i := range y {
		tmp[i] = y[i] + h*(dpA51*k[0][i]+dpA52*k[1][i]+dpA53*k[2][i]+dpA54*k[3][i])
	}
	s.f(p, tmp, k[4])
	for i := range y {
		tmp[i] = y[i] + h*(dpA61*k[0][i]+dpA62*k[1][i]+dpA63*k[2][i]+dpA64*k[3][i]+dpA65*k[4][i])
	}
	s.f(p, tmp, k[5])
	for i := range y {
		tmp[i] = y[i] + h*(dpB1*k[0][i]+dpB3*k[2][i]+dpB4*k[3][i]+dpB5*k[4][i]+dpB6*k[5][i])
	}
	s.f(p, tmp, k[6])
	var sum float64
	for i := range y {
		e := h * (dpE1*k[0][i] + dpE3*k[2][i] + dpE4*k[3][i] + dpE5*k[4][i] + dpE6*k[5][i] + dpE7*k[6][i])
		sc := s.atol + s.rtol*max(math.Abs(y[i]), math.Abs(tmp[i]))
		sum += (e / sc) * (e / sc)
	}
	return math.Sqrt(sum / float64(len(y)))
}
