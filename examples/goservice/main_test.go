package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

// TestService serves a golden model on loopback and checks its answers
// against the Go API called directly: the same numbers, bit for bit.
func TestService(t *testing.T) {
	m, err := runtime.Open(filepath.Join("..", "..", "testdata", "golden", "nsf.onnx"), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	post, err := posterior.NewDirect(m, posterior.DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler(post, m.ThetaDim())}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()

	call := func(path, body string, wantStatus int, out any) {
		t.Helper()
		resp, err := http.Post(url+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != wantStatus {
			var e map[string]string
			json.NewDecoder(resp.Body).Decode(&e)
			t.Fatalf("POST %s %s: status %d (%s), want %d", path, body, resp.StatusCode, e["error"], wantStatus)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}

	x := []float64{0.3, -0.4}
	var s struct {
		Theta      [][]float64 `json:"theta"`
		Acceptance float64     `json:"acceptance"`
	}
	call("/sample", `{"x":[0.3,-0.4],"n":500,"seed":7}`, http.StatusOK, &s)
	want, err := post.Sample(context.Background(), x, 500, posterior.Source(7))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Theta) != 500 || s.Acceptance != want.Acceptance {
		t.Fatalf("%d draws, acceptance %v; the API gives 500, %v", len(s.Theta), s.Acceptance, want.Acceptance)
	}
	for i, row := range s.Theta {
		if !slices.Equal(row, want.Theta.RawRowView(i)) {
			t.Fatalf("draw %d: service %v, API %v", i, row, want.Theta.RawRowView(i))
		}
	}

	theta := [][]float64{{0, 0, 0}, {0.5, -1, 2}, {4, 0, 0}} // the last is outside the prior box [-3, 3]³
	body, _ := json.Marshal(map[string]any{"x": x, "theta": theta})
	var lp struct {
		LogProb []*float64 `json:"log_prob"`
	}
	call("/log_prob", string(body), http.StatusOK, &lp)
	wantLP, err := post.LogProb(context.Background(), mat.NewDense(3, 3, append(append(theta[0], theta[1]...), theta[2]...)), x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range lp.LogProb {
		if (v == nil) != math.IsInf(wantLP[i], -1) || (v != nil && *v != wantLP[i]) {
			t.Errorf("log_prob[%d]: service %v, API %v", i, v, wantLP[i])
		}
	}

	// Mistakes are the client's: 400 with a message, never a panic.
	var e map[string]string
	for _, bad := range []struct{ path, body string }{
		{"/sample", `{"x":[0.3],"n":5}`},
		{"/sample", `{"x":[0.3,-0.4],"n":0}`},
		{"/sample", `{"x":[0.3,-0.4],"n":5,"extra":1}`},
		{"/log_prob", `{"x":[0.3,-0.4],"theta":[[1,2]]}`},
		{"/log_prob", `{"x":[0.3,-0.4],"theta":[]}`},
		{"/log_prob", `not json`},
	} {
		call(bad.path, bad.body, http.StatusBadRequest, &e)
		if e["error"] == "" {
			t.Errorf("POST %s %s: no error message", bad.path, bad.body)
		}
	}
}
