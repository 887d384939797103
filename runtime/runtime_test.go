package runtime_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"google.golang.org/protobuf/proto"
)

// small is a quick model of kind for the tests: 4 hidden units.
func small(t testing.TB, kind string, d, xd int) *models.Model {
	return runtimetest.RandomModel(t, kind, d, xd, 4, 1)
}

func TestOpen(t *testing.T) {
	m := small(t, "maf", 3, 2)
	path := filepath.Join(t.TempDir(), "maf.onnx")
	if err := export.WriteFile(m, path); err != nil {
		t.Fatal(err)
	}
	fromPath, err := runtime.Open(path, runtime.Options{})
	if err != nil {
		runtimetest.SkipNoLibrary(t, err)
		t.Fatal(err)
	}
	defer fromPath.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fromBytes := runtimetest.OpenBytes(t, data, runtime.Options{})

	for _, rm := range []*runtime.Model{fromPath, fromBytes} {
		md := rm.Metadata()
		if rm.ThetaDim() != 3 || rm.XDim() != 2 || md.ThetaDim != 3 || md.XDim != 2 {
			t.Errorf("dims θ %d x %d, metadata %d %d; want 3 and 2", rm.ThetaDim(), rm.XDim(), md.ThetaDim, md.XDim)
		}
		if md.Method != "npe" || md.Estimator != "maf" || md.FormatVersion != format.Version {
			t.Errorf("method %q estimator %q version %q", md.Method, md.Estimator, md.FormatVersion)
		}
		if !slices.Equal(md.ThetaNames, m.ThetaNames) || !slices.Equal(md.XNames, m.XNames) {
			t.Errorf("names %v %v, want %v %v", md.ThetaNames, md.XNames, m.ThetaNames, m.XNames)
		}
		if !slices.Equal(md.ZScore.ThetaStd, m.ThetaStd) || !slices.Equal(md.ZScore.XMean, m.XMean) {
			t.Errorf("z-score %+v", md.ZScore)
		}
		if md.Noise != (format.Noise{Normal: 3}) {
			t.Errorf("noise %+v, want 3 normals", md.Noise)
		}
		box, ok := rm.Prior().(*prior.BoxUniform)
		if !ok {
			t.Fatalf("prior %T, want *prior.BoxUniform", rm.Prior())
		}
		low, high := box.Bounds()
		if !slices.Equal(low, []float64{-3, -3, -3}) || !slices.Equal(high, []float64{3, 3, 3}) {
			t.Errorf("prior bounds %v %v", low, high)
		}
		if rm.Device() != runtime.CPU {
			t.Errorf("device %v", rm.Device())
		}
	}
	// Both evaluate alike.
	x := []float32{0.5, -1}
	a, _, err := fromPath.Sample(x, 1, 8, rand.NewPCG(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := fromBytes.Sample(x, 1, 8, rand.NewPCG(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Errorf("same file, same noise: %v and %v", a, b)
	}

	if _, err := runtime.Open(filepath.Join(t.TempDir(), "missing.onnx"), runtime.Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestOpenNoPrior(t *testing.T) {
	m := small(t, "gaussian", 2, 2)
	m.Prior = nil
	rm := runtimetest.Open(t, m, runtime.Options{})
	if rm.Prior() != nil || rm.Metadata().Prior != nil {
		t.Errorf("prior %v, metadata %s; want none", rm.Prior(), rm.Metadata().Prior)
	}
}

// edit returns the model file of m after fn changed its protobuf.
func edit(t *testing.T, m *models.Model, fn func(*onnxpb.ModelProto)) []byte {
	t.Helper()
	mp, err := export.Build(m)
	if err != nil {
		t.Fatal(err)
	}
	fn(mp)
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setMeta(key, value string) func(*onnxpb.ModelProto) {
	return func(mp *onnxpb.ModelProto) {
		for _, p := range mp.MetadataProps {
			if p.GetKey() == format.Prefix+key {
				p.Value = proto.String(value)
			}
		}
	}
}

func dim(v int64) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
}

// identity is a valid ONNX model that is not an amortize model file.
func identity(t *testing.T) []byte {
	t.Helper()
	info := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
				Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{dim(3)}}},
		}}}
	}
	b, err := proto.Marshal(&onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{
			Name:   proto.String("identity"),
			Node:   []*onnxpb.NodeProto{{OpType: proto.String("Identity"), Input: []string{"a"}, Output: []string{"b"}}},
			Input:  []*onnxpb.ValueInfoProto{info("a")},
			Output: []*onnxpb.ValueInfoProto{info("b")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestContract checks that files breaking the contract are rejected with an
// error that names the problem.
func TestContract(t *testing.T) {
	runtimetest.RequireLibrary(t)
	m := small(t, "mdn", 2, 3)
	good := runtimetest.Bytes(t, m)
	garbage := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	float := func(name string) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: []int64{2}}
	}
	for _, c := range []struct {
		name string
		data []byte
		want string // in the message
		is   error  // besides ErrContract
	}{
		{"empty", nil, "empty file", nil},
		{"truncated", good[:len(good)/2], "not an ONNX model", nil},
		{"garbage", garbage, "not an ONNX model", nil},
		{"not ours", identity(t), "amortize.format_version missing", nil},
		{"missing key", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.MetadataProps = slices.DeleteFunc(mp.MetadataProps, func(p *onnxpb.StringStringEntryProto) bool {
				return p.GetKey() == format.Prefix+"zscore"
			})
		}), "amortize.zscore missing", nil},
		{"duplicate key", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.MetadataProps = append(mp.MetadataProps, mp.MetadataProps[3])
		}), "appears twice", nil},
		{"newer major", edit(t, m, setMeta("format_version", "2.0")), "file 2.0, this reader " + format.Version, format.ErrNewerVersion},
		{"bad version", edit(t, m, setMeta("format_version", "one")), "not major.minor", nil},
		{"bad number", edit(t, m, setMeta("theta_dim", "two")), "not an integer", nil},
		{"bad json", edit(t, m, setMeta("noise", "{")), "amortize.noise", nil},
		{"bad prior", edit(t, m, setMeta("prior", `{"type":"box_uniform","low":[1,1],"high":[0,0]}`)), "prior", prior.ErrInvalid},
		{"prior dim", edit(t, m, setMeta("prior", `{"type":"box_uniform","low":[0],"high":[1]}`)), "prior has dimension 1", nil},
		{"wrong x dim", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().Shape.Dim[1] = dim(4)
		}), "x axis 1 is 4, the metadata needs 3", nil},
		{"noise dim", edit(t, m, setMeta("noise", `{"normal":2,"uniform":0}`)), "noise axis 2 is 3, the metadata needs 2", nil},
		{"fixed batch", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.Graph.Input[1].Type.GetTensorType().Shape.Dim[0] = dim(1)
		}), "theta axis 0 is fixed to 1", nil},
		{"float64 input", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.Graph.Input[0].Type.GetTensorType().ElemType = proto.Int32(int32(onnxpb.TensorProto_DOUBLE))
		}), "x has element type DOUBLE", nil},
		{"missing output", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.Graph.Output = mp.Graph.Output[:2]
		}), "no sample_log_prob", nil},
		{"external data", edit(t, m, func(mp *onnxpb.ModelProto) {
			t := float("ext")
			t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			t.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("/etc/passwd")}}
			mp.Graph.Initializer = append(mp.Graph.Initializer, t)
		}), "external data is not allowed", nil},
		{"short initializer", edit(t, m, func(mp *onnxpb.ModelProto) {
			t := float("short")
			t.FloatData = []float32{1}
			mp.Graph.Initializer = append(mp.Graph.Initializer, t)
		}), `initializer "short": 1 values for dimensions [2]`, nil},
		{"raw size", edit(t, m, func(mp *onnxpb.ModelProto) {
			t := float("raw")
			t.RawData = make([]byte, 7)
			mp.Graph.Initializer = append(mp.Graph.Initializer, t)
		}), "7 bytes of raw data", nil},
		{"huge dims", edit(t, m, func(mp *onnxpb.ModelProto) {
			t := float("huge")
			t.Dims = []int64{1 << 40, 1 << 40}
			mp.Graph.Initializer = append(mp.Graph.Initializer, t)
		}), "too large", nil},
		{"unknown op", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.Graph.Node[0].OpType = proto.String("NoSuchOp")
		}), "operator NoSuchOp is not allowed", nil},
		{"broken node", edit(t, m, func(mp *onnxpb.ModelProto) {
			mp.Graph.Node[0].Input = nil
		}), "onnxruntime cannot load it", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rm, err := runtime.OpenBytes(c.data, runtime.Options{})
			if err == nil {
				rm.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, runtime.ErrContract) {
				t.Errorf("error %v is not ErrContract", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}

	// A newer minor version is readable.
	rm := runtimetest.OpenBytes(t, edit(t, m, setMeta("format_version", "1.9")), runtime.Options{})
	if v := rm.Metadata().FormatVersion; v != "1.9" {
		t.Errorf("version %q", v)
	}
}

func TestRunInputs(t *testing.T) {
	rm := runtimetest.Open(t, small(t, "mdn", 2, 3), runtime.Options{})
	// mdn: noise is 2 normals and 1 uniform per draw.
	x := []float32{0, 1, 2, 3, 4, 5}
	theta := make([]float32, 2*4*2)
	noise := rm.Noise(nil, 2*5, rand.NewPCG(1, 1))
	if out, err := rm.Run(x, 2, theta, 4, noise, 5, nil); err != nil {
		t.Fatal(err)
	} else if len(out.LogProb) != 8 || len(out.Sample) != 20 || len(out.SampleLogProb) != 10 {
		t.Fatalf("output lengths %d %d %d", len(out.LogProb), len(out.Sample), len(out.SampleLogProb))
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	with := func(v []float32, i int, f float32) []float32 {
		v = slices.Clone(v)
		v[i] = f
		return v
	}
	for _, c := range []struct {
		name          string
		x, th, no     []float32
		b, nTh, nSamp int
		want          string
	}{
		{"no observations", nil, nil, nil, 0, 0, 0, "0 observations"},
		{"negative count", x, theta, noise, 2, -1, 5, "negative count"},
		{"short x", x[:5], theta, noise, 2, 4, 5, "x has 5 values"},
		{"long theta", x, append(theta, 1), noise, 2, 4, 5, "theta has 17 values"},
		{"theta count", x, theta, noise, 2, 3, 5, "theta has 16 values, want 2 observations × 3"},
		{"noise count", x, theta, noise, 2, 4, 4, "noise has 30 values"},
		{"theta without count", x, theta, noise, 2, 0, 5, "theta has 16 values"},
		{"overflowing count", x, nil, noise, 2, 1 << 62, 5, "theta has 0 values"},
		{"NaN x", with(x, 3, nan), theta, noise, 2, 4, 5, "x[3] is NaN"},
		{"Inf theta", x, with(theta, 7, -inf), noise, 2, 4, 5, "theta[7] is -Inf"},
		{"NaN noise", x, theta, with(noise, 0, nan), 2, 4, 5, "noise[0] is NaN"},
	} {
		_, err := rm.Run(c.x, c.b, c.th, c.nTh, c.no, c.nSamp, nil)
		if !errors.Is(err, runtime.ErrInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrInput saying %q", c.name, err, c.want)
		}
	}
	if _, _, err := rm.Sample(x, 0, 10, nil); !errors.Is(err, runtime.ErrInput) {
		t.Errorf("Sample with 0 observations: %v", err)
	}
	if _, err := rm.LogProb(x[:2], 1, nil, 0); !errors.Is(err, runtime.ErrInput) {
		t.Errorf("LogProb with a short x: %v", err)
	}
}

// TestRunDestination checks the destination idiom: a large enough Output is
// filled in place.
func TestRunDestination(t *testing.T) {
	rm := runtimetest.Open(t, small(t, "gaussian", 2, 2), runtime.Options{})
	x := []float32{0.1, 0.2}
	noise := rm.Noise(nil, 50, rand.NewPCG(2, 2))
	want, err := rm.Run(x, 1, nil, 0, noise, 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := &runtime.Output{Sample: make([]float32, 200), SampleLogProb: make([]float32, 100)}
	sample, slp := &dst.Sample[0], &dst.SampleLogProb[0]
	got, err := rm.Run(x, 1, nil, 0, noise, 50, dst)
	if err != nil {
		t.Fatal(err)
	}
	if got != dst || &got.Sample[0] != sample || &got.SampleLogProb[0] != slp {
		t.Error("Run did not fill the destination in place")
	}
	if !slices.Equal(got.Sample, want.Sample) || !slices.Equal(got.SampleLogProb, want.SampleLogProb) || len(got.LogProb) != 0 {
		t.Error("Run into a destination differs from Run into a new Output")
	}
}

// TestChunks checks that splitting a request into onnxruntime calls of a
// few rows changes nothing: whole observations per piece, and one
// observation's rows split for either path or both.
func TestChunks(t *testing.T) {
	mod := small(t, "mdn", 2, 3)
	whole := runtimetest.Open(t, mod, runtime.Options{ChunkRows: -1, Workers: 1})
	split := runtimetest.Open(t, mod, runtime.Options{ChunkRows: 7})
	// A piece of one row may take a matrix-vector kernel that sums in
	// another order: equal up to float32 rounding.
	samePieces(t, whole, split, 1e-5, []pieceCase{
		{5, 2, 1}, {4, 0, 3}, {3, 5, 4}, {2, 20, 0}, {2, 0, 15}, {1, 3, 30}, {1, 1, 1},
	})
}

// TestWorkers checks that calls cut for concurrent workers give exactly
// what one call gives: pieces start at whole vector registers.
func TestWorkers(t *testing.T) {
	mod := small(t, "nsf", 2, 3)
	one := runtimetest.Open(t, mod, runtime.Options{Workers: 1})
	many := runtimetest.Open(t, mod, runtime.Options{Workers: 3})
	samePieces(t, one, many, 0, []pieceCase{
		{1, 0, 3000}, {1, 2500, 0}, {1, 1200, 1300}, {4, 300, 200}, {1, 5, 7},
	})
}

type pieceCase struct{ b, nTheta, nSample int }

// samePieces runs every case on both models and compares the outputs, to
// a relative tolerance.
func samePieces(t *testing.T, whole, split *runtime.Model, tol float64, cases []pieceCase) {
	t.Helper()
	rng := rand.New(rand.NewPCG(9, 9))
	for _, c := range cases {
		x := make([]float32, c.b*3)
		theta := make([]float32, c.b*c.nTheta*2)
		for _, v := range [][]float32{x, theta} {
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
		}
		noise := whole.Noise(nil, c.b*c.nSample, rng)
		want, err := whole.Run(x, c.b, theta, c.nTheta, noise, c.nSample, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := split.Run(x, c.b, theta, c.nTheta, noise, c.nSample, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, pair := range [][2][]float32{{got.LogProb, want.LogProb}, {got.Sample, want.Sample}, {got.SampleLogProb, want.SampleLogProb}} {
			if len(pair[0]) != len(pair[1]) {
				t.Fatalf("%+v: %d values, want %d", c, len(pair[0]), len(pair[1]))
			}
			for i := range pair[0] {
				if g, w := float64(pair[0][i]), float64(pair[1][i]); math.Abs(g-w) > tol*math.Max(1, math.Abs(w)) {
					t.Fatalf("%+v: value %d is %v in pieces, %v whole", c, i, g, w)
				}
			}
		}
	}
}

func TestClose(t *testing.T) {
	data := runtimetest.Bytes(t, small(t, "gaussian", 2, 2))
	rm, err := runtime.OpenBytes(data, runtime.Options{})
	if err != nil {
		runtimetest.SkipNoLibrary(t, err)
		t.Fatal(err)
	}
	if err := rm.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rm.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := rm.LogProb([]float32{0, 0}, 1, []float32{0, 0}, 1); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("LogProb after Close: %v", err)
	}
	if _, _, err := rm.Sample([]float32{0, 0}, 1, 1, nil); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("Sample after Close: %v", err)
	}
}

// TestConcurrent runs Sample and LogProb from 8 goroutines at once (run it
// with -race) and checks every result against the same call made alone.
func TestConcurrent(t *testing.T) {
	rm := runtimetest.Open(t, small(t, "nsf", 2, 2), runtime.Options{})
	const workers, calls, b, n = 8, 20, 2, 16
	type result struct{ theta, lp, back []float32 }
	call := func(w, c int) (result, error) {
		x := []float32{float32(w) / 4, float32(c) / 10, -float32(w), 0.5}
		theta, lp, err := rm.Sample(x, b, n, rand.NewPCG(uint64(w), uint64(c)))
		if err != nil {
			return result{}, err
		}
		back, err := rm.LogProb(x, b, theta, n)
		return result{theta, lp, back}, err
	}
	want := make([][]result, workers)
	for w := range workers {
		for c := range calls {
			r, err := call(w, c)
			if err != nil {
				t.Fatal(err)
			}
			want[w] = append(want[w], r)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls)
	for w := range workers {
		wg.Go(func() {
			for c := range calls {
				r, err := call(w, c)
				switch {
				case err != nil:
					errs <- err
				case !slices.Equal(r.theta, want[w][c].theta) || !slices.Equal(r.lp, want[w][c].lp) || !slices.Equal(r.back, want[w][c].back):
					errs <- errors.New("concurrent result differs from the sequential one")
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNoise(t *testing.T) {
	rm := runtimetest.Open(t, small(t, "mdn", 2, 2), runtime.Options{})
	const draws = 20_000
	a := rm.Noise(nil, draws, rand.NewPCG(5, 6))
	b := rm.Noise(make([]float32, 10), draws, rand.NewPCG(5, 6))
	if len(a) != 3*draws || !slices.Equal(a, b) {
		t.Fatal("the same seed gave different noise")
	}
	if c := rm.Noise(nil, draws, rand.NewPCG(5, 7)); slices.Equal(a, c) {
		t.Error("different seeds gave the same noise")
	}
	dst := make([]float32, 3*draws+5)
	if got := rm.Noise(dst, draws, rand.NewPCG(5, 6)); &got[0] != &dst[0] || len(got) != 3*draws {
		t.Error("Noise did not reuse a large enough destination")
	}
	if got := rm.Noise(nil, -1, nil); len(got) != 0 {
		t.Errorf("%d values for -1 draws", len(got))
	}
	if got := rm.Noise(nil, 2, nil); len(got) != 6 {
		t.Errorf("%d values for 2 draws from the global generator", len(got))
	}
	// Layout per draw: 2 standard normals, then 1 uniform(0,1). Means within
	// 5 standard errors: 1/√n for the normals, √(1/12)/√n for the uniform.
	var sum [3]float64
	for i, v := range a {
		if i%3 == 2 && !(v >= 0 && v < 1) {
			t.Fatalf("uniform column has %v", v)
		}
		sum[i%3] += float64(v)
	}
	se := 1 / math.Sqrt(draws)
	for j, want := range []float64{0, 0, 0.5} {
		tol := 5 * se
		if j == 2 {
			tol *= math.Sqrt(1.0 / 12)
		}
		if mean := sum[j] / draws; math.Abs(mean-want) > tol {
			t.Errorf("column %d mean %v, want %v ± %v", j, mean, want, tol)
		}
	}
}

// TestCUDA asks for the CUDA provider, which the CPU build of onnxruntime
// lacks: an error carrying onnxruntime's reason, or with FallbackToCPU a
// working model on the CPU and a logged warning.
func TestCUDA(t *testing.T) {
	data := runtimetest.Bytes(t, small(t, "gaussian", 2, 2))
	rm, err := runtime.OpenBytes(data, runtime.Options{Device: runtime.CUDA})
	if err == nil {
		defer rm.Close()
		if rm.Device() != runtime.CUDA {
			t.Fatalf("opened on %v without error", rm.Device())
		}
		t.Skip("this onnxruntime has a working CUDA provider")
	}
	runtimetest.SkipNoLibrary(t, err)
	if !errors.Is(err, runtime.ErrDevice) {
		t.Fatalf("error %v is not ErrDevice", err)
	}
	prefix := runtime.ErrDevice.Error() + ": CUDA device 0: "
	if msg := err.Error(); !strings.HasPrefix(msg, prefix) || len(msg) < len(prefix)+10 {
		t.Errorf("error %q lacks onnxruntime's reason", msg)
	}
	remedies := []string{"onnxruntime-cuda.sh", "LD_LIBRARY_PATH", "needs onnxruntime", "found no GPU"}
	if !slices.ContainsFunc(remedies, func(r string) bool { return strings.Contains(err.Error(), r) }) {
		t.Errorf("error %q names no remedy (one of %q)", err, remedies)
	}

	if _, err := runtime.OpenBytes(data, runtime.Options{Device: 7}); !errors.Is(err, runtime.ErrDevice) || !strings.Contains(err.Error(), "Device(7)") {
		t.Errorf("unknown device: %v", err)
	}

	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	rm = runtimetest.OpenBytes(t, data, runtime.Options{Device: runtime.CUDA, FallbackToCPU: true, Logger: logger})
	if rm.Device() != runtime.CPU || rm.Device().String() != "cpu" {
		t.Errorf("device %v after falling back", rm.Device())
	}
	if _, _, err := rm.Sample([]float32{0, 0}, 1, 4, rand.NewPCG(1, 1)); err != nil {
		t.Errorf("sampling after falling back: %v", err)
	}
	if s := log.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "CUDA") {
		t.Errorf("no warning logged: %q", s)
	}
}

func TestSecondLibrary(t *testing.T) {
	data := runtimetest.Bytes(t, small(t, "gaussian", 2, 2))
	runtimetest.OpenBytes(t, data, runtime.Options{})
	other := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runtime.OpenBytes(data, runtime.Options{LibraryPath: other})
	if err == nil || !strings.Contains(err.Error(), "already loaded from "+runtime.LibraryPath()) {
		t.Errorf("loading a second library: %v", err)
	}
}

// TestOpenNotAModelFile checks that Open refuses, without reading them,
// files that are not regular or are larger than a model file may be.
func TestOpenNotAModelFile(t *testing.T) {
	runtimetest.RequireLibrary(t)
	big := filepath.Join(t.TempDir(), "big.onnx")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: no disk is used.
	if err := f.Truncate(format.MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for path, want := range map[string]string{
		os.DevNull:  "is not a regular file",
		t.TempDir(): "is not a regular file",
		big:         "is larger than",
	} {
		_, err := runtime.Open(path, runtime.Options{})
		if !errors.Is(err, runtime.ErrContract) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want ErrContract saying %q", path, err, want)
		}
	}
}
