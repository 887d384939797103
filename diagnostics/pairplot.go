package diagnostics

import (
	"errors"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
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
	// Names label the dimensions; one per column of the samples.
	Names []string
	// SizeCm is the side of the square picture; 0 means 14.
	SizeCm float64
	// Format is PNG (the default) or SVG.
	Format string
	// Truth, when not nil, is marked on every panel: a line on the
	// histograms and a cross on the scatter plots (a ground-truth θ, or
	// the observation of a posterior predictive check).
	Truth []float64
	// Title, when not empty, is drawn above the panels.
	Title string
}

// PairPlot writes a pair plot of several sample sets overlaid, each in its
// colour: histograms of each dimension on the diagonal and scatter plots of
// each pair below it, the habitual picture of a posterior (sbi's pairplot).
// Sets are drawn in order, so later ones lie on top. The legend sits in the
// empty upper corner, where it hides no data. At most maxPoints rows of
// each set are scattered, to keep the file readable.
func PairPlot(w io.Writer, sets []SampleSet, opts PairPlotOptions) error {
	const maxPoints = 3000
	if len(sets) == 0 {
		return errors.New("diagnostics: pair plot of no sample sets")
	}
	if sets[0].Samples == nil || sets[0].Samples.IsEmpty() {
		return fmt.Errorf("%w: sample set %q", ErrEmptySamples, sets[0].Label)
	}
	_, d := sets[0].Samples.Dims()
	names := opts.Names
	if len(names) != d {
		return fmt.Errorf("diagnostics: %d names for %d dimensions", len(names), d)
	}
	if opts.Truth != nil && len(opts.Truth) != d {
		return fmt.Errorf("%w: truth has %d values for %d dimensions", ErrDimensionMismatch, len(opts.Truth), d)
	}
	for _, s := range sets {
		if s.Samples == nil || s.Samples.IsEmpty() {
			return fmt.Errorf("%w: sample set %q", ErrEmptySamples, s.Label)
		}
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
				if err := addPanel(p, s, i, j, maxPoints, d == 1); err != nil {
					return err
				}
			}
			if opts.Truth != nil {
				if err := addTruth(p, opts.Truth, i, j); err != nil {
					return err
				}
			}
			plots[i][j] = p
		}
	}
	f := figure{plots: plots, title: opts.Title}
	if d > 1 {
		legend := plot.NewLegend()
		legend.Top = true
		f.legend = &legend
		for _, s := range sets {
			mark, err := plotter.NewScatter(plotter.XYs{{}})
			if err != nil {
				return err
			}
			mark.GlyphStyle = draw.GlyphStyle{Color: opaque(s.Color), Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			f.legend.Add(s.Label, mark)
		}
	}
	size := opts.SizeCm
	if size == 0 {
		size = 14
	}
	return render(w, opts.Format, size, size, f)
}

// addTruth marks truth on panel (i, j): a vertical line on a histogram
// (i == j), a cross on a scatter plot.
func addTruth(p *plot.Plot, truth []float64, i, j int) error {
	if i == j {
		// Add has grown p's axes to the histograms' heights.
		l, err := addLine(p, []float64{truth[i], truth[i]}, []float64{0, p.Y.Max}, truthColor, false)
		if err != nil {
			return err
		}
		l.Width = vg.Points(1.5)
		return nil
	}
	// A cross inside a ring stays visible on a dense cloud of points.
	for _, shape := range []draw.GlyphDrawer{draw.CrossGlyph{}, draw.RingGlyph{}} {
		sc, err := plotter.NewScatter(plotter.XYs{{X: truth[j], Y: truth[i]}})
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color = truthColor
		sc.GlyphStyle.Radius = vg.Points(6)
		sc.GlyphStyle.Shape = shape
		p.Add(sc)
	}
	return nil
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
