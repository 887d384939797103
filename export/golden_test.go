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
	dir := filepath.Join("..", "testdata", "golden")
	for _, k := range kinds[:4] {
		t.Run(k.kind, func(t *testing.T) {
			m := randomModel(t, k.kind, k.d, k.xd, 11)
			var buf bytes.Buffer
			if err := export.Write(m, &buf); err != nil {
				t.Fatal(err)
			}
			onnxPath := filepath.Join(dir, k.kind+".onnx")
			jsonPath := filepath.Join(dir, k.kind+".json")
			if *update {
				rm, _ := open(t, m)
				g := golden{B: 2, S: 3}
				rng := rand.New(rand.NewPCG(4, 4))
				for range g.B * k.xd {
					g.X = append(g.X, float32(rng.NormFloat64()))
				}
				for range g.B * g.S * k.d {
					g.Theta = append(g.Theta, float32(rng.NormFloat64()))
				}
				g.Noise = rm.Noise(nil, g.B*g.S, rand.NewPCG(5, 5))
				out, err := rm.Run(g.X, g.B, g.Theta, g.S, g.Noise, g.S, nil)
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
			js, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(js, &g); err != nil {
				t.Fatal(err)
			}
			rm, err := runtime.Open(onnxPath, runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer rm.Close()
			out, err := rm.Run(g.X, g.B, g.Theta, g.S, g.Noise, g.S, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, pair := range map[string][2][]float32{
				"log_prob": {out.LogProb, g.LogProb}, "sample": {out.Sample, g.Sample}, "sample_log_prob": {out.SampleLogProb, g.SampleLogProb},
			} {
				if len(pair[0]) != len(pair[1]) {
					t.Fatalf("%s: %d values, golden %d", name, len(pair[0]), len(pair[1]))
				}
				for i := range pair[0] {
					if d := math.Abs(float64(pair[0][i] - pair[1][i])); d > 1e-5*math.Max(1, math.Abs(float64(pair[1][i]))) {
						t.Errorf("%s[%d] = %v, golden %v", name, i, pair[0][i], pair[1][i])
					}
				}
			}
		})
	}
}

// TestGoldenNLENRE pins the bytes and outputs of tiny NLE (maf, nsf) and
// NRE (resnet) files, as TestGolden does for NPE. Regenerate with:
//
//	go test ./export -run Golden -update
func TestGoldenNLENRE(t *testing.T) {
	dir := filepath.Join("..", "testdata", "golden")
	for _, c := range []struct{ method, kind string }{{"nle", "maf"}, {"nle", "nsf"}, {"nre", "resnet"}} {
		name := c.method + "_" + c.kind
		t.Run(name, func(t *testing.T) {
			const d, xd = 2, 3
			m := randomModelOf(t, c.method, c.kind, d, xd, 12)
			var buf bytes.Buffer
			if err := export.Write(m, &buf); err != nil {
				t.Fatal(err)
			}
			onnxPath, jsonPath := filepath.Join(dir, name+".onnx"), filepath.Join(dir, name+".json")
			// b rows of the per-row input (θ for NLE, x for NRE), s values
			// scored against each and, for NLE, s draws.
			run := func(rm *runtime.Model, g *golden) (golden, error) {
				out := golden{}
				var err error
				if c.method == "nle" {
					out.LogProb, err = rm.LogLikelihood(g.Theta, g.B, g.X, g.S)
					if err == nil {
						var o *runtime.Output
						o, err = rm.Run(g.Theta, g.B, nil, 0, g.Noise, g.S, nil)
						if err == nil {
							out.Sample, out.SampleLogProb = o.Sample, o.SampleLogProb
						}
					}
				} else {
					out.LogProb, err = rm.LogRatio(g.X, g.B, g.Theta, g.S)
				}
				return out, err
			}
			if *update {
				rm, _ := open(t, m)
				g := golden{B: 2, S: 3}
				rng := rand.New(rand.NewPCG(4, 4))
				outer, inner := d, xd
				if c.method == "nre" {
					outer, inner = xd, d
				}
				var per, vals []float32
				for range g.B * outer {
					per = append(per, float32(rng.NormFloat64()))
				}
				for range g.B * g.S * inner {
					vals = append(vals, float32(rng.NormFloat64()))
				}
				if c.method == "nle" {
					g.Theta, g.X = per, vals
					g.Noise = rm.Noise(nil, g.B*g.S, rand.NewPCG(5, 5))
				} else {
					g.X, g.Theta = per, vals
				}
				out, err := run(rm, &g)
				if err != nil {
					t.Fatal(err)
				}
				g.LogProb, g.Sample, g.SampleLogProb = out.LogProb, out.Sample, out.SampleLogProb
				js, _ := json.MarshalIndent(g, "", " ")
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
			js, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(js, &g); err != nil {
				t.Fatal(err)
			}
			rm, err := runtime.Open(onnxPath, runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer rm.Close()
			if rm.Method() != c.method {
				t.Errorf("method %q", rm.Method())
			}
			out, err := run(rm, &g)
			if err != nil {
				t.Fatal(err)
			}
			for name, pair := range map[string][2][]float32{
				"log": {out.LogProb, g.LogProb}, "sample": {out.Sample, g.Sample}, "sample_log_prob": {out.SampleLogProb, g.SampleLogProb},
			} {
				if len(pair[0]) != len(pair[1]) {
					t.Fatalf("%s: %d values, golden %d", name, len(pair[0]), len(pair[1]))
				}
				for i := range pair[0] {
					if d := math.Abs(float64(pair[0][i] - pair[1][i])); d > 1e-5*math.Max(1, math.Abs(float64(pair[1][i]))) {
						t.Errorf("%s[%d] = %v, golden %v", name, i, pair[0][i], pair[1][i])
					}
				}
			}
		})
	}
}

// TestFormat10Files checks that every file written under format 1.0 still
// opens and gives, bit for bit, the outputs recorded when it was written.
func TestFormat10Files(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "golden", "v1.0", "*.onnx"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no format-1.0 files: %v", err)
	}
	for _, p := range paths {
		js, err := os.ReadFile(p[:len(p)-len(".onnx")] + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(js, &g); err != nil {
			t.Fatal(err)
		}
		rm, err := runtime.Open(p, runtime.Options{Threads: 1})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if rm.Method() != "npe" || rm.Metadata().FormatVersion != "1.0" {
			t.Errorf("%s: method %q, version %q", p, rm.Method(), rm.Metadata().FormatVersion)
		}
		out, err := rm.Run(g.X, g.B, g.Theta, g.S, g.Noise, g.S, nil)
		rm.Close()
		if err != nil {
			t.Fatal(err)
		}
		for name, pair := range map[string][2][]float32{
			"log_prob": {out.LogProb, g.LogProb}, "sample": {out.Sample, g.Sample}, "sample_log_prob": {out.SampleLogProb, g.SampleLogProb},
		} {
			if len(pair[0]) != len(pair[1]) {
				t.Fatalf("%s %s: %d values, recorded %d", p, name, len(pair[0]), len(pair[1]))
			}
			for i := range pair[0] {
				if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
					t.Errorf("%s %s[%d] = %v, recorded %v", p, name, i, pair[0][i], pair[1][i])
				}
			}
		}
	}
}
