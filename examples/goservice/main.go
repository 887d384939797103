// Command goservice embeds an amortize model file in a Go HTTP service: it
// loads the file at start and answers posterior samples and log-densities.
// It links the runtime and the posterior only, never the trainer.
//
//	go run ./examples/goservice -model two_moons_nsf.onnx -addr 127.0.0.1:8080
//	curl -s localhost:8080/sample -d '{"x":[0.1,0.2],"n":100,"seed":1}'
//	curl -s localhost:8080/log_prob -d '{"x":[0.1,0.2],"theta":[[0,0],[0.5,0.5]]}'
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net/http"
	"time"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"gonum.org/v1/gonum/mat"
)

func main() {
	model := flag.String("model", "", "model file (.onnx)")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	m, err := runtime.Open(*model, runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	post, err := posterior.NewDirect(m, posterior.DirectOptions{})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(*addr, handler(post, m.ThetaDim())))
}

type request struct {
	X     []float64   `json:"x"`
	N     int         `json:"n"`    // sample: draws
	Seed  uint64      `json:"seed"` // sample: posterior.Source(seed) draws the noise
	Theta [][]float64 `json:"theta"`
}

// handler answers POST /sample with {"theta": [[…]…], "acceptance": a} and
// POST /log_prob with {"log_prob": […]} (null outside the prior).
func handler(post *posterior.Direct, dim int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sample", serve(func(r *http.Request, req request) (any, error) {
		if req.N < 1 || req.N > 100_000 {
			return nil, fmt.Errorf("%w: n must be between 1 and 100000", errRequest)
		}
		s, err := post.Sample(r.Context(), req.X, req.N, posterior.Source(req.Seed))
		if err != nil {
			return nil, err
		}
		theta := make([][]float64, req.N)
		for i := range theta {
			theta[i] = s.Theta.RawRowView(i)
		}
		return map[string]any{"theta": theta, "acceptance": s.Acceptance}, nil
	}))
	mux.HandleFunc("POST /log_prob", serve(func(r *http.Request, req request) (any, error) {
		if len(req.Theta) == 0 || len(req.Theta) > 100_000 {
			return nil, fmt.Errorf("%w: theta must hold 1 to 100000 rows", errRequest)
		}
		theta := mat.NewDense(len(req.Theta), dim, nil)
		for i, row := range req.Theta {
			if len(row) != dim {
				return nil, fmt.Errorf("%w: theta row %d has %d values, theta_dim is %d", errRequest, i, len(row), dim)
			}
			theta.SetRow(i, row)
		}
		lp, err := post.LogProb(r.Context(), theta, req.X)
		if err != nil {
			return nil, err
		}
		out := make([]*float64, len(lp))
		for i := range lp {
			if !math.IsInf(lp[i], -1) {
				out[i] = &lp[i]
			}
		}
		return map[string]any{"log_prob": out}, nil
	}))
	return mux
}

// errRequest marks the request's own mistakes.
var errRequest = errors.New("bad request")

// serve decodes a request of at most 1 MiB, calls f with 10 s to answer
// and writes its answer or {"error": …}: 400 for the client's mistakes,
// 500 for the rest.
func serve(f func(*http.Request, request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		r = r.WithContext(ctx)
		var req request
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		out, status := any(nil), http.StatusOK
		err := dec.Decode(&req)
		if err != nil {
			err = fmt.Errorf("%w: %w", errRequest, err)
		} else {
			out, err = f(r, req)
		}
		if err != nil {
			out, status = map[string]string{"error": err.Error()}, http.StatusInternalServerError
			if errors.Is(err, errRequest) || errors.Is(err, posterior.ErrInput) || errors.Is(err, posterior.ErrLowAcceptance) {
				status = http.StatusBadRequest
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(out)
	}
}
