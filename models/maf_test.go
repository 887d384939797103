package models_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// mafForwarder is the flow's θ → z map, which Sample inverts.
type mafForwarder interface {
	Forward(o models.Ops, theta, x models.Tensor) (z, logDet models.Tensor)
}

// mafSetup builds a MAF with seeded PyTorch-style weights multiplied by gain
// (gain > 1 makes the flow far from Gaussian).
func mafSetup(t testing.TB, s models.Spec, seed uint64, gain float64) (models.Estimator, map[string][]float64, *eager.Ops) {
	t.Helper()
	s.Kind = "maf"
	e, err := models.New(s)
	if err != nil {
		t.Fatal(err)
	}
	p := models.InitParams(e, rand.NewPCG(seed, 1))
	for _, v := range p {
		for i := range v {
			v[i] *= gain
		}
	}
	o, err := eager.New(e, p)
	if err != nil {
		t.Fatal(err)
	}
	return e, p, o
}

func mafNormals(rng *rand.Rand, rows, cols int) models.Tensor {
	v := make([]float64, rows*cols)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return eager.Matrix(rows, cols, v)
}

// mafRepeat is x as n identical rows.
func mafRepeat(n int, x ...float64) models.Tensor {
	v := make([]float64, 0, n*len(x))
	for range n {
		v = append(v, x...)
	}
	return eager.Matrix(n, len(x), v)
}

func mafMaxAbsDiff(a, b models.Tensor) float64 {
	var d mat.Dense
	d.Sub(eager.Dense(a), eager.Dense(b))
	return math.Max(mat.Max(&d), -mat.Min(&d))
}

func TestMAFBadSpec(t *testing.T) {
	for _, s := range []models.Spec{
		{ThetaDim: 0, XDim: 2},
		{ThetaDim: 2, XDim: 0},
		{ThetaDim: 2, XDim: 2, Hidden: -1},
		{ThetaDim: 2, XDim: 2, Layers: -1},
		{ThetaDim: 2, XDim: 2, Transforms: -3},
		{ThetaDim: 2, XDim: 2, Activation: "sigmoid"},
		{ThetaDim: 2, XDim: 2, Bins: 8},
		{ThetaDim: 2, XDim: 2, Components: 4},
		{ThetaDim: 2, XDim: 2, TailBound: 3},
	} {
		s.Kind = "maf"
		if _, err := models.New(s); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", s)
		}
	}
}

func TestMAFParams(t *testing.T) {
	s := models.Spec{Kind: "maf", ThetaDim: 3, XDim: 2, Hidden: 7, Layers: 2, Transforms: 2}
	e, err := models.New(s)
	if err != nil {
		t.Fatal(err)
	}
	// nflows' MADE: initial masked layer, context layer, Layers masked
	// blocks, output layer with a scale and a shift per coordinate.
	want := map[string][2]int{}
	for k := range s.Transforms {
		layer := func(name string, in, out int) {
			want[fmt.Sprintf("maf%d.%s.w", k, name)] = [2]int{in, out}
			want[fmt.Sprintf("maf%d.%s.b", k, name)] = [2]int{1, out}
		}
		layer("input", 3, 7)
		layer("context", 2, 7)
		layer("hidden0", 7, 7)
		layer("hidden1", 7, 7)
		layer("output", 7, 6)
	}
	ps := e.Params()
	if len(ps) != len(want) {
		t.Fatalf("%d parameters, want %d", len(ps), len(want))
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			t.Errorf("parameter %q declared twice", p.Name)
		}
		seen[p.Name] = true
		if w, ok := want[p.Name]; !ok || w != [2]int{p.Rows, p.Cols} {
			t.Errorf("parameter %q is %d×%d, want %v (declared: %v)", p.Name, p.Rows, p.Cols, w, ok)
		}
	}

	a := models.InitParams(e, rand.NewPCG(7, 7))
	b := models.InitParams(e, rand.NewPCG(7, 7))
	c := models.InitParams(e, rand.NewPCG(8, 7))
	for _, p := range ps {
		if !slices.Equal(a[p.Name], b[p.Name]) {
			t.Errorf("%s differs between runs with one seed", p.Name)
		}
		if slices.Equal(a[p.Name], c[p.Name]) {
			t.Errorf("%s equal for two seeds", p.Name)
		}
		// PyTorch's default Linear init: U(±1/√fan_in), the masked inputs
		// counted, and nflows leaves the output layer at that default.
		fanIn := want[strings.TrimSuffix(p.Name, ".b")+".w"][0]
		bound := 1 / math.Sqrt(float64(fanIn))
		for _, v := range a[p.Name] {
			if math.Abs(v) > bound {
				t.Fatalf("%s holds %v outside ±%v", p.Name, v, bound)
			}
		}
	}
}

