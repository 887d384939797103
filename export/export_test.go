package export_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// randomModel is a model of the kind with PyTorch-style initial weights
// jittered, so that no transform is the identity and parity means something.
func randomModel(t testing.TB, kind string, d, xd int, seed uint64) *models.Model {
	t.Helper()
	return randomModelOf(t, models.MethodNPE, kind, d, xd, seed)
}

// randomModelOf is randomModel for a method: a density estimator's kind
// for npe and nle, a classifier's for nre.
func randomModelOf(t testing.TB, method, kind string, d, xd int, seed uint64) *models.Model {
	t.Helper()
	spec, err := models.DefaultSpec(kind, d, xd)
	if err != nil {
		t.Fatal(err)
	}
	spec.Hidden = 8
	var e models.Network
	switch method {
	case models.MethodNPE:
		e, err = models.New(spec)
	case models.MethodNLE:
		spec.Method = method
		e, err = models.New(spec)
	default:
		e, err = models.NewClassifier(spec)
	}
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	w := make(map[string][]float32)
	init := models.InitParams(e, rand.NewPCG(seed, 1))
	for _, p := range e.Params() { // declaration order: the jitter is reproducible
		name, v := p.Name, init[p.Name]
		f := make([]float32, len(v))
		for i := range v {
			f[i] = float32(v[i] + 0.1*rng.NormFloat64())
		}
		w[name] = f
	}
	low, high := make([]float64, d), make([]float64, d)
	m := &models.Model{Spec: e.Spec(), Weights: w, Method: method}
	switch method {
	case models.MethodNLE:
		m.Loss = &models.Loss{Kind: models.LossNLL}
	case models.MethodNRE:
		m.Loss = &models.Loss{Kind: models.LossNREB, Atoms: 10}
	}
	for i := range d {
		low[i], high[i] = -3, 3
		m.ThetaMean = append(m.ThetaMean, 0.1*float64(i))
		m.ThetaStd = append(m.ThetaStd, 1+0.2*float64(i))
		m.ThetaNames = append(m.ThetaNames, "theta_"+string(rune('1'+i)))
	}
	for i := range xd {
		m.XMean = append(m.XMean, -0.2*float64(i))
		m.XStd = append(m.XStd, 0.5+0.1*float64(i))
		m.XNames = append(m.XNames, "x_"+string(rune('1'+i)))
	}
	p, err := prior.NewBoxUniform(low, high)
	if err != nil {
		t.Fatal(err)
	}
	if m.Prior, err = prior.Marshal(p); err != nil {
		t.Fatal(err)
	}
	return m
}

