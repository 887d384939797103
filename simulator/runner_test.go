package simulator_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/simulator"
)

// noisy returns x = θ + N(0, 1) noise, with x[0] replaced by bad(θ) where
// bad returns a non-zero value (NaN, ±Inf).
func noisy(dim int, bad func(theta []float64) float64) simulator.Simulator {
	return simulator.Func(dim, func(x, theta *mat.Dense, src rand.Source) error {
		rnd := rand.New(src)
		for i := range x.RawMatrix().Rows {
			t := theta.RawRowView(i)
			for j := range dim {
				x.Set(i, j, t[j]+rnd.NormFloat64())
			}
			if bad != nil {
				if v := bad(t); v != 0 {
					x.Set(i, 0, v)
				}
			}
		}
		return nil
	})
}

// sameBits reports whether a and b have the same shape and bit patterns.
func sameBits(a, b *mat.Dense) bool {
	ar, ac := a.Dims()
	br, bc := b.Dims()
	if ar != br || ac != bc {
		return false
	}
	for i := range ar {
		for j := range ac {
			if math.Float64bits(a.At(i, j)) != math.Float64bits(b.At(i, j)) {
				return false
			}
		}
	}
	return true
}

func mustSimulate(t testing.TB, sim simulator.Simulator, n int, opts simulator.Options) *simulator.Result {
	t.Helper()
	res, err := simulator.Simulate(context.Background(), box{3}, sim, n, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSimulateWorkerInvariance(t *testing.T) {
	sim := noisy(3, func(th []float64) float64 {
		if th[1] > 0.95 {
			return math.NaN()
		}
		return 0
	})
	const n = 2003
	for _, chunk := range []int{1, 7, 0, 5000} {
		ref := mustSimulate(t, sim, n, simulator.Options{Seed: 42, Workers: 1, ChunkSize: chunk})
		if ref.Dropped == 0 {
			t.Fatalf("chunk %d: no rows dropped, the test exercises nothing", chunk)
		}
		for _, w := range []int{2, 7, 0} {
			got := mustSimulate(t, sim, n, simulator.Options{Seed: 42, Workers: w, ChunkSize: chunk})
			if got.Dropped != ref.Dropped || !sameBits(got.Data.Theta, ref.Data.Theta) || !sameBits(got.Data.X, ref.Data.X) {
				t.Errorf("chunk %d, %d workers: result differs from 1 worker", chunk, w)
			}
		}
	}
}

func TestSimulateSeed(t *testing.T) {
	sim := noisy(3, nil)
	a := mustSimulate(t, sim, 1000, simulator.Options{Seed: 1, ChunkSize: 10})
	b := mustSimulate(t, sim, 1000, simulator.Options{Seed: 2, ChunkSize: 10})
	// Uniform draws on 53 bits collide with probability ~1e-10 here, so any
	// repeat means two chunks or seeds share a stream.
	seen := make(map[float64]bool)
	for _, d := range []*dataset.Dataset{a.Data, b.Data} {
		for _, v := range d.Theta.RawMatrix().Data {
			if seen[v] {
				t.Fatalf("θ value %v drawn twice", v)
			}
			seen[v] = true
		}
	}
}

func TestSimulateThetaReproducesSimulate(t *testing.T) {
	sim := noisy(3, nil)
	opts := simulator.Options{Seed: 7, ChunkSize: 33, Workers: 3}
	res := mustSimulate(t, sim, 500, opts)
	opts.Workers = 1
	x, err := simulator.SimulateTheta(context.Background(), res.Data.Theta, sim, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(x, res.Data.X) {
		t.Error("SimulateTheta on Simulate's θ gave different x")
	}
}

func TestSimulateThetaKeepsNaN(t *testing.T) {
	theta := mat.NewDense(4, 3, []float64{0.1, 0, 0, 0.9, 0, 0, 0.2, 0, 0, 0.95, 0, 0})
	sim := noisy(3, func(th []float64) float64 {
		if th[0] > 0.5 {
			return math.Inf(1)
		}
		return 0
	})
	x, err := simulator.SimulateTheta(context.Background(), theta, sim, simulator.Options{ChunkSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true, false, true} {
		if got := math.IsInf(x.At(i, 0), 1); got != want {
			t.Errorf("row %d: x[0] = %v, want Inf %v", i, x.At(i, 0), want)
		}
	}
}

func TestSimulateDropsNonFinite(t *testing.T) {
	const n = 3000
	opts := simulator.Options{Seed: 3, ChunkSize: 128}
	bad := func(th []float64) float64 {
		switch {
		case th[0] < 0.1:
			return math.NaN()
		case th[1] > 0.9:
			return math.Inf(1)
		case th[2] > 0.95:
			return math.Inf(-1)
		}
		return 0
	}
	// θ is drawn from its own stream, so a simulator that never fails sees
	// the same θ and tells which rows must go.
	all := mustSimulate(t, noisy(3, nil), n, opts)
	res := mustSimulate(t, noisy(3, bad), n, opts)

	var want []float64
	for i := range n {
		if row := all.Data.Theta.RawRowView(i); bad(row) == 0 {
			want = append(want, row...)
		}
	}
	kept := len(want) / 3
	if res.Dropped != n-kept || res.Simulated != n || res.Data.Len() != kept {
		t.Fatalf("dropped %d, simulated %d, kept %d; want %d, %d, %d", res.Dropped, res.Simulated, res.Data.Len(), n-kept, n, kept)
	}
	if !sameBits(res.Data.Theta, mat.NewDense(kept, 3, want)) {
		t.Error("kept θ are not the finite rows in order")
	}
	if err := res.Data.Validate(); err != nil {
		t.Error(err)
	}
}

func TestSimulateAllDropped(t *testing.T) {
	// A simulator that writes nothing leaves the runner's NaN fill in place.
	lazy := simulator.Func(2, func(x, theta *mat.Dense, src rand.Source) error { return nil })
	_, err := simulator.Simulate(context.Background(), box{1}, lazy, 50, simulator.Options{})
	if !errors.Is(err, simulator.ErrAllDropped) {
		t.Errorf("got %v, want ErrAllDropped", err)
	}
}

func TestSimulateProgress(t *testing.T) {
	const n, chunk = 1050, 100
	var (
		calls  []int
		inside atomic.Bool
	)
	progress := func(done, total int) {
		if !inside.CompareAndSwap(false, true) {
			t.Error("progress called concurrently")
		}
		defer inside.Store(false)
		if total != n {
			t.Errorf("total %d, want %d", total, n)
		}
		calls = append(calls, done)
	}
	mustSimulate(t, noisy(3, nil), n, simulator.Options{Workers: 4, ChunkSize: chunk, Progress: progress})
	if len(calls) != 11 {
		t.Fatalf("%d progress calls, want one per chunk (11)", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] <= calls[i-1] {
			t.Errorf("progress not increasing: %v", calls)
		}
	}
	if calls[len(calls)-1] != n {
		t.Errorf("last progress %d, want %d", calls[len(calls)-1], n)
	}
}

// waitGoroutines fails t unless the goroutine count drops to at most want
// within a second.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines left running, want at most %d", runtime.NumGoroutine(), want)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSimulateCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	var calls atomic.Int64
	slow := simulator.Func(1, func(x, theta *mat.Dense, src rand.Source) error {
		calls.Add(1)
		time.Sleep(2 * time.Millisecond)
		x.Zero()
		return nil
	})
	const workers = 4
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var atCancel int64
	progress := func(done, total int) {
		if atCancel == 0 {
			atCancel = calls.Load()
			cancel()
		}
	}
	// Uncancelled, this takes 10000 chunks × 2 ms / 4 workers = 5 s.
	start := time.Now()
	_, err := simulator.Simulate(ctx, box{1}, slow, 100000, simulator.Options{Workers: workers, ChunkSize: 10, Progress: progress})
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if elapsed > time.Second {
		t.Errorf("returned %v after cancellation", elapsed)
	}
	// Each worker may have taken one chunk before seeing the cancellation.
	if extra := calls.Load() - atCancel; extra > workers {
		t.Errorf("%d chunks started after cancel, want at most %d", extra, workers)
	}
	waitGoroutines(t, before)
}

func TestSimulateCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls atomic.Int64
	sim := simulator.Func(1, func(x, theta *mat.Dense, src rand.Source) error { calls.Add(1); return nil })
	_, err := simulator.Simulate(ctx, box{1}, sim, 100, simulator.Options{ChunkSize: 1})
	if !errors.Is(err, context.Canceled) || calls.Load() != 0 {
		t.Errorf("got %v after %d calls, want context.Canceled after none", err, calls.Load())
	}
}

func TestSimulateError(t *testing.T) {
	const n, chunk = 2000, 50
	errBoom := errors.New("boom")
	// Most chunks fail, and slowly, so several failures are in flight at
	// once and the reported one must be chosen, not just the first seen.
	fails := func(th []float64) bool { return th[0] > 0.98 }
	sim := simulator.Func(1, func(x, theta *mat.Dense, src rand.Source) error {
		time.Sleep(time.Millisecond)
		for i := range x.RawMatrix().Rows {
			if fails(theta.RawRowView(i)) {
				return errBoom
			}
		}
		return nil
	})
	// The first failing chunk, from the θ a clean run draws.
	all := mustSimulate(t, noisy(3, nil), n, simulator.Options{ChunkSize: chunk})
	first := -1
	for i := range n {
		if fails(all.Data.Theta.RawRowView(i)) {
			first = i / chunk
			break
		}
	}
	if first < 0 {
		t.Fatal("no row fails, the test exercises nothing")
	}
	// Chunks and rows are numbered from 1 in messages.
	want := fmt.Sprintf("chunk %d (rows %d to ", first+1, first*chunk+1)
	for _, w := range []int{1, 3, 8} {
		_, err := simulator.Simulate(context.Background(), box{3}, sim, n, simulator.Options{Workers: w, ChunkSize: chunk})
		if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), want) {
			t.Errorf("%d workers: got %v, want boom in %q", w, err, want)
		}
	}
}