// refMAFLogProb is nflows' MAF for one row, written from its definition in
// plain loops: masks from MADE degrees, tanh activations, the context added
// after its own activation, softplus scales, reversal between transforms.
func refMAFLogProb(s models.Spec, p map[string][]float64, theta, x []float64) float64 {
	d, h := s.ThetaDim, s.Hidden
	hidDeg := func(k int) int { return k%max(1, d-1) + min(1, d-1) }
	layer := func(name string, in []float64, cols int, keep func(i, j int) bool) []float64 {
		w, out := p[name+".w"], slices.Clone(p[name+".b"])
		for j := range cols {
			for i, v := range in {
				if keep(i, j) {
					out[j] += v * w[i*cols+j]
				}
			}
		}
		return out
	}
	y, logDet := slices.Clone(theta), 0.0
	for t := range s.Transforms {
		if t > 0 {
			slices.Reverse(y)
		}
		name := fmt.Sprintf("maf%d.", t)
		ctx := layer(name+"context", x, h, func(int, int) bool { return true })
		hid := layer(name+"input", y, h, func(i, k int) bool { return hidDeg(k) >= i+1 })
		for k := range hid {
			hid[k] = math.Tanh(hid[k] + math.Tanh(ctx[k]))
		}
		for j := range s.Layers {
			hid = layer(fmt.Sprintf("%shidden%d", name, j), hid, h, func(i, k int) bool { return hidDeg(k) >= hidDeg(i) })
			for k := range hid {
				hid[k] = math.Tanh(hid[k])
			}
		}
		out := layer(name+"output", hid, 2*d, func(k, j int) bool { return j%d+1 > hidDeg(k) })
		for i := range d {
			sc := math.Log1p(math.Exp(out[i])) + 1e-3
			y[i] = y[i]*sc + out[d+i]
			logDet += math.Log(sc)
		}
	}
	lp := logDet
	for _, z := range y {
		lp += -0.5*z*z - 0.5*math.Log(2*math.Pi)
	}
	return lp
}

func TestMAFMatchesReference(t *testing.T) {
	for _, d := range []int{1, 2, 4} {
		s := models.Spec{ThetaDim: d, XDim: 2, Hidden: 6, Layers: 2, Transforms: 3}
		e, p, o := mafSetup(t, s, uint64(d), 2)
		rng := rand.New(rand.NewPCG(3, uint64(d)))
		const n = 5
		theta, x := mafNormals(rng, n, d), mafNormals(rng, n, 2)
		lp := eager.Dense(e.LogProb(o, theta, x))
		for r := range n {
			want := refMAFLogProb(e.Spec(), p, eager.Dense(theta).RawRowView(r), eager.Dense(x).RawRowView(r))
			if got := lp.At(r, 0); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("D=%d row %d: LogProb %v, nflows definition %v", d, r, got, want)
			}
		}
	}
}

