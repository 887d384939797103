package serve

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/runtime/runtimetest"
)

// modelSpec describes a random test model (runtimetest.RandomModel): an
// estimator of the given kind and hidden width, θ z-scored by thetaStd, and
// a box prior [-bound, bound]^d.
type modelSpec struct {
	kind     string
	d, xd    int
	hidden   int // 0: the kind's default
	thetaStd float64
	bound    float64
	seed     uint64
}

// writeModel exports a random model of spec as dir/name.onnx.
func writeModel(t testing.TB, dir, name string, s modelSpec) string {
	t.Helper()
	m := runtimetest.RandomModel(t, s.kind, s.d, s.xd, s.hidden, s.seed)
	for i := range m.ThetaStd {
		m.ThetaStd[i] = s.thetaStd
	}
	runtimetest.SetBox(t, m, -s.bound, s.bound)
	path := filepath.Join(dir, name+".onnx")
	if err := export.WriteFile(m, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// small is the model most tests serve: quick to evaluate, and θ spread so
// that some draws leave the prior box [-2, 2]².
var small = modelSpec{kind: "maf", d: 2, xd: 3, hidden: 8, thetaStd: 1, bound: 2, seed: 3}

// quietLogger discards the logs but still formats them, as a real handler
// would.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
