package posterior_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
)

// TestSampleValueLimit: a request for more than MaxSampleValues θ values
// is an ErrInput from both samplers, before anything is allocated for it.
func TestSampleValueLimit(t *testing.T) {
	rm := runtimetest.Open(t, linearModel(t), runtime.Options{Threads: 1})
	s, err := posterior.NewSampler(rm, posterior.SamplerOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := posterior.NewDirect(rm, posterior.DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(4, 2, nil)
	// 4 observations × 2 θ dimensions: the limit's n, and one more.
	most := posterior.MaxSampleValues / 8
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing is to be drawn
	for _, n := range []int{most + 1, 1 << 30, 1 << 62} {
		if _, err := s.SampleBatched(ctx, x, n, rand.NewPCG(1, 1)); !errors.Is(err, posterior.ErrInput) {
			t.Errorf("Sampler, n %d: %v", n, err)
		}
		if _, err := d.SampleBatched(ctx, x, n, rand.NewPCG(1, 1)); !errors.Is(err, posterior.ErrInput) {
			t.Errorf("Direct, n %d: %v", n, err)
		}
	}
}
