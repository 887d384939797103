package trainer

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Matrix products: the op's node and its call into BLAS.

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
