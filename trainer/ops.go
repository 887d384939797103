package trainer

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/amortize/amortize/models"
	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The graph is built from the custom gorgonia ops declared here (kernels.go
// runs them, grads.go differentiates them, gemm.go multiplies) rather than
// gorgonia's own. Each op owns its output buffer and reuses it on every run,
// never writes to an input and never returns a view, so the aliasing hazards
// of gorgonia's Reshape (#511) and in-place kernels cannot arise; binary ops
// broadcast natively instead of materialising repeats; and gradients are
// fused per op (one gradient node per operand).

type opcode uint8

const (
	// Elementwise binary ops with numpy broadcasting of 2-D shapes.
	opAdd opcode = iota
	opSub
	opMul
	opDiv
	opMax
	opMin
	opStep
	// Elementwise unary ops.
	opNeg
	opExp
	opLog
	opSqrt
	opSquare
	opAbs
	opTanh
	opSigmoid
	opReLU
	// Structural ops.
	opSumTo   // sums a [R,C] tensor down to a broadcastable shape
	opExpand  // repeats a broadcastable tensor up to [R,C]
	opMaxCols // [N,F] → [N,1]
	opSlice   // columns [arg0, arg1)
	opPad     // places [N,F] at column arg0 of zeros [N,arg1]
	opConcat  // joins along columns
	opReshape // row-major reshape (a copy, never an alias)
	opMatMul  // op(a)·op(b), transposes in arg0, arg1
	opLoss    // −Σ w ⊙ lp → scalar, for lp, w [N,1]
	opSpline  // rational-quadratic spline, arg0 bins, arg1 inverse; see spline.go
	// Gradient ops; never differentiated themselves.
	opBinGrad     // arg0: binary opcode, arg1: operand; inputs a, b, g
	opUnaryGrad   // arg0: unary opcode; inputs x, y, g
	opMaxColsGrad // inputs a, y, g
	opLossGrad    // inputs w, g
	opSplineGrad  // inputs x, the spline's output, g
	// opCapture copies its input into a Go slice while the tape runs.
	opCapture
)

var opNames = [...]string{
	opAdd: "add", opSub: "sub", opMul: "mul", opDiv: "div", opMax: "max", opMin: "min", opStep: "step",
	opNeg: "neg", opExp: "exp", opLog: "log", opSqrt: "sqrt", opSquare: "square", opAbs: "abs",
	opTanh: "tanh", opSigmoid: "sigmoid", opReLU: "relu",
	opSumTo: "sumto", opExpand: "expand", opMaxCols: "maxcols", opSlice: "slice", opPad: "pad",
	opConcat: "concat", opReshape: "reshape", opMatMul: "matmul", opLoss: "loss", opSpline: "spline",
	opBinGrad: "bingrad", opUnaryGrad: "unarygrad", opMaxColsGrad: "maxcolsgrad", opLossGrad: "lossgrad",
	opSplineGrad: "splinegrad",
	opCapture:    "capture",
}

func isBinary(c opcode) bool { return c <= opStep }
func isUnary(c opcode) bool  { return c >= opNeg && c <= opReLU }

// op is one node's computation. It implements gorgonia.Op and
// gorgonia.SDOp. Shapes are static: a graph is built for one batch size.
type op struct {
	code  opcode
	arg   [2]int
	in    []tensor.Shape // input shapes, nil for a scalar input
	shape tensor.Shape   // output shape, nil for a scalar output

	buf     *tensor.Dense // output, allocated on the first run
	scalar  gorgonia.Value
	capture any                 // destination slice of opCapture
	spline  models.SplineConfig // of opSpline
	rows    []*splineRow        // opSpline's rows, kept for its gradient
	fwd     *op                 // opSplineGrad's opSpline
}

func (o *op) Arity() int { return len(o.in) }

func (o *op) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := func(s tensor.Shape) hm.Type {
		if s == nil {
			return a
		}
		return gorgonia.TensorType{Dims: 2, Of: a}
	}
	ts := make([]hm.Type, 0, len(o.in)+1)
	for _, s := range o.in {
		ts = append(ts, t(s))
	}
	return hm.NewFnType(append(ts, t(o.shape))...)
}

func (o *op) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	if o.shape == nil {
		return tensor.ScalarShape(), nil
	}
	return o.shape.Clone(), nil
}

func (o *op) ReturnsPtr() bool     { return true }
func (o *op) CallsExtern() bool    { return false }
func (o *op) OverwritesInput() int { return -1 }

func (o *op) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "%s %v %v %v %v", opNames[o.code], o.arg, o.in, o.shape, o.spline)
	if o.code == opCapture {
		// Two captures of one node into different slices are different.
		fmt.Fprintf(h, " %p", o)
	}
}

func (o *op) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *op) String() string { return fmt.Sprintf("%s%v", opNames[o.code], o.arg) }

func (o *op) DiffWRT(n int) []bool {
	d := make([]bool, n)
	switch {
	case o.code == opStep, o.code >= opBinGrad:
		// Step selects, it never scales; gradient ops are not
		// differentiated again. A non-empty all-false answer (not nil)
		// tells gorgonia the inputs are simply not differentiated.
	case o.code == opLoss:
		d[0] = true
	default:
		for i := range d {
			d[i] = true
		}
	}
	return d
}

// apply adds an op node to the graph of its first input.
func apply(code opcode, arg [2]int, shape tensor.Shape, children ...*gorgonia.Node) *gorgonia.Node {
	return applyOp(&op{code: code, arg: arg, shape: shape}, children...)
}

// capture adds a node that copies n's value into dst ([]float32 or
// []float64 of n's size) each time the tape runs. Reading values this way,
// during the run, sidesteps gorgonia's stale node values after RunAll
// (#576).
func capture(n *gorgonia.Node, dst any) *gorgonia.Node {
	return applyOp(&op{code: opCapture, capture: dst}, n)
}

func applyOp(o *op, children ...*gorgonia.Node) *gorgonia.Node {
	code := o.code
	for _, c := range children {
		if c.IsScalar() {
			o.in = append(o.in, nil)
		} else {
			o.in = append(o.in, c.Shape())
		}
	}
	n, err := gorgonia.ApplyOp(o, children...)
	if err != nil {
		panic(fmt.Sprintf("trainer: %s: %v", opNames[code], err))
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (o *op) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vals) != len(o.in) {
		return nil, fmt.Errorf("trainer: %s got %d inputs, want %d", opNames[o.code], len(vals), len(o.in))
	}
	dt := vals[0].Dtype()
	if o.code == opLossGrad {
		dt = vals[1].Dtype()
	}
	switch dt {
	case tensor.Float64:
		return do[float64](o, vals)
	case tensor.Float32:
		return do[float32](o, vals)
	}
	return nil, fmt.Errorf("trainer: %s of dtype %v", opNames[o.code], dt)
}
