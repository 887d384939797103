package api_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/posterior"
)

// strict decodes b into a new T, refusing fields T lacks: the hand-written
// encoders must write what the response types declare.
func strict[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func TestAppendSampleResponse(t *testing.T) {
	// θ is float32 (1/3 rounded), written in the fewest digits that read
	// back as that float32: 0.33333334.
	third := float64(float32(1.0 / 3))
	res := []*posterior.Samples{
		{Theta: mat.NewDense(2, 2, []float64{third, -2, 0.5, 1e-3}), Proposed: 4, Acceptance: 0.5, Extrapolating: []int{1}},
		{Theta: mat.NewDense(2, 2, []float64{1, 2, 3, 4}), Proposed: 10, Acceptance: 0.25, Convergence: &posterior.Convergence{
			Method: posterior.MethodEnsemble, Chains: 4, Warmup: 10, Thin: 2, Draws: 2,
			RHat: []float64{1.001, math.NaN()}, ESS: []float64{300, 12}, Acceptance: 0.25, Warning: "mixing",
		}},
	}
	b := api.AppendSampleResponse([]byte("kept"), "m", 7, res)
	if !bytes.HasPrefix(b, []byte("kept{")) || !bytes.HasSuffix(b, []byte("}\n")) {
		t.Fatalf("not appended as one line: %q", b)
	}
	got := strict[api.SampleResponse](t, b[len("kept"):])
	acc := 0.25
	want := api.SampleResponse{Model: "m", Seed: 7, N: 2, Results: []api.SampleResult{
		{Acceptance: 0.5, Proposed: 4, Extrapolating: []int{1}, Samples: [][]float64{{0.33333334, -2}, {0.5, 1e-3}}},
		{Acceptance: 0.25, Proposed: 10, Samples: [][]float64{{1, 2}, {3, 4}}, Convergence: &api.Convergence{
			Sampler: "ensemble", Chains: 4, Warmup: 10, Thin: 2, Draws: 2,
			RHat: []float64{1.001, 0}, ESS: []float64{300, 12}, Acceptance: &acc, Warning: "mixing",
		}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// NaN, which JSON cannot write, is null.
	if !bytes.Contains(b, []byte(`"rhat":[1.001,null]`)) {
		t.Errorf("NaN R-hat not null: %s", b)
	}
}

func TestAppendLogProbResponse(t *testing.T) {
	seed := uint64(1) << 52
	for _, tc := range []struct {
		seed *uint64
		want string
	}{
		{nil, `{"model":"m","log_prob":[-1.5,null]}` + "\n"},
		{&seed, `{"model":"m","log_prob":[-1.5,null],"seed":4503599627370496}` + "\n"},
	} {
		b := api.AppendLogProbResponse(nil, "m", []float64{-1.5, math.Inf(-1)}, tc.seed)
		if string(b) != tc.want {
			t.Errorf("got %s, want %s", b, tc.want)
		}
		got := strict[api.LogProbResponse](t, b)
		if got.Model != "m" || len(got.LogProb) != 2 || *got.LogProb[0] != -1.5 || got.LogProb[1] != nil || !reflect.DeepEqual(got.Seed, tc.seed) {
			t.Errorf("decoded %+v", got)
		}
	}
}
