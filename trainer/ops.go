package trainer

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"math/bits"

	"github.com/amortize/amortize/models"
	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The graph is built from the custom gorgonia ops of this file rather than
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

func (o *op) SymDiff(in gorgonia.Nodes, out, g *gorgonia.Node) (gorgonia.Nodes, error) {
	grads := make(gorgonia.Nodes, len(in))
	switch c := o.code; {
	case isBinary(c):
		for i := range in {
			switch {
			case o.in[i].Eq(o.shape) && c == opAdd, o.in[i].Eq(o.shape) && c == opSub && i == 0:
				grads[i] = g
			default:
				grads[i] = apply(opBinGrad, [2]int{int(c), i}, o.in[i], in[0], in[1], g)
			}
		}
	case isUnary(c):
		grads[0] = apply(opUnaryGrad, [2]int{int(c)}, o.shape, in[0], out, g)
	case c == opSumTo:
		grads[0] = apply(opExpand, [2]int{}, o.in[0], g)
	case c == opExpand:
		grads[0] = apply(opSumTo, [2]int{}, o.in[0], g)
	case c == opMaxCols:
		grads[0] = apply(opMaxColsGrad, [2]int{}, o.in[0], in[0], out, g)
	case c == opSlice:
		grads[0] = apply(opPad, [2]int{o.arg[0], o.in[0][1]}, o.in[0], g)
	case c == opPad:
		grads[0] = apply(opSlice, [2]int{o.arg[0], o.arg[0] + o.in[0][1]}, o.in[0], g)
	case c == opConcat:
		at := 0
		for i, s := range o.in {
			grads[i] = apply(opSlice, [2]int{at, at + s[1]}, s, g)
			at += s[1]
		}
	case c == opReshape:
		grads[0] = apply(opReshape, [2]int{}, o.in[0], g)
	case c == opMatMul:
		ta, tb := o.arg[0] != 0, o.arg[1] != 0
		// C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC (transposed operands swap roles).
		if ta {
			grads[0] = matMul(in[1], g, tb, true)
		} else {
			grads[0] = matMul(g, in[1], false, !tb)
		}
		if tb {
			grads[1] = matMul(g, in[0], true, ta)
		} else {
			grads[1] = matMul(in[0], g, !ta, false)
		}
	case c == opLoss:
		grads[0] = apply(opLossGrad, [2]int{}, o.in[0], in[1], g)
	case c == opSpline:
		k := o.arg[0]
		m := o.shape[0]
		// The forward output is an input only to order the gradient
		// after the forward op, whose knots it reuses.
		packed := applyOp(&op{code: opSplineGrad, arg: o.arg, shape: tensor.Shape{m, 3 * k}, spline: o.spline, fwd: o},
			in[0], out, g)
		for i, cols := range [][2]int{{0, 1}, {1, 1 + k}, {1 + k, 1 + 2*k}, {1 + 2*k, 3 * k}} {
			grads[i] = apply(opSlice, cols, tensor.Shape{m, cols[1] - cols[0]}, packed)
		}
	default:
		return nil, fmt.Errorf("trainer: %s has no gradient", opNames[c])
	}
	return grads, nil
}

