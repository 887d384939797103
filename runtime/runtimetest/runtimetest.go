// Package runtimetest builds small model files for the tests and
// benchmarks of packages that evaluate them, as net/http/httptest does for
// servers. It is for tests only: it links the exporter.
package runtimetest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
)

// RandomModel returns a trained-looking model of kind: sbi's default sizes
// (with hidden units per layer set to hidden when it is positive), PyTorch
// initial weights jittered by seed so that no transform is the identity,
// non-trivial z-scoring and a BoxUniform prior on [−3, 3]^d.
func RandomModel(tb testing.TB, kind string, d, xd, hidden int, seed uint64) *models.Model {
	tb.Helper()
	spec, err := models.DefaultSpec(kind, d, xd)
	if err != nil {
		tb.Fatal(err)
	}
	if hidden > 0 {
		spec.Hidden = hidden
	}
	e, err := models.New(spec)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	w := make(map[string][]float32)
	for name, v := range models.InitParams(e, rand.NewPCG(seed, 1)) {
		f := make([]float32, len(v))
		for i := range v {
			f[i] = float32(v[i] + 0.1*rng.NormFloat64())
		}
		w[name] = f
	}
	m := &models.Model{Spec: e.Spec(), Weights: w, Method: "npe"}
	for i := range d {
		m.ThetaMean = append(m.ThetaMean, 0.1*float64(i))
		m.ThetaStd = append(m.ThetaStd, 1+0.2*float64(i))
		m.ThetaNames = append(m.ThetaNames, "theta_"+strconv.Itoa(i+1))
	}
	for i := range xd {
		m.XMean = append(m.XMean, -0.2*float64(i))
		m.XStd = append(m.XStd, 0.5+0.1*float64(i))
		m.XNames = append(m.XNames, "x_"+strconv.Itoa(i+1))
	}
	SetBox(tb, m, -3, 3)
	return m
}

// SetBox sets m's prior to the box [lo, hi]^d.
func SetBox(tb testing.TB, m *models.Model, lo, hi float64) {
	tb.Helper()
	d := m.Spec.ThetaDim
	low, high := make([]float64, d), make([]float64, d)
	for i := range d {
		low[i], high[i] = lo, hi
	}
	p, err := prior.NewBoxUniform(low, high)
	if err != nil {
		tb.Fatal(err)
	}
	if m.Prior, err = prior.Marshal(p); err != nil {
		tb.Fatal(err)
	}
}

// Bytes is m's model file.
func Bytes(tb testing.TB, m *models.Model) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := export.Write(m, &buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Open exports m and opens it, closing it when the test ends.
func Open(tb testing.TB, m *models.Model, opts runtime.Options) *runtime.Model {
	tb.Helper()
	return OpenBytes(tb, Bytes(tb, m), opts)
}

// OpenBytes opens a model file, closing it when the test ends.
func OpenBytes(tb testing.TB, data []byte, opts runtime.Options) *runtime.Model {
	tb.Helper()
	rm, err := runtime.OpenBytes(data, opts)
	if err != nil {
		SkipNoLibrary(tb, err)
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rm.Close() })
	return rm
}

// SkipNoLibrary skips the test when err says that the onnxruntime library
// is missing, except under CI (the environment variable CI set), where the
// library is part of the setup and its absence a failure.
func SkipNoLibrary(tb testing.TB, err error) {
	tb.Helper()
	if !errors.Is(err, runtime.ErrNoLibrary) {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("onnxruntime is required under CI: %v", err)
	}
	tb.Skip(err)
}

// RequireLibrary loads onnxruntime, or skips as SkipNoLibrary does.
func RequireLibrary(tb testing.TB) {
	tb.Helper()
	if _, err := runtime.FindLibrary(""); err != nil {
		SkipNoLibrary(tb, err)
		tb.Fatal(err)
	}
}

// SkipExamplesWithoutLibrary is for the TestMain of a package whose
// examples run models: an example cannot skip itself, so when onnxruntime
// cannot be found it adds pattern (a regular expression of example names)
// to -test.skip and says so on stderr. Under CI it does nothing, and the
// examples fail, as SkipNoLibrary fails tests. Call it after flag.Parse.
func SkipExamplesWithoutLibrary(pattern string) {
	_, err := runtime.FindLibrary("")
	if !errors.Is(err, runtime.ErrNoLibrary) || os.Getenv("CI") != "" {
		return
	}
	f := flag.Lookup("test.skip")
	if f == nil {
		return
	}
	skip := pattern
	if v := f.Value.String(); v != "" {
		skip = v + "|" + pattern
	}
	if f.Value.Set(skip) == nil {
		fmt.Fprintf(os.Stderr, "skipping the examples %s: %v\n", pattern, err)
	}
}
