package posterior

import "math"

// The affine-invariant ensemble sampler of Goodman and Weare (2010),
// "Ensemble samplers with affine invariance", CAMCoS 5(1)
// (https://doi.org/10.2140/camcos.2010.5.65), with emcee's stretch move
// (Foreman-Mackey et al. 2013): the walkers of an observation form two
// halves, and each walker of one half moves along the line to a random
// walker of the other,
//
//	y = x_j + s·(x_k − x_j),  g(s) ∝ 1/√s on [1/a, a],  a = 2,
//
// accepted with probability min(1, s^(d−1)·p(y)/p(x_k)). Each half's
// proposals, for every observation, are one potential call.

const stretchA = 2.0

func (r *chains) ensemble() error {
	rows := len(r.lp)
	half := r.k / 2
	prop := make([]float64, rows*r.dim)
	val := make([]float64, rows)
	scale := make([]float64, rows)
	var members, obs []int
	for t := range r.total {
		for h := range 2 {
			// This half moves against the other, fixed one.
			lo, hi, olo, ohi := 0, half, half, r.k
			if h == 1 {
				lo, hi, olo, ohi = half, r.k, 0, half
			}
			members, obs = members[:0], obs[:0]
			for i := range r.xs {
				rng := r.rng[i]
				for w := lo; w < hi; w++ {
					c := i*r.k + w
					o := i*r.k + olo + rng.IntN(ohi-olo)
					u := rng.Float64()
					s := ((stretchA-1)*u + 1) * ((stretchA-1)*u + 1) / stretchA
					p := prop[len(members)*r.dim : (len(members)+1)*r.dim]
					for d := range r.dim {
						xo := r.z[o*r.dim+d]
						p[d] = xo + s*(r.z[c*r.dim+d]-xo)
					}
					scale[len(members)] = s
					members = append(members, c)
					obs = append(obs, i)
				}
			}
			if err := r.eval(val[:len(members)], prop[:len(members)*r.dim], obs); err != nil {
				return err
			}
			for k, c := range members {
				i := r.obs[c]
				r.moves[i]++
				logAcc := float64(r.dim-1)*math.Log(scale[k]) + val[k] - r.lp[c]
				if math.Log(r.rng[i].Float64()) < logAcc {
					copy(r.z[c*r.dim:(c+1)*r.dim], prop[k*r.dim:(k+1)*r.dim])
					r.lp[c] = val[k]
					r.accepted[i]++
				}
			}
		}
		for c := range rows {
			r.keep(c, t)
		}
		r.report(t + 1)
	}
	return nil
}
