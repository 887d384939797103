package models_test

import (
	"testing"

	"github.com/amortize/amortize/models"
)

func TestNewRefusesAbsurdSizes(t *testing.T) {
	for _, kind := range models.Kinds() {
		s, err := models.DefaultSpec(kind, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		s.Hidden = 1_000_000_000_000
		if _, err := models.New(s); err == nil {
			t.Errorf("%s: hidden 1e12 accepted", kind)
		}
		s, _ = models.DefaultSpec(kind, 2, 2)
		if _, err := models.New(s); err != nil {
			t.Errorf("%s: default spec refused: %v", kind, err)
		}
	}
	if _, err := models.New(models.Spec{Kind: "nope", ThetaDim: 1, XDim: 1}); err == nil {
		t.Error("unknown kind accepted")
	}
}

// TestDefaultSpecs pins each kind's defaults to sbi's builders, and checks
// that New fills zero sizes with them.
func TestDefaultSpecs(t *testing.T) {
	for _, c := range []struct {
		want   models.Spec
		normal int
		unif   int
	}{
		// sbi's MLPs: two hidden layers of 50 ReLU units.
		{models.Spec{Kind: "gaussian", ThetaDim: 3, XDim: 2, Hidden: 50, Layers: 2, Activation: "relu"}, 3, 0},
		// build_mdn: hidden_features 50, num_components 10, two ReLU layers.
		{models.Spec{Kind: "mdn", ThetaDim: 3, XDim: 2, Hidden: 50, Layers: 2, Components: 10, Activation: "relu"}, 3, 1},
		// build_maf: 5 transforms, 50 hidden, 2 blocks, tanh.
		{models.Spec{Kind: "maf", ThetaDim: 3, XDim: 2, Hidden: 50, Layers: 2, Transforms: 5, Activation: "tanh"}, 3, 0},
		// build_nsf: 5 transforms, 50 hidden, 2 blocks, 10 bins, tail bound 3, relu.
		{models.Spec{Kind: "nsf", ThetaDim: 3, XDim: 2, Hidden: 50, Layers: 2, Activation: "relu", Transforms: 5, Bins: 10, TailBound: 3}, 3, 0},
	} {
		got, err := models.DefaultSpec(c.want.Kind, 3, 2)
		if err != nil || got != c.want {
			t.Errorf("DefaultSpec(%s) = %+v, %v; want %+v", c.want.Kind, got, err, c.want)
			continue
		}
		e, err := models.New(models.Spec{Kind: c.want.Kind, ThetaDim: 3, XDim: 2})
		if err != nil || e.Spec() != c.want {
			t.Errorf("New(%s with zero sizes) = %v; want %+v", c.want.Kind, err, c.want)
			continue
		}
		if n, u := e.Noise(); n != c.normal || u != c.unif {
			t.Errorf("%s: Noise = (%d, %d), want (%d, %d)", c.want.Kind, n, u, c.normal, c.unif)
		}
	}
}
