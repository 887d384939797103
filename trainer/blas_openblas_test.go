//go:build cgo && !noopenblas

package trainer

import (
	"testing"

	gonumblas64 "gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// Linking the trainer with OpenBLAS sends gonum's blas64 there too, which
// speeds up the C2ST of programs that link both.
func TestBLAS64UsesOpenBLAS(t *testing.T) {
	if impl := gonumblas64.Implementation(); impl != (netlib.Implementation{}) {
		t.Errorf("blas64 implementation is %T, want %T", impl, netlib.Implementation{})
	}
}
