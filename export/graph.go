package export

import (
	"fmt"
	"math"
	"strconv"

	"github.com/amortize/amortize/format/onnxpb"
	"github.com/amortize/amortize/models"
	"google.golang.org/protobuf/proto"
)

// value is a tensor of the graph being built: a named ONNX value with a
// static column count. rows is 0 for a batch-sized value, else fixed; a
// batch-sized value's row count is the symbolic dimension dim. A value of
// dim obsRows has one row per observation (see observations).
type value struct {
	name string
	rows int
	cols int
	dim  string
}

func (v *value) perObs() bool { return v.dim == obsRows }

// graph implements models.Ops by appending ONNX nodes. Parameters and
// constants become float32 initializers, shared by every path that uses them.
type graph struct {
	nodes   []*onnxpb.NodeProto
	inits   []*onnxpb.TensorProto
	named   map[string]*value // initializers by name, so each is stored once
	weights map[string][]float32
	shapes  map[string][2]int
	next    int
	// batch lists the batch-sized values, whose symbolic shapes are
	// declared as value_info: with them onnxruntime's memory planner
	// knows which intermediate tensors have equal sizes.
	batch []*value
	// spread indexes the observation of each row of the path being built,
	// whose rows are the symbolic dimension rows; spreads caches the
	// per-observation values spread onto them.
	spread  string
	rows    string
	spreads map[string]*value
}

var _ models.Ops = (*graph)(nil)

func newGraph(e models.Network, weights map[string][]float32) *graph {
	g := &graph{named: map[string]*value{}, weights: weights, shapes: map[string][2]int{}}
	for _, p := range e.Params() {
		g.shapes[p.Name] = [2]int{p.Rows, p.Cols}
	}
	return g
}

func (g *graph) fresh(prefix string) string {
	g.next++
	return prefix + strconv.Itoa(g.next)
}

func tv(t models.Tensor) *value {
	v, ok := t.(*value)
	if !ok {
		panic(fmt.Sprintf("export: tensor of type %T", t))
	}
	return v
}

// node appends one node with a single output and returns that output.
func (g *graph) node(op string, rows, cols int, attrs []*onnxpb.AttributeProto, inputs ...string) *value {
	out := &value{name: g.fresh("t"), rows: rows, cols: cols}
	g.nodes = append(g.nodes, &onnxpb.NodeProto{
		OpType: proto.String(op), Name: proto.String(g.fresh(op + "_")),
		Input: inputs, Output: []string{out.name}, Attribute: attrs,
	})
	return out
}

// sized gives a node's output the symbolic row dimension of its batch-sized
// source and records it for value_info.
func (g *graph) sized(v *value, dim string) *value {
	if v.rows == 0 && dim != "" {
		v.dim = dim
		g.batch = append(g.batch, v)
	}
	return v
}

func (g *graph) floatInit(name string, rows, cols int, data []float32) *value {
	if v, ok := g.named[name]; ok {
		return v
	}
	g.inits = append(g.inits, &onnxpb.TensorProto{
		Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		Dims: []int64{int64(rows), int64(cols)}, FloatData: data,
	})
	v := &value{name: name, rows: rows, cols: cols}
	g.named[name] = v
	return v
}

// int64Init is a 1-D int64 initializer holding vals.
func (g *graph) int64Init(vals ...int64) string {
	return g.int64Const("i64", []int64{int64(len(vals))}, vals)
}

// int64Scalar is a 0-D int64 initializer.
func (g *graph) int64Scalar(v int64) string { return g.int64Const("i64s", nil, []int64{v}) }

// int64Const stores an int64 initializer once, named by prefix and values.
func (g *graph) int64Const(prefix string, dims, vals []int64) string {
	name := prefix
	for _, v := range vals {
		name += "_" + strconv.FormatInt(v, 10)
	}
	name = sanitize(name)
	if _, ok := g.named[name]; !ok {
		g.inits = append(g.inits, &onnxpb.TensorProto{
			Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
			Dims: dims, Int64Data: vals,
		})
		g.named[name] = &value{name: name}
	}
	return name
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '-' {
			b[i] = 'm'
		}
	}
	return string(b)
}

func (g *graph) Param(name string) models.Tensor {
	s, ok := g.shapes[name]
	if !ok {
		panic(fmt.Sprintf("export: unknown parameter %q", name))
	}
	return g.floatInit("param."+name, s[0], s[1], g.weights[name])
}

func (g *graph) Const(rows, cols int, data []float64) models.Tensor {
	f := make([]float32, len(data))
	for i, v := range data {
		f[i] = float32(v)
	}
	return g.floatInit(g.fresh("const"), rows, cols, f)
}

func (g *graph) Scalar(v float64) models.Tensor {
	name := "scalar_" + strconv.FormatUint(uint64(math.Float32bits(float32(v))), 16)
	return g.floatInit(name, 1, 1, []float32{float32(v)})
}

