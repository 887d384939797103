package runtime_test

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	runtimetest.SkipExamplesWithoutLibrary("^Example")
	os.Exit(m.Run())
}

// A service's hot loop: noise drawn into a reused buffer, results written
// into a reused Output, so that nothing is allocated per request beyond
// onnxruntime's own bookkeeping. The model is a small NSF over θ in
// [−3, 3]³ given a 2-value x.
func ExampleModel_Run() {
	m, err := runtime.Open("../testdata/golden/nsf.onnx", runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	meta := m.Metadata()
	fmt.Println(m.Method(), meta.Estimator, "θ:", meta.ThetaNames, "x:", meta.XNames)

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
		var sum float64
		for _, lq := range out.SampleLogProb {
			sum += float64(lq)
		}
		fmt.Printf("%d draws of θ, mean log q(θ|x) %.1f\n", len(out.Sample)/m.ThetaDim(), sum/n)
	}
	// Output:
	// npe nsf θ: [theta_1 theta_2 theta_3] x: [x_1 x_2]
	// 1000 draws of θ, mean log q(θ|x) -4.0
	// 1000 draws of θ, mean log q(θ|x) -4.0
	// 1000 draws of θ, mean log q(θ|x) -4.0
}
