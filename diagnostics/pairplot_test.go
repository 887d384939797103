package diagnostics_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/diagnostics"
)

// The legend sits in the empty upper-right tile, away from the data.
func TestPairPlotLegendAndTitle(t *testing.T) {
	red := color.NRGBA{R: 220, G: 40, B: 40, A: 70}
	sets := []diagnostics.SampleSet{
		{Label: "reference", Samples: normal(500, []float64{0, 0}, rand.NewPCG(1, 1)), Color: color.NRGBA{R: 60, G: 60, B: 60, A: 160}},
		{Label: "model", Samples: normal(500, []float64{0.5, 0}, rand.NewPCG(2, 2)), Color: red},
	}
	render := func(title string) image.Image {
		var buf bytes.Buffer
		if err := diagnostics.PairPlot(&buf, sets, diagnostics.PairPlotOptions{Names: []string{"a", "b"}, SizeCm: 10, Title: title}); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	count := func(img image.Image, r image.Rectangle, match func(r, g, b uint32) bool) int {
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				cr, cg, cb, _ := img.At(x, y).RGBA()
				if match(cr>>8, cg>>8, cb>>8) {
					n++
				}
			}
		}
		return n
	}
	opaqueRed := func(r, g, b uint32) bool { return r > 200 && g < 60 && b < 60 }

	img := render("observation 1, C2ST 0.55")
	bounds := img.Bounds()
	w, h := bounds.Dx(), bounds.Dy()
	// The upper-right quarter holds only the legend: its red marker is
	// drawn opaque there.
	if n := count(img, image.Rect(w/2+w/20, h/20, w, h/2-h/20), opaqueRed); n == 0 {
		t.Error("no legend marker in the upper-right tile")
	}
}
