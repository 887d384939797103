//go:build cgo && !noopenblas

package trainer

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
import "C"

import (
	gonumblas64 "gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// The graph's matrix products go to OpenBLAS (Debian's libopenblas-dev),
// about ten times faster than gonum's pure-Go GEMM on the small matrices of
// these networks. Build with -tags noopenblas, or without cgo, for pure Go.
var (
	blas32 = netlib.Implementation{}
	blas64 = netlib.Implementation{}
)

// setThreads sets OpenBLAS's thread count, for the whole process.
func setThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// useBLAS64 sends gonum's blas64 to OpenBLAS.
func useBLAS64() { gonumblas64.Use(netlib.Implementation{}) }
