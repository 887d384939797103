// Package models defines the estimator families (Gaussian, MDN, MAF, NSF)
// once, as Go code over a small op interface.
//
// The same estimator code builds the trainer's gorgonia graph, the exported
// ONNX graph and the eager float64 reference (package models/eager), so parity
// tests compare backends, not two copies of the math.
//
// Every tensor is a matrix with a dynamic number of rows (the batch) and a
// static number of columns. Binary operations broadcast numpy-style between
// [N,F], [1,F], [N,1] and [1,1] operands; that is all the estimators need, and
// every backend (gorgonia, ONNX, gonum) can express it without surprises.
package models

// Tensor is a backend's value. Estimator code never looks inside it.
type Tensor any

// Ops is the op interface an estimator is written against.
//
// Implementations record or evaluate the operations; they report misuse
// (shape mismatch, unknown parameter) by panicking with a clear message,
// because misuse is a bug in estimator code, never bad user input.
type Ops interface {
	// Param is the trainable parameter declared under name by Estimator.Params.
	Param(name string) Tensor
	// Const is a constant rows×cols matrix (row-major data).
	Const(rows, cols int, data []float64) Tensor
	// Scalar is a constant [1,1] tensor.
	Scalar(v float64) Tensor

	// Cols is the static number of columns of a.
	Cols(a Tensor) int
	// Slice keeps columns [from, to).
	Slice(a Tensor, from, to int) Tensor
	// Concat joins tensors with equal row counts along the columns.
	Concat(ts ...Tensor) Tensor
	// Reshape reads a row-major as rows of cols columns: [N,F] → [N·F/cols, cols].
	Reshape(a Tensor, cols int) Tensor

	Add(a, b Tensor) Tensor
	Sub(a, b Tensor) Tensor
	Mul(a, b Tensor) Tensor
	Div(a, b Tensor) Tensor
	// Maximum and Minimum are elementwise.
	Maximum(a, b Tensor) Tensor
	Minimum(a, b Tensor) Tensor
	// MatMul multiplies [N,I] by a constant or parameter [I,O].
	MatMul(a, b Tensor) Tensor

	Neg(a Tensor) Tensor
	Exp(a Tensor) Tensor
	Log(a Tensor) Tensor
	Sqrt(a Tensor) Tensor
	Square(a Tensor) Tensor
	Abs(a Tensor) Tensor
	Tanh(a Tensor) Tensor
	Sigmoid(a Tensor) Tensor
	ReLU(a Tensor) Tensor

	// Step is 1 where a ≥ b and 0 elsewhere. It carries no gradient: it
	// selects (bins, mixture components, spline tails), it never scales.
	Step(a, b Tensor) Tensor

	// SumCols and MaxCols reduce over the columns: [N,F] → [N,1].
	SumCols(a Tensor) Tensor
	MaxCols(a Tensor) Tensor
}
