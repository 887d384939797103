package trainer

import (
	"fmt"

	"github.com/amortize/amortize/models"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// weights holds an estimator's parameters in one flat slice of the
// training dtype ([]float32 or []float64). Each parameter's tensor is a view
// of that slice, so every graph built on the same weights reads the same
// values and the optimiser updates all of them in one pass.
type weights struct {
	specs []models.ParamSpec
	flat  any
	dense []*tensor.Dense
	index map[string]int
}

// newWeights lays out the estimator's parameters with the given values
// (row-major, as models.InitParams returns them) in dtype Float32 or
// Float64.
func newWeights(e models.Network, values map[string][]float64, dtype tensor.Dtype) (*weights, error) {
	specs := e.Params()
	size := 0
	for _, p := range specs {
		v, ok := values[p.Name]
		if !ok {
			return nil, fmt.Errorf("trainer: missing parameter %q", p.Name)
		}
		if len(v) != p.Size() {
			return nil, fmt.Errorf("trainer: parameter %q has %d values, want %d×%d", p.Name, len(v), p.Rows, p.Cols)
		}
		size += p.Size()
	}
	w := &weights{specs: specs, index: make(map[string]int, len(specs))}
	switch dtype {
	case tensor.Float32:
		w.flat = make([]float32, size)
	case tensor.Float64:
		w.flat = make([]float64, size)
	default:
		return nil, fmt.Errorf("trainer: dtype %v (want Float32 or Float64)", dtype)
	}
	off := 0
	for i, p := range specs {
		var backing any
		switch f := w.flat.(type) {
		case []float32:
			s := f[off : off+p.Size() : off+p.Size()]
			for j, v := range values[p.Name] {
				s[j] = float32(v)
			}
			backing = s
		case []float64:
			s := f[off : off+p.Size() : off+p.Size()]
			copy(s, values[p.Name])
			backing = s
		}
		w.dense = append(w.dense, tensor.New(tensor.WithShape(p.Rows, p.Cols), tensor.WithBacking(backing)))
		w.index[p.Name] = i
		off += p.Size()
	}
	return w, nil
}

// The training runs on graph, the gorgonia implementation of models.Ops
// (and of models.SplineOps). It builds its graphs from custom gorgonia ops
// rather than gorgonia's own: each owns its output buffer, never aliases
// or overwrites an input, broadcasts natively and has a fused gradient. That sidesteps the hazards of gorgonia v0.9.18 found
// while evaluating it (Reshape aliasing inputs, #511; stale node values
// after RunAll, #576; a wrong LogSumExp; an allocating, element-wise
// clipping AdamSolver) and makes a training step allocate little. Values
// are read out while the tape runs, never from nodes afterwards.
//
// graph implements models.Ops by adding nodes to a gorgonia expression
// graph built for one batch size. Its tensors are *gorgonia.Node values of
// shape [rows, cols]; estimator code only ever passes them back.
//
// Like every models.Ops, a graph panics on misuse (shape mismatch, unknown
// parameter): that is a bug in estimator code, never bad input.
type graph struct {
	g      *gorgonia.ExprGraph
	dtype  tensor.Dtype
	w      *weights
	params []*gorgonia.Node
	inputs int // names constants and inputs uniquely: gorgonia merges inputs by name
}

var _ models.Ops = (*graph)(nil)

// newGraph starts a graph on w: its parameters are bound to w's tensors,
// shared, not copied.
func newGraph(w *weights) *graph {
	g := &graph{g: gorgonia.NewGraph(), w: w, dtype: tensor.Float64}
	if _, ok := w.flat.([]float32); ok {
		g.dtype = tensor.Float32
	}
	// Parameters enter in declaration order so that node IDs, and with them
	// the order gradients are summed in, are the same on every build.
	for i, p := range w.specs {
		g.params = append(g.params, gorgonia.NewMatrix(g.g, g.dtype, gorgonia.WithShape(p.Rows, p.Cols),
			gorgonia.WithName(p.Name), gorgonia.WithValue(w.dense[i])))
	}
	return g
}

// Input adds a rows×cols input whose values are read from the returned
// tensor's backing slice at every run; fill it in place.
func (g *graph) Input(rows, cols int) (models.Tensor, *tensor.Dense) {
	v := tensor.New(tensor.Of(g.dtype), tensor.WithShape(rows, cols))
	return g.input(v), v
}

func (g *graph) input(v *tensor.Dense) *gorgonia.Node {
	g.inputs++
	s := v.Shape()
	return gorgonia.NewMatrix(g.g, g.dtype, gorgonia.WithShape(s[0], s[1]),
		gorgonia.WithName(fmt.Sprintf("input%d", g.inputs)), gorgonia.WithValue(v))
}

func node(t models.Tensor) *gorgonia.Node {
	n, ok := t.(*gorgonia.Node)
	if !ok {
		panic(fmt.Sprintf("trainer: tensor of type %T", t))
	}
	return n
}

func shapeOf(t models.Tensor) (rows, cols int) {
	s := node(t).Shape()
	return s[0], s[1]
}

func (g *graph) Param(name string) models.Tensor {
	i, ok := g.w.index[name]
	if !ok {
		panic(fmt.Sprintf("trainer: unknown parameter %q", name))
	}
	return g.params[i]
}

func (g *graph) Const(rows, cols int, data []float64) models.Tensor {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("trainer: constant %d×%d with %d values", rows, cols, len(data)))
	}
	var backing any
	if g.dtype == tensor.Float32 {
		f := make([]float32, len(data))
		for i, v := range data {
			f[i] = float32(v)
		}
		backing = f
	} else {
		backing = append([]float64(nil), data...)
	}
	// Constants are inputs, not gorgonia constants: gorgonia merges
	// constants by their printed name, which can collide for large tensors.
	return g.input(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(backing)))
}

