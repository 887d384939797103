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

// A program that links the trainer with OpenBLAS sends the products of
// gonum's blas64 there too: gonum/mat's, and those of the C2ST classifier
// in diagnostics, which stays pure Go itself. OpenBLAS starts on one thread,
// Train's default: C2ST trains its folds in parallel, and more OpenBLAS
// threads on its small products only contend for the cores (a 10-D C2ST
// took three times as long with two threads as with one on two cores).
func init() {
	setThreads(1)
	gonumblas64.Use(netlib.Implementation{})
}

// setThreads sets OpenBLAS's thread count, for the whole process.
func setThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
