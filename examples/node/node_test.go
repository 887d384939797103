package node_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/amortize/amortize/examples/internal/webdeps"
	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
)

// request is posterior.mjs's input, in float64 that holds each float32
// exactly, so that JavaScript reads the very float32 values Go fed.
type request struct {
	X        []float64 `json:"x"`
	B        int       `json:"b"`
	Theta    []float64 `json:"theta"`
	NTheta   int       `json:"n_theta"`
	NX       int       `json:"n_x"`
	Noise    []float64 `json:"noise"`
	NSamples int       `json:"n_samples"`
}

// newRequest lays out a call by the file's method (format.Layout): cond is
// the per-row input, values the n rows scored against each.
func newRequest(l format.Layout, b int, cond []float32, values []float32, n int, noise []float32, nSample int) request {
	r := request{B: b, Noise: f64(noise), NSamples: nSample}
	if l.Cond == format.InputTheta {
		r.Theta, r.X, r.NX = f64(cond), f64(values), n
	} else {
		r.X, r.Theta, r.NTheta = f64(cond), f64(values), n
	}
	return r
}

type answer struct {
	Metadata struct {
		Method     string          `json:"method"`
		Estimator  string          `json:"estimator"`
		ThetaDim   int             `json:"thetaDim"`
		XDim       int             `json:"xDim"`
		ThetaNames []string        `json:"thetaNames"`
		XNames     []string        `json:"xNames"`
		Prior      json.RawMessage `json:"prior"`
		Loss       json.RawMessage `json:"loss"`
	} `json:"metadata"`
	LogProb       []float64 `json:"log_prob"`
	LogRatio      []float64 `json:"log_ratio"`
	Sample        []float64 `json:"sample"`
	SampleLogProb []float64 `json:"sample_log_prob"`
	Inside        []bool    `json:"inside"`
}

// logOut is the answer's log-density output named by the layout.
func (a answer) logOut(l format.Layout) []float64 {
	if l.LogOut == format.OutputLogRatio {
		return a.LogRatio
	}
	return a.LogProb
}

