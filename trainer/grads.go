package trainer

import (
	"fmt"
	"math"
	"math/bits"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The gradients of the ops: SymDiff adds one gradient node per operand,
// and the kernels below compute them.

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
