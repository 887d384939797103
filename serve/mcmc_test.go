package serve

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// mcmcServer serves the NLE and NRE golden files (θ in [−3, 3]², x of
// dimension 3) beside the small NPE model.
func mcmcServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Dir = t.TempDir()
	writeModel(t, cfg.Dir, "small", small)
	for _, name := range []string{"nle_maf", "nre_resnet"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "golden", name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.Dir, name+".onnx"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return newServer(t, cfg)
}

// quick are MCMC options that run in milliseconds.
const quick = `"mcmc":{"chains":8,"warmup":20,"thin":2,"init":"prior"}`

func TestSampleMCMC(t *testing.T) {
	s := mcmcServer(t, Config{})
	h := s.Handler()
	for _, name := range []string{"nle_maf", "nre_resnet"} {
		// NLE and NRE default to MCMC; the convergence summary comes with
		// each observation's samples.
		body := `{"x":[[0.1,-0.2,0.3],[-0.5,0.4,0]],"n":40,"seed":11,` + quick + `}`
		resp := postOK[api.SampleResponse](t, h, "/v1/models/"+name+"/sample", body)
		if resp.Seed != 11 || resp.N != 40 || len(resp.Results) != 2 {
			t.Fatalf("%s: seed %d, n %d, %d results", name, resp.Seed, resp.N, len(resp.Results))
		}
		rm, err := runtime.Open(filepath.Join(s.cfg.Dir, name+".onnx"), runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer rm.Close()
		post, err := posterior.NewModelMCMC(rm, nil, posterior.MCMCOptions{NumChains: 8, WarmupSteps: 20, Thin: 2, Init: posterior.InitPrior})
		if err != nil {
			t.Fatal(err)
		}
		want, err := post.SampleBatched(context.Background(), mat.NewDense(2, 3, []float64{0.1, -0.2, 0.3, -0.5, 0.4, 0}), 40, posterior.Source(11, 0))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range resp.Results {
			c := r.Convergence
			if c == nil || c.Sampler != "slice" || c.Chains != 8 || c.Warmup != 20 || c.Thin != 2 || c.Draws != 5 ||
				len(c.RHat) != 2 || len(c.ESS) != 2 || c.EvalsPerStep == nil || *c.EvalsPerStep <= 0 || c.Acceptance != nil {
				t.Fatalf("%s: observation %d: convergence %+v", name, i, c)
			}
			if (c.Warning != "") != (want[i].Convergence.Warning != "") {
				t.Errorf("%s: warning %q, posterior's %q", name, c.Warning, want[i].Convergence.Warning)
			}
			if len(r.Samples) != 40 {
				t.Fatalf("%s: %d samples", name, len(r.Samples))
			}
			// The samples of posterior.Source(seed, 0), as amortize sample
			// --method mcmc --seed draws them, in float32.
			for k, row := range r.Samples {
				for j, v := range row {
					if float32(v) != float32(want[i].Theta.At(k, j)) || math.Abs(v) > 3 {
						t.Fatalf("%s: observation %d sample %d: %v, posterior %v", name, i, k, row, want[i].Theta.RawRowView(k))
					}
				}
			}
		}
		if again := postOK[api.SampleResponse](t, h, "/v1/models/"+name+"/sample", body); !sameSamples(again, resp) {
			t.Errorf("%s: one seed gave different samples", name)
		}

		// The ensemble reports its acceptance instead.
		resp = postOK[api.SampleResponse](t, h, "/v1/models/"+name+"/sample",
			`{"x":[0.1,-0.2,0.3],"n":40,"method":"mcmc","mcmc":{"sampler":"ensemble","chains":8,"warmup":0,"thin":1,"init":"sir"}}`)
		if c := resp.Results[0].Convergence; c == nil || c.Sampler != "ensemble" || c.Warmup != 0 || c.Acceptance == nil || c.EvalsPerStep != nil {
			t.Errorf("%s: ensemble convergence %+v", name, c)
		}
	}

	// An NPE model samples directly by default, by MCMC when asked.
	if r := postOK[api.SampleResponse](t, h, "/v1/models/small/sample", `{"x":[0,0,0],"n":10}`); r.Results[0].Convergence != nil {
		t.Error("direct sampling reported a convergence summary")
	}
	r := postOK[api.SampleResponse](t, h, "/v1/models/small/sample", `{"x":[0,0,0],"n":10,"method":"mcmc",`+quick+`}`)
	if r.Results[0].Convergence == nil || len(r.Results[0].Samples) != 10 {
		t.Errorf("npe by MCMC: %+v", r.Results[0])
	}
}

func sameSamples(a, b api.SampleResponse) bool {
	x, _ := json.Marshal(a.Results)
	y, _ := json.Marshal(b.Results)
	return string(x) == string(y)
}

// Bad methods and MCMC options, nulls included, are 400s naming the field.
func TestSampleMCMCBad(t *testing.T) {
	h := mcmcServer(t, Config{}).Handler()
	for _, c := range []struct{ model, body, want string }{
		{"nle_maf", `{"x":[0,0,0],"n":1,"method":"direct"}`, `model nle_maf is an nle model, which has no posterior to draw from directly; sample it with "method": "mcmc"`},
		{"nre_resnet", `{"x":[0,0,0],"n":1,"method":"direct"}`, "an nre model"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"method":null}`, "method is null"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"method":1}`, "method is a number"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"method":"gibbs"}`, `method "gibbs": want "direct" or "mcmc"`},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":null}`, "mcmc is null"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":[1]}`, "mcmc is an array, want an object"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"chains":null}}`, "mcmc.chains is null"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"thin":null}}`, "mcmc.thin is null"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"chains":0}}`, "mcmc.chains = 0, want at least 1"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"chains":-5}}`, "mcmc.chains = -5"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"chains":2.5}}`, "chains"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"chains":"20"}}`, "chains"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"warmup":-1}}`, "mcmc.warmup = -1, want 0 or more"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"thin":0}}`, "mcmc.thin = 0, want at least 1"},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"sampler":"hmc"}}`, `mcmc.sampler "hmc": want "slice" or "ensemble"`},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"init":"proposal"}}`, `mcmc.init "proposal": want "sir" or "prior"`},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"chain":20}}`, `unknown field "chain"`},
		{"nle_maf", `{"x":[0,0,0],"n":1,"mcmc":{"sampler":"ensemble","chains":3}}`, "at least 2·dim+2 = 6 walkers"},
		{"small", `{"x":[0,0,0],"n":1,"mcmc":{"chains":4}}`, `mcmc options are for "method": "mcmc"`},
		{"nle_maf", `{"x":[0,0],"n":1}`, "x has 2 values, the model expects 3"},
	} {
		w := do(h, "POST", "/v1/models/"+c.model+"/sample", c.body)
		if w.Code != 400 {
			t.Errorf("%s %s: status %d, want 400: %s", c.model, c.body, w.Code, w.Body)
			continue
		}
		if msg := errorBody(t, w); !strings.Contains(msg, c.want) {
			t.Errorf("%s %s: error %q, want %q", c.model, c.body, msg, c.want)
		}
	}
	// log_prob and map need a posterior density.
	for route, body := range map[string]string{"log_prob": `{"x":[0,0,0],"theta":[[0,0]]}`, "map": `{"x":[0,0,0]}`} {
		w := do(h, "POST", "/v1/models/nre_resnet/"+route, body)
		if msg := errorBody(t, w); w.Code != 400 || !strings.Contains(msg, route+" is for npe models; model nre_resnet is an nre model") ||
			!strings.Contains(msg, "/v1/models/nre_resnet/sample") {
			t.Errorf("%s on nre: status %d %q", route, w.Code, msg)
		}
	}
}