func (g *graph) Cols(a models.Tensor) int { return tv(a).cols }

func (g *graph) Slice(a models.Tensor, from, to int) models.Tensor {
	v := tv(a)
	if from < 0 || to > v.cols || from >= to {
		panic(fmt.Sprintf("export: slice [%d,%d) of %d columns", from, to, v.cols))
	}
	if from == 0 && to == v.cols {
		return v
	}
	return g.sized(g.node("Slice", v.rows, to-from, nil, v.name, g.int64Init(int64(from)), g.int64Init(int64(to)), g.int64Init(1)), v.dim)
}

func (g *graph) Concat(ts ...models.Tensor) models.Tensor {
	if len(ts) == 1 {
		return ts[0]
	}
	vs := make([]*value, len(ts))
	for i, t := range ts {
		vs[i] = tv(t)
	}
	g.align(vs)
	names := make([]string, len(vs))
	cols := 0
	for i, v := range vs {
		names[i] = v.name
		cols += v.cols
	}
	return g.sized(g.node("Concat", vs[0].rows, cols, []*onnxpb.AttributeProto{intAttr("axis", 1)}, names...), vs[0].dim)
}

func (g *graph) Reshape(a models.Tensor, cols int) models.Tensor {
	v := tv(a)
	if cols == v.cols {
		return v
	}
	// New rows would not be observations any more.
	v = g.spreadOut(v)
	rows := 0
	if v.rows != 0 {
		rows = v.rows * v.cols / cols
	}
	dim := ""
	if v.dim != "" {
		dim = fmt.Sprintf("%s_%dby%d", v.dim, v.cols, cols) // rows·cols/newcols
	}
	return g.sized(g.node("Reshape", rows, cols, nil, v.name, g.int64Init(-1, int64(cols))), dim)
}

func (g *graph) binary(op string, a, b models.Tensor) models.Tensor {
	v, dim := g.binaryNode(op, a, b)
	return g.sized(v, dim)
}

// binaryNode appends a broadcasting binary node and returns it with the
// symbolic row dimension of its batch-sized operand.
func (g *graph) binaryNode(op string, a, b models.Tensor) (*value, string) {
	vs := []*value{tv(a), tv(b)}
	g.align(vs)
	va, vb := vs[0], vs[1]
	rows := va.rows
	if rows == 1 {
		rows = vb.rows
	}
	cols := max(va.cols, vb.cols)
	if (va.cols != cols && va.cols != 1) || (vb.cols != cols && vb.cols != 1) {
		panic(fmt.Sprintf("export: %s cannot broadcast %d with %d columns", op, va.cols, vb.cols))
	}
	dim := va.dim
	if va.rows != 0 {
		dim = vb.dim
	}
	return g.node(op, rows, cols, nil, va.name, vb.name), dim
}

func (g *graph) Add(a, b models.Tensor) models.Tensor     { return g.binary("Add", a, b) }
func (g *graph) Sub(a, b models.Tensor) models.Tensor     { return g.binary("Sub", a, b) }
func (g *graph) Mul(a, b models.Tensor) models.Tensor     { return g.binary("Mul", a, b) }
func (g *graph) Div(a, b models.Tensor) models.Tensor     { return g.binary("Div", a, b) }
func (g *graph) Maximum(a, b models.Tensor) models.Tensor { return g.binary("Max", a, b) }
func (g *graph) Minimum(a, b models.Tensor) models.Tensor { return g.binary("Min", a, b) }

func (g *graph) Step(a, b models.Tensor) models.Tensor {
	ge, dim := g.binaryNode("GreaterOrEqual", a, b) // bool: no float value_info
	return g.sized(g.node("Cast", ge.rows, ge.cols, []*onnxpb.AttributeProto{intAttr("to", int64(onnxpb.TensorProto_FLOAT))}, ge.name), dim)
}

func (g *graph) MatMul(a, b models.Tensor) models.Tensor {
	va, vb := tv(a), tv(b)
	if va.cols != vb.rows {
		panic(fmt.Sprintf("export: matmul of %d columns by %d rows", va.cols, vb.rows))
	}
	return g.sized(g.node("MatMul", va.rows, vb.cols, nil, va.name, vb.name), va.dim)
}

func (g *graph) unary(op string, a models.Tensor) models.Tensor {
	v := tv(a)
	return g.sized(g.node(op, v.rows, v.cols, nil, v.name), v.dim)
}

