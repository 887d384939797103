package simulator_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/simulator"
)

func TestCommand(t *testing.T) {
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("awk not installed")
	}
	// x = (θ1 + θ2, θ1·θ2), NaN when θ1 > 0.9: a simulator in another language.
	sim := &simulator.Command{Dim: 2, Path: "awk", Args: []string{"-F,", `NR==1 {print "s,p"; next} {if ($1 > 0.9) print "NaN,NaN"; else print $1+$2 "," $1*$2}`}}
	p := box{dim: 2}
	res, err := simulator.Simulate(context.Background(), p, sim, 500, simulator.Options{Seed: 3, ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped == 0 || res.Dropped+res.Data.Len() != 500 {
		t.Errorf("dropped %d of 500, kept %d", res.Dropped, res.Data.Len())
	}
	for i := range res.Data.Len() {
		th, x := res.Data.Theta.RawRowView(i), res.Data.X.RawRowView(i)
		if math.Abs(x[0]-(th[0]+th[1])) > 1e-5 || math.Abs(x[1]-th[0]*th[1]) > 1e-5 {
			t.Fatalf("row %d: θ %v gave x %v", i, th, x)
		}
	}
	bad := &simulator.Command{Dim: 3, Path: "awk", Args: []string{"-F,", `{print $1}`}}
	theta := mat.NewDense(2, 2, []float64{1, 2, 3, 4})
	if err := bad.Simulate(mat.NewDense(2, 3, nil), theta, rand.NewPCG(1, 1)); err == nil {
		t.Error("wrong output width accepted")
	}
	missing := &simulator.Command{Dim: 1, Path: "/nonexistent/simulator"}
	if err := missing.Simulate(mat.NewDense(2, 1, nil), theta, rand.NewPCG(1, 1)); err == nil {
		t.Error("missing program accepted")
	}
}

// FuzzCommandOutput runs a simulator program that writes the fuzzed bytes
// (cat of a file): the batch is filled, or Simulate says why not.
func FuzzCommandOutput(f *testing.F) {
	cat, err := exec.LookPath("cat")
	if err != nil {
		f.Skip("no cat:", err)
	}
	for _, s := range []string{"x1,x2\n1,2\n3,4\n", "x1,x2\n1,2\n", "x1,x2\n1,2\n3,4\n5,6\n", "1,2\n3,4\n", "x1\n1\n2\n", "x1,x2\nnan,inf\n-0,1e-320\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		path := filepath.Join(t.TempDir(), "out.csv")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		sim := &simulator.Command{Dim: 2, Path: cat, Args: []string{path}}
		x := mat.NewDense(2, 2, nil)
		if err := sim.Simulate(x, mat.NewDense(2, 3, nil), fuzzSource{}); err != nil {
			return
		}
		_, want, err := dataset.ReadMatrixCSV(bytes.NewReader(out))
		if err != nil || !sameBits(x, want) {
			t.Fatalf("filled %v from output that reads as %v, %v", mat.Formatted(x), want, err)
		}
	})
}

type fuzzSource struct{}

func (fuzzSource) Uint64() uint64 { return 7 }
