package serve_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/amortize/amortize/serve"
)

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
