package posterior_test

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	runtimetest.SkipExamplesWithoutLibrary("^ExampleDirect")
	os.Exit(m.Run())
}

// Posterior samples and the MAP for one observation, with sampling bounded
// in time. The model is a small NSF over θ in [−3, 3]³ given a 2-value x.
func ExampleDirect() {
	m, err := runtime.Open("../testdata/golden/nsf.onnx", runtime.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	post, err := posterior.NewDirect(m, posterior.DirectOptions{})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	x := []float64{0.1, -0.3}
	src := rand.NewPCG(1, 2)
	s, err := post.Sample(ctx, x, 10_000, src)
	if err != nil {
		log.Fatal(err) // posterior.ErrLowAcceptance: x is implausible under the prior
	}
	fmt.Printf("%d samples, %.0f%% of the draws inside the prior\n", s.Theta.RawMatrix().Rows, 100*s.Acceptance)
	fmt.Printf("posterior mean of θ₁ %.1f\n", stat.Mean(mat.Col(nil, 0, s.Theta), nil))
	if len(s.Extrapolating) > 0 {
		fmt.Println("x is far from the training data in dimensions", s.Extrapolating)
	}
	mode, err := post.MAP(ctx, x, posterior.MAPOptions{}, src)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("MAP θ₁ %.1f\n", mode.Theta[0])
	// Output:
	// 10000 samples, 98% of the draws inside the prior
	// posterior mean of θ₁ -0.2
	// MAP θ₁ -0.3
}