// TestNodeMatchesGo runs every golden model file, of every method, through
// the Node example and compares with the Go runtime's calls of its method,
// bit for bit: both call onnxruntime 1.30's CPU kernels on identical inputs
// and shapes.
func TestNodeMatchesGo(t *testing.T) {
	deps := webdeps.Get(t, webdeps.NodeOnly)
	dir := webdeps.Stage(t, deps, map[string]string{"node": deps.NodeModules}, "node", "browser")
	files, err := filepath.Glob(filepath.Join(deps.Root, "testdata", "golden", "*.onnx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden model files in testdata/golden (%v)", err)
	}
	rejected := 0
	seen := map[string]bool{}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".onnx"), func(t *testing.T) {
			// One call, one thread: the Go runtime cuts nothing, so both
			// runtimes see the same tensor shapes.
			m, err := runtime.Open(file, runtime.Options{Threads: 1, Workers: 1, ChunkRows: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			meta := m.Metadata()
			l := meta.Layout()
			seen[meta.Method] = true
			rng := rand.New(rand.NewPCG(7, uint64(len(file))))
			normals := func(n int, scale float64) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(scale * rng.NormFloat64())
				}
				return v
			}
			// Rows and draws that are not multiples of runtime.Lanes, so
			// that the kernels' scalar tails are compared too.
			const b, n = 2, 21
			nSample := 45
			if !l.Sampling {
				nSample = 0
			}
			cond, values := normals(b*l.CondDim, 1), normals(b*n*l.ValueDim, 1.5)
			noise := m.Noise(nil, b*nSample, rand.NewPCG(8, 8))
			want := &runtime.Output{}
			switch meta.Method {
			case format.MethodNPE:
				// Noise widened so that some draws leave the prior's box.
				for i := range noise {
					if i%meta.Noise.Dim() < meta.Noise.Normal {
						noise[i] *= 1.5
					}
				}
				want, err = m.Run(cond, b, values, n, noise, nSample, nil)
			case format.MethodNLE:
				// SampleX draws the same noise from the same seed.
				if want.LogProb, err = m.LogLikelihood(cond, b, values, n); err == nil {
					want.Sample, want.SampleLogProb, err = m.SampleX(cond, b, nSample, rand.NewPCG(8, 8))
				}
			case format.MethodNRE:
				want.LogProb, err = m.LogRatio(cond, b, values, n)
			default:
				t.Fatalf("method %q: the test knows npe, nle and nre", meta.Method)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := run(t, deps.Node, dir, file, newRequest(l, b, cond, values, n, noise, nSample))

			if got.Metadata.Method != meta.Method || got.Metadata.Estimator != meta.Estimator ||
				got.Metadata.ThetaDim != meta.ThetaDim || got.Metadata.XDim != meta.XDim ||
				!slices.Equal(got.Metadata.ThetaNames, meta.ThetaNames) || !slices.Equal(got.Metadata.XNames, meta.XNames) {
				t.Errorf("Node read metadata %+v, Go %+v", got.Metadata, meta)
			}
			if !jsonEqual(t, got.Metadata.Prior, meta.Prior) {
				t.Errorf("Node read prior %s, Go %s", got.Metadata.Prior, meta.Prior)
			}
			if !jsonEqual(t, got.Metadata.Loss, meta.Loss) {
				t.Errorf("Node read loss %s, Go %s", got.Metadata.Loss, meta.Loss)
			}
			same(t, l.LogOut, got.logOut(l), want.LogProb)
			same(t, "sample", got.Sample, want.Sample)
			same(t, "sample_log_prob", got.SampleLogProb, want.SampleLogProb)

			// Rejection, for a file that draws θ: the Node example keeps
			// a draw exactly when the Go prior's support holds it.
			if meta.Method != format.MethodNPE {
				if got.Inside != nil {
					t.Errorf("Node marked %s draws inside the prior: they are not θ", meta.Method)
				}
				return
			}
			if len(got.Inside) != b*nSample {
				t.Fatalf("inside has %d values, want %d", len(got.Inside), b*nSample)
			}
			p := m.Prior()
			if _, box := p.(*prior.BoxUniform); !box {
				t.Logf("prior %s is not a box: the example rejects nothing", meta.Prior)
				return
			}
			d := m.ThetaDim()
			row := make([]float64, d)
			for i, in := range got.Inside {
				for j := range row {
					row[j] = float64(want.Sample[i*d+j])
				}
				if in != p.InSupport(row) {
					t.Errorf("draw %d %v: Node says inside=%v, the Go prior %v", i, row, in, p.InSupport(row))
				}
				if !in {
					rejected++
				}
			}
		})
	}
	if rejected == 0 {
		t.Error("no draw fell outside a box prior: the rejection was not exercised")
	}
	for _, method := range []string{format.MethodNPE, format.MethodNLE, format.MethodNRE} {
		if !seen[method] {
			t.Errorf("no golden file of method %s was compared", method)
		}
	}
}

// TestNodeGoldenOutputs feeds each golden file's own inputs and compares
// with the outputs stored beside it.
func TestNodeGoldenOutputs(t *testing.T) {
	deps := webdeps.Get(t, webdeps.NodeOnly)
	dir := webdeps.Stage(t, deps, map[string]string{"node": deps.NodeModules}, "node", "browser")
	files, _ := filepath.Glob(filepath.Join(deps.Root, "testdata", "golden", "*.json"))
	for _, js := range files {
		model := strings.TrimSuffix(js, ".json") + ".onnx"
		t.Run(filepath.Base(model), func(t *testing.T) {
			var g struct {
				X, Theta, Noise []float32
				B, S            int
				LogProb         []float32 `json:"log_prob"`
				Sample          []float32 `json:"sample"`
				SampleLogProb   []float32 `json:"sample_log_prob"`
			}
			raw, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatal(err)
			}
			m, err := runtime.Open(model, runtime.Options{Threads: 1, Workers: 1, ChunkRows: -1})
			if err != nil {
				t.Fatal(err)
			}
			l := m.Metadata().Layout()
			m.Close()
			// The golden inputs carry the contract's names: cond and
			// values by the method.
			cond, values, nSample := g.X, g.Theta, g.S
			if l.Cond == format.InputTheta {
				cond, values = g.Theta, g.X
			}
			if !l.Sampling {
				nSample = 0
			}
			got := run(t, deps.Node, dir, model, newRequest(l, g.B, cond, values, g.S, g.Noise, nSample))
			// The golden outputs were written by the Go runtime in one
			// call of the same shapes; log_prob holds an nre file's
			// log_ratio.
			same(t, l.LogOut, got.logOut(l), g.LogProb)
			same(t, "sample", got.Sample, g.Sample)
			same(t, "sample_log_prob", got.SampleLogProb, g.SampleLogProb)
		})
	}
}

