package export

import (
	"math"

	"github.com/amortize/amortize/export/onnxpb"
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
// table of every bin's knots, sizes and derivatives, GatherElements picks the
// input's bin from it, and Where switches to the linear tails. The arithmetic
// inside the bin is models.RQSplineBinMap, shared with the other backends.
func (g *graph) RQSplineDeferred(x, widths, heights, derivs models.Tensor, inverse bool, c models.SplineConfig) (models.Tensor, models.SplineDet) {
	vx := tv(x)
	k, b := c.Bins, c.TailBound
	cat := g.Concat(
		g.unaryAttr("Softmax", widths, intAttr("axis", 1)),
		g.unaryAttr("Softmax", heights, intAttr("axis", 1)),
		derivs,
	)
	w, bias := splineTable(c, inverse)
	table := g.Add(g.MatMul(cat, g.Const(3*k-1, 7*k-1, w)), g.Const(1, 7*k-1, bias))

	// The bin is the number of interior knots the input reaches. Inputs
	// in the tails get an edge bin; Where discards what it computes for
	// them, even NaN, so unlike the composite no clamp is needed.
	knots := tv(g.Slice(table, 6*k, 7*k-1))
	reached := g.node("GreaterOrEqual", vx.rows, k-1, nil, vx.name, knots.name)
	count := g.node("Cast", vx.rows, k-1, []*onnxpb.AttributeProto{intAttr("to", int64(onnxpb.TensorProto_INT64))}, reached.name)
	bin := g.node("ReduceSum", vx.rows, 1, []*onnxpb.AttributeProto{intAttr("keepdims", 1)}, count.name, g.int64Init(1))
	cols := g.node("Add", vx.rows, 6, nil, bin.name, g.int64Init(0, int64(k), int64(2*k), int64(3*k), int64(4*k), int64(5*k)))
	picked := g.sized(g.node("GatherElements", vx.rows, 6, []*onnxpb.AttributeProto{intAttr("axis", 1)}, tv(table).name, cols.name), vx.dim)
	p := g.split(picked, 1, 1, 1, 1, 2)
	// Softplus only for the two picked derivatives: onnxruntime's is
	// slow, and these are 2 of every row's K−1.
	d := g.split(tv(g.Add(g.unary("Softplus", p[4]), g.Scalar(c.MinDerivative))), 1, 1)

	ys, det := models.RQSplineBinMap(g, x, p[0], p[1], p[2], p[3], d[0], d[1], inverse)
	inside := g.node("LessOrEqual", vx.rows, 1, nil, tv(g.Abs(x)).name, tv(g.Scalar(b)).name)
	inside.mask = true
	det.Inside = g.sized(inside, vx.dim)
	return g.sized(g.node("Where", vx.rows, 1, nil, inside.name, tv(ys).name, vx.name), vx.dim), det
}

// SplineLogDets implements models.DeferredSplineOps: every field of dets
// joined along the columns, one log|det| over them all, zero in the tails,
// summed per row.
func (g *graph) SplineLogDets(dets []models.SplineDet, inverse bool) models.Tensor {
	field := func(f func(models.SplineDet) models.Tensor) models.Tensor {
		ts := make([]models.Tensor, len(dets))
		for i, d := range dets {
			ts[i] = f(d)
		}
		return g.Concat(ts...)
	}
	all := models.SplineDet{
		Theta:  field(func(d models.SplineDet) models.Tensor { return d.Theta }),
		Delta:  field(func(d models.SplineDet) models.Tensor { return d.Delta }),
		D0:     field(func(d models.SplineDet) models.Tensor { return d.D0 }),
		D1:     field(func(d models.SplineDet) models.Tensor { return d.D1 }),
		Inside: field(func(d models.SplineDet) models.Tensor { return d.Inside }),
	}
	lad := tv(models.RQSplineLogDet(g, all, inverse))
	l := g.sized(g.node("Where", lad.rows, lad.cols, nil, tv(all.Inside).name, lad.name, tv(g.Scalar(0)).name), lad.dim)
	return g.SumCols(l)
}

// splineTable is the affine map, weights [3K−1, 7K−1] and bias [1, 7K−1]
// (row-major), from a spline's softmax widths, softmax heights and
// unnormalised interior derivatives to the table its bins are picked from:
// per bin the left x knot, width, left y knot, height, and the unnormalised
// derivatives at both knots (K columns each), then the K−1 interior knots
// the input is searched among (x knots, or y knots for the inverse). The
// knots are the composite's running sums of the floored sizes, pinned to ±B
// at both ends; the end derivatives are nflows' constant, whose softplus
// plus MinDerivative is 1.
func splineTable(c models.SplineConfig, inverse bool) (w, bias []float64) {
	k, b := c.Bins, c.TailBound
	n := 7*k - 1
	w, bias = make([]float64, (3*k-1)*n), make([]float64, n)
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
	// add adds sign times an affine function to column col.
	add := func(col int, sign float64, coef map[int]float64, c0 float64) {
		for r, v := range coef {
			w[r*n+col] += sign * v
		}
		bias[col] += sign * c0
	}
	for j := range k {
		for q, m := range []struct {
			off     int
			minSize float64
		}{{0, c.MinBinWidth}, {k, c.MinBinHeight}} {
			lo, lo0 := knot(m.off, j, m.minSize)
			hi, hi0 := knot(m.off, j+1, m.minSize)
			add(2*q*k+j, 1, lo, lo0)
			add((2*q+1)*k+j, 1, hi, hi0)
			add((2*q+1)*k+j, -1, lo, lo0)
		}
		for q, i := range []int{j, j + 1} {
			col := (4+q)*k + j
			if i == 0 || i == k {
				bias[col] = math.Log(math.Exp(1-c.MinDerivative) - 1)
				continue
			}
			w[(2*k+i-1)*n+col] = 1
		}
	}
	off, minSize := 0, c.MinBinWidth
	if inverse {
		off, minSize = k, c.MinBinHeight
	}
	for j := 1; j < k; j++ {
		coef, c0 := knot(off, j, minSize)
		add(6*k+j-1, 1, coef, c0)
	}
	return w, bias
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
