package posterior_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
)

func TestSamplerErrors(t *testing.T) {
	rm := runtimetest.Open(t, linearModel(t), runtime.Options{Threads: 1})
	if _, err := posterior.NewSampler(rm, posterior.SamplerOptions{MinAcceptance: 2}); err == nil {
		t.Error("MinAcceptance 2 accepted")
	}
	s, err := posterior.NewSampler(rm, posterior.SamplerOptions{Workers: 1, MinProposals: 2000, MinAcceptance: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		x    *mat.Dense
		n    int
	}{
		{"x dimension", mat.NewDense(1, 3, nil), 1},
		{"n zero", mat.NewDense(1, 2, nil), 0},
		{"n huge", mat.NewDense(2, 2, nil), 1 << 30},
		{"x beyond float32", mat.NewDense(1, 2, []float64{0, 1e39}), 1},
	} {
		if _, err := s.SampleBatched(ctx, c.x, c.n, rand.NewPCG(1, 1)); !errors.Is(err, posterior.ErrInput) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	far := mat.NewDense(1, 2, xFor([2]float64{12, 0}))
	if _, err := s.SampleBatched(ctx, far, 100, rand.NewPCG(1, 1)); !errors.Is(err, posterior.ErrLowAcceptance) {
		t.Errorf("no mass inside the prior: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.SampleBatched(cancelled, mat.NewDense(1, 2, nil), 10, rand.NewPCG(1, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	res, err := s.SampleBatched(ctx, mat.NewDense(1, 2, nil), 10, rand.NewPCG(1, 1))
	if err != nil || res[0].Theta.RawMatrix().Rows != 10 {
		t.Fatalf("sample: %v", err)
	}
	s.Close()
	if _, err := s.SampleBatched(ctx, mat.NewDense(1, 2, nil), 10, rand.NewPCG(1, 1)); !errors.Is(err, posterior.ErrSamplerClosed) {
		t.Errorf("after Close: %v", err)
	}
	s.Close() // twice is fine
}

// TestSamplerDraws: a request asks a call for about its n draws, and
// hopeless observations served before it do not make it ask for many more.
func TestSamplerDraws(t *testing.T) {
	rm := runtimetest.Open(t, linearModel(t), runtime.Options{Threads: 1})
	var (
		mu    sync.Mutex
		calls []float64
	)
	s, err := posterior.NewSampler(rm, posterior.SamplerOptions{
		Workers: 1, MinProposals: 2000, MinAcceptance: 1e-3,
		Observe: func(draws float64) { mu.Lock(); calls = append(calls, draws); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	good := mat.NewDense(1, 2, xFor([2]float64{0, 0})) // acceptance 0.999
	// first is the draws of the first call a good request makes.
	first := func() float64 {
		mu.Lock()
		calls = calls[:0]
		mu.Unlock()
		res, err := s.SampleBatched(ctx, good, 100, rand.NewPCG(7, 1))
		if err != nil || res[0].Inside != 100 {
			t.Fatalf("sample: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		return calls[0]
	}
	if d := first(); d != 112 {
		t.Errorf("a request of 100 made a call of %v draws, want 112 (100 padded to 16s)", d)
	}
	far := mat.NewDense(1, 2, xFor([2]float64{12, 0}))
	if _, err := s.SampleBatched(ctx, far, 100, rand.NewPCG(1, 1)); !errors.Is(err, posterior.ErrLowAcceptance) {
		t.Fatalf("no mass inside the prior: %v", err)
	}
	// The recent acceptance is now about 0, guessed as 0.9: 122 draws.
	if d := first(); d != 128 {
		t.Errorf("after a hopeless request, a request of 100 made a call of %v draws, want 128", d)
	}
}

// TestSamplerMatchesDirect checks that concurrent callers, whose streams
// share and split runtime calls, get the Samples they get alone, and those
// Direct gives with the same source. (TestDrawPlace shows the rounding
// they depend on; scalar tails change few draws, too few for this test
// alone to catch.)
func TestSamplerMatchesDirect(t *testing.T) {
	// sbi's default NSF, whose vector kernels round a 16-wide register's
	// lanes differently from a scalar tail.
	rm := runtimetest.Open(t, runtimetest.RandomModel(t, "nsf", 2, 2, 0, 3), runtime.Options{Threads: 1})
	d, err := posterior.NewDirect(rm, posterior.DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ batch, n int }{
		{64, 90},  // small calls: every request needs several, shared with the others
		{256, 37}, // streams of odd sizes at odd offsets in padded calls
	} {
		s, err := posterior.NewSampler(rm, posterior.SamplerOptions{BatchDraws: c.batch, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		xs := mat.NewDense(3, 2, []float64{0, 0, 1, -0.5, -0.8, 0.3})
		const callers = 6
		n := c.n
		alone := make([][]*posterior.Samples, callers)
		for c := range callers {
			if alone[c], err = s.SampleBatched(context.Background(), xs, n, posterior.Source(uint64(c))); err != nil {
				t.Fatal(err)
			}
		}
		got := make([][]*posterior.Samples, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() { got[c], errs[c] = s.SampleBatched(context.Background(), xs, n, posterior.Source(uint64(c))) })
		}
		wg.Wait()
		for c, res := range got {
			if errs[c] != nil {
				t.Fatalf("caller %d: %v", c, errs[c])
			}
			want, err := d.SampleBatched(context.Background(), xs, n, posterior.Source(uint64(c)))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if diff := sameSamples(r, alone[c][i]); diff != "" {
					t.Errorf("n %d, caller %d, row %d: concurrent and lone: %s", n, c, i, diff)
				}
				if diff := sameSamples(r, want[i]); diff != "" {
					t.Errorf("n %d, caller %d, row %d: Sampler and Direct: %s", n, c, i, diff)
				}
			}
		}
	}
}

// TestDrawPlace guards what the Sampler's batching rests on: in a call
// whose draws are a multiple of 16, a draw's result depends on its noise
// and x alone, not on its place. (Calls of off+n draws, whose last ones
// fall in a scalar tail, make it fail: a few of their draws differ.)
func TestDrawPlace(t *testing.T) {
	rm := runtimetest.Open(t, runtimetest.RandomModel(t, "nsf", 2, 2, 0, 3), runtime.Options{Threads: 1, Workers: 1})
	const n = 32
	for seed := range uint64(4) {
		noise := rm.Noise(nil, n, rand.NewPCG(seed, 2))
		run := func(off, total int) []float32 {
			x := make([]float32, total*2)
			for i := range x {
				x[i] = 0.3
			}
			nz := make([]float32, total*2)
			copy(nz[off*2:], noise)
			var out runtime.Output
			if _, err := rm.Run(x, total, nil, 0, nz, 1, &out); err != nil {
				t.Fatal(err)
			}
			return out.Sample[off*2 : (off+n)*2]
		}
		want := run(0, n)
		for _, off := range []int{1, 3, 5, 8, 13, 16} {
			if got := run(off, n+16); !slices.Equal(got, want) {
				t.Errorf("seed %d: draws at offset %d of %d differ from the same draws at 0 of %d", seed, off, n+16, n)
			}
		}
	}
}

// TestObservationPlace checks the other half of what the Sampler's calls
// rely on: an observation's draws, which use what the graph computes once
// per observation, do not depend on how many observations share the call
// nor on its place among them.
func TestObservationPlace(t *testing.T) {
	for _, kind := range []string{"gaussian", "mdn", "maf", "nsf"} {
		for _, d := range []int{1, 2} {
			rm := runtimetest.Open(t, runtimetest.RandomModel(t, kind, d, 3, 0, 3), runtime.Options{Threads: 1, Workers: 1})
			nd := rm.Metadata().Noise.Dim()
			const n = runtime.Lanes
			noise := rm.Noise(nil, n, rand.NewPCG(1, 2))
			x0 := []float32{0.3, -0.7, 1.1}
			run := func(at, b int) []float32 {
				r := rand.New(rand.NewPCG(uint64(b), 9))
				x := make([]float32, b*3)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				copy(x[at*3:], x0)
				nz := rm.Noise(nil, b*n, r)
				copy(nz[at*n*nd:], noise)
				out, err := rm.Run(x, b, nil, 0, nz, n, nil)
				if err != nil {
					t.Fatal(err)
				}
				return out.Sample[at*n*d : (at+1)*n*d]
			}
			want := run(0, 1)
			for b := 2; b <= 18; b++ {
				for _, at := range []int{0, b / 2, b - 1} {
					if got := run(at, b); !slices.Equal(got, want) {
						t.Errorf("%s, θ dim %d: draws of observation %d of %d differ from the same draws alone", kind, d, at, b)
					}
				}
			}
		}
	}
}
