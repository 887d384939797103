package export_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden model files in testdata/golden")

// golden is a tiny model's fixed inputs and the outputs onnxruntime gave
// when the file was written.
type golden struct {
	X             []float32 `json:"x"`
	Theta         []float32 `json:"theta"`
	Noise         []float32 `json:"noise"`
	B             int       `json:"b"`
	S             int       `json:"s"`
	LogProb       []float32 `json:"log_prob"`
	Sample        []float32 `json:"sample"`
	SampleLogProb []float32 `json:"sample_log_prob"`
}

// TestGolden pins the exported bytes and outputs of one tiny model per
// estimator kind, so that any change of the file format or of the graph's
// numbers is visible in review. Regenerate with:
//
//	go test ./export -run Golden -update
func TestGolden(t *testing.T) {
	for _, k := range kinds[:4] {
		t.Run(k.kind, func(t *testing.T) {
			checkGolden(t, k.kind, randomModel(t, k.kind, k.d, k.xd, 11), k.d, k.xd)
		})
	}
}

// TestGoldenNLENRE pins the bytes and outputs of tiny NLE (maf, nsf) and
// NRE (resnet) files, as TestGolden does for NPE. Regenerate with:
//
//	go test ./export -run Golden -update
func TestGoldenNLENRE(t *testing.T) {
	for _, c := range []struct{ method, kind string }{{"nle", "maf"}, {"nle", "nsf"}, {"nre", "resnet"}} {
		name := c.method + "_" + c.kind
		t.Run(name, func(t *testing.T) {
			const d, xd = 2, 3
			checkGolden(t, name, randomModelOf(t, c.method, c.kind, d, xd, 12), d, xd)
		})
	}
}

// checkGolden checks that m exports to the bytes of testdata/golden/name.onnx
// and that this file gives the outputs recorded in name.json; with -update
// it first writes both, on fresh inputs.
func checkGolden(t *testing.T, name string, m *models.Model, d, xd int) {
	t.Helper()
	dir := filepath.Join("..", "testdata", "golden")
	method := m.Spec.Method
	if method == "" {
		method = models.MethodNPE
	}
	var buf bytes.Buffer
	if err := export.Write(m, &buf); err != nil {
		t.Fatal(err)
	}
	onnxPath, jsonPath := filepath.Join(dir, name+".onnx"), filepath.Join(dir, name+".json")
	if *update {
		rm, _ := open(t, m)
		g := goldenInputs(rm, method, d, xd)
		out, err := goldenRun(rm, method, &g)
		if err != nil {
			t.Fatal(err)
		}
		g.LogProb, g.Sample, g.SampleLogProb = out.LogProb, out.Sample, out.SampleLogProb
		js, _ := json.MarshalIndent(g, "", " ")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(onnxPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(jsonPath, js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(onnxPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("exported bytes differ from %s: the format or graph changed; review and run with -update", onnxPath)
	}
	g := readGolden(t, jsonPath)
	rm, err := runtime.Open(onnxPath, runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if rm.Method() != method {
		t.Errorf("method %q, want %q", rm.Method(), method)
	}
	out, err := goldenRun(rm, method, &g)
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "", out, g, func(got, want float32) bool {
		return !(math.Abs(float64(got-want)) > 1e-5*math.Max(1, math.Abs(float64(want))))
	})
}

// readGolden reads the inputs and outputs a golden .json file records.
func readGolden(t *testing.T, path string) golden {
	t.Helper()
	js, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(js, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// compareGolden reports each output of got that is not the same, by same,
// as the one want records; where prefixes the messages.
func compareGolden(t *testing.T, where string, got, want golden, same func(got, want float32) bool) {
	t.Helper()
	for name, pair := range map[string][2][]float32{
		"log_prob": {got.LogProb, want.LogProb}, "sample": {got.Sample, want.Sample}, "sample_log_prob": {got.SampleLogProb, want.SampleLogProb},
	} {
		if len(pair[0]) != len(pair[1]) {
			t.Fatalf("%s%s: %d values, recorded %d", where, name, len(pair[0]), len(pair[1]))
		}
		for i := range pair[0] {
			if !same(pair[0][i], pair[1][i]) {
				t.Errorf("%s%s[%d] = %v, recorded %v", where, name, i, pair[0][i], pair[1][i])
			}
		}
	}
}

// goldenInputs draws a golden file's inputs: b rows of the per-row input (x
// for NPE and NRE, θ for NLE), s values scored against each and, for NPE
// and NLE, the noise of s draws each.
func goldenInputs(rm *runtime.Model, method string, d, xd int) golden {
	g := golden{B: 2, S: 3}
	rng := rand.New(rand.NewPCG(4, 4))
	outer, inner := xd, d
	if method == models.MethodNLE {
		outer, inner = d, xd
	}
	var per, vals []float32
	for range g.B * outer {
		per = append(per, float32(rng.NormFloat64()))
	}
	for range g.B * g.S * inner {
		vals = append(vals, float32(rng.NormFloat64()))
	}
	if method == models.MethodNLE {
		g.Theta, g.X = per, vals
	} else {
		g.X, g.Theta = per, vals
	}
	if method != models.MethodNRE {
		g.Noise = rm.Noise(nil, g.B*g.S, rand.NewPCG(5, 5))
	}
	return g
}

// goldenRun computes the outputs a golden file records for its inputs g:
// NPE's log-probs and draws, NLE's log-likelihoods and x draws, NRE's
// log-ratios.
func goldenRun(rm *runtime.Model, method string, g *golden) (golden, error) {
	out := golden{}
	var err error
	switch method {
	case models.MethodNPE:
		var o *runtime.Output
		if o, err = rm.Run(g.X, g.B, g.Theta, g.S, g.Noise, g.S, nil); err == nil {
			out.LogProb, out.Sample, out.SampleLogProb = o.LogProb, o.Sample, o.SampleLogProb
		}
	case models.MethodNLE:
		out.LogProb, err = rm.LogLikelihood(g.Theta, g.B, g.X, g.S)
		if err == nil {
			var o *runtime.Output
			o, err = rm.Run(g.Theta, g.B, nil, 0, g.Noise, g.S, nil)
			if err == nil {
				out.Sample, out.SampleLogProb = o.Sample, o.SampleLogProb
			}
		}
	default:
		out.LogProb, err = rm.LogRatio(g.X, g.B, g.Theta, g.S)
	}
	return out, err
}

// TestFormat10Files checks that every file written under format 1.0 still
// opens and gives, bit for bit, the outputs recorded when it was written.
func TestFormat10Files(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "golden", "v1.0", "*.onnx"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no format-1.0 files: %v", err)
	}
	for _, p := range paths {
		g := readGolden(t, p[:len(p)-len(".onnx")]+".json")
		rm, err := runtime.Open(p, runtime.Options{Threads: 1})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if rm.Method() != "npe" || rm.Metadata().FormatVersion != "1.0" {
			t.Errorf("%s: method %q, version %q", p, rm.Method(), rm.Metadata().FormatVersion)
		}
		out, err := goldenRun(rm, models.MethodNPE, &g)
		rm.Close()
		if err != nil {
			t.Fatal(err)
		}
		compareGolden(t, p+" ", out, g, func(got, want float32) bool {
			return math.Float32bits(got) == math.Float32bits(want)
		})
	}
}
