package models_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/amortize/amortize/internal/splinetest"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gonum.org/v1/gonum/mat"
)

// nsfFlow is the θ ↔ z map of the flow, beyond the Estimator interface.
type nsfFlow interface {
	models.Estimator
	Forward(o models.Ops, theta, x models.Tensor) (z, logAbsDet models.Tensor)
	Inverse(o models.Ops, z, x models.Tensor) (theta, logAbsDet models.Tensor)
}

// nsfSetup builds an NSF with seeded weights far from the initial ones:
// every layer drawn like PyTorch's default times gain (the near-zero
// residual outputs included), and the LU maps perturbed from the identity by
// U(−lu, lu) in every entry.
func nsfSetup(t testing.TB, s models.Spec, seed uint64, gain, lu float64) (nsfFlow, map[string][]float64, *eager.Ops) {
	t.Helper()
	s.Kind = "nsf"
	e, err := models.New(s)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := e.(nsfFlow)
	if !ok {
		t.Fatalf("nsf estimator %T lacks Forward/Inverse", e)
	}
	p := models.InitParams(e, rand.NewPCG(seed, 1))
	rng := rand.New(rand.NewPCG(seed, 2))
	fanIn := map[string]int{}
	for _, ps := range e.Params() {
		if base, ok := strings.CutSuffix(ps.Name, ".w"); ok {
			fanIn[base] = ps.Rows
		}
	}
	for _, ps := range e.Params() {
		v := p[ps.Name]
		for i := range v {
			if strings.Contains(ps.Name, ".lu.") {
				v[i] += lu * (2*rng.Float64() - 1)
				continue
			}
			base := ps.Name[:strings.LastIndexByte(ps.Name, '.')]
			v[i] = gain * (2*rng.Float64() - 1) / math.Sqrt(float64(fanIn[base]))
		}
	}
	o, err := eager.New(e, p)
	if err != nil {
		t.Fatal(err)
	}
	return f, p, o
}

func nsfNormals(seed uint64, rows, cols int, scale float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	v := make([]float64, rows*cols)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

func nsfRepeat(n int, x []float64) models.Tensor {
	v := make([]float64, 0, n*len(x))
	for range n {
		v = append(v, x...)
	}
	return eager.Matrix(n, len(x), v)
}

func nsfLinear(p map[string][]float64, name string, in []float64) []float64 {
	w, b := p[name+".w"], p[name+".b"]
	out := slices.Clone(b)
	for i, v := range in {
		for j := range out {
			out[j] += v * w[i*len(out)+j]
		}
	}
	return out
}

func nsfRelu(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Max(x, 0)
	}
	return out
}

// nsfReference is log q(θ|x) for one row, computed module by module the way
// nflows' Flow, PiecewiseRationalQuadraticCouplingTransform, ResidualNet,
// sbi's ContextSplineMap and LULinear compute it.
func nsfReference(s models.Spec, p map[string][]float64, theta, x []float64) float64 {
	d, k := s.ThetaDim, s.Bins
	c := splineConfig(k, s.TailBound)
	z := slices.Clone(theta)
	var logDet float64
	for t := range s.Transforms {
		pre := fmt.Sprintf("t%d.", t)
		var kept, moved []int
		for j := range d {
			if d == 1 || j%2 == t%2 {
				moved = append(moved, j)
			} else {
				kept = append(kept, j)
			}
		}
		var params []float64
		if d == 1 {
			h := nsfRelu(nsfLinear(p, pre+"in", x))
			h = nsfRelu(nsfLinear(p, pre+"hidden", h))
			params = nsfLinear(p, pre+"out", h)
		} else {
			var in []float64
			for _, j := range kept {
				in = append(in, z[j])
			}
			h := nsfLinear(p, pre+"in", append(in, x...))
			for b := range s.Layers {
				q := fmt.Sprintf("%sb%d.", pre, b)
				r := nsfLinear(p, q+"l1", nsfRelu(nsfLinear(p, q+"l0", nsfRelu(h))))
				g := nsfLinear(p, q+"ctx", x)
				for i := range h {
					h[i] += r[i] / (1 + math.Exp(-g[i]))
				}
			}
			params = nsfLinear(p, pre+"out", h)
		}
		m, root := 3*k-1, math.Sqrt(float64(s.Hidden))
		for i, j := range moved {
			chunk := params[i*m : (i+1)*m]
			w, h := make([]float64, k), make([]float64, k)
			for b := range k {
				w[b], h[b] = chunk[b]/root, chunk[k+b]/root
			}
			var l float64
			z[j], l = splinetest.RQSpline(z[j], w, h, chunk[2*k:], false, c)
			logDet += l
		}
		if d > 1 {
			low, up := nsfTriangles(p, pre, d)
			u := make([]float64, d)
			for i := range d {
				for j := range d {
					u[i] += up.At(i, j) * z[j]
				}
			}
			for i := range d {
				z[i] = p[pre+"lu.bias"][i]
				for j := range d {
					z[i] += low.At(i, j) * u[j]
				}
				logDet += math.Log(up.At(i, i))
			}
		}
	}
	for _, v := range z {
		logDet -= 0.5*v*v + 0.5*math.Log(2*math.Pi)
	}
	return logDet
}