func (g *graph) Scalar(v float64) models.Tensor { return g.Const(1, 1, []float64{v}) }

func (g *graph) Cols(a models.Tensor) int { _, c := shapeOf(a); return c }

func (g *graph) Slice(a models.Tensor, from, to int) models.Tensor {
	r, c := shapeOf(a)
	if from < 0 || to > c || from >= to {
		panic(fmt.Sprintf("trainer: slice [%d,%d) of %d columns", from, to, c))
	}
	if from == 0 && to == c {
		return a
	}
	return apply(opSlice, [2]int{from, to}, tensor.Shape{r, to - from}, node(a))
}

func (g *graph) Concat(ts ...models.Tensor) models.Tensor {
	if len(ts) == 0 {
		panic("trainer: concat of nothing")
	}
	if len(ts) == 1 {
		return ts[0]
	}
	r, _ := shapeOf(ts[0])
	cols := 0
	ns := make([]*gorgonia.Node, len(ts))
	for i, t := range ts {
		tr, tc := shapeOf(t)
		if tr != r {
			panic(fmt.Sprintf("trainer: concat of %d and %d rows", r, tr))
		}
		cols += tc
		ns[i] = node(t)
	}
	return apply(opConcat, [2]int{}, tensor.Shape{r, cols}, ns...)
}

func (g *graph) Reshape(a models.Tensor, cols int) models.Tensor {
	r, c := shapeOf(a)
	if cols < 1 || (r*c)%cols != 0 {
		panic(fmt.Sprintf("trainer: reshape %d×%d to %d columns", r, c, cols))
	}
	if cols == c {
		return a
	}
	return apply(opReshape, [2]int{}, tensor.Shape{r * c / cols, cols}, node(a))
}

// binary adds an elementwise op with numpy broadcasting.
func (g *graph) binary(code opcode, a, b models.Tensor) models.Tensor {
	ar, ac := shapeOf(a)
	br, bc := shapeOf(b)
	r, c := max(ar, br), max(ac, bc)
	if (ar != r && ar != 1) || (br != r && br != 1) || (ac != c && ac != 1) || (bc != c && bc != 1) {
		panic(fmt.Sprintf("trainer: %s cannot broadcast %d×%d with %d×%d", opNames[code], ar, ac, br, bc))
	}
	return apply(code, [2]int{}, tensor.Shape{r, c}, node(a), node(b))
}

func (g *graph) Add(a, b models.Tensor) models.Tensor     { return g.binary(opAdd, a, b) }
func (g *graph) Sub(a, b models.Tensor) models.Tensor     { return g.binary(opSub, a, b) }
func (g *graph) Mul(a, b models.Tensor) models.Tensor     { return g.binary(opMul, a, b) }
func (g *graph) Div(a, b models.Tensor) models.Tensor     { return g.binary(opDiv, a, b) }
func (g *graph) Maximum(a, b models.Tensor) models.Tensor { return g.binary(opMax, a, b) }
func (g *graph) Minimum(a, b models.Tensor) models.Tensor { return g.binary(opMin, a, b) }
func (g *graph) Step(a, b models.Tensor) models.Tensor    { return g.binary(opStep, a, b) }

func (g *graph) MatMul(a, b models.Tensor) models.Tensor {
	return matMul(node(a), node(b), false, false)
}

func (g *graph) unary(code opcode, a models.Tensor) models.Tensor {
	n := node(a)
	return apply(code, [2]int{}, n.Shape(), n)
}

func (g *graph) Neg(a models.Tensor) models.Tensor     { return g.unary(opNeg, a) }
func (g *graph) Exp(a models.Tensor) models.Tensor     { return g.unary(opExp, a) }
func (g *graph) Log(a models.Tensor) models.Tensor     { return g.unary(opLog, a) }
func (g *graph) Sqrt(a models.Tensor) models.Tensor    { return g.unary(opSqrt, a) }
func (g *graph) Square(a models.Tensor) models.Tensor  { return g.unary(opSquare, a) }
func (g *graph) Abs(a models.Tensor) models.Tensor     { return g.unary(opAbs, a) }
func (g *graph) Tanh(a models.Tensor) models.Tensor    { return g.unary(opTanh, a) }
func (g *graph) Sigmoid(a models.Tensor) models.Tensor { return g.unary(opSigmoid, a) }
func (g *graph) ReLU(a models.Tensor) models.Tensor    { return g.unary(opReLU, a) }

func (g *graph) SumCols(a models.Tensor) models.Tensor {
	r, c := shapeOf(a)
	if c == 1 {
		return a
	}
	return apply(opSumTo, [2]int{}, tensor.Shape{r, 1}, node(a))
}

func (g *graph) MaxCols(a models.Tensor) models.Tensor {
	r, c := shapeOf(a)
	if c == 1 {
		return a
	}
	return apply(opMaxCols, [2]int{}, tensor.Shape{r, 1}, node(a))
}
