package models

import "math"

// Composite operations, written once over Ops.

// Linear is a·W + b for parameters name+".w" [in,out] and name+".b" [1,out].
func Linear(o Ops, a Tensor, name string) Tensor {
	return o.Add(o.MatMul(a, o.Param(name+".w")), o.Param(name+".b"))
}

// LinearParams declares the parameters of Linear with PyTorch's default
// initialisation, U(−1/√in, 1/√in) for weights and bias, so training starts
// where sbi's does.
func LinearParams(name string, in, out int) []ParamSpec {
	bound := 1 / math.Sqrt(float64(in))
	return []ParamSpec{
		{Name: name + ".w", Rows: in, Cols: out, Init: Uniform(bound)},
		{Name: name + ".b", Rows: 1, Cols: out, Init: Uniform(bound)},
	}
}

// Activate applies the named activation ("relu", "tanh", "elu").
func Activate(o Ops, a Tensor, name string) Tensor {
	switch name {
	case "tanh":
		return o.Tanh(a)
	case "elu":
		return ELU(o, a)
	default:
		return o.ReLU(a)
	}
}

// ELU is x for x > 0 and exp(x)−1 otherwise, built from ReLU and Exp.
func ELU(o Ops, a Tensor) Tensor {
	neg := o.Neg(o.ReLU(o.Neg(a)))
	return o.Add(o.ReLU(a), o.Sub(o.Exp(neg), o.Scalar(1)))
}

// Softplus is log(1+eˣ), written max(x,0)+log(1+e^−|x|) so that it never
// overflows and every backend (ONNX CPU lacks a float64 Softplus) has it.
func Softplus(o Ops, a Tensor) Tensor {
	return o.Add(o.ReLU(a), o.Log(o.Add(o.Scalar(1), o.Exp(o.Neg(o.Abs(a))))))
}

// LogSumExp reduces over the columns with a max shift. gorgonia's own
// LogSumExp is wrong, so the estimators only ever use this one.
func LogSumExp(o Ops, a Tensor) Tensor {
	m := o.MaxCols(a)
	return o.Add(m, o.Log(o.SumCols(o.Exp(o.Sub(a, m)))))
}

// LogSoftmax normalises each row in log space.
func LogSoftmax(o Ops, a Tensor) Tensor {
	return o.Sub(a, LogSumExp(o, a))
}

// Softmax normalises each row.
func Softmax(o Ops, a Tensor) Tensor {
	return o.Exp(LogSoftmax(o, a))
}

// CumSum is the running sum over the columns, with a leading zero column
// when pad is true: [N,F] → [N,F] or [N,F+1]. It is a product with a
// triangular constant, which every backend differentiates.
func CumSum(o Ops, a Tensor, pad bool) Tensor {
	f := o.Cols(a)
	out := f
	if pad {
		out = f + 1
	}
	tri := make([]float64, f*out)
	for i := range f {
		first := i
		if pad {
			first = i + 1
		}
		for j := first; j < out; j++ {
			tri[i*out+j] = 1
		}
	}
	return o.MatMul(a, o.Const(f, out, tri))
}

// Select gathers, per row, the entry of values at the column where onehot
// is 1: Σ onehot ⊙ values → [N,1].
func Select(o Ops, onehot, values Tensor) Tensor {
	return o.SumCols(o.Mul(onehot, values))
}

// StdNormalLogProb is Σ log N(z; 0, 1) over the columns → [N,1].
func StdNormalLogProb(o Ops, z Tensor) Tensor {
	d := float64(o.Cols(z))
	return o.Sub(o.Mul(o.Scalar(-0.5), o.SumCols(o.Square(z))), o.Scalar(0.5*d*math.Log(2*math.Pi)))
}
