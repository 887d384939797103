package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/serve"
)

// sample --method mcmc --seed S and the server's sample route with
// "method": "mcmc" and the same options answer the same samples and
// convergence summaries, on NLE and NRE files and on an NPE file by MCMC.
func TestSampleMCMCServerParity(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"nle_maf", "nre_resnet"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, name+".onnx"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := serve.New(serve.Config{Dir: f.dir, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ model, x, flags, body string }{
		{"nle_maf", "0.1,-0.2,0.3;0,0.5,1", "", `{"x":[[0.1,-0.2,0.3],[0,0.5,1]],"n":100,"seed":5}`},
		{"nre_resnet", "0.1,-0.2,0.3", "--chains 12 --warmup 0 --thin 3 --mcmc-method ensemble --init prior",
			`{"x":[0.1,-0.2,0.3],"n":100,"seed":5,"method":"mcmc","mcmc":{"chains":12,"warmup":0,"thin":3,"sampler":"ensemble","init":"prior"}}`},
		{"small", "0.1,-0.2,0.3", "--chains 10 --warmup 30 --thin 2",
			`{"x":[0.1,-0.2,0.3],"n":100,"seed":5,"method":"mcmc","mcmc":{"chains":10,"warmup":30,"thin":2}}`},
	} {
		args := append([]string{"sample", c.model + ".onnx", "--x", c.x, "--n", "100", "--seed", "5", "--method", "mcmc", "--format", "json"}, strings.Fields(c.flags)...)
		var cli, srv api.SampleResponse
		if err := json.Unmarshal([]byte(f.ok(t, args...).stdout), &cli); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v1/models/"+c.model+"/sample", strings.NewReader(c.body)))
		if err := json.Unmarshal(w.Body.Bytes(), &srv); err != nil || w.Code != 200 {
			t.Fatalf("%s: status %d: %s", c.model, w.Code, w.Body)
		}
		a, _ := json.Marshal(cli.Results)
		b, _ := json.Marshal(srv.Results)
		if string(a) != string(b) || len(srv.Results[0].Samples) != 100 || srv.Results[0].Convergence == nil {
			t.Errorf("%s: the command line and the server differ for one seed", c.model)
		}
	}
}

// An NLE or NRE file samples by MCMC without --method; --method direct
// on it is a usage error naming MCMC.
func TestSampleMCMCDefault(t *testing.T) {
	f := newFixture(t)
	model := filepath.Join("..", "..", "testdata", "golden", "nre_resnet.onnx")
	abs, err := filepath.Abs(model)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"sample", abs, "--x", "0.1,0.2,0.3", "--n", "40", "--seed", "3", "--chains", "8", "--warmup", "10"}
	auto := f.ok(t, args...)
	explicit := f.ok(t, append(args, "--method", "mcmc")...)
	if auto.stdout != explicit.stdout || !strings.Contains(auto.stderr, "observation 1: slice: 8 chains") {
		t.Errorf("without --method: stderr %q; same samples as --method mcmc: %v", auto.stderr, auto.stdout == explicit.stdout)
	}
	r := f.cli(t, "sample", abs, "--x", "0.1,0.2,0.3", "--n", "4", "--method", "direct")
	if r.code != 2 || !strings.Contains(r.stderr, "sample it by MCMC") {
		t.Errorf("--method direct on nre: exit %d: %s", r.code, r.stderr)
	}
}
