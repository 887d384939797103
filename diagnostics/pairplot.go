package diagnostics

import (
	"errors"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// SampleSet is one set of samples drawn in a pair plot. A Color with
// alpha below 255 lets the sets drawn before it show through its points;
// histograms use the color opaque.
type SampleSet struct {
	Label   string
	Samples *mat.Dense
	Color   color.Color
}

// PairPlotOptions configure PairPlot.
type PairPlotOptions struct {
	SizeCm float64 // side of the square image (default 14)
	Title  string  // drawn above the panels when not empty
}

// PairPlot writes a PNG pair plot of sample sets: histograms of each
// dimension on the diagonal and scatter plots of each pair below it, the
// habitual picture of a posterior (sbi's pairplot). Sets are drawn in
// order, so later ones lie on top. The legend sits in the empty upper
// corner, where it hides no data. At most maxPoints rows of each set are
// scattered, to keep the file readable.
func PairPlot(w io.Writer, names []string, sets []SampleSet, opts PairPlotOptions) error {
	const maxPoints = 3000
	if opts.SizeCm == 0 {
		opts.SizeCm = 14
	}
	if len(sets) == 0 {
		return errors.New("diagnostics: pair plot of no sample sets")
	}
	_, d := sets[0].Samples.Dims()
	if len(names) != d {
		return fmt.Errorf("diagnostics: %d names for %d dimensions", len(names), d)
	}
	for _, s := range sets {
		if _, c := s.Samples.Dims(); c != d {
			return fmt.Errorf("diagnostics: sample set %q has %d dimensions, want %d", s.Label, c, d)
		}
	}
	plots := make([][]*plot.Plot, d)
	for i := range d {
		plots[i] = make([]*plot.Plot, d)
		for j := 0; j <= i; j++ {
			p := plot.New()
			if i == d-1 {
				p.X.Label.Text = names[j]
			}
			if j == 0 && i > 0 {
				p.Y.Label.Text = names[i]
			}
			for _, s := range sets {
				// With one dimension there is no empty corner.
				if err := addPanel(p, s, i, j, maxPoints, d == 1); err != nil {
					return err
				}
			}
			plots[i][j] = p
		}
	}
	size := vg.Length(opts.SizeCm) * vg.Centimeter
	img := vgimg.PngCanvas{Canvas: vgimg.New(size, size)}
	dc := draw.New(img)
	if opts.Title != "" {
		sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, 11),
			XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
		dc.FillText(sty, vg.Point{X: size / 2, Y: size - vg.Points(4)}, opts.Title)
		dc = draw.Crop(dc, 0, 0, 0, -(sty.Height(opts.Title) + vg.Points(6)))
	}
	tiles := draw.Tiles{Rows: d, Cols: d, PadX: vg.Millimeter, PadY: vg.Millimeter,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range d {
		for j := 0; j <= i; j++ {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	if d > 1 {
		legend := plot.NewLegend()
		legend.Top = true
		for _, s := range sets {
			mark, err := plotter.NewScatter(plotter.XYs{{}})
			if err != nil {
				return err
			}
			mark.GlyphStyle = draw.GlyphStyle{Color: opaque(s.Color), Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			legend.Add(s.Label, mark)
		}
		legend.Draw(canvases[0][d-1])
	}
	_, err := img.WriteTo(w)
	return err
}

func addPanel(p *plot.Plot, s SampleSet, i, j, maxPoints int, legend bool) error {
	n, _ := s.Samples.Dims()
	if i == j {
		vals := make(plotter.Values, n)
		for r := range n {
			vals[r] = s.Samples.At(r, i)
		}
		h, err := plotter.NewHist(vals, 40)
		if err != nil {
			return err
		}
		h.Normalize(1)
		h.FillColor = nil
		h.LineStyle.Color = opaque(s.Color)
		p.Add(h)
		if legend {
			p.Legend.Add(s.Label, h)
			p.Legend.Top = true
		}
		return nil
	}
	m := min(n, maxPoints)
	xy := make(plotter.XYs, m)
	for r := range m {
		xy[r].X, xy[r].Y = s.Samples.At(r, j), s.Samples.At(r, i)
	}
	sc, err := plotter.NewScatter(xy)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = s.Color
	sc.GlyphStyle.Radius = vg.Points(0.6)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	p.Add(sc)
	return nil
}

// opaque is c without transparency.
func opaque(c color.Color) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = 255
	return n
}