// nsfTriangles builds LULinear's L (unit diagonal) and U from the strict
// triangles, stored row by row as numpy's tril_indices/triu_indices list
// them, and U's diagonal softplus(·) + 1e-3.
func nsfTriangles(p map[string][]float64, pre string, d int) (low, up *mat.Dense) {
	low, up = mat.NewDense(d, d, nil), mat.NewDense(d, d, nil)
	l, u := 0, 0
	for i := range d {
		for j := range d {
			switch {
			case j < i:
				low.Set(i, j, p[pre+"lu.lower"][l])
				l++
			case j > i:
				up.Set(i, j, p[pre+"lu.upper"][u])
				u++
			default:
				low.Set(i, i, 1)
				v := p[pre+"lu.diag"][i]
				up.Set(i, i, math.Log1p(math.Exp(v))+1e-3)
			}
		}
	}
	return low, up
}

func TestNSFBadSpec(t *testing.T) {
	for _, tc := range []struct {
		s      models.Spec
		spline bool
	}{
		{models.Spec{ThetaDim: 2, XDim: 1, Bins: 1}, true},
		{models.Spec{ThetaDim: 2, XDim: 1, Bins: 1001}, true},
		{models.Spec{ThetaDim: 2, XDim: 1, TailBound: math.NaN()}, true},
		{models.Spec{ThetaDim: 2, XDim: 1, TailBound: math.Inf(1)}, true},
		{models.Spec{ThetaDim: 2, XDim: 1, TailBound: -1}, false},
		{models.Spec{ThetaDim: 0, XDim: 1}, false},
		{models.Spec{ThetaDim: 1, XDim: 0}, false},
		{models.Spec{ThetaDim: 2, XDim: 1, Hidden: -3}, false},
		{models.Spec{ThetaDim: 2, XDim: 1, Activation: "gelu"}, false},
	} {
		tc.s.Kind = "nsf"
		e, err := models.New(tc.s)
		if err == nil {
			t.Errorf("New(%+v) = %v, want an error", tc.s, e)
			continue
		}
		if tc.spline && !errors.Is(err, models.ErrSpline) {
			t.Errorf("New(%+v): %v, want ErrSpline", tc.s, err)
		}
	}
}

