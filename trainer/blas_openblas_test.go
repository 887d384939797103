//go:build cgo && !noopenblas

package trainer

import (
	"testing"

	gonumblas64 "gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// Linking the trainer leaves gonum's blas64 alone; UseBLAS sends it to
// OpenBLAS, which speeds up the C2ST of programs that link both.
func TestUseBLAS(t *testing.T) {
	before := gonumblas64.Implementation()
	if before == (netlib.Implementation{}) {
		t.Fatalf("blas64 is %T before UseBLAS: linking the trainer changed it", before)
	}
	t.Cleanup(func() { gonumblas64.Use(before) })
	UseBLAS(1)
	if impl := gonumblas64.Implementation(); impl != (netlib.Implementation{}) {
		t.Errorf("blas64 implementation is %T after UseBLAS, want %T", impl, netlib.Implementation{})
	}
}
