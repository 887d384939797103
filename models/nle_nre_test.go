package models_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
)

// TestNLEIsTheEstimatorWithRolesSwapped checks that an NLE spec of θ and x
// builds the same network as an NPE spec with the dimensions exchanged,
// and that Model.LogProb and Model.Sample of an NLE model standardise x as
// the density's variable and θ as the condition, with x's Jacobian.
func TestNLEIsTheEstimatorWithRolesSwapped(t *testing.T) {
	const d, xd, n = 2, 3, 5
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kind := range models.Kinds() {
		s, _ := models.DefaultSpec(kind, d, xd)
		s.Method = models.MethodNLE
		nle, err := models.New(s)
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := models.DefaultSpec(kind, xd, d)
		npe, _ := models.New(ps)
		if a, b := nle.Params(), npe.Params(); len(a) != len(b) {
			t.Fatalf("%s: %d NLE parameters, %d NPE", kind, len(a), len(b))
		} else {
			for i := range a {
				if a[i].Name != b[i].Name || a[i].Rows != b[i].Rows || a[i].Cols != b[i].Cols {
					t.Errorf("%s: parameter %d: NLE %+v, NPE %+v", kind, i, a[i], b[i])
				}
			}
		}
		if nn, _ := nle.Noise(); nn != xd {
			t.Errorf("%s: NLE noise %d, want x_dim %d", kind, nn, xd)
		}
		values := models.InitParams(nle, rand.NewPCG(1, 2))
		o, err := eager.New(nle, values)
		if err != nil {
			t.Fatal(err)
		}
		m := &models.Model{Spec: nle.Spec(), Method: models.MethodNLE,
			ThetaMean: []float64{0.5, -1}, ThetaStd: []float64{2, 0.5},
			XMean: []float64{1, 2, 3}, XStd: []float64{0.5, 3, 1.5}}
		theta, x := randn(rng, n*d), randn(rng, n*xd)
		got := eager.Dense(m.LogProb(o, nle, eager.Matrix(n, d, theta), eager.Matrix(n, xd, x))).RawMatrix().Data
		zt, zx := zscored(theta, m.ThetaMean, m.ThetaStd), zscored(x, m.XMean, m.XStd)
		raw := eager.Dense(nle.LogProb(o, eager.Matrix(n, xd, zx), eager.Matrix(n, d, zt))).RawMatrix().Data
		jac := math.Log(0.5 * 3 * 1.5)
		for i := range n {
			if want := raw[i] - jac; math.Abs(got[i]-want) > 1e-12 {
				t.Errorf("%s: log q(x|θ) row %d = %v, want %v", kind, i, got[i], want)
			}
		}
		// A draw's log-density is the density at the draw.
		nn, nu := nle.Noise()
		noise := make([]float64, n*(nn+nu))
		for i := range noise {
			noise[i] = rng.NormFloat64()
			if i%(nn+nu) >= nn {
				noise[i] = rng.Float64()
			}
		}
		xs, lp := m.Sample(o, nle, eager.Matrix(n, nn+nu, noise), eager.Matrix(n, d, theta))
		again := eager.Dense(m.LogProb(o, nle, eager.Matrix(n, d, theta), xs)).RawMatrix().Data
		for i, v := range eager.Dense(lp).RawMatrix().Data {
			if math.Abs(v-again[i]) > 1e-8*math.Max(1, math.Abs(v)) {
				t.Errorf("%s: sample log q %v, log q at the sample %v", kind, v, again[i])
			}
		}
	}
}

func zscored(v, mean, std []float64) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		j := i % len(mean)
		out[i] = (v[i] - mean[j]) / std[j]
	}
	return out
}