func TestNSFParams(t *testing.T) {
	const x, h, blocks, bins, transforms = 4, 7, 2, 5, 3
	for _, d := range []int{1, 2, 3, 5} {
		e, err := models.New(models.Spec{Kind: "nsf", ThetaDim: d, XDim: x, Hidden: h, Layers: blocks, Bins: bins, Transforms: transforms})
		if err != nil {
			t.Fatal(err)
		}
		// Parameter count of sbi's build_nsf, module by module.
		want := 0
		for layer := range transforms {
			moved := (d + 1 - layer%2) / 2
			if d == 1 {
				want += (x+1)*h + (h+1)*h + (h+1)*(3*bins-1)
				continue
			}
			want += (d-moved+x+1)*h + blocks*((x+1)*h+2*(h+1)*h) + (h+1)*moved*(3*bins-1)
			want += d*(d-1) + 2*d // LULinear: two strict triangles, diagonal, bias
		}
		seen := map[string]bool{}
		got := 0
		for _, p := range e.Params() {
			if seen[p.Name] || p.Rows < 1 || p.Cols < 1 {
				t.Errorf("d=%d: parameter %+v repeated or empty", d, p)
			}
			seen[p.Name] = true
			got += p.Size()
		}
		if got != want {
			t.Errorf("d=%d: %d parameter values, want %d", d, got, want)
		}

		a := models.InitParams(e, rand.NewPCG(1, 2))
		b := models.InitParams(e, rand.NewPCG(1, 2))
		c := models.InitParams(e, rand.NewPCG(3, 4))
		differs := false
		for name, v := range a {
			if !slices.Equal(v, b[name]) {
				t.Errorf("d=%d: %s differs under the same seed", d, name)
			}
			differs = differs || !slices.Equal(v, c[name])
			switch {
			case strings.HasSuffix(name, ".l1.w") || strings.HasSuffix(name, ".l1.b"):
				for _, w := range v {
					if math.Abs(w) > 1e-3 {
						t.Errorf("d=%d: %s = %v, want nflows' U(−1e-3, 1e-3) start", d, name, w)
					}
				}
			case strings.HasSuffix(name, ".lu.diag"):
				for _, w := range v {
					if u := math.Log1p(math.Exp(w)) + 1e-3; math.Abs(u-1) > 1e-12 {
						t.Errorf("d=%d: U's diagonal starts at %v, want 1", d, u)
					}
				}
			case strings.Contains(name, ".lu."):
				for _, w := range v {
					if w != 0 {
						t.Errorf("d=%d: %s starts at %v, want the identity", d, name, w)
					}
				}
			}
		}
		if !differs {
			t.Errorf("d=%d: different seeds give the same parameters", d)
		}
	}
}

// With zero output weights, equal bins and unit derivatives every spline is
// the identity, so the flow is its LU maps alone: θ ↦ Wθ + b, W = L·U, an
// affine map whose density is known in closed form.
func TestNSFClosedForm(t *testing.T) {
	one := math.Log(math.Exp(1-models.DefaultMinDerivative) - 1)
	const n = 20
	for _, d := range []int{1, 2, 3, 5} {
		s := models.Spec{ThetaDim: d, XDim: 2, Hidden: 6, Bins: 4, Transforms: 3}
		e, p, _ := nsfSetup(t, s, uint64(d), 2, 0.5)
		for name, v := range p {
			switch {
			case strings.HasSuffix(name, ".out.w"):
				clear(v)
			case strings.HasSuffix(name, ".out.b"):
				for i := range v {
					v[i] = 0
					if i%(3*s.Bins-1) >= 2*s.Bins {
						v[i] = one
					}
				}
			}
		}
		o, err := eager.New(e, p)
		if err != nil {
			t.Fatal(err)
		}
		w := mat.NewDense(d, d, nil)
		w.Copy(eye(d))
		bias := mat.NewVecDense(d, nil)
		logDet := 0.0
		for layer := range s.Transforms {
			pre := fmt.Sprintf("t%d.", layer)
			if d == 1 {
				break
			}
			low, up := nsfTriangles(p, pre, d)
			var lu, next mat.Dense
			lu.Mul(low, up)
			next.Mul(&lu, w)
			w.Copy(&next)
			var moved mat.VecDense
			moved.MulVec(&lu, bias)
			bias.AddVec(&moved, mat.NewVecDense(d, p[pre+"lu.bias"]))
			logDet += math.Log(math.Abs(mat.Det(&lu)))
		}
		theta := nsfNormals(uint64(d), n, d, 2)
		x := nsfNormals(uint64(d+10), n, 2, 1)
		got := eager.Dense(e.LogProb(o, eager.Matrix(n, d, theta), eager.Matrix(n, 2, x)))
		for r := range n {
			z := mat.NewVecDense(d, nil)
			z.MulVec(w, mat.NewVecDense(d, theta[r*d:(r+1)*d]))
			z.AddVec(z, bias)
			want := logDet - 0.5*mat.Dot(z, z) - 0.5*float64(d)*math.Log(2*math.Pi)
			if math.Abs(got.At(r, 0)-want) > 1e-10*math.Max(1, math.Abs(want)) {
				t.Errorf("d=%d row %d: log-prob %v, closed form %v", d, r, got.At(r, 0), want)
			}
		}
	}
}

