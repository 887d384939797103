package trainer_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"github.com/amortize/amortize/simulator"
	"github.com/amortize/amortize/trainer"
)

// TestTrainDataset brings its own simulator and prior as a user does:
// θ = (μ, rate) with μ ~ N(0, 1) and rate ~ Gamma(2, 2), x = (μ + N(0, 0.3²),
// log rate + N(0, 0.3²)), trained briefly and opened with nothing set by
// hand. The posterior of μ is N(x₁/1.09, 0.09/1.09).
func TestTrainDataset(t *testing.T) {
	ctx := context.Background()
	sim := simulator.PerRow(2, 2, func(theta []float64, rng *rand.Rand) []float64 {
		return []float64{theta[0] + 0.3*rng.NormFloat64(), math.Log(theta[1]) + 0.3*rng.NormFloat64()}
	})
	p, err := prior.NewIndependent([]prior.Marginal{prior.Normal(0, 1), prior.Gamma(2, 2)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := simulator.Simulate(ctx, p, sim, 2000, simulator.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	res.Data.ThetaNames = []string{"mu", "rate"}
	spec, err := models.DefaultSpec("gaussian", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := trainer.TrainDataset(ctx, spec, res.Data, trainer.Options{Seed: 1, MaxEpochs: 30})
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if err := export.Write(m, &file); err != nil {
		t.Fatal(err)
	}
	rm := runtimetest.OpenBytes(t, file.Bytes(), runtime.Options{})
	meta := rm.Metadata()
	if !slices.Equal(meta.ThetaNames, []string{"mu", "rate"}) || !slices.Equal(meta.XNames, []string{"x_1", "x_2"}) {
		t.Errorf("names %v, %v; want [mu rate], [x_1 x_2]", meta.ThetaNames, meta.XNames)
	}
	if meta.Training.Simulations != 2000 {
		t.Errorf("simulations %d, want 2000", meta.Training.Simulations)
	}
	want, _ := prior.Marshal(p)
	if got, _ := prior.Marshal(rm.Prior()); !bytes.Equal(got, want) {
		t.Errorf("prior %s, want %s", got, want)
	}
	post, err := posterior.NewDirect(rm, posterior.DirectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := post.Sample(ctx, []float64{0.5, 0}, 4000, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	mu := make([]float64, 4000)
	for i := range mu {
		mu[i] = s.Theta.At(i, 0)
		if r := s.Theta.At(i, 1); !(r > 0) {
			t.Fatalf("draw %d: rate %v outside the prior's support", i, r)
		}
	}
	if mean := stat.Mean(mu, nil); math.Abs(mean-0.5/1.09) > 0.15 {
		t.Errorf("posterior mean of μ %.3f, want %.3f ± 0.15", mean, 0.5/1.09)
	}
}

func TestTrainDatasetErrors(t *testing.T) {
	ctx := context.Background()
	spec, _ := models.DefaultSpec("gaussian", 2, 2)
	res, err := simulator.Simulate(ctx, mustBox(t), simulator.PerRow(2, 2, func(theta []float64, rng *rand.Rand) []float64 {
		return []float64{theta[0], theta[1] + rng.NormFloat64()}
	}), 100, simulator.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	noPrior := *res.Data
	noPrior.Prior = nil
	badNames := *res.Data
	badNames.XNames = []string{"only one"}
	for name, d := range map[string]*dataset.Dataset{"nil": nil, "no prior": &noPrior, "names": &badNames} {
		if _, err := trainer.TrainDataset(ctx, spec, d, trainer.Options{MaxEpochs: 1}); !errors.Is(err, trainer.ErrData) {
			t.Errorf("%s: %v, want ErrData", name, err)
		}
	}
}

func mustBox(t *testing.T) prior.Prior {
	p, err := prior.NewBoxUniform([]float64{0, 0}, []float64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
