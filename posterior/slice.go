package posterior

import (
	"math"
	"math/rand/v2"
)

// Slice sampling (Neal 2003, "Slice sampling", Annals of Statistics 31(3),
// https://doi.org/10.1214/aos/1056562461), one coordinate at a time in a
// random order per step, as sbi's slice_np_vectorized: each chain is a
// small state machine (step out, shrink) and every round evaluates the
// next points of every unfinished chain in one potential call. Chains do
// not wait for each other between steps, so a round's call stays full
// until the last chains finish.
//
// Unlike sbi, both ends of a bracket step out in the same rounds, a round
// evaluates a few points ahead (sliceDepth), a chain keeps the potential
// of its current point instead of evaluating it again for each coordinate, the initial bracket width of a
// coordinate is the spread of the initial states (sbi: 0.01), widths are
// tuned (to the running mean of the final brackets, as sbi) during warm-up
// only, and stepping out is bounded by Neal's m = maxStepOut steps split
// at random between the two sides, which keeps the kernel exact.

const maxStepOut = 100

type slicePhase uint8

const (
	sliceOut    slicePhase = iota // stepping out, both ends in the same rounds
	sliceShrink                   // drawing inside the bracket, shrinking it
	sliceDone
)

// sliceChain is one chain's progress through its current coordinate.
type sliceChain struct {
	phase           slicePhase
	t               int   // steps completed
	i               int   // index into order
	order           []int // coordinates of this step
	width           []float64
	cx              float64 // the coordinate's current value
	logu            float64 // the slice's level
	lx, ux          float64
	left, right     int       // stepping-out steps still allowed per side
	lowOpen, upOpen bool      // the end is still being stepped out
	nLow, nUp       int       // points of each end in the last round
	spec            []float64 // the next shrinkage draws, in order
}

// sliceDepth is how many points of each sequence a round evaluates ahead:
// the next ends while stepping out, the next draws while shrinking, each
// drawn as if the ones before it fail. The first point that decides is
// used and the rest are discarded, so the chain is the sequential
// algorithm's (with other random numbers); a runtime call costs about the
// same for a few more rows, and rounds are what take the time.
const sliceDepth = 2

// rows appends the coordinate values chain s needs evaluated next: while
// stepping out, up to sliceDepth further positions of each end still
// open (each end's decisions depend on its own values alone, so both step
// out in the same rounds); while shrinking, the next draws.
func (s *sliceChain) rows(dst []float64) []float64 {
	if s.phase == sliceShrink {
		return append(dst, s.spec...)
	}
	s.nLow, s.nUp = 0, 0
	if s.lowOpen {
		s.nLow = min(sliceDepth, s.left+1)
		for k := range s.nLow {
			dst = append(dst, s.lx-float64(k)*s.width[s.order[s.i]])
		}
	}
	if s.upOpen {
		s.nUp = min(sliceDepth, s.right+1)
		for k := range s.nUp {
			dst = append(dst, s.ux+float64(k)*s.width[s.order[s.i]])
		}
	}
	return dst
}

// draw fills spec with the next shrinkage draws: each uniform in the
// bracket that the ones before it leave if they fall outside the slice.
func (s *sliceChain) draw(rng *rand.Rand) {
	s.spec = s.spec[:0]
	lo, hi := s.lx, s.ux
	for range sliceDepth {
		xi := lo + (hi-lo)*rng.Float64()
		s.spec = append(s.spec, xi)
		if xi < s.cx {
			lo = xi
		} else {
			hi = xi
		}
	}
}

func (r *chains) slice() error {
	rows := len(r.lp)
	st := make([]sliceChain, rows)
	for i := range r.xs {
		w := initialWidths(r.z[i*r.k*r.dim:(i+1)*r.k*r.dim], r.k, r.dim)
		for c := i * r.k; c < (i+1)*r.k; c++ {
			st[c].width = append([]float64(nil), w...)
			st[c].order = make([]int, r.dim)
		}
	}
	// Each round evaluates at most 2·sliceDepth points per chain.
	prop := make([]float64, 2*sliceDepth*rows*r.dim)
	val := make([]float64, 2*sliceDepth*rows)
	first := make([]int, rows+1) // chain c's rows are first[c]:first[c+1]
	obs := make([]int, 0, 2*sliceDepth*rows)
	var coord []float64
	for c := range rows {
		r.beginStep(c, &st[c])
		r.beginCoord(c, &st[c])
	}
	for {
		obs = obs[:0]
		sum := 0
		for c := range rows {
			first[c] = len(obs)
			sum += st[c].t
			if st[c].phase == sliceDone {
				continue
			}
			coord = st[c].rows(coord[:0])
			j := st[c].order[st[c].i]
			for _, v := range coord {
				p := prop[len(obs)*r.dim : (len(obs)+1)*r.dim]
				copy(p, r.z[c*r.dim:(c+1)*r.dim])
				p[j] = v
				obs = append(obs, r.obs[c])
			}
		}
		first[rows] = len(obs)
		r.report(sum / rows)
		if len(obs) == 0 {
			return nil
		}
		if err := r.eval(val[:len(obs)], prop[:len(obs)*r.dim], obs); err != nil {
			return err
		}
		for c := range rows {
			if first[c] < first[c+1] {
				r.advance(c, &st[c], val[first[c]:first[c+1]])
			}
		}
	}
}

