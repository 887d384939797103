package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime/runtimetest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gonum.org/v1/gonum/mat"
)

// newServer serves cfg.Dir, by default the small model from a fresh
// directory, loaded.
func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	runtimetest.RequireLibrary(t)
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
		writeModel(t, cfg.Dir, "small", small)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// do sends one request to the handler.
func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	h.ServeHTTP(w, httptest.NewRequest(method, path, r))
	return w
}

// errorBody checks that w is a JSON error answer and returns its message.
func errorBody(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("body %q is not a JSON error: %v", w.Body, err)
	}
	return e.Error
}

func TestErrors(t *testing.T) {
	s := newServer(t, Config{MaxSamples: 1000})
	h := s.Handler()
	big := `{"x":[` + strings.Repeat("0,", DefaultMaxBodyBytes/2) + `0],"n":1}`
	for _, c := range []struct {
		name, method, path, body string
		code                     int
		want                     string // in the message
	}{
		{"unknown model", "GET", "/v1/models/nope", "", 404, `unknown model "nope"`},
		{"unknown model sample", "POST", "/v1/models/nope/sample", `{"x":[0,0,0],"n":1}`, 404, "unknown model"},
		{"unknown route", "GET", "/v2/anything", "", 404, "no route GET /v2/anything"},
		{"trailing slash", "GET", "/v1/models/small/", "", 404, "no route"},
		{"method on model", "DELETE", "/v1/models/small", "", 405, "method DELETE not allowed"},
		{"method on sample", "GET", "/v1/models/small/sample", "", 405, "allowed: POST"},
		{"method on health", "POST", "/healthz", "", 405, "allowed: GET, HEAD"},
		{"empty body", "POST", "/v1/models/small/sample", "", 400, "empty request body"},
		{"truncated", "POST", "/v1/models/small/sample", `{"x":[0,0`, 400, "malformed JSON"},
		{"syntax", "POST", "/v1/models/small/sample", `{"x":[0,,0]}`, 400, "malformed JSON at byte"},
		{"NaN", "POST", "/v1/models/small/sample", `{"x":[NaN,0,0],"n":1}`, 400, "malformed JSON"},
		{"not an object", "POST", "/v1/models/small/sample", `[0,0,0]`, 400, "want an object"},
		{"unknown field", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1,"sed":2}`, 400, `unknown field "sed"`},
		{"two values", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1} {}`, 400, "more than one JSON value"},
		{"x missing", "POST", "/v1/models/small/sample", `{"n":1}`, 400, "x is required"},
		{"x null", "POST", "/v1/models/small/sample", `{"x":null,"n":1}`, 400, "x is required"},
		{"x string", "POST", "/v1/models/small/sample", `{"x":"0,0,0","n":1}`, 400, "x is a string, want 3 numbers"},
		{"x short", "POST", "/v1/models/small/sample", `{"x":[0,0],"n":1}`, 400, "x has 2 values, the model expects 3"},
		{"x empty", "POST", "/v1/models/small/sample", `{"x":[],"n":1}`, 400, "x has 0 values"},
		{"x ragged", "POST", "/v1/models/small/sample", `{"x":[[0,0,0],[0,0]],"n":1}`, 400, "x[1] has 2 values"},
		{"x nested strings", "POST", "/v1/models/small/sample", `{"x":[["a"]],"n":1}`, 400, "x[0][0] is a string, want a number"},
		{"x mixed", "POST", "/v1/models/small/sample", `{"x":[[0,0,0],1],"n":1}`, 400, "x[1] is a number, want an array of 3 numbers"},
		{"x beyond float32", "POST", "/v1/models/small/sample", `{"x":[0,1e300,0],"n":1}`, 400, "x[1] = 1e300 is outside the float32 range"},
		{"x beyond float64", "POST", "/v1/models/small/sample", `{"x":[0,1e400,0],"n":1}`, 400, "x[1] = 1e400 is outside the float32 range"},
		{"n missing", "POST", "/v1/models/small/sample", `{"x":[0,0,0]}`, 400, "n is required"},
		{"n zero", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":0}`, 400, "n = 0, want at least 1"},
		{"n negative", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":-5}`, 400, "n = -5"},
		{"n fraction", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1.5}`, 400, `field "n"`},
		{"n too large", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1001}`, 400, "exceeds the limit of 1000 samples"},
		{"n × rows too large", "POST", "/v1/models/small/sample", `{"x":[[0,0,0],[0,0,0]],"n":501}`, 400, "501 × 2 exceeds"},
		{"n huge", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":9223372036854775807}`, 400, "exceeds the limit"},
		{"seed negative", "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1,"seed":-1}`, 400, `field "seed"`},
		{"body too large", "POST", "/v1/models/small/sample", big, 413, "exceeds the limit of 1048576 bytes"},
		{"log_prob x nested", "POST", "/v1/models/small/log_prob", `{"x":[[0,0,0]],"theta":[[0,0]]}`, 400, "x[0] is an array, want a number"},
		{"log_prob x short", "POST", "/v1/models/small/log_prob", `{"x":[0],"theta":[[0,0]]}`, 400, "x has 1 values"},
		{"log_prob theta missing", "POST", "/v1/models/small/log_prob", `{"x":[0,0,0]}`, 400, "theta is required"},
		{"log_prob theta flat", "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[0,0]}`, 400, "theta[0] is a number, want an array of 2 numbers"},
		{"log_prob theta empty", "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[]}`, 400, "theta is required"},
		{"log_prob theta short", "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[[0,0],[0]]}`, 400, "theta[1] has 1 values, the model expects 2"},
		{"log_prob theta beyond float32", "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[[0,-1e39]]}`, 400, "theta[0][1]"},
		{"log_prob too many", "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[` + strings.Repeat("[0,0],", 1000) + `[0,0]]}`, 400, "theta has 1001 rows"},
		{"log_prob unknown field", "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[[0,0]],"correct":true}`, 400, `unknown field "correct"`},
		{"map x missing", "POST", "/v1/models/small/map", `{}`, 400, "x is required"},
		{"map x long", "POST", "/v1/models/small/map", `{"x":[0,0,0,0]}`, 400, "x has 4 values"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := do(h, c.method, c.path, c.body)
			if w.Code != c.code {
				t.Fatalf("status %d, want %d; body %s", w.Code, c.code, w.Body)
			}
			if msg := errorBody(t, w); !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not contain %q", msg, c.want)
			}
			if c.code == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestModels(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "b_model", small)
	writeModel(t, dir, "a_model", modelSpec{kind: "gaussian", d: 1, xd: 2, hidden: 4, thetaStd: 1, bound: 3, seed: 1})
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a model"), 0o644)
	h := newServer(t, Config{Dir: dir}).Handler()

	w := do(h, "GET", "/v1/models", "")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var list struct{ Models []api.ModelSummary }
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	want := []api.ModelSummary{
		{Name: "a_model", Method: "npe", Estimator: "gaussian", ThetaDim: 1, XDim: 2},
		{Name: "b_model", Method: "npe", Estimator: "maf", ThetaDim: 2, XDim: 3},
	}
	if fmt.Sprint(list.Models) != fmt.Sprint(want) {
		t.Errorf("models %v, want %v", list.Models, want)
	}

	w = do(h, "GET", "/v1/models/b_model", "")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var info api.ModelInfo
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if info.Name != "b_model" || info.Estimator != "maf" || info.ThetaDim != 2 || info.XDim != 3 ||
		len(info.ThetaNames) != 2 || len(info.ZScore.XStd) != 3 || info.Noise.Normal != 2 {
		t.Errorf("info %+v", info)
	}
	var box struct {
		Type string    `json:"type"`
		Low  []float64 `json:"low"`
	}
	if err := json.Unmarshal(info.Prior, &box); err != nil || box.Type != "box_uniform" || box.Low[0] != -2 {
		t.Errorf("prior %s (%v)", info.Prior, err)
	}
	if len(info.Inputs) != 3 || info.Inputs[2].Name != "noise" || fmt.Sprint(info.Inputs[2].Shape) != "[batch n_samples 2]" {
		t.Errorf("inputs %+v", info.Inputs)
	}
}

// sampleResp posts a sample request and decodes the answer.
func sampleResp(t *testing.T, h http.Handler, body string) api.SampleResponse {
	t.Helper()
	return postOK[api.SampleResponse](t, h, "/v1/models/small/sample", body)
}

// postOK posts body to path, requires 200 and decodes the answer.
func postOK[R any](t *testing.T, h http.Handler, path, body string) R {
	t.Helper()
	w := do(h, "POST", path, body)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var r R
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	return r
}

func TestSample(t *testing.T) {
	s := newServer(t, Config{})
	h := s.Handler()
	m := s.loaded()["small"]
	x := []float64{0.3, -0.1, 0.5}
	const n = 200

	one := sampleResp(t, h, `{"x":[0.3,-0.1,0.5],"n":200,"seed":42}`)
	if one.Model != "small" || one.Seed != 42 || one.N != n || len(one.Results) != 1 {
		t.Fatalf("response %+v", one)
	}
	r := one.Results[0]
	if len(r.Samples) != n || r.Proposed < n || r.Acceptance != float64(n)/float64(r.Proposed) {
		t.Fatalf("%d samples, %d proposed, acceptance %v", len(r.Samples), r.Proposed, r.Acceptance)
	}
	// The box [-2, 2]² cuts off part of this estimator's mass: some draws
	// must have been rejected, and none kept outside.
	if r.Proposed == n {
		t.Errorf("no draw rejected out of %d; the test model should leak", n)
	}
	for _, th := range r.Samples {
		if len(th) != 2 || !m.rt.Prior().InSupport(th) {
			t.Fatalf("sample %v outside the prior", th)
		}
	}

	// The samples are those of posterior.Direct with the same source, bit
	// for bit once read back as the model's float32s.
	want, err := m.post.Sample(context.Background(), x, n, posterior.Source(42, 0))
	if err != nil {
		t.Fatal(err)
	}
	for i, th := range r.Samples {
		for j, v := range th {
			if w := want.Theta.At(i, j); float32(v) != float32(w) {
				t.Fatalf("sample %d[%d] = %v, posterior.Direct gives %v", i, j, v, w)
			}
		}
	}

	// Same seed, same answer; another seed, other samples.
	if again := sampleResp(t, h, `{"x":[0.3,-0.1,0.5],"n":200,"seed":42}`); fmt.Sprint(again) != fmt.Sprint(one) {
		t.Error("same seed gave different answers")
	}
	if other := sampleResp(t, h, `{"x":[0.3,-0.1,0.5],"n":200,"seed":43}`); fmt.Sprint(other.Results[0].Samples) == fmt.Sprint(r.Samples) {
		t.Error("seeds 42 and 43 gave the same samples")
	}

	// Batched x: row 0 is the single request's stream, whatever else shares
	// the call.
	batch := sampleResp(t, h, `{"x":[[0.3,-0.1,0.5],[1,2,3],[0.3,-0.1,0.5]],"n":200,"seed":42}`)
	if len(batch.Results) != 3 {
		t.Fatalf("%d results for 3 observations", len(batch.Results))
	}
	if fmt.Sprint(batch.Results[0]) != fmt.Sprint(r) {
		t.Error("row 0 of a batch differs from the same observation alone")
	}
	if fmt.Sprint(batch.Results[2].Samples) == fmt.Sprint(r.Samples) {
		t.Error("rows 0 and 2 share their noise")
	}

	// Without a seed the server draws one and returns it.
	drawn := sampleResp(t, h, `{"x":[0.3,-0.1,0.5],"n":200}`)
	if replay := sampleResp(t, h, fmt.Sprintf(`{"x":[0.3,-0.1,0.5],"n":200,"seed":%d}`, drawn.Seed)); fmt.Sprint(replay) != fmt.Sprint(drawn) {
		t.Error("replaying the drawn seed gave another answer")
	}
	if drawn.Seed >= 1<<53 {
		t.Errorf("drawn seed %d does not survive a float64 JSON parser", drawn.Seed)
	}

	// Far outside the training data, the answer says so.
	far := sampleResp(t, h, `{"x":[0,100,0],"n":1,"seed":1}`)
	if fmt.Sprint(far.Results[0].Extrapolating) != "[1]" {
		t.Errorf("extrapolating %v, want [1]", far.Results[0].Extrapolating)
	}
}

// TestSampleConcurrent checks that requests sharing runtime calls get the
// answers they would get alone (run it with -race).
func TestSampleConcurrent(t *testing.T) {
	s := newServer(t, Config{Workers: 2, BatchDraws: 512})
	h := s.Handler()
	const clients = 24
	body := func(i int) string {
		return fmt.Sprintf(`{"x":[%g,0.2,-0.4],"n":%d,"seed":%d}`, 0.1*float64(i%5), 50+7*i, i)
	}
	alone := make([]string, clients)
	for i := range clients {
		alone[i] = do(h, "POST", "/v1/models/small/sample", body(i)).Body.String()
	}
	together := make([]string, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			together[i] = do(h, "POST", "/v1/models/small/sample", body(i)).Body.String()
		}()
	}
	wg.Wait()
	for i := range clients {
		if a, b := together[i], alone[i]; a != b {
			k := 0
			for k < min(len(a), len(b)) && a[k] == b[k] {
				k++
			}
			t.Errorf("request %d: the concurrent answer differs from the lone one at byte %d: %.40q vs %.40q", i, k, a[k:], b[k:])
		}
	}
}

func TestSeeds(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	seeds := func() []uint64 {
		h := newServer(t, Config{Dir: dir, Seeds: rand.NewPCG(1, 2)}).Handler()
		var out []uint64
		for range 3 {
			out = append(out, sampleResp(t, h, `{"x":[0,0,0],"n":1}`).Seed)
		}
		return out
	}
	a, b := seeds(), seeds()
	if fmt.Sprint(a) != fmt.Sprint(b) || a[0] == a[1] {
		t.Errorf("seed sequences %v and %v", a, b)
	}
}

func TestLogProb(t *testing.T) {
	s := newServer(t, Config{})
	h := s.Handler()
	m := s.loaded()["small"]
	x := []float64{0.3, -0.1, 0.5}
	theta := [][]float64{{0, 0}, {1.5, -0.5}, {3, 0}, {-0.2, 1.9}}
	post := func(body string) api.LogProbResponse {
		t.Helper()
		return postOK[api.LogProbResponse](t, h, "/v1/models/small/log_prob", body)
	}
	plain := post(`{"x":[0.3,-0.1,0.5],"theta":[[0,0],[1.5,-0.5],[3,0],[-0.2,1.9]]}`)
	if plain.Seed != nil || len(plain.LogProb) != len(theta) {
		t.Fatalf("response %+v", plain)
	}
	tm := mat.NewDense(len(theta), 2, nil)
	for i, row := range theta {
		tm.SetRow(i, row)
	}
	want, err := m.post.LogProb(context.Background(), tm, x, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, lp := range plain.LogProb {
		if math.IsInf(want[i], -1) {
			if lp != nil {
				t.Errorf("θ %v outside the prior: log_prob %v, want null", theta[i], *lp)
			}
			continue
		}
		if lp == nil || *lp != want[i] {
			t.Errorf("θ %v: log_prob %v, want %v", theta[i], lp, want[i])
		}
	}
	if plain.LogProb[2] != nil {
		t.Error("θ (3, 0) lies outside [-2, 2]² but has a log-probability")
	}

	// Leakage correction adds the same -log(mass) ≥ 0 to every θ inside.
	leak := post(`{"x":[0.3,-0.1,0.5],"theta":[[0,0],[1.5,-0.5],[3,0],[-0.2,1.9]],"leakage":true,"seed":5}`)
	if leak.Seed == nil || *leak.Seed != 5 {
		t.Errorf("seed %v, want 5", leak.Seed)
	}
	shift := *leak.LogProb[0] - *plain.LogProb[0]
	if shift <= 0 {
		t.Errorf("leakage shift %v, want > 0: the test model leaks", shift)
	}
	for _, i := range []int{1, 3} {
		if d := *leak.LogProb[i] - *plain.LogProb[i]; math.Abs(d-shift) > 1e-9 {
			t.Errorf("θ %v shifted by %v, θ %v by %v", theta[i], d, theta[0], shift)
		}
	}
}

func TestMAP(t *testing.T) {
	s := newServer(t, Config{})
	h := s.Handler()
	m := s.loaded()["small"]
	x := []float64{0.3, -0.1, 0.5}
	r := postOK[api.MAPResponse](t, h, "/v1/models/small/map", `{"x":[0.3,-0.1,0.5],"seed":9}`)
	if r.Seed != 9 || len(r.Theta) != 2 || !m.rt.Prior().InSupport(r.Theta) {
		t.Fatalf("response %+v", r)
	}
	// The reported log-density is the model's at θ, and no worse than the
	// best of the candidates the search started from.
	lp, err := m.post.LogProb(context.Background(), mat.NewDense(1, 2, r.Theta), x, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(lp[0]-r.LogProb) > 1e-9 {
		t.Errorf("log_prob %v, the model gives %v at θ", r.LogProb, lp[0])
	}
	cand, err := m.post.Sample(context.Background(), x, 1000, posterior.Source(9, 0))
	if err != nil {
		t.Fatal(err)
	}
	clp, err := m.post.LogProb(context.Background(), cand.Theta, x, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range clp {
		if v > r.LogProb {
			t.Fatalf("candidate %d has log_prob %v > the MAP's %v", i, v, r.LogProb)
		}
	}
}

func TestHealth(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	s, err := New(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	if w := do(h, "GET", "/healthz", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Errorf("healthz before load: %d %s", w.Code, w.Body)
	}
	for _, c := range [][3]string{{"GET", "/readyz", ""}, {"GET", "/v1/models", ""}, {"GET", "/v1/models/small", ""}, {"POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1}`}} {
		w := do(h, c[0], c[1], c[2])
		if w.Code != 503 || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s before load: %d, Retry-After %q", c[0], c[1], w.Code, w.Header().Get("Retry-After"))
		}
		if msg := errorBody(t, w); !strings.Contains(msg, "loading") {
			t.Errorf("%s %s before load: %q", c[0], c[1], msg)
		}
	}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "/readyz", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"models":1`) {
		t.Errorf("readyz after load: %d %s", w.Code, w.Body)
	}
	if err := s.Load(); err == nil {
		t.Error("a second Load succeeded")
	}
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func TestMetrics(t *testing.T) {
	s := newServer(t, Config{})
	h := s.Handler()
	sampleResp(t, h, `{"x":[0,0,0],"n":5}`)
	sampleResp(t, h, `{"x":[[0,0,0],[1,1,1]],"n":7}`)
	do(h, "GET", "/nowhere", "")
	do(h, "GET", "/v1/models/small/sample", "")
	w := do(h, "GET", "/metrics", "")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`amortize_samples_served_total{model="small"} 19`,
		`amortize_http_requests_total{code="200",route="POST /v1/models/{name}/sample"} 2`,
		`amortize_http_requests_total{code="404",route="unmatched"} 1`,
		`amortize_http_requests_total{code="405",route="POST /v1/models/{name}/sample"} 1`,
		`amortize_http_request_duration_seconds_count{route="POST /v1/models/{name}/sample"} 3`,
		`amortize_models_loaded 1`,
		`amortize_sample_batch_draws_count{model="small"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// One series per route: none under a pattern without its method.
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, `route="/`) {
			t.Errorf("series under a bare pattern: %s", line)
		}
	}
}

func TestBusy(t *testing.T) {
	s := newServer(t, Config{MaxConcurrent: 1})
	h := s.Handler()
	s.slots <- struct{}{} // a request in progress
	w := do(h, "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1}`)
	if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("second request: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if msg := errorBody(t, w); !strings.Contains(msg, "server busy") {
		t.Errorf("error %q", msg)
	}
	if w := do(h, "GET", "/healthz", ""); w.Code != 200 {
		t.Errorf("healthz while busy: %d", w.Code)
	}
	<-s.slots
	if w := do(h, "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1}`); w.Code != 200 {
		t.Errorf("request after release: %d %s", w.Code, w.Body)
	}
	if got := value(t, s.metrics.rejected); got != 1 {
		t.Errorf("rejected %v, want 1", got)
	}
}

func TestTimeout(t *testing.T) {
	s := newServer(t, Config{Timeout: time.Nanosecond})
	h := s.Handler()
	for path, body := range map[string]string{"sample": `{"x":[0,0,0],"n":10}`, "map": `{"x":[0,0,0]}`} {
		w := do(h, "POST", "/v1/models/small/"+path, body)
		if w.Code != 503 {
			t.Fatalf("%s: status %d: %s", path, w.Code, w.Body)
		}
		if msg := errorBody(t, w); !strings.Contains(msg, "longer than the server's limit of 1ns") {
			t.Errorf("%s: error %q", path, msg)
		}
	}
}

func TestLowAcceptance(t *testing.T) {
	far, err := prior.NewBoxUniform([]float64{10, 10}, []float64{11, 11})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, Config{Posterior: posterior.DirectOptions{Prior: far, MinProposals: 500}})
	w := do(s.Handler(), "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":10}`)
	if w.Code != 422 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if msg := errorBody(t, w); !strings.Contains(msg, "too few samples fall inside the prior support") {
		t.Errorf("error %q", msg)
	}
}

func TestPanic(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	s := newServer(t, Config{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	// A model without a sampler makes the sample handler panic.
	ms := s.loaded()
	ms["broken"] = &model{name: "broken", info: ms["small"].info}
	defer delete(ms, "broken") // Close would trip on it too
	w := do(s.Handler(), "POST", "/v1/models/broken/sample", `{"x":[0,0,0],"n":1}`)
	if w.Code != 500 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	id := w.Header().Get("X-Request-Id")
	if msg := errorBody(t, w); msg != "internal server error (request id "+id+")" {
		t.Errorf("error %q", msg)
	}
	if w := do(s.Handler(), "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":1}`); w.Code != 200 {
		t.Errorf("after the panic: %d", w.Code)
	}
	if got := value(t, s.metrics.panics); got != 1 {
		t.Errorf("panics %v, want 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "handler panicked") || !strings.Contains(logs.String(), id) {
		t.Errorf("the panic was not logged with its request id:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRequestID(t *testing.T) {
	s := newServer(t, Config{})
	h := s.Handler()
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.Header.Set("X-Request-Id", "client-7.a")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Get("X-Request-Id"); got != "client-7.a" {
		t.Errorf("request id %q, want the client's", got)
	}
	r.Header.Set("X-Request-Id", "bad id\n")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := w.Header().Get("X-Request-Id")
	b := do(h, "GET", "/healthz", "").Header().Get("X-Request-Id")
	if a == "" || a == b || strings.ContainsAny(a, " \n") {
		t.Errorf("generated ids %q and %q", a, b)
	}
}

func TestConfigAndLoadErrors(t *testing.T) {
	runtimetest.RequireLibrary(t)
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("no dir: %v", err)
	}
	if _, err := New(Config{Dir: ".", MaxSamples: -1}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative limit: %v", err)
	}
	load := func(dir string) error {
		s, err := New(Config{Dir: dir, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return s.Load()
	}
	if err := load(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing dir: %v", err)
	}
	if err := load(t.TempDir()); !errors.Is(err, ErrNoModels) {
		t.Errorf("empty dir: %v", err)
	}
	dir := t.TempDir()
	writeModel(t, dir, "good", small)
	os.WriteFile(filepath.Join(dir, "junk.onnx"), []byte("not onnx"), 0o644)
	if err := load(dir); err == nil || !strings.Contains(err.Error(), "model junk") {
		t.Errorf("junk file: %v", err)
	}
}

// TestServeShutdown checks the whole life of a loopback server: ready after
// loading, in-flight requests finishing after the stop signal, nothing left
// running afterwards.
func TestServeShutdown(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	before := goruntime.NumGoroutine()

	s, err := New(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	lb := serveLoopback(t, s)
	stop, served := lb.stop, lb.served

	// The request is in its handler once the server asks for its body.
	c := startRequest(t, lb.addr, "/v1/models/small/sample", `{"x":[0,0,0],"n":4}`)

	stop()
	// Shutdown closes the listener first: wait for it, then finish the
	// request that was already in progress.
	for {
		c, err := net.Dial("tcp", lb.addr)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}
	if resp := c.finish(t); resp.StatusCode != 200 {
		t.Errorf("in-flight request: status %d", resp.StatusCode)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := goruntime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after Serve returned:\n%s", before, after, buf[:goruntime.Stack(buf, true)])
	}
}

func TestServeLoadFailure(t *testing.T) {
	runtimetest.RequireLibrary(t)
	before := goruntime.NumGoroutine()
	s, err := New(Config{Dir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ListenAndServe(context.Background(), "127.0.0.1:0"); !errors.Is(err, ErrNoModels) {
		t.Errorf("Serve on an empty directory: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := goruntime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after", before, after)
	}
}
