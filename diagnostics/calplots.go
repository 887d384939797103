package diagnostics

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot formats.
const (
	PNG = "png"
	SVG = "svg"
)

var (
	bandColor  = color.RGBA{R: 200, G: 200, B: 215, A: 255}
	curveColor = color.RGBA{R: 200, G: 40, B: 40, A: 255}
	truthColor = color.RGBA{R: 20, G: 20, B: 20, A: 255}
	gridColor  = color.RGBA{R: 90, G: 90, B: 90, A: 255}
)

// render draws the grid of plots (nil cells stay empty) on a canvas of
// the given size in cm and writes it to w as PNG or SVG.
func render(w io.Writer, format string, widthCm, heightCm float64, f figure) error {
	plots := f.plots
	width, height := vg.Length(widthCm)*vg.Centimeter, vg.Length(heightCm)*vg.Centimeter
	var (
		c  vg.CanvasWriterTo
		dc draw.Canvas
	)
	switch format {
	case PNG, "":
		img := vgimg.PngCanvas{Canvas: vgimg.New(width, height)}
		c, dc = img, draw.New(img)
	case SVG:
		svg := vgsvg.New(width, height)
		c, dc = svg, draw.New(svg)
	default:
		return fmt.Errorf("%w: plot format %q (png or svg)", ErrInvalidOption, format)
	}
	if f.title != "" {
		sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, 11),
			XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
		dc.FillText(sty, vg.Point{X: width / 2, Y: height - vg.Points(4)}, f.title)
		dc = draw.Crop(dc, 0, 0, 0, -(sty.Height(f.title) + vg.Points(6)))
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Millimeter, PadY: vg.Millimeter,
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	canvases := plot.Align(plots, tiles, dc)
	for i, row := range plots {
		for j, p := range row {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	if f.legend != nil {
		f.legend.Draw(canvases[0][len(plots[0])-1])
	}
	_, err := c.WriteTo(w)
	return err
}

// figure is a grid of plots (nil cells stay empty) with an optional title
// above and a legend drawn in the upper right cell, which a pair plot
// leaves empty.
type figure struct {
	plots  [][]*plot.Plot
	title  string
	legend *plot.Legend
}

// bandPolygon is the filled region between lower and upper over x.
func bandPolygon(x, lower, upper []float64) (*plotter.Polygon, error) {
	pts := make(plotter.XYs, 0, 2*len(x))
	for i, v := range x {
		pts = append(pts, plotter.XY{X: v, Y: lower[i]})
	}
	for i := len(x) - 1; i >= 0; i-- {
		pts = append(pts, plotter.XY{X: x[i], Y: upper[i]})
	}
	poly, err := plotter.NewPolygon(pts)
	if err != nil {
		return nil, err
	}
	poly.Color = bandColor
	poly.LineStyle.Width = 0
	return poly, nil
}

// addLine adds a line through (x, y) in colour c, dashed if asked.
func addLine(p *plot.Plot, x, y []float64, c color.Color, dashed bool) (*plotter.Line, error) {
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	l.Color = c
	if dashed {
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		l.Width = vg.Points(0.7)
	} else {
		l.Width = vg.Points(1.2)
	}
	p.Add(l)
	return l, nil
}

// WriteSBCPlot draws SBC's two pictures for each coordinate: the rank
// histogram with the pointwise 99% binomial band of each bin (Talts et
// al.), and the difference between the ECDF of the normalised ranks and
// the uniform CDF with the simultaneous 1−α band (Säilynoja et al.).
// names label the coordinates (nil: theta_1, …); format is PNG or SVG.
func WriteSBCPlot(w io.Writer, res *SBCResult, names []string, format string) error {
	dim := len(res.Dims)
	if dim == 0 {
		return fmt.Errorf("%w: SBC result without coordinates", ErrEmptySamples)
	}
	plots := make([][]*plot.Plot, dim)
	widths := binWidths(res.Draws, res.Bins)
	for j := range dim {
		name := coordName(names, j)
		// Rank histogram.
		h := plot.New()
		h.Title.Text = name + ": rank histogram"
		h.X.Label.Text = "rank"
		h.Y.Label.Text = "count"
		counts := make([]float64, res.Bins)
		for _, r := range res.Ranks[j] {
			counts[rankBin(r, res.Draws, res.Bins)]++
		}
		var (
			bins       []plotter.HistogramBin
			edge       float64
			xs, lo, hi []float64
		)
		for b, wd := range widths {
			bin := distuv.Binomial{N: float64(res.N), P: float64(wd) / float64(res.Draws+1)}
			l := float64(quantileCount(res.N, func(c int) bool { return bin.CDF(float64(c)) >= 0.005 }))
			u := float64(quantileCount(res.N, func(c int) bool { return bin.CDF(float64(c)) >= 0.995 }))
			next := edge + float64(wd)
			bins = append(bins, plotter.HistogramBin{Min: edge, Max: next, Weight: counts[b]})
			xs, lo, hi = append(xs, edge, next), append(lo, l, l), append(hi, u, u)
			edge = next
		}
		poly, err := bandPolygon(xs, lo, hi)
		if err != nil {
			return err
		}
		h.Add(poly)
		hist := &plotter.Histogram{Bins: bins, Width: 1, LineStyle: plotter.DefaultLineStyle}
		hist.LineStyle.Color = curveColor
		h.Add(hist)

		// ECDF difference.
		e := plot.New()
		e.Title.Text = name + ": ECDF − uniform"
		e.X.Label.Text = "normalised rank"
		e.Y.Label.Text = "ECDF difference"
		if err := addECDFDiff(e, res.U[j], res.Band); err != nil {
			return err
		}
		plots[j] = []*plot.Plot{h, e}
	}
	return render(w, format, 16, 6*float64(dim), figure{plots: plots})
}

// addECDFDiff draws F̂(z) − z of u with the band's limits minus z.
func addECDFDiff(p *plot.Plot, u []float64, band *ECDFBand) error {
	z := append(append([]float64{0}, band.Z...), 1)
	lo := append(append([]float64{0}, band.Lower...), 0)
	hi := append(append([]float64{0}, band.Upper...), 0)
	for i := 1; i < len(z)-1; i++ {
		lo[i] -= z[i]
		hi[i] -= z[i]
	}
	poly, err := bandPolygon(z, lo, hi)
	if err != nil {
		return err
	}
	p.Add(poly)
	grid := make([]float64, 201)
	for i := range grid {
		grid[i] = float64(i) / 200
	}
	f := ecdfAt(u, grid)
	for i := range f {
		f[i] -= grid[i]
	}
	if _, err := addLine(p, grid, make([]float64, len(grid)), gridColor, true); err != nil {
		return err
	}
	_, err = addLine(p, grid, f, curveColor, false)
	return err
}

// WriteCoveragePlot draws the expected coverage curve against the nominal
// level, with the diagonal and the simultaneous 1−α band around it.
func WriteCoveragePlot(w io.Writer, res *CoverageResult, format string) error {
	p := plot.New()
	p.Title.Text = "Expected coverage (HPD regions)"
	p.X.Label.Text = "credibility level"
	p.Y.Label.Text = "empirical coverage"
	if err := addCurveWithBand(p, res.Nominal, res.Empirical, res.Band); err != nil {
		return err
	}
	return render(w, format, 12, 12, figure{plots: [][]*plot.Plot{{p}}})
}

// WriteTARPPlot draws TARP's expected coverage probability against the
// credibility level, with the diagonal and the simultaneous band.
func WriteTARPPlot(w io.Writer, res *TARPResult, format string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("TARP (ATC %+.3f)", res.ATC)
	p.X.Label.Text = "credibility level"
	p.Y.Label.Text = "expected coverage"
	if err := addCurveWithBand(p, res.Levels, res.ECP, res.Band); err != nil {
		return err
	}
	return render(w, format, 12, 12, figure{plots: [][]*plot.Plot{{p}}})
}

func addCurveWithBand(p *plot.Plot, x, y []float64, band *ECDFBand) error {
	z := append(append([]float64{0}, band.Z...), 1)
	lo := append(append([]float64{0}, band.Lower...), 1)
	hi := append(append([]float64{0}, band.Upper...), 1)
	poly, err := bandPolygon(z, lo, hi)
	if err != nil {
		return err
	}
	p.Add(poly)
	if _, err := addLine(p, []float64{0, 1}, []float64{0, 1}, gridColor, true); err != nil {
		return err
	}
	l, err := addLine(p, x, y, curveColor, false)
	if err != nil {
		return err
	}
	p.Legend.Add("estimate", l)
	p.Legend.Add(fmt.Sprintf("%g%% simultaneous band", 100*(1-band.Alpha)), poly)
	p.Legend.Top = true
	p.Legend.Left = true
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	return nil
}

// WriteLC2STPlot draws the null distribution of the local C2ST statistic
// with the statistic at x_o marked.
func WriteLC2STPlot(w io.Writer, res *LC2STResult, format string) error {
	if len(res.Null) == 0 {
		return fmt.Errorf("%w: L-C2ST result without null statistics", ErrEmptySamples)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Local C2ST at x_o (p = %.3g)", res.PValue)
	p.X.Label.Text = "statistic: mean (d − 1/2)²"
	p.Y.Label.Text = "null classifiers"
	h, err := plotter.NewHist(plotter.Values(res.Null), max(5, len(res.Null)/4))
	if err != nil {
		return err
	}
	h.FillColor = bandColor
	h.LineStyle.Color = gridColor
	p.Add(h)
	l, err := addLine(p, []float64{res.Statistic, res.Statistic}, []float64{0, p.Y.Max}, curveColor, false)
	if err != nil {
		return err
	}
	p.Legend.Add("permutation null", h)
	p.Legend.Add("statistic at x_o", l)
	p.Legend.Top = true
	return render(w, format, 12, 9, figure{plots: [][]*plot.Plot{{p}}})
}