type panicPrior struct{ box }

func (panicPrior) Sample(*mat.Dense, rand.Source) { panic("prior exploded") }

func TestSimulatePanic(t *testing.T) {
	var nilMatrix *mat.Dense
	for _, tc := range []struct {
		name string
		p    prior.Prior
		sim  simulator.Simulator
		want string
	}{
		{"value", box{1}, simulator.Func(1, func(x, theta *mat.Dense, src rand.Source) error { panic("kaboom") }), "kaboom"},
		{"runtime", box{1}, simulator.Func(1, func(x, theta *mat.Dense, src rand.Source) error {
			nilMatrix.Set(0, 0, 1)
			return nil
		}), "nil pointer"},
		{"prior", panicPrior{box{1}}, noisy(1, nil), "prior exploded"},
	} {
		_, err := simulator.Simulate(context.Background(), tc.p, tc.sim, 100, simulator.Options{ChunkSize: 10})
		if !errors.Is(err, simulator.ErrPanic) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrPanic mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestSimulateProgressPanicLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("progress panic did not propagate")
			}
		}()
		simulator.Simulate(context.Background(), box{1}, noisy(1, nil), 1000, simulator.Options{
			Workers: 4, ChunkSize: 1, Progress: func(int, int) { panic("progress") },
		})
	}()
	waitGoroutines(t, before)
}

