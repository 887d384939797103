package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestPrune checks that each path's session gets exactly the nodes its
// outputs need: the sampling graph never reads θ, the log-prob graph never
// reads the noise, and together they cover the whole file.
func TestPrune(t *testing.T) {
	for _, kind := range []string{"gaussian", "mdn", "maf", "nsf"} {
		t.Run(kind, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "testdata", "golden", kind+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			mp, _, err := parse(data)
			if err != nil {
				t.Fatal(err)
			}
			covered := map[string]bool{}
			for _, c := range []struct {
				outputs, inputs []string
				unread          string
			}{
				{[]string{format.OutputLogProb}, []string{format.InputX, format.InputTheta}, format.InputNoise},
				{[]string{format.OutputSample, format.OutputSampleLog}, []string{format.InputX, format.InputNoise}, format.InputTheta},
			} {
				sub, inputs, err := prune(mp, c.outputs)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(inputs, c.inputs) {
					t.Errorf("%v reads %v, want %v", c.outputs, inputs, c.inputs)
				}
				var sp onnxpb.ModelProto
				if err := proto.Unmarshal(sub, &sp); err != nil {
					t.Fatal(err)
				}
				g := sp.GetGraph()
				if len(g.GetNode()) >= len(mp.GetGraph().GetNode()) {
					t.Errorf("%v keeps all %d nodes", c.outputs, len(g.GetNode()))
				}
				for _, n := range g.GetNode() {
					covered[n.GetName()] = true
					if slices.Contains(n.GetInput(), c.unread) {
						t.Errorf("%v: node %s reads %s", c.outputs, n.GetName(), c.unread)
					}
				}
				for _, v := range g.GetOutput() {
					if !slices.Contains(c.outputs, v.GetName()) {
						t.Errorf("%v: output %s kept", c.outputs, v.GetName())
					}
				}
			}
			if len(covered) != len(mp.GetGraph().GetNode()) {
				t.Errorf("the two paths cover %d of %d nodes", len(covered), len(mp.GetGraph().GetNode()))
			}
		})
	}
}
