package trainer

import (
	"math"
	"testing"
)

var sink float32

func BenchmarkTanh32(b *testing.B) {
	x := make([]float32, 10000); out := make([]float32, 10000)
	for i := range x { x[i] = float32(i-5000) / 2000 }
	for b.Loop() { unary(opTanh, out, x) }
}
func BenchmarkTanhMath(b *testing.B) {
	x := make([]float32, 10000); out := make([]float32, 10000)
	for i := range x { x[i] = float32(i-5000) / 2000 }
	for b.Loop() { for i, v := range x { out[i] = float32(math.Tanh(float64(v))) } }
}
func BenchmarkExp32(b *testing.B) {
	x := make([]float32, 10000); out := make([]float32, 10000)
	for i := range x { x[i] = float32(i-5000) / 2000 }
	for b.Loop() { unary(opExp, out, x) }
}
func BenchmarkExpMath(b *testing.B) {
	x := make([]float32, 10000); out := make([]float32, 10000)
	for i := range x { x[i] = float32(i-5000) / 2000 }
	for b.Loop() { for i, v := range x { out[i] = float32(math.Exp(float64(v))) } }
}