// With every weight zero each transform is z = y·s + t with constant s, t,
// so θ_i is normal with a closed-form mean and standard deviation.
func TestMAFClosedForm(t *testing.T) {
	const d, transforms = 3, 3
	s := models.Spec{ThetaDim: d, XDim: 2, Hidden: 5, Transforms: transforms}
	e, p, _ := mafSetup(t, s, 11, 1)
	for name, v := range p {
		if strings.HasSuffix(name, ".w") {
			clear(v)
		}
	}
	o, err := eager.New(e, p)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 20
	theta, x := mafNormals(rng, n, d), mafNormals(rng, n, 2)
	lp := eager.Dense(e.LogProb(o, theta, x))

	// z = a_i·θ_i + b_i at some output column; follow coordinate i.
	dists := make([]distuv.Normal, d)
	for i := range d {
		pos, a, b := i, 1.0, 0.0
		for k := range transforms {
			if k > 0 {
				pos = d - 1 - pos
			}
			out := p[fmt.Sprintf("maf%d.output.b", k)]
			sc := math.Log1p(math.Exp(out[pos])) + 1e-3
			a, b = a*sc, b*sc+out[d+pos]
		}
		dists[i] = distuv.Normal{Mu: -b / a, Sigma: 1 / a}
	}
	for r := range n {
		var want float64
		for i, dist := range dists {
			want += dist.LogProb(eager.Dense(theta).At(r, i))
		}
		if got := lp.At(r, 0); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("row %d: LogProb %v, closed form %v", r, got, want)
		}
	}
}

// For D = 1 every MADE sees the context only, so the flow is a normal
// N(μ(x), σ(x)²) with μ the sample at noise 0 and σ the step to noise 1.
func TestMAFOneDimIsNormal(t *testing.T) {
	e, _, o := mafSetup(t, models.Spec{ThetaDim: 1, XDim: 2}, 21, 2)
	x := []float64{0.3, -1.2}
	at, _ := e.Sample(o, eager.Matrix(2, 1, []float64{0, 1}), mafRepeat(2, x...))
	mu := eager.Dense(at).At(0, 0)
	dist := distuv.Normal{Mu: mu, Sigma: eager.Dense(at).At(1, 0) - mu}
	const n = 41
	grid := make([]float64, n)
	for i := range grid {
		grid[i] = mu + dist.Sigma*(float64(i)/4-5)
	}
	lp := eager.Dense(e.LogProb(o, eager.Matrix(n, 1, grid), mafRepeat(n, x...)))
	for i, v := range grid {
		if got, want := lp.At(i, 0), dist.LogProb(v); math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("θ=%v: LogProb %v, normal %v", v, got, want)
		}
	}
}

func TestMAFSampleConsistent(t *testing.T) {
	for _, d := range []int{1, 2, 5} {
		e, _, o := mafSetup(t, models.Spec{ThetaDim: d, XDim: 3}, uint64(30+d), 1.5)
		rng := rand.New(rand.NewPCG(4, uint64(d)))
		const n = 64
		noise, x := mafNormals(rng, n, d), mafNormals(rng, n, 3)
		theta, lp := e.Sample(o, noise, x)
		if r, c := eager.Dense(theta).Dims(); r != n || c != d {
			t.Fatalf("D=%d: sample is %d×%d", d, r, c)
		}
		if diff := mafMaxAbsDiff(e.LogProb(o, theta, x), lp); diff > 1e-9 {
			t.Errorf("D=%d: LogProb(Sample) differs from Sample's log-prob by %v", d, diff)
		}
		z, _ := e.(mafForwarder).Forward(o, theta, x)
		if diff := mafMaxAbsDiff(z, noise); diff > 1e-9 {
			t.Errorf("D=%d: Forward(Sample(noise)) misses the noise by up to %v", d, diff)
		}
	}
}

