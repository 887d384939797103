package posterior_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
)

// sameSamples says how two Samples differ, field by field ("" when not).
func sameSamples(a, b *posterior.Samples) string {
	switch {
	case a.Proposed != b.Proposed || a.Inside != b.Inside || a.Acceptance != b.Acceptance:
		return fmt.Sprintf("proposed %d and %d, inside %d and %d, acceptance %v and %v",
			a.Proposed, b.Proposed, a.Inside, b.Inside, a.Acceptance, b.Acceptance)
	case !mat.Equal(a.Theta, b.Theta):
		return "θ differs"
	case !slices.Equal(a.Extrapolating, b.Extrapolating):
		return fmt.Sprintf("extrapolating %v and %v", a.Extrapolating, b.Extrapolating)
	}
	return ""
}

// TestSamplesFields: one request through Direct and through the Sampler,
// in rounds of any size and with any number of workers, gives the same
// Samples, every field: those of the observation's stream read in order,
// which the test reads from the model itself.
func TestSamplesFields(t *testing.T) {
	rm := runtimetest.Open(t, linearModel(t), runtime.Options{Threads: 1})
	// Acceptance about 1, 0.35 and 0.1.
	mus := [][2]float64{{0, 0}, {2.6, -2.9}, {-3.4, 3.3}}
	xs := mat.NewDense(len(mus), 2, nil)
	for i, mu := range mus {
		xs.SetRow(i, xFor(mu))
	}
	const n = 150
	ctx := context.Background()
	type sampler interface {
		SampleBatched(context.Context, *mat.Dense, int, rand.Source) ([]*posterior.Samples, error)
	}
	var all []sampler
	for _, batch := range []int{0, 48} {
		d, err := posterior.NewDirect(rm, posterior.DirectOptions{MaxBatch: batch})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, d)
	}
	for _, o := range []posterior.SamplerOptions{{Workers: 1}, {BatchDraws: 64, Workers: 3}} {
		s, err := posterior.NewSampler(rm, o)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		all = append(all, s)
	}

	// The reference: row i's stream is the i-th split from the source,
	// two words each, and its draws are those of one call of the model.
	src := posterior.Source(5)
	want := make([]*posterior.Samples, len(mus))
	for i := range mus {
		row := rand.NewPCG(src.Uint64(), src.Uint64())
		const draws = 4096
		theta, _, err := rm.Sample([]float32{float32(xs.At(i, 0)), float32(xs.At(i, 1))}, 1, draws, row)
		if err != nil {
			t.Fatal(err)
		}
		w := &posterior.Samples{Theta: mat.NewDense(n, 2, nil)}
		for k := 0; w.Inside < n; k++ {
			if k == draws {
				t.Fatalf("test setup: row %d has fewer than %d of %d draws inside", i, n, draws)
			}
			th := []float64{float64(theta[2*k]), float64(theta[2*k+1])}
			w.Proposed++
			if th[0] >= linear.lo && th[0] <= linear.hi && th[1] >= linear.lo && th[1] <= linear.hi {
				w.Theta.SetRow(w.Inside, th)
				w.Inside++
			}
		}
		w.Acceptance = float64(w.Inside) / float64(w.Proposed)
		want[i] = w
	}
	if want[2].Proposed < 5*n {
		t.Fatalf("test setup: row 2 accepted %d of %d draws", n, want[2].Proposed)
	}
	for k, s := range all {
		got, err := s.SampleBatched(ctx, xs, n, posterior.Source(5))
		if err != nil {
			t.Fatal(err)
		}
		for i := range mus {
			if diff := sameSamples(got[i], want[i]); diff != "" {
				t.Errorf("sampler %d (%T), row %d: %s", k, s, i, diff)
			}
		}
	}

	// A hopeless observation fails at the same draw of its stream.
	far := mat.NewDense(2, 2, nil)
	far.SetRow(0, xFor([2]float64{0, 0}))
	far.SetRow(1, xFor([2]float64{12, 0}))
	d, err := posterior.NewDirect(rm, posterior.DirectOptions{MinProposals: 2000, MinAcceptance: 1e-3, MaxBatch: 160})
	if err != nil {
		t.Fatal(err)
	}
	s, err := posterior.NewSampler(rm, posterior.SamplerOptions{MinProposals: 2000, MinAcceptance: 1e-3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, errD := d.SampleBatched(ctx, far, 100, posterior.Source(1))
	_, errS := s.SampleBatched(ctx, far, 100, posterior.Source(1))
	const msg = "observation 1 accepted 0 of 2000 draws"
	if errD == nil || errS == nil || !strings.Contains(errD.Error(), msg) || errD.Error() != errS.Error() {
		t.Errorf("hopeless observation: Direct %v, Sampler %v; want both to say %q", errD, errS, msg)
	}
}
