package trainer

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The kernels that run the ops forward, on the raw backing slices of
// gorgonia's values, broadcasting natively.

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
