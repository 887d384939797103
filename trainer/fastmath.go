package trainer

import "math"

// Float32 kernels spend most of their time in exp and tanh (sbi's MAF uses
// tanh units), and Go's math package computes both to float64 accuracy at
// 10–30 ns a call. A float32 result needs only ~1e-8 relative accuracy, which
// these reach at a fraction of the cost; float64 kernels keep the math
// package so that gradient checks stay exact.

const (
	log2e = 1.4426950408889634 // 1/ln 2
	ln2   = 0.6931471805599453
	// Beyond ±expClamp, exp over- or underflows float32 anyway.
	expClamp   = 110
	roundMagic = 1.5 * (1 << 52)
)

// exp32 is eˣ to float32 accuracy (relative error < 1e-8), computed in
// float64: eˣ = 2ⁿ·eʳ with n = round(x/ln 2) and |r| ≤ ln2/2, where a
// degree-7 Taylor polynomial errs by at most r⁸/8! ≈ 5e-9.
func exp32(x float64) float64 {
	// min and max pass NaN through; the polynomial then keeps it NaN.
	x = min(max(x, -expClamp), expClamp)
	// Adding and subtracting 1.5·2⁵² rounds to the nearest integer
	// without a call to math.Floor.
	n := x*log2e + roundMagic - roundMagic
	r := x - n*ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// tanh32 sets out[i] = tanh x[i] to float32 accuracy. For |x| ≥ 1/8 it is
// 1 − 2/(e²ˣ+1): the subtraction magnifies exp32's relative error δ by
// 2e²ˣ/((e²ˣ+1)²·tanh x) ≤ 4, so the result errs by < 2.5e-8. Below, the
// series x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835, whose next term is
// < 1e-11·|x|. It works on whole slices so that exp32 is inlined into the
// loop: called once per element, the call's register traffic chains the
// iterations together and costs four times as much.
func tanh32[T float](out, x []T) {
	x = x[:len(out)]
	for i, v := range x {
		a := math.Abs(float64(v))
		var t float64
		if a < 1.0/8 {
			a2 := a * a
			t = a * (1 + a2*(-1.0/3+a2*(2.0/15+a2*(-17.0/315+a2*(62.0/2835)))))
		} else {
			t = 1 - 2/(exp32(2*a)+1)
		}
		out[i] = T(math.Copysign(t, float64(v)))
	}
}

// sigmoid32 sets out[i] = 1/(1+e^−x[i]) to float32 accuracy.
func sigmoid32[T float](out, x []T) {
	x = x[:len(out)]
	for i, v := range x {
		out[i] = T(1 / (1 + exp32(-float64(v))))
	}
}