// Each transform's Jacobian is lower triangular: z_i ignores θ_j for j > i.
// Between transforms the columns are reversed, so with the first transform
// elementwise the two-transform map ignores θ_j in z_i for i < D−1−j.
func TestMAFAutoregressive(t *testing.T) {
	const d = 4
	check := func(name string, e models.Estimator, o *eager.Ops, independent func(i, j int) bool) {
		rng := rand.New(rand.NewPCG(9, 9))
		theta, x := mafNormals(rng, 1, d), mafNormals(rng, 1, 2)
		z0, _ := e.(mafForwarder).Forward(o, theta, x)
		for j := range d {
			moved := mat.DenseCopyOf(eager.Dense(theta))
			moved.Set(0, j, moved.At(0, j)+0.7)
			z1, _ := e.(mafForwarder).Forward(o, moved, x)
			for i := range d {
				same := eager.Dense(z0).At(0, i) == eager.Dense(z1).At(0, i)
				if independent(i, j) && !same {
					t.Errorf("%s: z_%d moved with θ_%d", name, i, j)
				}
				if i == j && name == "one transform" && same {
					t.Errorf("%s: z_%d ignores θ_%d", name, i, i)
				}
			}
		}
	}
	e, _, o := mafSetup(t, models.Spec{ThetaDim: d, XDim: 2, Hidden: 9, Transforms: 1}, 41, 2)
	check("one transform", e, o, func(i, j int) bool { return i < j })

	e, p, _ := mafSetup(t, models.Spec{ThetaDim: d, XDim: 2, Hidden: 9, Transforms: 2}, 42, 2)
	for name, v := range p {
		if strings.HasPrefix(name, "maf0.") && strings.HasSuffix(name, ".w") {
			clear(v)
		}
	}
	o, err := eager.New(e, p)
	if err != nil {
		t.Fatal(err)
	}
	check("reversed second transform", e, o, func(i, j int) bool { return i < d-1-j })
}

// Forward's log-determinant equals log|det ∂z/∂θ| by central differences.
// With step h the entries are off by O(h²) + O(ε/h) ≈ 1e-10, far below the
// tolerance, for these well-conditioned Jacobians.
func TestMAFLogDetMatchesJacobian(t *testing.T) {
	const d, h = 3, 1e-5
	e, _, o := mafSetup(t, models.Spec{ThetaDim: d, XDim: 2, Hidden: 10, Transforms: 4}, 51, 1.5)
	f := e.(mafForwarder)
	rng := rand.New(rand.NewPCG(6, 6))
	for range 5 {
		theta, x := mafNormals(rng, 1, d), mafNormals(rng, 1, 2)
		_, logDet := f.Forward(o, theta, x)
		jac := mat.NewDense(d, d, nil)
		for j := range d {
			step := func(sign float64) *mat.Dense {
				v := mat.DenseCopyOf(eager.Dense(theta))
				v.Set(0, j, v.At(0, j)+sign*h)
				z, _ := f.Forward(o, v, x)
				return eager.Dense(z)
			}
			plus, minus := step(1), step(-1)
			for i := range d {
				jac.Set(i, j, (plus.At(0, i)-minus.At(0, i))/(2*h))
			}
		}
		logAbsDet, _ := mat.LogDet(jac)
		if got := eager.Dense(logDet).At(0, 0); math.Abs(got-logAbsDet) > 1e-6 {
			t.Errorf("log-det %v, finite-difference Jacobian gives %v", got, logAbsDet)
		}
	}
}

