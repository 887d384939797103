package serve_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/runtime/runtimetest"
	"github.com/amortize/amortize/serve"
)

func TestMain(m *testing.M) {
	flag.Parse()
	runtimetest.SkipExamplesWithoutLibrary("^ExampleServer_Handler$")
	os.Exit(m.Run())
}

// A program that serves the models of one directory until SIGINT or
// SIGTERM, then lets in-flight requests finish.
func ExampleServer() {
	s, err := serve.New(serve.Config{
		Dir:        "models", // models/two_moons.onnx is served as "two_moons"
		MaxSamples: 10_000,
		Timeout:    5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// "" listens on serve.DefaultAddr, 127.0.0.1:8080; ":8080" would
	// listen on every interface. Then:
	// curl -d '{"x":[0.1,0.2],"n":100,"seed":1}' localhost:8080/v1/models/two_moons/sample
	if err := s.ListenAndServe(ctx, ""); err != nil {
		log.Fatal(err)
	}
}

// The server's routes in a test, here over the small model files of
// testdata/golden: nsf.onnx is served as "nsf", an NSF over θ in [−3, 3]³
// given a 2-value x.
func ExampleServer_Handler() {
	s, err := serve.New(serve.Config{Dir: "../testdata/golden", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Load(); err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	post := func(body string) *http.Response {
		resp, err := http.Post(srv.URL+"/v1/models/nsf/sample", "application/json", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}
	resp := post(`{"x": [0.1, -0.3], "n": 5, "seed": 1}`)
	var ans api.SampleResponse
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	r := ans.Results[0]
	fmt.Println(resp.StatusCode, ans.Model, len(r.Samples), "samples of", len(r.Samples[0]), "values")

	resp = post(`{"x": [0.1], "n": 5}`) // one value short
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(msg)))
	// Output:
	// 200 nsf 5 samples of 3 values
	// 400 {"error":"x has 1 values, the model expects 2"}
}