// initialWidths are the standard deviations of the initial positions per
// coordinate, at least 0.01 (sbi's fixed initial width).
func initialWidths(z []float64, k, dim int) []float64 {
	w := make([]float64, dim)
	for j := range dim {
		col := make([]float64, k)
		for c := range k {
			col[c] = z[c*dim+j]
		}
		sd := 0.0
		if k > 1 {
			_, v := meanVar(col)
			sd = math.Sqrt(v)
		}
		w[j] = math.Max(sd, 0.01)
	}
	return w
}

// beginStep draws the coordinate order of a new step.
func (r *chains) beginStep(c int, s *sliceChain) {
	rng := r.rng[r.obs[c]]
	for j := range s.order {
		s.order[j] = j
	}
	rng.Shuffle(len(s.order), func(a, b int) { s.order[a], s.order[b] = s.order[b], s.order[a] })
	s.i = 0
}

// beginCoord places a bracket of the coordinate's width at random around
// the current value and the slice level below the current potential.
func (r *chains) beginCoord(c int, s *sliceChain) {
	rng := r.rng[r.obs[c]]
	j := s.order[s.i]
	w := s.width[j]
	s.cx = r.z[c*r.dim+j]
	s.logu = r.lp[c] + math.Log(1-rng.Float64())
	s.lx = s.cx - w*rng.Float64()
	s.ux = s.lx + w
	s.left = int(maxStepOut * rng.Float64())
	s.right = maxStepOut - 1 - s.left
	s.phase, s.lowOpen, s.upOpen = sliceOut, true, true
}

// advance moves chain c on, given the potentials v of the points that
// rows asked for.
func (r *chains) advance(c int, s *sliceChain, v []float64) {
	rng := r.rng[r.obs[c]]
	j := s.order[s.i]
	w := s.width[j]
	switch s.phase {
	case sliceOut:
		for _, x := range v[:s.nLow] {
			if x >= s.logu && s.left > 0 {
				s.left--
				s.lx -= w
			} else {
				s.lowOpen = false
				break
			}
		}
		for _, x := range v[s.nLow : s.nLow+s.nUp] {
			if x >= s.logu && s.right > 0 {
				s.right--
				s.ux += w
			} else {
				s.upOpen = false
				break
			}
		}
		if s.lowOpen || s.upOpen {
			return
		}
		s.draw(rng)
		s.phase = sliceShrink
	case sliceShrink:
		xi, lp, in := 0.0, 0.0, false
		for k, x := range v {
			xi = s.spec[k]
			if x >= s.logu {
				lp, in = x, true
				break
			}
			if xi < s.cx {
				s.lx = xi
			} else {
				s.ux = xi
			}
		}
		if !in {
			// The current point is always in the slice, so shrinking
			// ends there at worst; a bracket gone to rounding width
			// means the potential is not deterministic: stay.
			if s.ux-s.lx > 1e-12*(1+math.Abs(s.cx)) {
				s.draw(rng)
				return
			}
			xi, lp = s.cx, r.lp[c]
		}
		r.z[c*r.dim+j] = xi
		r.lp[c] = lp
		if s.t < r.warmup {
			s.width[j] += (s.ux - s.lx - w) / float64(s.t+1)
		}
		s.i++
		if s.i < r.dim {
			r.beginCoord(c, s)
			return
		}
		r.keep(c, s.t)
		r.moves[r.obs[c]]++
		r.accepted[r.obs[c]]++
		s.t++
		if s.t == r.total {
			s.phase = sliceDone
			return
		}
		r.beginStep(c, s)
		r.beginCoord(c, s)
	}
}