// The density integrates, over a box, to the fraction of independent
// samples that fall in it: for a wide box that is 1, for a central one it
// checks density and sampler against each other. The midpoint rule's error
// is estimated by halving the step (error ∝ h²).
func TestMAFNormalizes(t *testing.T) {
	const d = 2
	e, _, o := mafSetup(t, models.Spec{ThetaDim: d, XDim: 1, Hidden: 8, Transforms: 3}, 61, 2)
	x := []float64{0.4}
	draw := func(seed uint64, n int) *mat.Dense {
		th, _ := e.Sample(o, mafNormals(rand.New(rand.NewPCG(seed, 0)), n, d), mafRepeat(n, x...))
		return eager.Dense(th)
	}
	pilot := draw(1, 2000)
	type box struct{ lo, hi [d]float64 }
	quantile := func(col int, q float64) float64 {
		v := mat.Col(nil, col, pilot)
		sort.Float64s(v)
		return v[int(q*float64(len(v)-1))]
	}
	var wide, central box
	for c := range d {
		lo, hi := quantile(c, 0), quantile(c, 1)
		wide.lo[c], wide.hi[c] = lo-(hi-lo), hi+(hi-lo)
		central.lo[c], central.hi[c] = quantile(c, 0.1), quantile(c, 0.9)
	}
	integrate := func(b box, n int) float64 {
		pts := make([]float64, 0, n*n*d)
		var hx [d]float64
		for c := range d {
			hx[c] = (b.hi[c] - b.lo[c]) / float64(n)
		}
		for i := range n {
			for j := range n {
				pts = append(pts, b.lo[0]+(float64(i)+0.5)*hx[0], b.lo[1]+(float64(j)+0.5)*hx[1])
			}
		}
		lp := eager.Dense(e.LogProb(o, eager.Matrix(n*n, d, pts), mafRepeat(n*n, x...)))
		var sum float64
		for i := range n * n {
			sum += math.Exp(lp.At(i, 0))
		}
		return sum * hx[0] * hx[1]
	}
	const m = 20000
	samples := draw(2, m)
	for _, tc := range []struct {
		name string
		b    box
	}{{"wide", wide}, {"central", central}} {
		coarse, fine := integrate(tc.b, 150), integrate(tc.b, 300)
		quad := math.Abs(fine-coarse) / 3
		fine += (fine - coarse) / 3 // Richardson: cancels the h² term
		in := 0
		for r := range m {
			if th := samples.RawRowView(r); th[0] > tc.b.lo[0] && th[0] < tc.b.hi[0] && th[1] > tc.b.lo[1] && th[1] < tc.b.hi[1] {
				in++
			}
		}
		frac := float64(in) / m
		// Four binomial standard errors; 3/m is the 95% bound on the
		// mass outside when no sample falls there.
		tol := 4*math.Sqrt(frac*(1-frac)/m) + 3.0/m + quad
		t.Logf("%s box: integral %.6f (quadrature error ≈ %.1e), sample fraction %.4f, tolerance %.1e", tc.name, fine, quad, frac, tol)
		if math.Abs(fine-frac) > tol {
			t.Errorf("%s box: density integrates to %v, samples give %v ± %v", tc.name, fine, frac, tol)
		}
	}
}

func Example_maf() {
	spec, _ := models.DefaultSpec("maf", 2, 3)
	e, _ := models.New(spec)
	o, _ := eager.New(e, models.InitParams(e, rand.NewPCG(1, 2)))

	normal, _ := e.Noise()
	noise := eager.Matrix(1, normal, []float64{0.5, -1})
	x := eager.Matrix(1, 3, []float64{0.1, 0.2, 0.3})
	theta, logProb := e.Sample(o, noise, x)
	again := e.LogProb(o, theta, x)

	fmt.Println(spec.Transforms, "transforms of", spec.Hidden, "hidden units")
	fmt.Printf("log-prob agrees: %v\n", math.Abs(eager.Dense(again).At(0, 0)-eager.Dense(logProb).At(0, 0)) < 1e-9)
	// Output:
	// 5 transforms of 50 hidden units
	// log-prob agrees: true
}

func benchmarkMAF(b *testing.B, sample bool) {
	const n = 256
	e, _, o := mafSetup(b, models.Spec{ThetaDim: 3, XDim: 3}, 1, 1)
	rng := rand.New(rand.NewPCG(1, 1))
	in, x := mafNormals(rng, n, 3), mafNormals(rng, n, 3)
	b.ResetTimer()
	for range b.N {
		if sample {
			e.Sample(o, in, x)
		} else {
			e.LogProb(o, in, x)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
}

// Eager float64 reference speed for sbi's default MAF, batch 256.
func BenchmarkMAFLogProb(b *testing.B) { benchmarkMAF(b, false) }
func BenchmarkMAFSample(b *testing.B)  { benchmarkMAF(b, true) }