// The work of an MCMC request, (initial candidates + chains × (warm-up +
// ⌈n/chains⌉·thin) × evaluations per step) × observations × (θ + x
// dimensions), is held to MaxWork.
func TestSampleMCMCWork(t *testing.T) {
	// Ensemble, prior init: 2 observations × 10 chains × (5 + ⌈20/10⌉·2)
	// steps × 1 = 180 evaluations × 5 dimensions.
	ens := `{"x":[[0,0,0],[1,1,1]],"n":20,"mcmc":{"sampler":"ensemble","chains":10,"warmup":5,"thin":2,"init":"prior"}}`
	// Slice, SIR: 1 × (10,000 + 4 × (3 + 3·1) × 16) = 10,384 × 5.
	slice := `{"x":[0,0,0],"n":10,"mcmc":{"chains":4,"warmup":3,"thin":1}}`
	for _, c := range []struct {
		body  string
		limit int
	}{{ens, 180 * 5}, {slice, 10_384 * 5}} {
		h := mcmcServer(t, Config{MaxWork: c.limit}).Handler()
		if w := do(h, "POST", "/v1/models/nle_maf/sample", c.body); w.Code != 200 {
			t.Errorf("%s at the limit: status %d %s", c.body, w.Code, w.Body)
		}
		h = mcmcServer(t, Config{MaxWork: c.limit - 1}).Handler()
		w := do(h, "POST", "/v1/models/nle_maf/sample", c.body)
		if msg := errorBody(t, w); w.Code != 413 || !strings.Contains(msg, "model evaluations × 5 dimensions, over the server's limit") {
			t.Errorf("%s over the limit: status %d %q", c.body, w.Code, msg)
		}
	}
	// Hostile sizes are refused by the budget, without overflow.
	h := mcmcServer(t, Config{}).Handler()
	w := do(h, "POST", "/v1/models/nle_maf/sample", `{"x":[0,0,0],"n":100000,"mcmc":{"chains":1,"warmup":9000000000000000000,"thin":9000000000000000000}}`)
	if msg := errorBody(t, w); w.Code != 413 || !strings.Contains(msg, "1 observations × (10000 initial candidates + 1 chains") {
		t.Errorf("hostile options: status %d %q", w.Code, msg)
	}
	// The defaults: one observation of 1,000 samples fits the default
	// budget, (10,000 + 20 × 600 × 16) × 5 = 1,010,000 values.
	if w := do(h, "POST", "/v1/models/nle_maf/sample", `{"x":[0,0,0],"n":1000,"seed":1}`); w.Code != 200 {
		t.Errorf("defaults: status %d %s", w.Code, w.Body)
	}
}