func open(t testing.TB, m *models.Model) (*runtime.Model, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := export.Write(m, &buf); err != nil {
		t.Fatal(err)
	}
	rm, err := runtime.OpenBytes(buf.Bytes(), runtime.Options{Threads: 1})
	if err != nil {
		if os.Getenv("CI") == "" && isNoLibrary(err) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	return rm, buf.Bytes()
}

func isNoLibrary(err error) bool {
	for e := err; e != nil; {
		if e == runtime.ErrNoLibrary {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

func tolerance(kind string) float64 {
	if kind == "nsf" {
		return 1e-3
	}
	return 1e-4
}

var kinds = []struct {
	kind  string
	d, xd int
}{{"gaussian", 2, 3}, {"mdn", 3, 2}, {"maf", 3, 2}, {"nsf", 3, 2}, {"nsf", 1, 2}}

// TestParity checks that onnxruntime computes what the estimator code
// computes (the eager float64 reference), for log-prob and sampling, at
// several batch layouts.
func TestParity(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.kind+"_"+string(rune('0'+k.d)), func(t *testing.T) {
			m := randomModel(t, k.kind, k.d, k.xd, 3)
			rm, _ := open(t, m)
			ops, e, err := eager.FromModel(m)
			if err != nil {
				t.Fatal(err)
			}
			nn, nu := e.Noise()
			rng := rand.New(rand.NewPCG(1, 2))
			for _, shape := range [][2]int{{1, 1}, {3, 5}, {2, 1000}} {
				b, s := shape[0], shape[1]
				x := make([]float32, b*k.xd)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				theta := make([]float32, b*s*k.d)
				for i := range theta {
					theta[i] = float32(2 * rng.NormFloat64())
				}
				noise := rm.Noise(nil, b*s, rand.NewPCG(uint64(b), uint64(s)))
				out, err := rm.Run(x, b, theta, s, noise, s, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Reference rows: x repeated per θ, in float64 from the float32 inputs.
				xr := mat.NewDense(b*s, k.xd, nil)
				for i := range b * s {
					for j := range k.xd {
						xr.Set(i, j, float64(x[(i/s)*k.xd+j]))
					}
				}
				tr := mat.NewDense(b*s, k.d, f64(theta))
				nr := mat.NewDense(b*s, nn+nu, f64(noise))
				lp := eager.Dense(m.LogProb(ops, e, tr, xr))
				st, slp := m.Sample(ops, e, nr, xr)
				tol := tolerance(k.kind)
				for i := range b * s {
					if d := math.Abs(float64(out.LogProb[i]) - lp.At(i, 0)); !(d <= tol*math.Max(1, math.Abs(lp.At(i, 0)))) {
						t.Fatalf("b=%d s=%d row %d: log_prob %v, reference %v", b, s, i, out.LogProb[i], lp.At(i, 0))
					}
					if d := math.Abs(float64(out.SampleLogProb[i]) - eager.Dense(slp).At(i, 0)); !(d <= tol*math.Max(1, math.Abs(eager.Dense(slp).At(i, 0)))) {
						t.Fatalf("b=%d s=%d row %d: sample_log_prob %v, reference %v", b, s, i, out.SampleLogProb[i], eager.Dense(slp).At(i, 0))
					}
					for j := range k.d {
						ref := eager.Dense(st).At(i, j)
						if d := math.Abs(float64(out.Sample[i*k.d+j]) - ref); !(d <= tol*math.Max(1, math.Abs(ref))) {
							t.Fatalf("b=%d s=%d row %d dim %d: sample %v, reference %v", b, s, i, j, out.Sample[i*k.d+j], ref)
						}
					}
				}
			}
		})
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

// TestRoundTrip checks that the log-prob of a sampled θ, evaluated through
// the log-prob path, equals the log-prob the sample path reports.
func TestRoundTrip(t *testing.T) {
	for _, k := range kinds {
		m := randomModel(t, k.kind, k.d, k.xd, 5)
		rm, _ := open(t, m)
		x := make([]float32, 2*k.xd)
		for i := range x {
			x[i] = 0.3 * float32(i)
		}
		theta, lp, err := rm.Sample(x, 2, 200, rand.NewPCG(9, 9))
		if err != nil {
			t.Fatal(err)
		}
		back, err := rm.LogProb(x, 2, theta, 200)
		if err != nil {
			t.Fatal(err)
		}
		for i := range lp {
			if d := math.Abs(float64(back[i] - lp[i])); d > 10*tolerance(k.kind)*math.Max(1, math.Abs(float64(lp[i]))) {
				t.Fatalf("%s: draw %d: log_prob(sample) %v, sample_log_prob %v", k.kind, i, back[i], lp[i])
			}
		}
	}
}

// TestChecker runs the official ONNX checker with full_check on every kind.
func TestChecker(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-onnx is required in CI: %v", err)
		}
		t.Skip("python3-onnx not installed")
	}
	dir := t.TempDir()
	for _, k := range kinds {
		path := filepath.Join(dir, k.kind+".onnx")
		if err := export.WriteFile(randomModel(t, k.kind, k.d, k.xd, 1), path); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(py, "-c", "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path).CombinedOutput()
		if err != nil {
			t.Errorf("%s: onnx checker: %v\n%s", k.kind, err, out)
		}
	}
}

func TestErrors(t *testing.T) {
	m := randomModel(t, "maf", 2, 2, 1)
	if err := export.Write(&models.Model{}, &bytes.Buffer{}); err == nil {
		t.Error("untrained model exported")
	}
	bad := *m
	bad.Spec.Kind = "nope"
	if err := export.Write(&bad, &bytes.Buffer{}); err == nil {
		t.Error("unknown kind exported")
	}
	bad = *m
	bad.Weights = map[string][]float32{}
	for k, v := range m.Weights {
		bad.Weights[k] = v[:len(v)-1]
		break
	}
	if err := export.Write(&bad, &bytes.Buffer{}); err == nil {
		t.Error("inconsistent weights exported")
	}
	dir := t.TempDir()
	if err := export.WriteFile(m, filepath.Join(dir, "missing", "m.onnx")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if err := os.Chmod(dir, 0o500); err == nil && os.Geteuid() != 0 {
		if err := export.WriteFile(m, filepath.Join(dir, "m.onnx")); err == nil {
			t.Error("write into a read-only directory succeeded")
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("partial files left behind: %v", entries)
	}
}

// TestWriteFileMode: a model file is readable by all, as datasets and
// every other output are (0644), not private as a temporary file is.
func TestWriteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := export.WriteFile(randomModel(t, "maf", 2, 3, 1), path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("model file mode %v, want -rw-r--r--", st.Mode().Perm())
	}
}

// TestPerObservation checks that what an estimator computes from x alone
// is computed once per observation: every product with a weight of a layer
// that sees x alone (all of a Gaussian's and a mixture's, all of a spline
// flow's for one-dimensional θ, the context layers of the others) has one
// row per observation, not one per draw.
func TestPerObservation(t *testing.T) {
	for _, k := range kinds {
		mp, err := export.Build(randomModel(t, k.kind, k.d, k.xd, 1))
		if err != nil {
			t.Fatal(err)
		}
		g := mp.GetGraph()
		rows := map[string]string{}
		for _, vi := range g.GetValueInfo() {
			rows[vi.GetName()] = vi.GetType().GetTensorType().GetShape().GetDim()[0].GetDimParam()
		}
		fromX := func(w string) bool {
			if k.kind == "gaussian" || k.kind == "mdn" || k.d == 1 {
				return true
			}
			return strings.HasSuffix(w, ".ctx.w") || strings.HasSuffix(w, ".context.w")
		}
		checked := 0
		for _, n := range g.GetNode() {
			w := n.GetInput()[len(n.GetInput())-1]
			if n.GetOpType() != "MatMul" || !strings.HasPrefix(w, "param.") || !fromX(w) {
				continue
			}
			checked++
			if r := rows[n.GetOutput()[0]]; r != "obs_rows" {
				t.Errorf("%s, θ dim %d: product with %s has rows %q, want one per observation", k.kind, k.d, w, r)
			}
		}
		if checked == 0 {
			t.Errorf("%s, θ dim %d: no layer of x alone found", k.kind, k.d)
		}
	}
}
