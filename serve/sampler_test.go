package serve

import (
	"context"
	"errors"
	"testing"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
)

func TestSamplerErrors(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	rt, err := runtime.Open(writeModel(t, dir, "small", small), runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := NewSampler(rt, SamplerOptions{MinAcceptance: 2}); err == nil {
		t.Error("MinAcceptance 2 accepted")
	}
	s, err := NewSampler(rt, SamplerOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		x    *mat.Dense
		n    int
	}{
		{"x dimension", mat.NewDense(1, 2, nil), 1},
		{"n zero", mat.NewDense(1, 3, nil), 0},
		{"n huge", mat.NewDense(2, 3, nil), 1 << 30},
		{"x beyond float32", mat.NewDense(1, 3, []float64{0, 1e39, 0}), 1},
	} {
		if _, err := s.Sample(ctx, c.x, c.n, 1); !errors.Is(err, posterior.ErrInput) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Sample(cancelled, mat.NewDense(1, 3, nil), 10, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	res, err := s.Sample(ctx, mat.NewDense(1, 3, nil), 10, 1)
	if err != nil || res[0].Theta.RawMatrix().Rows != 10 {
		t.Fatalf("sample: %v", err)
	}
	s.Close()
	if _, err := s.Sample(ctx, mat.NewDense(1, 3, nil), 10, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	s.Close() // twice is fine
}