func eye(d int) *mat.Dense {
	m := mat.NewDense(d, d, nil)
	for i := range d {
		m.Set(i, i, 1)
	}
	return m
}

func TestNSFMatchesReference(t *testing.T) {
	const n = 40
	for _, d := range []int{1, 2, 3, 5} {
		s := models.Spec{ThetaDim: d, XDim: 3, Hidden: 7, Bins: 4, Transforms: 3, Layers: 2}
		e, p, o := nsfSetup(t, s, uint64(20+d), 3, 0.5)
		theta := nsfNormals(uint64(d), n, d, 2)
		x := nsfNormals(uint64(d+10), n, 3, 1)
		got := eager.Dense(e.LogProb(o, eager.Matrix(n, d, theta), eager.Matrix(n, 3, x)))
		for r := range n {
			want := nsfReference(e.Spec(), p, theta[r*d:(r+1)*d], x[r*3:(r+1)*3])
			if math.Abs(got.At(r, 0)-want) > 1e-10*math.Max(1, math.Abs(want)) {
				t.Errorf("d=%d row %d: log-prob %v, reference %v", d, r, got.At(r, 0), want)
			}
		}
	}
}

// Sampling inverts the flow: pushing the sample forward returns the noise,
// and the log-prob Sample reports is LogProb's at the sample.
func TestNSFSampleConsistent(t *testing.T) {
	const n = 64
	for _, d := range []int{1, 2, 3, 5} {
		e, _, o := nsfSetup(t, models.Spec{ThetaDim: d, XDim: 2}, uint64(30+d), 2, 0.5)
		// Noise of scale 2 reaches the linear tails beyond ±3 too.
		noise := eager.Matrix(n, d, nsfNormals(uint64(d), n, d, 2))
		x := eager.Matrix(n, 2, nsfNormals(uint64(d+10), n, 2, 1))
		theta, lp := e.Sample(o, noise, x)
		z, _ := e.Forward(o, theta, x)
		again := eager.Dense(e.LogProb(o, theta, x))
		var zErr mat.Dense
		zErr.Sub(eager.Dense(z), eager.Dense(noise))
		if m := math.Max(mat.Max(&zErr), -mat.Min(&zErr)); m > 1e-9 {
			t.Errorf("d=%d: forward of the sample misses the noise by %v", d, m)
		}
		for r := range n {
			want := eager.Dense(lp).At(r, 0)
			if math.Abs(again.At(r, 0)-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("d=%d row %d: LogProb %v, Sample reports %v", d, r, again.At(r, 0), want)
			}
		}
	}
}

// nsfTrapezoid integrates exp(log-prob) over a grid of step h and of step 2h
// (every other point), so that their difference estimates the O(h²) error.
func nsfTrapezoid(e models.Estimator, o models.Ops, x []float64, lo, hi float64, n int) (fine, coarse float64) {
	d := e.Spec().ThetaDim
	h := (hi - lo) / float64(n-1)
	weight := func(i, step int) float64 {
		if i == 0 || i == n-1 {
			return 0.5
		}
		if i%step != 0 {
			return 0
		}
		return 1
	}
	rows := 1
	for range d {
		rows *= n
	}
	pts := make([]float64, 0, rows*d)
	for r := range rows {
		for c, i := 0, r; c < d; c, i = c+1, i/n {
			pts = append(pts, lo+float64(i%n)*h)
		}
	}
	lp := eager.Dense(e.LogProb(o, eager.Matrix(rows, d, pts), nsfRepeat(rows, x)))
	for r := range rows {
		p := math.Exp(lp.At(r, 0))
		wf, wc := 1.0, 1.0
		for c, i := 0, r; c < d; c, i = c+1, i/n {
			wf *= weight(i%n, 1)
			wc *= weight(i%n, 2)
		}
		fine += wf * p
		coarse += wc * p
	}
	return fine * math.Pow(h, float64(d)), coarse * math.Pow(2*h, float64(d))
}

