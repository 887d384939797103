package diagnostics

import (
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestScratchParts(t *testing.T) {
	runtime.LockOSThread()
	r := rand.New(rand.NewPCG(3, 3))
	c := newClassifier(2, 20, 200, r)
	x := make([]float64, 400)
	y := make([]float64, 200)
	rows := make([]int, 200)
	for i := range x { x[i] = r.NormFloat64() }
	for i := range y { y[i] = float64(i % 2); rows[i] = i }
	c.load(x, rows)
	const N = 20000
	for rep := 0; rep < 2; rep++ {
		t0 := threadCPU()
		for range N { c.forward(200) }
		t1 := threadCPU()
		for range N { c.backprop(200, y) }
		t2 := threadCPU()
		for range N { c.adam() }
		t3 := threadCPU()
		a, w, z := c.act[1], c.w[1], c.act[2]
		for range N { matMul(z, a, w, 200, 20, 20) }
		t4 := threadCPU()
		for range N { transpose(c.scratch, a, 200, 20) }
		t5 := threadCPU()
		t.Logf("forward %v backprop(incl fwd) %v adam %v matmul20 %v transpose %v", (t1-t0)/N, (t2-t1)/N, (t3-t2)/N, (t4-t3)/N, (t5-t4)/N)
	}
}
