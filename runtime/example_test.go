package runtime_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/amortize/amortize/runtime"
)

// A service's hot loop: noise drawn into a reused buffer, results written
// into a reused Output, so that nothing is allocated per request beyond
// onnxruntime's own bookkeeping. (Not run: it needs a model file.)
func ExampleModel_Run() {
	m, err := runtime.Open("two_moons_nsf.onnx", runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	x := []float32{0.1, -0.3} // one observation
	const n = 1000
	src := rand.NewPCG(1, 2)
	var noise []float32
	var out runtime.Output
	for range 3 {
		noise = m.Noise(noise, n, src)
		if _, err := m.Run(x, 1, nil, 0, noise, n, &out); err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(out.Sample)/m.ThetaDim(), "draws of θ with their log q(θ|x)")
	}
}