func TestNSFNormalises(t *testing.T) {
	for _, tc := range []struct {
		s      models.Spec
		gain   float64
		lo, hi float64
		n      int // odd, so that the coarse grid shares both ends
	}{
		// Beyond ±3 every spline is the identity and θ = z: the mass
		// outside ±10 is that of N(0, 1), 2e-23.
		{models.Spec{ThetaDim: 1, XDim: 2}, 2, -10, 10, 4001},
		// Small LU perturbations keep θ within a few units of z, so ±7
		// leaves out a mass of order Φ(−7/1.5) ≈ 1e-6, below the
		// quadrature error.
		{models.Spec{ThetaDim: 2, XDim: 1, Hidden: 10, Bins: 6, Transforms: 3}, 1, -7, 7, 201},
	} {
		e, _, o := nsfSetup(t, tc.s, 40, tc.gain, 0.3)
		fine, coarse := nsfTrapezoid(e, o, []float64{0.3, -0.7}[:tc.s.XDim], tc.lo, tc.hi, tc.n)
		// The trapezoid error is ≈ (coarse − fine)/3; allow three times that.
		quad := math.Abs(fine - coarse)
		t.Logf("d=%d: ∫q = %.9f (coarse %.9f)", tc.s.ThetaDim, fine, coarse)
		if math.Abs(fine-1) > quad+1e-9 {
			t.Errorf("d=%d: density integrates to %v (quadrature error ≈ %.1e)", tc.s.ThetaDim, fine, quad/3)
		}
	}
}

func TestNSFExtremeInputs(t *testing.T) {
	for _, d := range []int{1, 3} {
		e, _, o := nsfSetup(t, models.Spec{ThetaDim: d, XDim: 1}, 50, 2, 0.3)
		// Far beyond any z-score; much larger values blow up the
		// conditioners themselves, which no spline can then rescue.
		vals := []float64{-3, 3, 0, 1e3, -1e3, 1e6, -1e6, math.Nextafter(3, 4)}
		n := len(vals)
		pts := make([]float64, n*d)
		for r, v := range vals {
			for c := range d {
				pts[r*d+c] = v
			}
		}
		in := eager.Matrix(n, d, pts)
		x := nsfRepeat(n, []float64{0.5})
		lp := eager.Dense(e.LogProb(o, in, x))
		th, slp := e.Sample(o, in, x)
		for r, v := range vals {
			got := []float64{lp.At(r, 0), eager.Dense(slp).At(r, 0)}
			got = append(got, eager.Dense(th).RawRowView(r)...)
			for _, g := range got {
				if math.IsNaN(g) || math.IsInf(g, 0) {
					t.Errorf("d=%d input %v: log-prob %v, sample %v, its log-prob %v", d, v, got[0], got[2:], got[1])
					break
				}
			}
		}
	}
}

func Example_nsf() {
	spec, _ := models.DefaultSpec("nsf", 2, 3)
	e, _ := models.New(spec)
	o, _ := eager.New(e, models.InitParams(e, rand.NewPCG(1, 2)))

	normal, _ := e.Noise()
	noise := eager.Matrix(1, normal, []float64{0.5, -1})
	x := eager.Matrix(1, 3, []float64{0.1, 0.2, 0.3})
	theta, logProb := e.Sample(o, noise, x)
	again := e.LogProb(o, theta, x)

	fmt.Println(spec.Transforms, "coupling layers of", spec.Bins, "bins on", -spec.TailBound, "…", spec.TailBound)
	fmt.Printf("log-prob agrees: %v\n", math.Abs(eager.Dense(again).At(0, 0)-eager.Dense(logProb).At(0, 0)) < 1e-9)
	// Output:
	// 5 coupling layers of 10 bins on -3 … 3
	// log-prob agrees: true
}

func benchmarkNSF(b *testing.B, d int, sample bool) {
	const n = 256
	e, _, o := nsfSetup(b, models.Spec{ThetaDim: d, XDim: 3}, 1, 1, 0.1)
	in := eager.Matrix(n, d, nsfNormals(1, n, d, 1))
	x := eager.Matrix(n, 3, nsfNormals(2, n, 3, 1))
	for b.Loop() {
		if sample {
			e.Sample(o, in, x)
		} else {
			e.LogProb(o, in, x)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
}

// Eager float64 reference speed for sbi's default NSF, batch 256.
func BenchmarkNSFLogProb(b *testing.B) { benchmarkNSF(b, 3, false) }
func BenchmarkNSFSample(b *testing.B)  { benchmarkNSF(b, 3, true) }