func run(t *testing.T, node, dir, model string, req request) answer {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "posterior.mjs", model, "-")
	cmd.Dir = filepath.Join(dir, "node")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node posterior.mjs: %v\n%s", err, stderr.String())
	}
	var a answer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("node posterior.mjs printed %q: %v", out, err)
	}
	return a
}

// same fails unless got holds exactly the float32 values of want.
func same(t *testing.T, name string, got []float64, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: Node gave %d values, Go %d", name, len(got), len(want))
	}
	for i := range got {
		if g := float32(got[i]); float64(g) != got[i] || math.Float32bits(g) != math.Float32bits(want[i]) {
			t.Errorf("%s[%d]: Node %v, Go %v", name, i, got[i], want[i])
		}
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if len(b) == 0 {
		b = json.RawMessage("null")
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// TestNodeNoMethod: a file without the method key (format 1.0) is npe.
func TestNodeNoMethod(t *testing.T) {
	deps := webdeps.Get(t, webdeps.NodeOnly)
	dir := webdeps.Stage(t, deps, map[string]string{"node": deps.NodeModules}, "node", "browser")
	good, err := os.ReadFile(filepath.Join(deps.Root, "testdata", "golden", "nsf.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	// The key renamed in place (same length): onnxruntime ignores it.
	old := bytes.Replace(good, []byte("amortize.method\x12"), []byte("amortize.methoX\x12"), 1)
	if bytes.Equal(old, good) {
		t.Fatal("nsf.onnx holds no method key")
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := runtime.Open(filepath.Join(deps.Root, "testdata", "golden", "nsf.onnx"), runtime.Options{Threads: 1, Workers: 1, ChunkRows: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x, theta := make([]float32, m.XDim()), make([]float32, m.ThetaDim())
	want, err := m.LogProb(x, 1, theta, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, deps.Node, dir, path, request{X: f64(x), B: 1, Theta: f64(theta), NTheta: 1})
	if got.Metadata.Method != format.MethodNPE {
		t.Errorf("a file without a method: Node read method %q, want npe", got.Metadata.Method)
	}
	same(t, "log_prob", got.LogProb, want)
}

// TestNodeBadFiles: a file that is not a whole amortize model is a clear
// error from the metadata reader, before onnxruntime sees it.
func TestNodeBadFiles(t *testing.T) {
	deps := webdeps.Get(t, webdeps.NodeOnly)
	dir := webdeps.Stage(t, deps, map[string]string{"node": deps.NodeModules}, "node", "browser")
	good, err := os.ReadFile(filepath.Join(deps.Root, "testdata", "golden", "nsf.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	// The method's value edited in place (same length): a method this
	// reader does not know.
	method := []byte("\x0famortize.method\x12\x03npe")
	if bytes.Count(good, method) != 1 {
		t.Fatal("nsf.onnx does not hold its method key once")
	}
	unknown := bytes.Replace(good, method, []byte("\x0famortize.method\x12\x03xyz"), 1)
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"unknown method": {unknown, "method xyz is not one this reader knows"},
		"truncated":      {good[:len(good)/2], "not an ONNX model"},
		"junk":           {[]byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff junk"), "not an ONNX model"},
		"empty":          {nil, "metadata key amortize.format_version missing"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(deps.Node, "posterior.mjs", path, "-")
			cmd.Dir = filepath.Join(dir, "node")
			cmd.Stdin = strings.NewReader(`{"x":[0,0]}`)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("posterior.mjs on a %s file: %v, output %q; want an error saying %q", name, err, out, c.want)
			}
		})
	}
}