// MCMC requests beyond MaxMCMC are turned away at once; the request
// timeout stops a run through its context.
func TestSampleMCMCLimits(t *testing.T) {
	s := mcmcServer(t, Config{MaxMCMC: 1})
	h := s.Handler()
	s.mcmc <- struct{}{} // an MCMC request in progress
	w := do(h, "POST", "/v1/models/nle_maf/sample", `{"x":[0,0,0],"n":10,`+quick+`}`)
	if msg := errorBody(t, w); w.Code != 503 || w.Header().Get("Retry-After") != "1" || !strings.Contains(msg, "1 MCMC requests in progress") {
		t.Errorf("MCMC while full: status %d %q", w.Code, msg)
	}
	// Direct sampling does not wait for MCMC.
	if w := do(h, "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":10}`); w.Code != 200 {
		t.Errorf("direct while MCMC is full: status %d %s", w.Code, w.Body)
	}
	<-s.mcmc
	if w := do(h, "POST", "/v1/models/nle_maf/sample", `{"x":[0,0,0],"n":10,`+quick+`}`); w.Code != 200 {
		t.Errorf("MCMC after release: status %d %s", w.Code, w.Body)
	}

	// A run of 40 × 200,000 steps ends at the 200 ms timeout.
	s = mcmcServer(t, Config{Timeout: 200 * time.Millisecond, MaxWork: 1 << 62})
	start := time.Now()
	w = do(s.Handler(), "POST", "/v1/models/nle_maf/sample", `{"x":[0,0,0],"n":40,"mcmc":{"chains":40,"warmup":200000,"init":"prior"}}`)
	if msg := errorBody(t, w); w.Code != 503 || !strings.Contains(msg, "longer than the server's limit of 200ms") {
		t.Errorf("long run: status %d %q", w.Code, msg)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the timeout stopped the run after %v", d)
	}
	if len(s.mcmc) != 0 {
		t.Error("the timed-out run still holds its MCMC slot")
	}
}

// GET /v1/models/{name} describes NLE and NRE files by their own layout,
// and says how each model samples.
func TestDescribeMCMC(t *testing.T) {
	h := mcmcServer(t, Config{}).Handler()
	for _, c := range []struct {
		name, method, inputs, outputs, sampling string
	}{
		{"nle_maf", "nle", "theta [batch 2] x [batch n_x 3] noise [batch n_samples 3]", "log_prob [batch n_x] sample [batch n_samples 3] sample_log_prob [batch n_samples]", "mcmc"},
		{"nre_resnet", "nre", "x [batch 3] theta [batch n_theta 2]", "log_ratio [batch n_theta]", "mcmc"},
		{"small", "npe", "x [batch 3] theta [batch n_theta 2] noise [batch n_samples 2]", "log_prob [batch n_theta] sample [batch n_samples 2] sample_log_prob [batch n_samples]", "direct mcmc"},
	} {
		w := do(h, "GET", "/v1/models/"+c.name, "")
		var info api.ModelInfo
		if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || w.Code != 200 {
			t.Fatalf("%s: %d %v", c.name, w.Code, err)
		}
		tensors := func(ts []api.Tensor) string {
			var parts []string
			for _, t := range ts {
				parts = append(parts, t.Name+" ["+jsonString(t.Shape)+"]")
			}
			return strings.Join(parts, " ")
		}
		got := []string{info.Method, tensors(info.Inputs), tensors(info.Outputs), strings.Join(info.Sampling, " ")}
		want := []string{c.method, c.inputs, c.outputs, c.sampling}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %q, want %q", c.name, got[i], want[i])
			}
		}
		if info.ThetaDim != 2 || info.XDim != 3 || string(info.Prior) == "null" {
			t.Errorf("%s: dims %d, %d, prior %s", c.name, info.ThetaDim, info.XDim, info.Prior)
		}
	}
}

// jsonString writes a shape as space-separated values.
func jsonString(shape []any) string {
	var parts []string
	for _, v := range shape {
		b, _ := json.Marshal(v)
		parts = append(parts, strings.Trim(string(b), `"`))
	}
	return strings.Join(parts, " ")
}