func (g *graph) Neg(a models.Tensor) models.Tensor     { return g.unary("Neg", a) }
func (g *graph) Exp(a models.Tensor) models.Tensor     { return g.unary("Exp", a) }
func (g *graph) Log(a models.Tensor) models.Tensor     { return g.unary("Log", a) }
func (g *graph) Sqrt(a models.Tensor) models.Tensor    { return g.unary("Sqrt", a) }
func (g *graph) Abs(a models.Tensor) models.Tensor     { return g.unary("Abs", a) }
func (g *graph) Tanh(a models.Tensor) models.Tensor    { return g.unary("Tanh", a) }
func (g *graph) Sigmoid(a models.Tensor) models.Tensor { return g.unary("Sigmoid", a) }
func (g *graph) ReLU(a models.Tensor) models.Tensor    { return g.unary("Relu", a) }
func (g *graph) Square(a models.Tensor) models.Tensor  { return g.Mul(a, a) }

func (g *graph) SumCols(a models.Tensor) models.Tensor {
	v := tv(a)
	if v.cols == 1 {
		return v
	}
	return g.sized(g.node("ReduceSum", v.rows, 1, []*onnxpb.AttributeProto{intAttr("keepdims", 1)}, v.name, g.int64Init(1)), v.dim)
}

func (g *graph) MaxCols(a models.Tensor) models.Tensor {
	v := tv(a)
	if v.cols == 1 {
		return v
	}
	return g.sized(g.node("ReduceMax", v.rows, 1, []*onnxpb.AttributeProto{intsAttr("axes", 1), intAttr("keepdims", 1)}, v.name), v.dim)
}

// obsRows is the symbolic row count of per-observation values.
const obsRows = "obs_rows"

// obsPad is the multiple of rows per-observation values are padded to: the
// widest vector register's count of float32 values, as runtime.Lanes, so
// that element-wise kernels (Tanh among them) leave no scalar tail, which
// rounds differently, and an observation's values do not depend on how
// many others share its call.
const obsPad = 16

// observations returns the graph input x (for NLE: θ, the condition) as a
// per-observation value.
//
// Whatever an estimator computes from x alone (z-scoring, context layers,
// gates, a Gaussian's or mixture's whole network) is then computed once per
// observation rather than once per draw, and spread onto the draws' rows
// where it meets them. Its rows are padded to a multiple of obsPad; the
// padding rows are zeros, computed and never spread.
func (g *graph) observations(input string, xd int) *value {
	b := g.node("Shape", 0, 0, []*onnxpb.AttributeProto{intAttr("start", 0), intAttr("end", 1)}, input)
	// −B mod obsPad rows more: ONNX's integer Mod takes the divisor's sign.
	short := g.node("Mod", 0, 0, nil, g.node("Neg", 0, 0, nil, b.name).name, g.int64Init(obsPad))
	pads := g.node("Concat", 0, 0, []*onnxpb.AttributeProto{intAttr("axis", 0)}, g.int64Init(0, 0), short.name, g.int64Init(0))
	x := g.node("Pad", 0, 0, nil, input, pads.name)
	x.cols = xd
	return g.sized(x, obsRows)
}

// path starts the graph of a path whose rows are the first two axes of
// input [B,S,·], S rows per observation, with symbolic row count rows.
func (g *graph) path(input, rows string) {
	bs := g.node("Shape", 0, 0, []*onnxpb.AttributeProto{intAttr("start", 0), intAttr("end", 2)}, input)
	// Ones summed down the observations' axis, less one: each row's
	// observation.
	one := &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Dims: []int64{1}, Int64Data: []int64{1}}
	ones := g.node("ConstantOfShape", 0, 0, []*onnxpb.AttributeProto{tensorAttr("value", one)}, bs.name)
	obs := g.node("CumSum", 0, 0, nil, ones.name, g.int64Scalar(0))
	obs = g.node("Sub", 0, 0, nil, obs.name, g.int64Init(1))
	obs = g.node("Reshape", 0, 0, nil, obs.name, g.int64Init(-1))
	g.spread, g.rows, g.spreads = obs.name, rows, map[string]*value{}
}

// spreadOut returns v on the path's rows: a per-observation value's rows
// gathered, each once per row of its observation; any other value as it is.
func (g *graph) spreadOut(v *value) *value {
	if !v.perObs() {
		return v
	}
	if s, ok := g.spreads[v.name]; ok {
		return s
	}
	s := g.sized(g.node("Gather", 0, v.cols, []*onnxpb.AttributeProto{intAttr("axis", 0)}, v.name, g.spread), g.rows)
	g.spreads[v.name] = s
	return s
}

// align spreads the per-observation values among vs onto the path's rows
// when a value of the path's rows is among them too.
func (g *graph) align(vs []*value) {
	mixed := false
	for _, v := range vs {
		mixed = mixed || (v.rows == 0 && !v.perObs())
	}
	if !mixed {
		return
	}
	for i, v := range vs {
		vs[i] = g.spreadOut(v)
	}
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func tensorAttr(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

func intsAttr(name string, vs ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: vs}
}
