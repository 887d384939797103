package prior

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// MultivariateNormal is the normal distribution N(mean, cov) on R^Dim. Use
// NewMultivariateNormal to construct.
//
// It works on the Cholesky factor directly, as gonum's distmv.Normal does,
// rather than through distmv, whose package pulls in golang.org/x/tools.
type MultivariateNormal struct {
	mean []float64
	cov  *mat.SymDense
	// u is the upper Cholesky factor U of cov = UᵀU: a batch Z of standard
	// normal rows maps to Z·U + mean in one in-place triangular product, and
	// the Mahalanobis distance is |U⁻ᵀ(θ−mean)|.
	u blas64.Triangular
	// logNorm is −(Dim·log(2π) + log det cov)/2.
	logNorm float64
}

// NewMultivariateNormal returns N(mean, cov). mean must be non-empty and
// finite, cov finite, positive definite and of size len(mean). Both are
// copied.
func NewMultivariateNormal(mean []float64, cov *mat.SymDense) (*MultivariateNormal, error) {
	if len(mean) == 0 {
		return nil, fmt.Errorf("%w: multivariate_normal: empty mean", ErrInvalid)
	}
	if cov == nil || cov.IsEmpty() {
		return nil, fmt.Errorf("%w: multivariate_normal: no covariance", ErrInvalid)
	}
	if n := cov.SymmetricDim(); n != len(mean) {
		return nil, fmt.Errorf("%w: multivariate_normal: mean has %d values but covariance is %d×%d", ErrInvalid, len(mean), n, n)
	}
	for i, v := range mean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: multivariate_normal: mean[%d] = %v is not finite", ErrInvalid, i, v)
		}
	}
	for i := range mean {
		for j := i; j < len(mean); j++ {
			if v := cov.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: multivariate_normal: cov[%d][%d] = %v is not finite", ErrInvalid, i, j, v)
			}
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(cov) {
		return nil, fmt.Errorf("%w: multivariate_normal: covariance is not positive definite", ErrInvalid)
	}
	var u mat.TriDense
	chol.UTo(&u)
	c := mat.NewSymDense(len(mean), nil)
	c.CopySym(cov)
	return &MultivariateNormal{
		mean:    append([]float64(nil), mean...),
		cov:     c,
		u:       u.RawTriangular(),
		logNorm: -0.5 * (float64(len(mean))*math.Log(2*math.Pi) + chol.LogDet()),
	}, nil
}

// Mean returns a copy of the mean.
func (p *MultivariateNormal) Mean() []float64 { return append([]float64(nil), p.mean...) }

// Cov returns a copy of the covariance matrix.
func (p *MultivariateNormal) Cov() *mat.SymDense {
	c := mat.NewSymDense(len(p.mean), nil)
	c.CopySym(p.cov)
	return c
}

// Dim returns the dimension of θ.
func (p *MultivariateNormal) Dim() int { return len(p.mean) }

// Sample fills each row of dst with a draw from src (the global generator
// when src is nil). It panics if dst is nil or has not Dim columns.
func (p *MultivariateNormal) Sample(dst *mat.Dense, src rand.Source) {
	rnd, m, ok := sampleRows(dst, p.Dim(), src)
	if !ok {
		return
	}
	for i := range m.Rows {
		r := row(m, i)
		for j := range r {
			r[j] = rnd.NormFloat64()
		}
	}
	blas64.Trmm(blas.Right, blas.NoTrans, 1, p.u, m)
	for i := range m.Rows {
		r := row(m, i)
		for j := range r {
			// Overflow to ±Inf needs a mean near ±MaxFloat64.
			r[j] = realLine.clamp(r[j] + p.mean[j])
		}
	}
}

// LogProb returns the normal log density at θ, or −Inf when θ has the wrong
// length or a NaN or infinite element.
func (p *MultivariateNormal) LogProb(theta []float64) float64 {
	if !p.InSupport(theta) {
		return math.Inf(-1)
	}
	z := make([]float64, len(theta))
	for i, v := range theta {
		z[i] = v - p.mean[i]
	}
	v := blas64.Vector{N: len(z), Data: z, Inc: 1}
	blas64.Trsv(blas.Trans, p.u, v) // z = U⁻ᵀ(θ−mean)
	lp := p.logNorm - 0.5*blas64.Dot(v, v)
	if math.IsNaN(lp) {
		// θ−mean overflowed to ±Inf and the triangular solve met Inf−Inf:
		// θ is so far out that the density underflows.
		return math.Inf(-1)
	}
	return lp
}

// InSupport reports whether θ has length Dim and is finite.
func (p *MultivariateNormal) InSupport(theta []float64) bool {
	return len(theta) != 0 && len(theta) == len(p.mean) && allFinite(theta)
}

// Bounds returns −Inf and +Inf in every dimension.
func (p *MultivariateNormal) Bounds() (low, high []float64) {
	low, high = make([]float64, len(p.mean)), make([]float64, len(p.mean))
	for i := range low {
		low[i], high[i] = math.Inf(-1), math.Inf(1)
	}
	return low, high
}

type mvnJSON struct {
	Type string      `json:"type"`
	Mean []float64   `json:"mean"`
	Cov  [][]float64 `json:"cov"`
}

// MarshalJSON implements json.Marshaler; see Marshal.
func (p *MultivariateNormal) MarshalJSON() ([]byte, error) {
	if p == nil || len(p.mean) == 0 {
		return nil, fmt.Errorf("%w: multivariate_normal: not built by NewMultivariateNormal", ErrInvalid)
	}
	cov := make([][]float64, len(p.mean))
	for i := range cov {
		cov[i] = make([]float64, len(p.mean))
		for j := range cov[i] {
			cov[i][j] = p.cov.At(i, j)
		}
	}
	return json.Marshal(mvnJSON{Type: typeMultivariateNormal, Mean: p.mean, Cov: cov})
}
