package export_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	"github.com/amortize/amortize/models"
	"google.golang.org/protobuf/proto"
)

// TestOps keeps format.Ops, the operators readers accept, equal to the set
// the exporter writes: every operator of every estimator kind, activation
// and golden file is in it, and each of its entries is written by some
// model. A new operator in the exporter fails here until it is added to
// the contract, and an entry no model uses fails until it is removed.
func TestOps(t *testing.T) {
	used := map[string]string{} // operator → the first model writing it
	visit := func(what string, mp *onnxpb.ModelProto) {
		t.Helper()
		if len(mp.GetFunctions()) > 0 {
			t.Errorf("%s: the file defines functions", what)
		}
		if imp := mp.GetOpsetImport(); len(imp) != 1 || imp[0].GetDomain() != format.Domain || imp[0].GetVersion() != format.Opset {
			t.Errorf("%s: opset imports %v", what, imp)
		}
		for _, n := range mp.GetGraph().GetNode() {
			op := n.GetOpType()
			if n.GetDomain() != format.Domain {
				t.Errorf("%s: node %s in domain %q", what, n.GetName(), n.GetDomain())
			}
			if !slices.Contains(format.Ops, op) {
				t.Errorf("%s: operator %s is not in format.Ops", what, op)
			}
			if _, ok := used[op]; !ok {
				used[op] = what
			}
		}
	}
	for _, kind := range models.Kinds() {
		for _, act := range []string{"relu", "tanh", "elu"} {
			for _, d := range []int{1, 3} {
				m := randomModel(t, kind, d, 2, 5)
				m.Spec.Activation = act
				mp, err := export.Build(m)
				if err != nil {
					t.Fatalf("%s %s d=%d: %v", kind, act, d, err)
				}
				visit(kind+" "+act, mp)
			}
		}
	}
	golden, err := filepath.Glob(filepath.Join("..", "testdata", "golden", "*.onnx"))
	if err != nil || len(golden) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range golden {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(b, &mp); err != nil {
			t.Fatal(err)
		}
		visit(filepath.Base(path), &mp)
	}
	for _, op := range format.Ops {
		if _, ok := used[op]; !ok {
			t.Errorf("format.Ops lists %s, which no model writes", op)
		}
	}
	if !slices.IsSorted(format.Ops) {
		t.Errorf("format.Ops is not sorted: %v", format.Ops)
	}
}
