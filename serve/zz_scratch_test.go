package serve

import (
	"math/rand/v2"
	"testing"
	"time"
	"path/filepath"

	"github.com/amortize/amortize/runtime"
)

func TestScratchRunScaling(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, dir, "m", twoMoons)
	t0 := time.Now()
	m, err := runtime.Open(filepath.Join(dir, "m.onnx"), runtime.Options{Threads: 1})
	if err != nil { t.Fatal(err) }
	t.Logf("open %v", time.Since(t0))
	defer m.Close()
	src := rand.NewPCG(1, 2)
	for _, cfg := range [][2]int{{1, 1}, {1, 110}, {1, 1000}, {8, 110}, {32, 110}, {64, 110}, {1, 7040}} {
		b, n := cfg[0], cfg[1]
		x := make([]float32, b*2)
		noise := m.Noise(nil, b*n, src)
		var out runtime.Output
		iters := 200
		t0 := time.Now()
		for range iters {
			if _, err := m.Run(x, b, nil, 0, noise, n, &out); err != nil { t.Fatal(err) }
		}
		d := time.Since(t0) / time.Duration(iters)
		t.Logf("b=%d n=%d: %v per run, %v per row", b, n, d, d/time.Duration(b*n))
	}
}