// matMul adds op(a)·op(b).
func matMul(a, b *gorgonia.Node, ta, tb bool) *gorgonia.Node {
	sa, sb := a.Shape(), b.Shape()
	m, k := sa[0], sa[1]
	if ta {
		m, k = k, m
	}
	kb, n := sb[0], sb[1]
	if tb {
		kb, n = n, kb
	}
	if k != kb {
		panic(fmt.Sprintf("trainer: matmul of %v by %v (transposed %t, %t)", sa, sb, ta, tb))
	}
	return apply(opMatMul, [2]int{b2i(ta), b2i(tb)}, tensor.Shape{m, n}, a, b)
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

type float interface{ ~float32 | ~float64 }

// raw is the backing slice of a dense value or the single value of a scalar.
func raw[T float](v gorgonia.Value) []T {
	var s []T
	switch p := any(&s).(type) {
	case *[]float32:
		switch v := v.(type) {
		case *tensor.Dense:
			*p = v.Float32s()
		case *gorgonia.F32:
			*p = []float32{float32(*v)}
		}
	case *[]float64:
		switch v := v.(type) {
		case *tensor.Dense:
			*p = v.Float64s()
		case *gorgonia.F64:
			*p = []float64{float64(*v)}
		}
	}
	return s
}

// dims of a 2-D shape.
type dims struct{ r, c int }

func dimsOf(s tensor.Shape) dims {
	if s == nil {
		return dims{1, 1}
	}
	return dims{s[0], s[1]}
}

// row is the row of x (shaped d) that lines up with row i of a broadcast
// result.
func row[T float](x []T, d dims, i int) []T {
	if d.r == 1 {
		return x[:d.c]
	}
	return x[i*d.c : (i+1)*d.c]
}

// stride is 0 for a broadcast column and 1 otherwise.
func stride(d dims) int {
	if d.c == 1 {
		return 0
	}
	return 1
}

func do[T float](o *op, vals []gorgonia.Value) (gorgonia.Value, error) {
	var out []T
	if o.shape != nil {
		if o.buf == nil {
			var zero T
			dt := tensor.Float64
			if _, ok := any(zero).(float32); ok {
				dt = tensor.Float32
			}
			o.buf = tensor.New(tensor.Of(dt), tensor.WithShape(o.shape...))
		}
		out = raw[T](o.buf)
	}
	in := func(i int) []T { return raw[T](vals[i]) }
	so := dimsOf(o.shape)
	switch c := o.code; {
	case isBinary(c):
		elementwise(c, out, in(0), in(1), so, dimsOf(o.in[0]), dimsOf(o.in[1]))
	case isUnary(c):
		unary(c, out, in(0))
	case c == opSumTo:
		clear(out)
		si := dimsOf(o.in[0])
		x := in(0)
		for i := range si.r {
			sumRow(row(out, so, i), stride(so), x[i*si.c:(i+1)*si.c])
		}
	case c == opExpand:
		x := in(0)
		si := dimsOf(o.in[0])
		for i := range so.r {
			r, dst := row(x, si, i), out[i*so.c:(i+1)*so.c]
			if si.c == 1 {
				for j := range dst {
					dst[j] = r[0]
				}
			} else {
				copy(dst, r)
			}
		}
	case c == opMaxCols:
		x := in(0)
		si := dimsOf(o.in[0])
		for i := range si.r {
			r := x[i*si.c : (i+1)*si.c]
			m := r[0]
			for _, v := range r[1:] {
				if v > m || v != v {
					m = v
				}
			}
			out[i] = m
		}
	case c == opMaxColsGrad:
		x, y, g := in(0), in(1), in(2)
		clear(out)
		for i := range so.r {
			r := x[i*so.c : (i+1)*so.c]
			for j, v := range r {
				if v == y[i] {
					out[i*so.c+j] = g[i]
					break
				}
			}
		}
	case c == opSlice:
		x := in(0)
		si := dimsOf(o.in[0])
		for i := range so.r {
			copy(out[i*so.c:(i+1)*so.c], x[i*si.c+o.arg[0]:i*si.c+o.arg[1]])
		}
	case c == opPad:
		x := in(0)
		si := dimsOf(o.in[0])
		clear(out)
		for i := range so.r {
			copy(out[i*so.c+o.arg[0]:], x[i*si.c:(i+1)*si.c])
		}
	case c == opConcat:
		at := 0
		for k := range vals {
			x, w := in(k), o.in[k][1]
			for i := range so.r {
				copy(out[i*so.c+at:i*so.c+at+w], x[i*w:(i+1)*w])
			}
			at += w
		}
	case c == opReshape:
		copy(out, in(0))
	case c == opMatMul:
		sa, sb := dimsOf(o.in[0]), dimsOf(o.in[1])
		k := sa.c
		if o.arg[0] != 0 {
			k = sa.r
		}
		gemm(o.arg[0] != 0, o.arg[1] != 0, so.r, so.c, k, in(0), sa.c, in(1), sb.c, out)
	case c == opLoss:
		lp, w := in(0), in(1)
		var s float64
		for i, v := range lp {
			s -= float64(w[i]) * float64(v)
		}
		return o.scalarValue(T(s)), nil
	case c == opLossGrad:
		w, g := in(0), in(1)[0]
		for i, v := range w {
			out[i] = -v * g
		}
	case c == opBinGrad:
		binaryGrad(opcode(o.arg[0]), o.arg[1], out, in(0), in(1), in(2), dimsOf(o.in[0]), dimsOf(o.in[1]), dimsOf(o.in[2]), so)
	case c == opUnaryGrad:
		unaryGrad(opcode(o.arg[0]), out, in(0), in(1), in(2))
	case c == opSpline:
		splineRows(o, out, in(0), in(1), in(2), in(3))
	case c == opSplineGrad:
		splineGradRows(o.fwd, out, in(0), in(2))
	case c == opCapture:
		copy(o.capture.([]T), in(0))
		return o.scalarValue(0), nil
	default:
		return nil, fmt.Errorf("trainer: no kernel for %s", opNames[c])
	}
	return o.buf, nil
}

// scalarValue reuses one gorgonia scalar per op so that runs do not allocate.
func (o *op) scalarValue(v any) gorgonia.Value {
	switch v := v.(type) {
	case float32:
		if o.scalar == nil {
			o.scalar = new(gorgonia.F32)
		}
		*o.scalar.(*gorgonia.F32) = gorgonia.F32(v)
	case float64:
		if o.scalar == nil {
			o.scalar = new(gorgonia.F64)
		}
		*o.scalar.(*gorgonia.F64) = gorgonia.F64(v)
	}
	return o.scalar
}

func sumRow[T float](dst []T, s int, x []T) {
	if s == 0 {
		var t T
		for _, v := range x {
			t += v
		}
		dst[0] += t
		return
	}
	for j, v := range x {
		dst[j] += v
	}
}

// elementwise computes out = a ∘ b row by row; within a row each operand is
// either a full row or a single broadcast value.
func elementwise[T float](c opcode, out, a, b []T, so, sa, sb dims) {
	for i := range so.r {
		o, x, y := out[i*so.c:(i+1)*so.c], row(a, sa, i), row(b, sb, i)
		switch {
		case len(x) == len(o) && len(y) == len(o):
			binaryVV(c, o, x, y)
		case len(x) == len(o):
			binaryVS(c, o, x, y[0])
		default:
			binarySV(c, o, x[0], y)
		}
	}
}

func binaryVV[T float](c opcode, o, x, y []T) {
	y = y[:len(o)]
	x = x[:len(o)]
	switch c {
	case opAdd:
		for j := range o {
			o[j] = x[j] + y[j]
		}
	case opSub:
		for j := range o {
			o[j] = x[j] - y[j]
		}
	case opMul:
		for j := range o {
			o[j] = x[j] * y[j]
		}
	case opDiv:
		for j := range o {
			o[j] = x[j] / y[j]
		}
	default:
		for j := range o {
			o[j] = scalarBinary(c, x[j], y[j])
		}
	}
}

func binaryVS[T float](c opcode, o, x []T, y T) {
	x = x[:len(o)]
	switch c {
	case opAdd:
		for j := range o {
			o[j] = x[j] + y
		}
	case opSub:
		for j := range o {
			o[j] = x[j] - y
		}
	case opMul:
		for j := range o {
			o[j] = x[j] * y
		}
	case opDiv:
		for j := range o {
			o[j] = x[j] / y
		}
	default:
		for j := range o {
			o[j] = scalarBinary(c, x[j], y)
		}
	}
}

func binarySV[T float](c opcode, o []T, x T, y []T) {
	y = y[:len(o)]
	switch c {
	case opAdd:
		for j := range o {
			o[j] = x + y[j]
		}
	case opSub:
		for j := range o {
			o[j] = x - y[j]
		}
	case opMul:
		for j := range o {
			o[j] = x * y[j]
		}
	case opDiv:
		for j := range o {
			o[j] = x / y[j]
		}
	default:
		for j := range o {
			o[j] = scalarBinary(c, x, y[j])
		}
	}
}

// scalarBinary is the rarer binary ops on one pair; NaN propagates through
// Maximum and Minimum as in PyTorch and numpy.
func scalarBinary[T float](c opcode, x, y T) T {
	switch c {
	case opMax:
		if x >= y || x != x {
			return x
		}
		return y
	case opMin:
		if x <= y || x != x {
			return x
		}
		return y
	case opStep:
		if x >= y {
			return 1
		}
		return 0
	}
	panic("trainer: not a binary op")
}

// binaryGrad is the gradient of a ∘ b with respect to operand which (0 for
// a, 1 for b), summed down to that operand's shape.
func binaryGrad[T float](c opcode, which int, out, a, b, g []T, sa, sb, sg, so dims) {
	if sa == sg && sb == sg && so == sg && binaryGradFlat(c, which, out, a, b, g) {
		return
	}
	clear(out)
	xs, ys, os := stride(sa), stride(sb), stride(so)
	for i := range sg.r {
		gr, x, y, o := g[i*sg.c:(i+1)*sg.c], row(a, sa, i), row(b, sb, i), row(out, so, i)
		switch {
		case c == opAdd || c == opSub && which == 0:
			for j, v := range gr {
				o[j*os] += v
			}
		case c == opSub:
			for j, v := range gr {
				o[j*os] -= v
			}
		case c == opMul && which == 0:
			for j, v := range gr {
				o[j*os] += v * y[j*ys]
			}
		case c == opMul:
			for j, v := range gr {
				o[j*os] += v * x[j*xs]
			}
		case c == opDiv && which == 0:
			for j, v := range gr {
				o[j*os] += v / y[j*ys]
			}
		case c == opDiv:
			for j, v := range gr {
				d := y[j*ys]
				o[j*os] -= v * x[j*xs] / (d * d)
			}
		case c == opMax || c == opMin:
			// The operand that is selected gets the gradient; a tie
			// goes to a.
			for j, v := range gr {
				xv, yv := x[j*xs], y[j*ys]
				first := xv >= yv
				if c == opMin {
					first = xv <= yv
				}
				if first == (which == 0) {
					o[j*os] += v
				}
			}
		}
	}
}

// binaryGradFlat is binaryGrad's common case, all shapes alike, as one
// flat loop; it reports false for the cases it leaves to binaryGrad.
func binaryGradFlat[T float](c opcode, which int, out, a, b, g []T) bool {
	a, b, g = a[:len(out)], b[:len(out)], g[:len(out)]
	switch {
	case c == opSub && which == 1:
		for i, v := range g {
			out[i] = -v
		}
	case c == opMul && which == 0:
		for i, v := range g {
			out[i] = v * b[i]
		}
	case c == opMul:
		for i, v := range g {
			out[i] = v * a[i]
		}
	case c == opDiv && which == 0:
		for i, v := range g {
			out[i] = v / b[i]
		}
	case c == opDiv:
		for i, v := range g {
			out[i] = -v * a[i] / (b[i] * b[i])
		}
	default:
		return false
	}
	return true
}

// positiveMask is all ones for x in (0, +Inf] and zero otherwise (NaN
// included): ReLU's gradient selector without a branch, which random signs
// would mispredict half the time.
func positiveMask(x float64) uint64 {
	_, pos := bits.Sub64(math.Float64bits(x)-1, 0x7ff0000000000000, 0)
	return -pos
}

func unary[T float](c opcode, out, x []T) {
	x = x[:len(out)]
	_, f32 := any(T(0)).(float32)
	switch c {
	case opNeg:
		for i, v := range x {
			out[i] = -v
		}
	case opExp:
		if f32 {
			for i, v := range x {
				out[i] = T(exp32(float64(v)))
			}
			break
		}
		for i, v := range x {
			out[i] = T(math.Exp(float64(v)))
		}
	case opLog:
		for i, v := range x {
			out[i] = T(math.Log(float64(v)))
		}
	case opSqrt:
		for i, v := range x {
			out[i] = T(math.Sqrt(float64(v)))
		}
	case opSquare:
		for i, v := range x {
			out[i] = v * v
		}
	case opAbs:
		for i, v := range x {
			out[i] = T(math.Abs(float64(v)))
		}
	case opTanh:
		if f32 {
			tanh32(out, x)
			break
		}
		for i, v := range x {
			out[i] = T(math.Tanh(float64(v)))
		}
	case opSigmoid:
		if f32 {
			sigmoid32(out, x)
			break
		}
		for i, v := range x {
			out[i] = T(1 / (1 + math.Exp(-float64(v))))
		}
	case opReLU:
		for i, v := range x {
			out[i] = max(v, 0)
		}
	}
}

// unaryGrad is g·f′(x), written with y = f(x) where that is cheaper.
func unaryGrad[T float](c opcode, out, x, y, g []T) {
	x, y, g = x[:len(out)], y[:len(out)], g[:len(out)]
	switch c {
	case opNeg:
		for i, v := range g {
			out[i] = -v
		}
	case opExp:
		for i, v := range g {
			out[i] = v * y[i]
		}
	case opLog:
		for i, v := range g {
			out[i] = v / x[i]
		}
	case opSqrt:
		for i, v := range g {
			out[i] = v / (2 * y[i])
		}
	case opSquare:
		for i, v := range g {
			out[i] = 2 * v * x[i]
		}
	case opAbs:
		for i, v := range g {
			switch {
			case x[i] > 0:
				out[i] = v
			case x[i] < 0:
				out[i] = -v
			default:
				out[i] = 0
			}
		}
	case opTanh:
		for i, v := range g {
			out[i] = v * (1 - y[i]*y[i])
		}
	case opSigmoid:
		for i, v := range g {
			out[i] = v * y[i] * (1 - y[i])
		}
	case opReLU:
		for i, v := range g {
			out[i] = T(math.Float64frombits(math.Float64bits(float64(v)) & positiveMask(float64(x[i]))))
		}
	}
}

// gemm is c = op(a)·op(b) for row-major a, b, c.
func gemm[T float](ta, tb bool, m, n, k int, a []T, lda int, b []T, ldb int, c []T) {
	t := func(x bool) blas.Transpose {
		if x {
			return blas.Trans
		}
		return blas.NoTrans
	}
	switch a := any(a).(type) {
	case []float32:
		blas32.Sgemm(t(ta), t(tb), m, n, k, 1, a, lda, any(b).([]float32), ldb, 0, any(c).([]float32), n)
	case []float64:
		blas64.Dgemm(t(ta), t(tb), m, n, k, 1, a, lda, any(b).([]float64), ldb, 0, any(c).([]float64), n)
	}
}
