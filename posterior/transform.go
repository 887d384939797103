package posterior

import "math"

// transform maps unconstrained z ∈ R^d onto the prior's support, one
// coordinate at a time (sbi's enable_transform, torch's biject_to):
//
//	[lo, hi]:  θ = lo + (hi − lo)·σ(z),  log|dθ/dz| = log(hi − lo) + log σ(z) + log σ(−z)
//	[lo, ∞):   θ = lo + exp(z),          log|dθ/dz| = z
//	(−∞, hi]:  θ = hi − exp(z),          log|dθ/dz| = z
//	R:         θ = z,                    log|dθ/dz| = 0
//
// A chain in z never leaves the support, and the sampler meets no wall.
// Bounds that are both infinite in every coordinate make it the identity.
type transform struct {
	lo, hi []float64
}

func newTransform(lo, hi []float64) transform { return transform{lo: lo, hi: hi} }

// forward sets theta = T(z) and returns log|det dθ/dz|.
func (t transform) forward(theta, z []float64) float64 {
	lj := 0.0
	for j, v := range z {
		lo, hi := t.lo[j], t.hi[j]
		switch {
		case !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
			w := hi - lo
			s := sigmoid(v)
			// Rounding must not put θ past an end.
			theta[j] = min(max(lo+w*s, lo), hi)
			lj += math.Log(w) - softplus(-v) - softplus(v)
		case !math.IsInf(lo, 0):
			theta[j] = lo + math.Exp(v)
			lj += v
		case !math.IsInf(hi, 0):
			theta[j] = hi - math.Exp(v)
			lj += v
		default:
			theta[j] = v
		}
	}
	return lj
}

// inverse sets z = T⁻¹(θ). θ on or past a bound maps to a finite z just
// inside it (a prior draw may sit exactly on the end of a closed box).
func (t transform) inverse(z, theta []float64) {
	const edge = 1e-12
	for j, v := range theta {
		lo, hi := t.lo[j], t.hi[j]
		switch {
		case !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
			u := min(max((v-lo)/(hi-lo), edge), 1-edge)
			z[j] = math.Log(u) - math.Log1p(-u)
		case !math.IsInf(lo, 0):
			z[j] = math.Log(max(v-lo, edge*(1+math.Abs(lo))))
		case !math.IsInf(hi, 0):
			z[j] = math.Log(max(hi-v, edge*(1+math.Abs(hi))))
		default:
			z[j] = v
		}
	}
}

func sigmoid(v float64) float64 {
	if v >= 0 {
		return 1 / (1 + math.Exp(-v))
	}
	e := math.Exp(v)
	return e / (1 + e)
}

// softplus is log(1 + e^v) without overflow.
func softplus(v float64) float64 {
	if v > 0 {
		return v + math.Log1p(math.Exp(-v))
	}
	return math.Log1p(math.Exp(v))
}
