package runtime_test

import (
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
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

func openAndRun(t *testing.T, data []byte) {
	m, err := runtime.OpenBytes(data, runtime.Options{Threads: 1})
	if err != nil {
		runtimetest.SkipNoLibrary(t, err)
		return
	}
	defer m.Close()
	x := make([]float32, m.XDim())
	theta := make([]float32, m.ThetaDim())
	noise := m.Noise(nil, 1, rand.NewPCG(1, 1))
	// A file that opens may still fail to evaluate (its graph was
	// altered); it must do so with an error.
	m.Run(x, 1, theta, 1, noise, 1, nil)
}