// TestClassifiers checks sbi's defaults and each classifier's logit
// against a plain float64 forward pass over the concatenation (θ, x).
func TestClassifiers(t *testing.T) {
	const d, xd, n = 2, 3, 4
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kind := range models.ClassifierKinds() {
		s, err := models.DefaultSpec(kind, d, xd)
		if err != nil || s.Method != models.MethodNRE {
			t.Fatalf("%s: %+v, %v", kind, s, err)
		}
		c, err := models.NewClassifier(s)
		if err != nil {
			t.Fatal(err)
		}
		if kind == "resnet" && (c.Spec().Hidden != 50 || c.Spec().Layers != 2) {
			t.Errorf("resnet defaults %+v, want sbi's 50 hidden and 2 blocks", c.Spec())
		}
		values := models.InitParams(c, rand.NewPCG(7, 8))
		o, _ := eager.New(c, values)
		theta, x := randn(rng, n*d), randn(rng, n*xd)
		got := eager.Dense(c.Logit(o, eager.Matrix(n, d, theta), eager.Matrix(n, xd, x))).RawMatrix().Data
		for i := range n {
			in := append(append([]float64(nil), theta[i*d:(i+1)*d]...), x[i*xd:(i+1)*xd]...)
			w := append(append([]float64(nil), values["in.wt"]...), values["in.wx"]...)
			h := affine(in, w, values["in.b"])
			relu := func(v []float64) []float64 {
				out := make([]float64, len(v))
				for j, a := range v {
					out[j] = math.Max(a, 0)
				}
				return out
			}
			switch kind {
			case "resnet":
				for b := range 2 {
					p := "b" + string(rune('0'+b)) + "."
					u := affine(relu(h), values[p+"l0.w"], values[p+"l0.b"])
					u = affine(relu(u), values[p+"l1.w"], values[p+"l1.b"])
					for j := range h {
						h[j] += u[j]
					}
				}
				h = affine(h, values["out.w"], values["out.b"])
			case "mlp":
				h = relu(affine(relu(h), values["hidden1.w"], values["hidden1.b"]))
				h = affine(h, values["out.w"], values["out.b"])
			}
			if math.Abs(got[i]-h[0]) > 1e-12 {
				t.Errorf("%s: logit %d = %v, want %v", kind, i, got[i], h[0])
			}
		}
	}
	if _, err := models.NewClassifier(models.Spec{Kind: "resnet", ThetaDim: 1, XDim: 1}); err == nil {
		t.Error("classifier without method nre accepted")
	}
	if _, err := models.New(models.Spec{Kind: "maf", Method: models.MethodNRE, ThetaDim: 1, XDim: 1}); err == nil {
		t.Error("density estimator with method nre accepted")
	}
	for _, s := range []models.Spec{
		{Kind: "mlp", Method: models.MethodNRE, ThetaDim: 1, XDim: 1, Activation: "gelu"},
		{Kind: "resnet", Method: models.MethodNRE, ThetaDim: 1, XDim: 1, Hidden: -1},
	} {
		if _, err := models.NewClassifier(s); err == nil {
			t.Errorf("classifier %+v accepted", s)
		}
	}
}

// affine is v·W + b for W row-major [len(v), len(b)].
func affine(v, w, b []float64) []float64 {
	out := append([]float64(nil), b...)
	for i, a := range v {
		for j := range out {
			out[j] += a * w[i*len(b)+j]
		}
	}
	return out
}

// TestLossObjectives checks each loss's per-row objective against sbi's
// definitions written out in float64.
func TestLossObjectives(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	sp := func(v float64) float64 { return math.Log1p(math.Exp(v)) }
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	lse := func(v ...float64) float64 {
		m := math.Inf(-1)
		for _, a := range v {
			m = math.Max(m, a)
		}
		s := 0.0
		for _, a := range v {
			s += math.Exp(a - m)
		}
		return m + math.Log(s)
	}
	for _, l := range []models.Loss{{Kind: "nre-a"}, {Kind: "nre-b"}, {Kind: "nre-c", Atoms: 3, Gamma: 2}, {Kind: "bnre"}} {
		l, err := l.WithDefaults()
		if err != nil {
			t.Fatal(err)
		}
		const n = 3
		cols := l.Columns()
		logits := randn(rng, n*cols)
		o := &eager.Ops{}
		obj, bal := l.Objective(o, eager.Matrix(n, cols, logits))
		got := eager.Dense(obj).RawMatrix().Data
		for i := range n {
			r := logits[i*cols : (i+1)*cols]
			var want float64
			switch l.Kind {
			case "nre-a", "bnre":
				want = -(sp(-r[0]) + sp(r[1])) / 2 // BCE: −½[log σ(l₀) + log(1−σ(l₁))]
				if l.Kind == "bnre" {
					if b := eager.Dense(bal).At(i, 0); math.Abs(b-(sig(r[0])+sig(r[1])-1)) > 1e-12 {
						t.Errorf("bnre balance %v", b)
					}
				} else if bal != nil {
					t.Error("nre-a has a balance term")
				}
			case "nre-b":
				want = r[0] - lse(r...)
			case "nre-c":
				k, g := l.Atoms, l.Gamma
				joint, marg := r[:k], r[k:]
				den := func(ls []float64) float64 {
					v := []float64{math.Log(float64(k))}
					for _, a := range ls {
						v = append(v, math.Log(g)+a)
					}
					return lse(v...)
				}
				lpM := math.Log(float64(k)) - den(marg)
				lpJ := math.Log(g) + joint[0] - den(joint)
				want = lpM/(1+g) + g/(1+g)*lpJ
			}
			if math.Abs(got[i]-want) > 1e-12 {
				t.Errorf("%s row %d: objective %v, want %v", l.Kind, i, got[i], want)
			}
		}
	}
	if l, _ := (models.Loss{}).WithDefaults(); l.Kind != models.LossNREB || l.Atoms != 10 {
		t.Errorf("default loss %+v, want sbi's NRE: nre-b with 10 atoms", l)
	}
	for _, bad := range []models.Loss{{Kind: "nre-b", Atoms: 1}, {Kind: "nre-c", Gamma: -1}, {Kind: "bnre", Lambda: -2}, {Kind: "x"}} {
		if _, err := bad.WithDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func randn(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}