func TestSimulateBadArguments(t *testing.T) {
	sim := noisy(1, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"nil prior", func() error { _, err := simulator.Simulate(ctx, nil, sim, 10, simulator.Options{}); return err }},
		{"nil simulator", func() error { _, err := simulator.Simulate(ctx, box{1}, nil, 10, simulator.Options{}); return err }},
		{"zero n", func() error { _, err := simulator.Simulate(ctx, box{1}, sim, 0, simulator.Options{}); return err }},
		{"zero prior dim", func() error { _, err := simulator.Simulate(ctx, box{0}, sim, 10, simulator.Options{}); return err }},
		{"zero x dim", func() error {
			_, err := simulator.Simulate(ctx, box{1}, noisy(0, nil), 10, simulator.Options{})
			return err
		}},
		{"negative workers", func() error {
			_, err := simulator.Simulate(ctx, box{1}, sim, 10, simulator.Options{Workers: -1})
			return err
		}},
		{"negative chunk", func() error {
			_, err := simulator.Simulate(ctx, box{1}, sim, 10, simulator.Options{ChunkSize: -5})
			return err
		}},
		{"nil theta", func() error { _, err := simulator.SimulateTheta(ctx, nil, sim, simulator.Options{}); return err }},
		{"empty theta", func() error {
			_, err := simulator.SimulateTheta(ctx, &mat.Dense{}, sim, simulator.Options{})
			return err
		}},
	} {
		if err := tc.run(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func BenchmarkSimulate(b *testing.B) {
	// The simulator only copies θ, so this measures the runner's overhead.
	copySim := simulator.Func(2, func(x, theta *mat.Dense, src rand.Source) error {
		x.Copy(theta)
		return nil
	})
	const n = 100000
	for _, w := range []int{1, 0} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for b.Loop() {
				if _, err := simulator.Simulate(context.Background(), box{2}, copySim, n, simulator.Options{Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sim")
		})
	}
}
