package diagnostics_test

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/diagnostics"
)

// TestCalibrationPlots draws every plot in both formats: a decodable PNG
// of the expected size, an SVG document; an unknown format is refused.
func TestCalibrationPlots(t *testing.T) {
	ctx := context.Background()
	theta, x := linearPairs(t, 200)
	opts := diagnostics.CheckOptions{Draws: 50}
	post := gaussPosterior{Scale: 0.8}
	sbc, err := diagnostics.SBC(ctx, post, theta.Slice(0, 200, 0, 2).(*mat.Dense), x.Slice(0, 200, 0, 2).(*mat.Dense), opts)
	if err != nil {
		t.Fatal(err)
	}
	cov, err := diagnostics.ExpectedCoverage(ctx, post, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	tarp, err := diagnostics.TARP(ctx, post, theta, x, opts)
	if err != nil {
		t.Fatal(err)
	}
	draws, err := post.SampleEach(ctx, x.Slice(0, 1, 0, 10).(*mat.Dense), 500, rand.NewPCG(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c"}
	sub := mat.DenseCopyOf(draws[0].Slice(0, 500, 0, 3))
	lc := &diagnostics.LC2STResult{Statistic: 0.01, Null: []float64{0.001, 0.002, 0.004, 0.003, 0.02}, PValue: 1. / 3}
	plots := map[string]struct {
		draw          func(*bytes.Buffer, string) error
		width, height int // pixels at gonum's default 96 dpi
	}{
		"sbc":      {func(w *bytes.Buffer, f string) error { return diagnostics.WriteSBCPlot(w, sbc, nil, f) }, 605, 454},
		"coverage": {func(w *bytes.Buffer, f string) error { return diagnostics.WriteCoveragePlot(w, cov, f) }, 454, 454},
		"tarp":     {func(w *bytes.Buffer, f string) error { return diagnostics.WriteTARPPlot(w, tarp, f) }, 454, 454},
		"lc2st":    {func(w *bytes.Buffer, f string) error { return diagnostics.WriteLC2STPlot(w, lc, f) }, 454, 340},
		"pair": {func(w *bytes.Buffer, f string) error {
			return diagnostics.PairPlot(w, []diagnostics.SampleSet{{Label: "q", Samples: sub, Color: color.Black}},
				diagnostics.PairPlotOptions{Names: names, Format: f, Truth: theta.RawRowView(0)[:3], SizeCm: 10})
		}, 378, 378},
	}
	for name, p := range plots {
		var b bytes.Buffer
		if err := p.draw(&b, diagnostics.PNG); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		img, err := png.Decode(&b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s := img.Bounds().Size(); s.X != p.width || s.Y != p.height {
			t.Errorf("%s: %v pixels, want %d×%d", name, s, p.width, p.height)
		}
		b.Reset()
		if err := p.draw(&b, diagnostics.SVG); err != nil || !strings.Contains(b.String(), "<svg") {
			t.Errorf("%s: SVG %v, %.60q", name, err, b.String())
		}
		if err := p.draw(&b, "gif"); !errors.Is(err, diagnostics.ErrInvalidOption) {
			t.Errorf("%s: format gif gave %v", name, err)
		}
	}
	err = diagnostics.PairPlot(&bytes.Buffer{}, []diagnostics.SampleSet{{Label: "q", Samples: sub}},
		diagnostics.PairPlotOptions{Names: names, Truth: []float64{1}})
	if !errors.Is(err, diagnostics.ErrDimensionMismatch) {
		t.Errorf("truth of the wrong length: %v", err)
	}
}
