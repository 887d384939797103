package export

import (
	"math"

	"github.com/amortize/amortize/format/onnxpb"
	"github.com/amortize/amortize/models"
	"google.golang.org/protobuf/proto"
)

var (
	_ models.SplineOps         = (*graph)(nil)
	_ models.DeferredSplineOps = (*graph)(nil)
)

// RQSpline implements models.SplineOps: the spline and its log|det|, which
// a flow of several splines rather defers.
func (g *graph) RQSpline(x, widths, heights, derivs models.Tensor, inverse bool, c models.SplineConfig) (models.Tensor, models.Tensor) {
	y, det := g.RQSplineDeferred(x, widths, heights, derivs, inverse, c)
	return y, g.SplineLogDets([]models.SplineDet{det}, inverse)
}

// RQSplineDeferred implements models.DeferredSplineOps with ONNX's own
// selection ops.
//
// onnxruntime pays a fixed cost per node on every call, and every node makes
// a full pass over its input, so the composite over models.Ops (one-hot bin
// masks, a product and a sum per picked value: about 110 nodes) is written
// here in about 40: one product maps the softmax and softplus outputs to a
// table of every bin's knots, sizes and derivatives, and GatherElements
// picks the input's bin from it. The arithmetic inside the bin is
// models.RQSplineBinMap, shared with the other backends.
//
// The linear tails are two more bins, identity bins anchored at ±B and
// tailWidth wide, rather than a mask and Where: both directions' formulas
// give them y = x with log|det| 0, computed without cancellation for |x|
// far below tailWidth (θ = (x ∓ B)/tailWidth is then tiny), so the tails
// come out as the identity up to float32 rounding and no node is spent on
// them.
func (g *graph) RQSplineDeferred(x, widths, heights, derivs models.Tensor, inverse bool, c models.SplineConfig) (models.Tensor, models.SplineDet) {
	vx := tv(x)
	k := c.Bins
	cat := g.Concat(
		g.unaryAttr("Softmax", widths, intAttr("axis", 1)),
		g.unaryAttr("Softmax", heights, intAttr("axis", 1)),
		derivs,
	)
	t := newTableLayout(c, inverse)
	table := tv(g.Add(g.MatMul(cat, g.Const(3*k-1, t.n, t.w)), g.Const(1, t.n, t.bias)))
	// A table from x alone (θ of one dimension) is built per observation.
	vs := []*value{vx, table}
	g.align(vs)
	vx, table = vs[0], vs[1]

	// The bin is the number of knots the input reaches, 0 below −B and
	// K+1 from B on: the tail bins.
	nk := t.n - len(t.cols)*t.bins
	knots := tv(g.Slice(table, len(t.cols)*t.bins, t.n))
	reached := g.node("GreaterOrEqual", vx.rows, nk, nil, vx.name, knots.name)
	count := g.node("Cast", vx.rows, nk, []*onnxpb.AttributeProto{intAttr("to", int64(onnxpb.TensorProto_INT64))}, reached.name)
	bin := g.node("ReduceSum", vx.rows, 1, []*onnxpb.AttributeProto{intAttr("keepdims", 1)}, count.name, g.int64Init(1))
	offsets, sizes := make([]int64, len(t.cols)), make([]int64, len(t.cols)-1)
	for q := range t.cols {
		offsets[q] = int64(q * t.bins)
	}
	for q := range sizes {
		sizes[q] = 1
	}
	sizes[len(sizes)-1] = 2 // both derivatives, for one softplus
	at := g.node("Add", vx.rows, len(t.cols), nil, bin.name, g.int64Init(offsets...))
	picked := g.sized(g.node("GatherElements", vx.rows, len(t.cols), []*onnxpb.AttributeProto{intAttr("axis", 1)}, table.name, at.name), vx.dim)
	p := g.split(picked, sizes...)
	// Softplus only for the two picked derivatives: onnxruntime's is
	// slow, and these are 2 of every row's K−1.
	d := g.split(tv(g.Add(g.unary("Softplus", p[len(p)-1]), g.Scalar(c.MinDerivative))), 1, 1)
	sb := models.SplineBin{D0: d[0], D1: d[1]}
	field := map[int]*models.Tensor{colX0: &sb.X0, colW: &sb.W, colHalfW: &sb.HalfW, colY0: &sb.Y0, colY1: &sb.Y1, colH: &sb.H}
	for q, kind := range t.cols[:len(t.cols)-2] {
		*field[kind] = p[q]
	}

	return models.RQSplineBinMap(g, x, sb, inverse)
}

// SplineLogDets implements models.DeferredSplineOps: every field of dets
// joined along the columns, one log|det| over them all, summed per row.
func (g *graph) SplineLogDets(dets []models.SplineDet, inverse bool) models.Tensor {
	field := func(f func(models.SplineDet) models.Tensor) models.Tensor {
		ts := make([]models.Tensor, len(dets))
		for i, d := range dets {
			ts[i] = f(d)
		}
		return g.Concat(ts...)
	}
	all := models.SplineDet{
		Theta:    field(func(d models.SplineDet) models.Tensor { return d.Theta }),
		TwoDelta: field(func(d models.SplineDet) models.Tensor { return d.TwoDelta }),
		D0:       field(func(d models.SplineDet) models.Tensor { return d.D0 }),
		D1:       field(func(d models.SplineDet) models.Tensor { return d.D1 }),
	}
	return g.SumCols(models.RQSplineLogDet(g, all, inverse))
}

