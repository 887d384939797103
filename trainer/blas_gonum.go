//go:build !cgo || noopenblas

package trainer

import "gonum.org/v1/gonum/blas/gonum"

// Without cgo the graph's matrix products use gonum's pure-Go BLAS.
var (
	blas32 = gonum.Implementation{}
	blas64 = gonum.Implementation{}
)

// setThreads has nothing to set: gonum's GEMM sizes its own parallelism.
func setThreads(int) {}

// useBLAS64 has nothing to do: gonum's blas64 is gonum's own already.
func useBLAS64() {}
