package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amortize/amortize/examples/browser"
	"github.com/amortize/amortize/examples/internal/webdeps"
	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"github.com/amortize/amortize/serve"
)

// Tolerances of onnxruntime-web's WASM backend against the Go runtime
// (onnxruntime's native CPU kernels) on the same inputs: the kernels differ
// (WASM SIMD is 128 bits wide, the native ones use AVX), so results agree to
// float32 rounding, not bit for bit. docs/FORMAT.md states these figures.
const (
	thetaTol   = 2e-5 // absolute, for |θ| ≤ 1; relative beyond
	logProbAbs = 1e-4 // log q: absolute part …
	logProbRel = 1.5e-6
	// … plus a relative part: sums of many float32 terms lose precision
	// with their size, 8.5e-4 in all at |log q| = 500.

	// A draw's log q is computed along the draw's own path through the
	// flow, so it inherits the draw's θ difference times the flow's
	// Jacobian, which a spline's steep bins make large: its bound is ten
	// times wider. Which WASM SIMD kernels run depends on the host CPU.
	sampleLogProbScale = 10
)

// request is a call of the graph in the contract's flat shapes, with the
// JSON names of examples/browser/amortize.mjs's evaluate.
type request struct {
	X       []float64 `json:"x"`
	B       int       `json:"b"`
	Theta   []float64 `json:"theta"`
	NTheta  int       `json:"nTheta"`
	NX      int       `json:"nX"`
	Noise   []float64 `json:"noise"`
	NSample int       `json:"nSample"`
}

type report struct {
	Isolated bool           `json:"isolated"`
	Laps     map[string]int `json:"laps"`
	Console  []string       `json:"console"`
	Requests []string       `json:"requests"`
	Metadata string         `json:"metadata"`
	Summary  string         `json:"summary"`
	Stats    string         `json:"stats"`
	UI       struct {
		Noise, Sample, SampleLogProb []float64
		Inside                       []int
		Kept                         int
		Mean, Std                    []float64
		MS                           float64
	} `json:"ui"`
	Evals []struct {
		Model                                    string
		LogProb, LogRatio, Sample, SampleLogProb []float64
		Metadata, MCMC, Observe                  string // the page's text shown after loading the file
	} `json:"evals"`
	Grids []struct {
		Theta, Values []float64
		MS            float64
		Summary       string
	} `json:"grids"`
	PerfMS []float64 `json:"perf_ms"`
	Error  string    `json:"error"`
}

