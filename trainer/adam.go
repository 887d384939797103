package trainer

import "math"

// adam is PyTorch's Adam (β₁ 0.9, β₂ 0.999, ε 1e-8, no weight decay) over
// one flat parameter slice, preceded by clipping the gradient's global L2
// norm as torch.nn.utils.clip_grad_norm_ does in sbi's training loop.
// gorgonia's AdamSolver clips element-wise and allocates on every step, and
// its AdamW leaves the weights unchanged; this one allocates nothing after
// construction.
type adam[T float] struct {
	lr, beta1, beta2, eps float64
	clip                  float64 // max global gradient norm; ≤ 0 disables clipping
	m, v                  []T     // first and second moments
	t                     int     // steps taken
}

func newAdam[T float](size int, lr, clip float64) *adam[T] {
	return &adam[T]{lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, clip: clip, m: make([]T, size), v: make([]T, size)}
}

// step clips grad in place and updates params; it returns the gradient's
// norm before clipping. A NaN or infinite gradient changes nothing.
func (a *adam[T]) step(params, grad []T) float64 {
	var ss float64
	for _, g := range grad {
		ss += float64(g) * float64(g)
	}
	norm := math.Sqrt(ss)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	if a.clip > 0 {
		// PyTorch scales by max_norm/(norm+1e-6), capped at 1.
		if c := a.clip / (norm + 1e-6); c < 1 {
			for i := range grad {
				grad[i] = T(float64(grad[i]) * c)
			}
		}
	}
	a.t++
	bc1 := 1 - math.Pow(a.beta1, float64(a.t))
	bc2 := 1 - math.Pow(a.beta2, float64(a.t))
	stepSize := a.lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	b1, b2 := a.beta1, a.beta2
	m, v := a.m[:len(params)], a.v[:len(params)]
	grad = grad[:len(params)]
	for i, g := range grad {
		gi := float64(g)
		mi := b1*float64(m[i]) + (1-b1)*gi
		vi := b2*float64(v[i]) + (1-b2)*gi*gi
		m[i], v[i] = T(mi), T(vi)
		params[i] = T(float64(params[i]) - stepSize*mi/(math.Sqrt(vi)/sqrtBC2+a.eps))
	}
	return norm
}