// Columns of a spline table: per bin, the left x knot, width, half width,
// left and right y knots, height and the unnormalised derivatives at both
// knots.
const (
	colX0 = iota
	colW
	colHalfW
	colY0
	colY1
	colH
	colR0
	colR1
)

// tailWidth is the width of the tail bins: a power of two, so that their
// slope is exactly 1 and θ·tailWidth is exact, and wide enough that the
// inputs a flow meets stay far inside.
const tailWidth = 1 << 24

// tableLayout is a spline table: the affine map, weights w [3K−1, n] and
// bias [1, n] (row-major), from a spline's softmax widths, softmax heights
// and unnormalised interior derivatives to the table its bins are picked
// from: a block of bins columns for each of cols, then the knots the input
// is searched among (x knots, or y knots for the inverse).
//
// The knots are the composite's running sums of the floored sizes, pinned
// to ±B at both ends; the end derivatives are nflows' constant, whose
// softplus plus MinDerivative is 1. The K bins come with the tail bins,
// first and last, and are searched among all K+1 knots.
type tableLayout struct {
	cols    []int
	bins, n int
	w, bias []float64
}

func newTableLayout(c models.SplineConfig, inverse bool) *tableLayout {
	k, b := c.Bins, c.TailBound
	t := &tableLayout{cols: []int{colX0, colW, colY0, colH, colR0, colR1}, bins: k + 2}
	if inverse {
		t.cols = []int{colX0, colW, colHalfW, colY0, colY1, colH, colR0, colR1}
	}
	t.n = len(t.cols)*t.bins + k + 1
	t.w, t.bias = make([]float64, (3*k-1)*t.n), make([]float64, t.n)
	// knot returns knot j of the sizes at rows [off, off+K) as an affine
	// function: coefficients per row and a constant.
	knot := func(off, j int, minSize float64) (map[int]float64, float64) {
		coef := map[int]float64{}
		switch j {
		case 0:
			return coef, -b
		case k:
			return coef, b
		}
		for i := range j {
			coef[off+i] = 2 * b * (1 - minSize*float64(k))
		}
		return coef, -b + 2*b*minSize*float64(j)
	}
	// add adds scale times knot j of the sizes at off to column col.
	add := func(col int, scale float64, off, j int, minSize float64) {
		coef, c0 := knot(off, j, minSize)
		for r, v := range coef {
			t.w[r*t.n+col] += scale * v
		}
		t.bias[col] += scale * c0
	}
	endRaw := math.Log(math.Exp(1-c.MinDerivative) - 1)
	xs, ys := c.MinBinWidth, c.MinBinHeight
	for q, kind := range t.cols {
		for jb := range t.bins {
			col := q*t.bins + jb
			j := jb - 1 // the interior bin
			if j < 0 || j == k {
				a := -b
				if j == k {
					a = b
				}
				t.bias[col] = tailColumn(kind, a, endRaw)
				continue
			}
			switch kind {
			case colX0:
				add(col, 1, 0, j, xs)
			case colW, colHalfW:
				f := 1.0
				if kind == colHalfW {
					f = 0.5
				}
				add(col, f, 0, j+1, xs)
				add(col, -f, 0, j, xs)
			case colY0:
				add(col, 1, k, j, ys)
			case colY1:
				add(col, 1, k, j+1, ys)
			case colH:
				add(col, 1, k, j+1, ys)
				add(col, -1, k, j, ys)
			case colR0, colR1:
				i := j + kind - colR0 // the knot
				if i == 0 || i == k {
					t.bias[col] = endRaw
					continue
				}
				t.w[(2*k+i-1)*t.n+col] = 1
			}
		}
	}
	off, minSize := 0, xs
	if inverse {
		off, minSize = k, ys
	}
	for j := range k + 1 {
		add(len(t.cols)*t.bins+j, 1, off, j, minSize)
	}
	return t
}

// tailColumn is column kind of the tail bin anchored at a = ±B: the
// identity on [a, a + tailWidth], with end derivatives 1.
func tailColumn(kind int, a, endRaw float64) float64 {
	switch kind {
	case colX0, colY0:
		return a
	case colW, colH:
		return tailWidth
	case colHalfW:
		return tailWidth / 2
	case colY1:
		return a + tailWidth
	}
	return endRaw
}

// unaryAttr is a one-input node with attributes.
func (g *graph) unaryAttr(op string, a models.Tensor, attrs ...*onnxpb.AttributeProto) models.Tensor {
	v := tv(a)
	return g.sized(g.node(op, v.rows, v.cols, attrs, v.name), v.dim)
}

// split cuts a into pieces of the given column counts: one node, one
// output per piece.
func (g *graph) split(a *value, cols ...int64) []models.Tensor {
	outs := make([]string, len(cols))
	vals := make([]models.Tensor, len(cols))
	for i, c := range cols {
		v := g.sized(&value{name: g.fresh("t"), rows: a.rows, cols: int(c)}, a.dim)
		outs[i], vals[i] = v.name, v
	}
	g.nodes = append(g.nodes, &onnxpb.NodeProto{
		OpType: proto.String("Split"), Name: proto.String(g.fresh("Split_")),
		Input: []string{a.name, g.int64Init(cols...)}, Output: outs,
		Attribute: []*onnxpb.AttributeProto{intAttr("axis", 1)},
	})
	return vals
}