// TestPage serves the page as `amortize serve --ui` does, drives it in
// headless Chromium and compares what it computes with the Go runtime.
func TestPage(t *testing.T) {
	deps := webdeps.Get(t, webdeps.All)
	runtimetest.RequireLibrary(t)
	dir := webdeps.Stage(t, deps, map[string]string{"browser": deps.WebModules}, "browser")

	// The page's model directory: every golden file, and an NSF of sbi's
	// default sizes (5 transforms of 2 layers of 50 units, 10 bins) on
	// SLCP's dimensions for the speed figure. The server's own API serves
	// the npe files only (served): the page reads its directory through
	// the UI's handler, not through the API.
	models, served := t.TempDir(), t.TempDir()
	golden, err := filepath.Glob(filepath.Join(deps.Root, "testdata", "golden", "*.onnx"))
	if err != nil || len(golden) == 0 {
		t.Fatalf("no golden model files in testdata/golden (%v)", err)
	}
	for _, f := range golden {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(models, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := runtime.OpenBytes(b, runtime.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		npe := m.Method() == format.MethodNPE
		m.Close()
		if npe {
			if err := os.WriteFile(filepath.Join(served, filepath.Base(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	const perfModel = "sbi_nsf.onnx"
	if err := os.WriteFile(filepath.Join(models, perfModel), runtimetest.Bytes(t, runtimetest.RandomModel(t, "nsf", 5, 8, 0, 3)), 0o644); err != nil {
		t.Fatal(err)
	}

	url := startServer(t, served, models, deps.ORTWeb)
	open := func(name string) *runtime.Model {
		m, err := runtime.Open(filepath.Join(models, name), runtime.Options{Threads: 1, Workers: 1, ChunkRows: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}

	// Inputs for every golden file, in its method's layout: both paths of
	// a density, row counts that are not multiples of runtime.Lanes.
	type eval struct {
		Model string  `json:"model"`
		Req   request `json:"req"`
	}
	var evals []eval
	var grids []grid
	art := t.ArtifactDir()
	// The sbi-sized NSF too, with θ far in the tails, where |log q| is in
	// the hundreds.
	for _, f := range append(golden, perfModel) {
		name := filepath.Base(f)
		m := open(name)
		l := m.Metadata().Layout()
		rng := rand.New(rand.NewPCG(9, 9))
		const b, n = 2, 19
		nSample := 37
		if !l.Sampling {
			nSample = 0
		}
		var cond, values []float64
		for range b * l.CondDim {
			cond = append(cond, float64(float32(rng.NormFloat64())))
		}
		for range b * n * l.ValueDim {
			scale := 1.5
			if name == perfModel {
				scale = 6
			}
			values = append(values, float64(float32(scale*rng.NormFloat64())))
		}
		req := request{B: b, NSample: nSample, Noise: f64(m.Noise(nil, b*nSample, rand.NewPCG(10, 10)))}
		if l.Cond == format.InputTheta {
			req.Theta, req.X, req.NX = cond, values, n
		} else {
			req.X, req.Theta, req.NTheta = cond, values, n
		}
		evals = append(evals, eval{name, req})
		if meta := m.Metadata(); meta.Method != format.MethodNPE && meta.ThetaDim == 2 {
			// x at the training data's mean: a likelihood with its mass
			// inside the prior.
			grids = append(grids, grid{name, f64(f32(meta.ZScore.XMean)), filepath.Join(art, strings.TrimSuffix(name, ".onnx")+"_grid.png")})
		}
	}

	ui := map[string]any{"file": filepath.Join(models, "nsf.onnx"), "x": []float64{0.4, -0.7}, "n": 10_000, "seed": 1}
	cfg := map[string]any{
		"url":        url + "/ui/",
		"chromium":   deps.Chromium,
		"profile":    t.TempDir(),
		"screenshot": filepath.Join(art, "page.png"),
		"plot":       filepath.Join(art, "plot.png"),
		"timeout_ms": 90_000,
		"ui":         ui,
		"perf":       map[string]any{"model": perfModel, "x": make([]float64, 8), "n": 10_000, "runs": 2},
		"evals":      evals,
		"grids":      grids,
	}
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	js, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, deps.Node, filepath.Join("testdata", "check.mjs"), cfgPath)
	cmd.Dir = filepath.Join(dir, "browser")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node testdata/check.mjs: %v\n%s", err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("check.mjs printed %.500q: %v", out, err)
	}
	if r.Error != "" {
		t.Fatalf("the page failed: %s\nconsole: %s", r.Error, strings.Join(r.Console, "\n"))
	}
	t.Logf("screenshots in %s; console: %q; cross-origin isolated: %v; milliseconds since start: %v", art, r.Console, r.Isolated, r.Laps)

	// Offline: the page asked nothing of any other origin.
	for _, u := range r.Requests {
		if !strings.HasPrefix(u, url+"/") && !strings.HasPrefix(u, "blob:"+url+"/") {
			t.Errorf("the page requested %s, outside %s", u, url)
		}
	}

	// Metadata as the page shows it.
	nsf := open("nsf.onnx")
	meta := nsf.Metadata()
	for _, want := range append([]string{"npe", meta.Estimator, "box_uniform", "simulations", "epochs"}, meta.ThetaNames...) {
		if !strings.Contains(r.Metadata, want) {
			t.Errorf("metadata shown %q lacks %q", r.Metadata, want)
		}
	}

	// The user's run: the page's seeded noise through the Go runtime.
	n := ui["n"].(int)
	d := nsf.ThetaDim()
	if len(r.UI.Noise) != n*meta.Noise.Dim() {
		t.Fatalf("the page reported %d noise values, want %d", len(r.UI.Noise), n*meta.Noise.Dim())
	}
	want, err := nsf.Run(f32(ui["x"].([]float64)), 1, nil, 0, f32(r.UI.Noise), n, nil)
	if err != nil {
		t.Fatal(err)
	}
	worst := compare(t, "ui", r.UI.Sample, r.UI.SampleLogProb, nil, want)
	checkSummary(t, r, want, nsf.Prior(), d)
	for _, name := range meta.ThetaNames {
		if !strings.Contains(r.Stats, name) {
			t.Errorf("the shown table %q lacks %s", r.Stats, name)
		}
	}
	t.Logf("the page's posterior for x=%v: %s", ui["x"], r.Summary)

	// Both paths of every golden file.
	if len(r.Evals) != len(evals) {
		t.Fatalf("the page evaluated %d files, want %d", len(r.Evals), len(evals))
	}
	byMethod := map[string][3]float64{}
	for i, e := range evals {
		m := open(e.Model)
		meta := m.Metadata()
		got, q := r.Evals[i], e.Req
		// Go's Run takes the per-row input first, whatever the method.
		cond, values, n := q.X, q.Theta, q.NTheta
		logOut := got.LogProb
		switch meta.Method {
		case format.MethodNLE:
			cond, values, n = q.Theta, q.X, q.NX
		case format.MethodNRE:
			logOut = got.LogRatio
		}
		want, err := m.Run(f32(cond), q.B, f32(values), n, f32(q.Noise), q.NSample, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := compare(t, e.Model, got.Sample, got.SampleLogProb, logOut, want)
		bm := byMethod[meta.Method]
		byMethod[meta.Method] = [3]float64{max(bm[0], w[0]), max(bm[1], w[1]), max(bm[2], w[2])}
		worst = [3]float64{max(worst[0], w[0]), max(worst[1], w[1]), max(worst[2], w[2])}
		checkShown(t, e.Model, meta, got.Metadata, got.MCMC, got.Observe)
	}
	t.Logf("largest WASM − Go difference: θ or x %.2g, log q %.2g (relative to max(1,|·|)); |log q| up to %.0f; by method %v",
		worst[0], worst[1], worst[2], byMethod)
	for _, method := range []string{format.MethodNPE, format.MethodNLE, format.MethodNRE} {
		if _, ok := byMethod[method]; !ok {
			t.Errorf("the page evaluated no %s file", method)
		}
	}

	checkPlot(t, filepath.Join(art, "plot.png"))
	checkGrids(t, open, grids, r)
	// The Go runtime on one thread for the same draws, measured now: the
	// ratio holds however loaded the machine is.
	pm := open(perfModel)
	noise := pm.Noise(nil, 10_000, rand.NewPCG(1, 1))
	start := time.Now()
	if _, err := pm.Run(make([]float32, 8), 1, nil, 0, noise, 10_000, nil); err != nil {
		t.Fatal(err)
	}
	goMS := float64(time.Since(start).Microseconds()) / 1000
	t.Logf("10,000 draws of an sbi-sized NSF (θ 5, x 8) in the page: %.0f ms (first, with V8's tier-up), then %v ms; Go runtime, one thread: %.0f ms",
		r.PerfMS[0], roundAll(r.PerfMS[1:]), goMS)
}

// grid is an nle or nre file the page scores on a θ grid for x, and its
// plot's screenshot.
type grid struct {
	Model string    `json:"model"`
	X     []float64 `json:"x"`
	Plot  string    `json:"plot"`
}

// checkGrids compares the θ grids the page scored for nle and nre files
// with the Go runtime fed the same θ, and checks that their plots show.
func checkGrids(t *testing.T, open func(string) *runtime.Model, grids []grid, r report) {
	t.Helper()
	if len(grids) == 0 || len(r.Grids) != len(grids) {
		t.Fatalf("the page scored %d θ grids, want %d (> 0)", len(r.Grids), len(grids))
	}
	for i, g := range grids {
		m := open(g.Model)
		got := r.Grids[i]
		n := len(got.Values)
		if n < 100 || len(got.Theta) != 2*n {
			t.Fatalf("%s: the page scored %d values at %d θ coordinates", g.Model, n, len(got.Theta))
		}
		low, high := m.Prior().(*prior.BoxUniform).Bounds()
		for k, v := range got.Theta {
			if v <= low[k%2] || v >= high[k%2] {
				t.Fatalf("%s: grid θ[%d] = %v outside the prior's box", g.Model, k, v)
			}
		}
		var want *runtime.Output
		var err error
		if m.Method() == format.MethodNLE {
			xs := make([]float32, 0, n*m.XDim())
			for range n {
				xs = append(xs, f32(g.X)...)
			}
			want, err = m.Run(f32(got.Theta), n, xs, 1, nil, 0, nil)
		} else {
			want, err = m.Run(f32(g.X), 1, f32(got.Theta), n, nil, 0, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		w := compare(t, g.Model+" grid", nil, nil, got.Values, want)
		t.Logf("%s: %s; largest WASM − Go difference %.2g (relative to max(1,|·|))", g.Model, got.Summary, w[1])
		checkPlot(t, g.Plot)
	}
}

// checkShown checks what the page shows of a file it loaded: its metadata,
// and for an nle or nre file where its posterior comes from, and the
// observation form only when it can score a θ grid.
func checkShown(t *testing.T, name string, meta *format.Metadata, shown, mcmc, observe string) {
	t.Helper()
	want := append([]string{meta.Method, meta.Estimator, "simulations"}, meta.ThetaNames...)
	want = append(want, meta.XNames...)
	var p struct{ Type string }
	if err := json.Unmarshal(meta.Prior, &p); err == nil && p.Type != "" {
		want = append(want, p.Type)
	}
	if meta.Loss != nil {
		var loss struct{ Kind string }
		if err := json.Unmarshal(meta.Loss, &loss); err != nil {
			t.Fatalf("%s: loss %s: %v", name, meta.Loss, err)
		}
		want = append(want, "loss", loss.Kind)
	}
	for _, w := range want {
		if !strings.Contains(shown, w) {
			t.Errorf("%s: the metadata shown %q lacks %q", name, shown, w)
		}
	}
	// An nle or nre file of 2-D θ is scored on a grid for a typed x.
	npe, grid := meta.Method == format.MethodNPE, meta.ThetaDim == 2
	if (npe || grid) != (observe != "") || npe == strings.Contains(mcmc, "MCMC") {
		t.Errorf("%s (%s): the page shows the observation form %q and the MCMC note %q", name, meta.Method, observe, mcmc)
	}
}

// startServer serves the page as `amortize serve --ui` does: the API over
// served, the page's model list and files from models.
func startServer(t *testing.T, served, models, ortWeb string) string {
	t.Helper()
	s, err := serve.New(serve.Config{Dir: served, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := serve.UI(serve.UIConfig{Page: browser.Page, ORTWeb: ortWeb, Models: models})
	if err != nil {
		t.Fatal(err)
	}
	s.MountUI(ui)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// compare checks the page's outputs against the Go runtime's within the
// WASM tolerances and returns the largest scaled differences of θ and log q
// and the largest |log q| compared.
func compare(t *testing.T, name string, sample, sampleLP, logProb []float64, want *runtime.Output) [3]float64 {
	t.Helper()
	var worst [3]float64 // θ, log q, and the largest |log q|
	check := func(what string, got []float64, want []float32, isTheta bool, scale float64) {
		if len(got) != len(want) {
			t.Fatalf("%s %s: the page gave %d values, Go %d", name, what, len(got), len(want))
		}
		bad := 0
		for i := range got {
			w := float64(want[i])
			diff := math.Abs(got[i] - w)
			tol := scale * (logProbAbs + logProbRel*math.Abs(w))
			k := 1
			if isTheta {
				tol, k = thetaTol*math.Max(1, math.Abs(w)), 0
			}
			worst[k] = math.Max(worst[k], diff/math.Max(1, math.Abs(w)))
			if !isTheta {
				worst[2] = math.Max(worst[2], math.Abs(w))
			}
			if !(diff <= tol) && bad < 5 {
				bad++
				t.Errorf("%s %s[%d]: page %v, Go %v (difference %.2g > %.2g)", name, what, i, got[i], w, diff, tol)
			}
		}
	}
	check("sample", sample, want.Sample, true, 1)
	check("sample_log_prob", sampleLP, want.SampleLogProb, false, sampleLogProbScale)
	if logProb != nil {
		check("log_prob", logProb, want.LogProb, false, 1)
	}
	return worst
}

// checkSummary checks the page's rejection and the mean and standard
// deviation it shows against the same computed in Go from Go's draws.
func checkSummary(t *testing.T, r report, want *runtime.Output, p prior.Prior, d int) {
	t.Helper()
	n := len(want.SampleLogProb)
	kept, row := 0, make([]float64, d)
	mean, sq := make([]float64, d), make([]float64, d)
	for i := range n {
		for j := range row {
			row[j] = float64(want.Sample[i*d+j])
		}
		in := p.InSupport(row)
		if in != (r.UI.Inside[i] == 1) {
			// A draw within the tolerance of the box's edge may fall
			// either side.
			low, high := p.(*prior.BoxUniform).Bounds()
			near := false
			for j, v := range row {
				near = near || math.Abs(v-low[j]) <= thetaTol*math.Max(1, math.Abs(v)) || math.Abs(v-high[j]) <= thetaTol*math.Max(1, math.Abs(v))
			}
			if !near {
				t.Errorf("draw %d %v: page inside=%v, Go prior %v", i, row, r.UI.Inside[i] == 1, in)
			}
		}
		if in {
			kept++
			for j, v := range row {
				mean[j] += v
				sq[j] += v * v
			}
		}
	}
	if kept == n {
		t.Error("every draw fell inside the prior: the page's rejection was not exercised")
	}
	if !strings.Contains(r.Summary, fmt.Sprintf("%s inside the prior", commas(r.UI.Kept))) || abs(r.UI.Kept-kept) > 2 {
		t.Errorf("the page kept %d draws (%q), Go %d", r.UI.Kept, r.Summary, kept)
	}
	for j := range d {
		m := mean[j] / float64(kept)
		s := math.Sqrt((sq[j] - float64(kept)*m*m) / float64(kept-1))
		if math.Abs(r.UI.Mean[j]-m) > 1e-4 || math.Abs(r.UI.Std[j]-s) > 1e-4 {
			t.Errorf("θ_%d: the page shows mean %v, std %v; Go %v, %v", j+1, r.UI.Mean[j], r.UI.Std[j], m, s)
		}
	}
}

// checkPlot fails unless the plot's screenshot shows a plot: enough pixels
// of the plot's blue, spread over the rows of histograms.
func checkPlot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 200 || b.Dy() < 200 {
		t.Fatalf("plot screenshot is %v: too small to hold a plot", b)
	}
	blue, rows := 0, make([]int, 4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if isBlue(img, x, y) {
				blue++
				rows[(y-b.Min.Y)*len(rows)/b.Dy()]++
			}
		}
	}
	frac := float64(blue) / float64(b.Dx()*b.Dy())
	t.Logf("plot screenshot %v: %.1f%% blue pixels, by quarter of height %v", b.Size(), 100*frac, rows)
	if frac < 0.03 || slices.Contains(rows, 0) {
		t.Errorf("the plot screenshot %s shows no plot: %.1f%% blue pixels, by quarter of height %v", path, 100*frac, rows)
	}
}

// isBlue: the plot's colour (53, 99, 201), at any of its alphas over white.
func isBlue(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	r, g, b = r>>8, g>>8, b>>8
	return b > 180 && r < 235 && int(b)-int(r) > 25 && int(b)-int(g) > 15
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(f)
	}
	return out
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

func roundAll(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(x)
	}
	return out
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func abs(n int) int { return max(n, -n) }
