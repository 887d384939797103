package posterior_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
)

// Posterior samples and the MAP for one observation, with sampling bounded
// in time. (Not run: it needs a model file.)
func ExampleDirect() {
	m, err := runtime.Open("two_moons_nsf.onnx", runtime.Options{})
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
	fmt.Printf("%d samples, %.1f%% of the draws inside the prior\n", s.Theta.RawMatrix().Rows, 100*s.Acceptance)
	if len(s.Extrapolating) > 0 {
		fmt.Println("x is far from the training data in dimensions", s.Extrapolating)
	}
	mode, err := post.MAP(ctx, x, posterior.MAPOptions{}, src)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("MAP", mode.Theta)
}
