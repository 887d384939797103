package runtime_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

var fuzzKinds = []string{"gaussian", "mdn", "maf", "nsf"}

// FuzzOpen feeds mutated model files to OpenBytes and evaluates those that
// open: whatever the bytes, the result is a model or an error, never a
// panic or a crash inside onnxruntime.
func FuzzOpen(f *testing.F) {
	for i, kind := range fuzzKinds {
		good := runtimetest.Bytes(f, runtimetest.RandomModel(f, kind, 2, 2, 3, uint64(i)))
		f.Add(good)
		for _, n := range []int{1, 2, 16, len(good) / 3, len(good) / 2, len(good) - 1} {
			f.Add(good[:n])
		}
		for _, at := range []int{0, 1, 5, len(good) / 4, len(good) / 2, len(good) - 3} {
			b := append([]byte(nil), good...)
			b[at] ^= 0xff
			f.Add(b)
		}
	}
	for _, c := range crafted(f) {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { openAndRun(t, data) })
}

// FuzzOpenGraph mutates only the graph of a model file whose metadata stays
// valid, so that mutations get past the metadata checks and reach the
// graph checks and onnxruntime, which random bytes seldom do.
func FuzzOpenGraph(f *testing.F) {
	var head []byte // a model file without its graph: metadata of θ and x dimension 2
	for i, kind := range fuzzKinds {
		mp, err := export.Build(runtimetest.RandomModel(f, kind, 2, 2, 3, uint64(i)))
		if err != nil {
			f.Fatal(err)
		}
		graph, err := proto.Marshal(mp.Graph)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(graph)
		if kind == "gaussian" {
			mp.Graph = nil
			if head, err = proto.Marshal(mp); err != nil {
				f.Fatal(err)
			}
		}
	}
	f.Fuzz(func(t *testing.T, graph []byte) {
		// Field 7 of ModelProto is the graph.
		data := protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), head...), 7, protowire.BytesType), graph)
		openAndRun(t, data)
	})
}

// openAndRun opens a file and, when it opens, uses it as a service would:
// a raw call, posterior samples and scores, with and without the leakage
// correction, through the Sampler and Direct. A file that opens may still
// fail to evaluate (its graph was altered); it must do so with an error,
// in bounded time and memory.
func openAndRun(t *testing.T, data []byte) {
	m, err := runtime.OpenBytes(data, runtime.Options{Threads: 1, Workers: 1})
	if err != nil {
		runtimetest.SkipNoLibrary(t, err)
		return
	}
	defer m.Close()
	d, xd := m.ThetaDim(), m.XDim()
	x := make([]float32, xd)
	theta := make([]float32, d)
	noise := m.Noise(nil, 1, rand.NewPCG(1, 1))
	m.Run(x, 1, theta, 1, noise, 1, nil)

	p := m.Prior()
	if p == nil {
		low, high := make([]float64, d), make([]float64, d)
		for i := range d {
			low[i], high[i] = -1e6, 1e6
		}
		if p, err = prior.NewBoxUniform(low, high); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	xs := mat.NewDense(2, xd, nil)
	// Few draws before judging an observation hopeless: a broken graph's
	// samples may all leave the support.
	opts := posterior.DirectOptions{Prior: p, MinProposals: 64, MinAcceptance: 0.01, MaxBatch: 256, LeakageDraws: 64}
	post, err := posterior.NewDirect(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	post.SampleBatched(ctx, xs, 3, rand.NewPCG(2, 2))
	post.NormalizedLogProb(ctx, mat.NewDense(2, d, nil), make([]float64, xd), rand.NewPCG(3, 3))
	s, err := posterior.NewSampler(m, posterior.SamplerOptions{Prior: p, MinProposals: 64, MinAcceptance: 0.01, BatchDraws: 256, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SampleBatched(ctx, xs, 3, rand.NewPCG(4, 4))
}
