package runtime_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	"github.com/amortize/amortize/runtime"
	"google.golang.org/protobuf/proto"
)

// craftedFile is a hostile model file: valid protobuf, built from a real
// exported model, that must be refused at open, before onnxruntime parses
// it, with an error that says want.
type craftedFile struct {
	name string
	data []byte
	want string
}

// crafted builds the hostile files from testdata/golden/gaussian.onnx.
// Each one is a working attack on a reader that trusts the file: its
// payload feeds log_prob (or is what the first request allocates by).
func crafted(tb testing.TB) []craftedFile {
	tb.Helper()
	base, err := os.ReadFile(filepath.Join("..", "testdata", "golden", "gaussian.onnx"))
	if err != nil {
		tb.Fatal(err)
	}
	build := func(edit func(mp *onnxpb.ModelProto)) []byte {
		var mp onnxpb.ModelProto
		if err := proto.Unmarshal(base, &mp); err != nil {
			tb.Fatal(err)
		}
		edit(&mp)
		b, err := proto.Marshal(&mp)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	const secret = "secret.bin" // resolved against the working directory
	external := func(t *onnxpb.TensorProto) *onnxpb.TensorProto {
		t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*onnxpb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(secret)},
			{Key: proto.String("offset"), Value: proto.String("0")},
			{Key: proto.String("length"), Value: proto.String("16")},
		}
		return t
	}
	leakTensor := func(name string) *onnxpb.TensorProto {
		return external(&onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: []int64{4}})
	}
	leakSparse := func() *onnxpb.SparseTensorProto {
		return &onnxpb.SparseTensorProto{
			Values: leakTensor("leak_values"),
			Indices: &onnxpb.TensorProto{Name: proto.String("leak_indices"), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
				Dims: []int64{4}, Int64Data: []int64{0, 1, 2, 3}},
			Dims: []int64{4},
		}
	}
	attr := func(name string, typ onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: typ.Enum()}
	}
	node := func(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out, Attribute: attrs}
	}
	// feed adds the float tensor named value, summed to one number, to
	// every log_prob, computed by nodes inserted before the output node.
	feed := func(mp *onnxpb.ModelProto, value string, nodes ...*onnxpb.NodeProto) {
		g := mp.Graph
		for i, n := range g.Node {
			if len(n.Output) == 1 && n.Output[0] == format.OutputLogProb {
				nodes = append(nodes,
					node("ReduceSum", "feed_sum", []string{value}, []string{"feed_sum"}),
					node("Add", "feed_add", []string{n.Input[0], "feed_sum"}, []string{"feed_add"}))
				n.Input[0] = "feed_add"
				g.Node = append(g.Node[:i], append(nodes, g.Node[i:]...)...)
				return
			}
		}
		tb.Fatal("no log_prob node")
	}
	setMeta := func(mp *onnxpb.ModelProto, key, value string) {
		for _, p := range mp.MetadataProps {
			if p.GetKey() == format.Prefix+key {
				p.Value = proto.String(value)
				return
			}
		}
		tb.Fatalf("no metadata key %s", key)
	}
	setDim := func(mp *onnxpb.ModelProto, input string, axis int, v int64) {
		for _, in := range mp.Graph.Input {
			if in.GetName() == input {
				in.Type.GetTensorType().Shape.Dim[axis] = dim(v)
				return
			}
		}
		tb.Fatalf("no input %s", input)
	}
	// resize declares theta_dim or x_dim d, consistently: names, z-score
	// and the input's shape.
	resize := func(mp *onnxpb.ModelProto, which string, d int) {
		names := make([]string, d)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		js, _ := json.Marshal(names)
		setMeta(mp, which+"_names", string(js))
		setMeta(mp, which+"_dim", strconv.Itoa(d))
		var z map[string][]float64
		for _, p := range mp.MetadataProps {
			if p.GetKey() == format.Prefix+"zscore" {
				if err := json.Unmarshal([]byte(p.GetValue()), &z); err != nil {
					tb.Fatal(err)
				}
			}
		}
		for _, k := range []string{which + "_mean", which + "_std"} {
			z[k] = make([]float64, d)
			for i := range z[k] {
				z[k][i] = 1
			}
		}
		js, _ = json.Marshal(z)
		setMeta(mp, "zscore", string(js))
		if which == "theta" {
			setDim(mp, format.InputTheta, 2, int64(d))
			setMeta(mp, "prior", "null")
			// The Gaussian's noise is θ's dimension.
			setMeta(mp, "noise", `{"normal":`+strconv.Itoa(d)+`,"uniform":0}`)
			setDim(mp, format.InputNoise, 2, int64(d))
			for _, o := range mp.Graph.Output {
				if o.GetName() == format.OutputSample {
					o.Type.GetTensorType().Shape.Dim[2] = dim(int64(d))
				}
			}
		} else {
			setDim(mp, format.InputX, 1, int64(d))
		}
	}
	boolInit := func(name string) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_BOOL)), Int32Data: []int32{1}}
	}
	floatInit := func(name string) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: []int64{1}, FloatData: []float32{0}}
	}
	boolInfo := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_BOOL)), Shape: &onnxpb.TensorShapeProto{}}}}}
	}
	floatInfo := func(name string, dims ...*onnxpb.TensorShapeProto_Dimension) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	// branch is an If branch whose Constant holds the leaked tensor.
	branch := func(a *onnxpb.AttributeProto) *onnxpb.GraphProto {
		return &onnxpb.GraphProto{
			Name:   proto.String("branch"),
			Node:   []*onnxpb.NodeProto{node("Constant", "branch_leak", nil, []string{"branch_out"}, a)},
			Output: []*onnxpb.ValueInfoProto{floatInfo("branch_out", dim(4))},
		}
	}
	ifLeak := func(mp *onnxpb.ModelProto, a func() *onnxpb.AttributeProto) {
		mp.Graph.Initializer = append(mp.Graph.Initializer, boolInit("yes"))
		then, els := attr("then_branch", onnxpb.AttributeProto_GRAPH), attr("else_branch", onnxpb.AttributeProto_GRAPH)
		then.G, els.G = branch(a()), branch(a())
		feed(mp, "if_out", node("If", "if", []string{"yes"}, []string{"if_out"}, then, els))
	}
	denseAttr := func() *onnxpb.AttributeProto {
		a := attr("value", onnxpb.AttributeProto_TENSOR)
		a.T = leakTensor("leak")
		return a
	}
	sparseAttr := func() *onnxpb.AttributeProto {
		a := attr("sparse_value", onnxpb.AttributeProto_SPARSE_TENSOR)
		a.SparseTensor = leakSparse()
		return a
	}
	const external_ = "external data is not allowed"
	return []craftedFile{
		{"sparse_constant_external", build(func(mp *onnxpb.ModelProto) {
			feed(mp, "leak", node("Constant", "leak", nil, []string{"leak"}, sparseAttr()))
		}), `node "leak" attribute "sparse_value": sparse tensor: values: ` + external_},
		{"initializer_external", build(func(mp *onnxpb.ModelProto) {
			for _, t := range mp.Graph.Initializer {
				if strings.HasPrefix(t.GetName(), "param.") {
					t.FloatData = nil
					external(t)
					return
				}
			}
		}), external_},
		{"sparse_initializer_external", build(func(mp *onnxpb.ModelProto) {
			mp.Graph.SparseInitializer = append(mp.Graph.SparseInitializer, leakSparse())
			feed(mp, "leak_values")
		}), `sparse initializer "leak_values": values: ` + external_},
		{"subgraph_tensor_external", build(func(mp *onnxpb.ModelProto) { ifLeak(mp, denseAttr) }),
			`node "branch_leak" attribute "value": ` + external_},
		{"subgraph_sparse_external", build(func(mp *onnxpb.ModelProto) { ifLeak(mp, sparseAttr) }),
			`node "branch_leak" attribute "sparse_value": sparse tensor: values: ` + external_},
		{"tensors_attribute_external", build(func(mp *onnxpb.ModelProto) {
			a := attr("extra", onnxpb.AttributeProto_TENSORS)
			a.Tensors = []*onnxpb.TensorProto{leakTensor("leak")}
			mp.Graph.Node[0].Attribute = append(mp.Graph.Node[0].Attribute, a)
		}), `attribute "extra": ` + external_},
		{"sparse_tensors_attribute_external", build(func(mp *onnxpb.ModelProto) {
			a := attr("extra", onnxpb.AttributeProto_SPARSE_TENSORS)
			a.SparseTensors = []*onnxpb.SparseTensorProto{leakSparse()}
			mp.Graph.Node[0].Attribute = append(mp.Graph.Node[0].Attribute, a)
		}), `attribute "extra": sparse tensor: values: ` + external_},
		{"subgraphs_too_deep", build(func(mp *onnxpb.ModelProto) {
			// If nodes nested 10 deep, the innermost holding the leak.
			a := denseAttr()
			for range 10 {
				g := branch(a)
				a = attr("then_branch", onnxpb.AttributeProto_GRAPH)
				a.G = g
			}
			mp.Graph.Node[0].Attribute = append(mp.Graph.Node[0].Attribute, a)
		}), "subgraphs nested deeper than 8"},
		{"loop_huge_trip_count", build(func(mp *onnxpb.ModelProto) {
			g := mp.Graph
			g.Initializer = append(g.Initializer,
				&onnxpb.TensorProto{Name: proto.String("trips"), DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{1 << 62}},
				boolInit("yes"), floatInit("zero"))
			body := attr("body", onnxpb.AttributeProto_GRAPH)
			body.G = &onnxpb.GraphProto{
				Name: proto.String("body"),
				Node: []*onnxpb.NodeProto{
					node("Identity", "body_cond", []string{"cond_in"}, []string{"cond_out"}),
					node("Identity", "body_v", []string{"v_in"}, []string{"v_out"}),
				},
				Input: []*onnxpb.ValueInfoProto{
					{Name: proto.String("iter"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
						ElemType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Shape: &onnxpb.TensorShapeProto{}}}}},
					boolInfo("cond_in"), floatInfo("v_in", dim(1)),
				},
				Output: []*onnxpb.ValueInfoProto{boolInfo("cond_out"), floatInfo("v_out", dim(1))},
			}
			feed(mp, "loop_out", node("Loop", "loop", []string{"trips", "yes", "zero"}, []string{"loop_out"}, body))
		}), "operator Loop is not allowed"},
		{"unknown_op", build(func(mp *onnxpb.ModelProto) {
			feed(mp, "odd", node("NoSuchOp", "odd", []string{format.InputX}, []string{"odd"}))
		}), "operator NoSuchOp is not allowed"},
		{"custom_domain", build(func(mp *onnxpb.ModelProto) {
			mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("com.example"), Version: proto.Int64(1)})
			n := node("Leak", "custom", []string{format.InputX}, []string{"custom"})
			n.Domain = proto.String("com.example")
			feed(mp, "custom", n)
		}), `opset imports ["" version 17 "com.example" version 1]`},
		{"custom_domain_node", build(func(mp *onnxpb.ModelProto) {
			n := node("Relu", "custom", []string{format.InputX}, []string{"custom"})
			n.Domain = proto.String("com.microsoft")
			feed(mp, "custom", n)
		}), "operator com.microsoft.Relu is not allowed"},
		{"local_function", build(func(mp *onnxpb.ModelProto) {
			mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String("local"), Version: proto.Int64(1)})
			mp.Functions = append(mp.Functions, &onnxpb.FunctionProto{
				Name: proto.String("Twice"), Domain: proto.String("local"),
				Input: []string{"a"}, Output: []string{"b"},
				Node:        []*onnxpb.NodeProto{node("Add", "twice", []string{"a", "a"}, []string{"b"})},
				OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(format.Opset)}},
			})
			n := node("Twice", "call", []string{format.InputX}, []string{"twice"})
			n.Domain = proto.String("local")
			feed(mp, "twice", n)
		}), `model-local functions are not allowed (the file defines "Twice")`},
		{"noise_huge", build(func(mp *onnxpb.ModelProto) {
			setMeta(mp, "noise", `{"normal":1099511627776,"uniform":0}`)
			setDim(mp, format.InputNoise, 2, 1<<40)
		}), "amortize.noise.normal is 1099511627776, over the limit"},
		{"theta_dim_huge", build(func(mp *onnxpb.ModelProto) { resize(mp, "theta", format.MaxThetaDim+1) }),
			"amortize.theta_dim is 10001, over the limit 10000"},
		{"x_dim_huge", build(func(mp *onnxpb.ModelProto) { resize(mp, "x", format.MaxXDim+1) }),
			"amortize.x_dim is 100001, over the limit 100000"},
		{"spec_huge", build(func(mp *onnxpb.ModelProto) {
			setMeta(mp, "spec", `{"kind":"gaussian","pad":"`+strings.Repeat("a", format.MaxSpecBytes)+`"}`)
		}), "amortize.spec (bytes) is"},
		{"extra_input", build(func(mp *onnxpb.ModelProto) {
			mp.Graph.Input = append(mp.Graph.Input, floatInfo("mask", dim(1)))
			feed(mp, "mask")
		}), `graph input "mask" is not in the contract`},
		{"opset_version", build(func(mp *onnxpb.ModelProto) {
			mp.OpsetImport[0].Version = proto.Int64(format.Opset + 1)
		}), `opset imports ["" version 18]`},
	}
}

// TestCrafted checks that every hostile file is refused by the checks
// Open makes in Go, so onnxruntime never parses it, and by Open itself
// when the library is there.
func TestCrafted(t *testing.T) {
	for _, c := range crafted(t) {
		t.Run(c.name, func(t *testing.T) {
			err := runtime.Parse(c.data)
			if err == nil {
				t.Fatal("the Go checks accept it")
			}
			if !errors.Is(err, runtime.ErrContract) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want ErrContract saying %q", err, c.want)
			}
			if _, libErr := runtime.FindLibrary(""); libErr != nil {
				return
			}
			m, err := runtime.OpenBytes(c.data, runtime.Options{Threads: 1})
			if err == nil {
				m.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, runtime.ErrContract) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("open: error %q, want ErrContract saying %q", err, c.want)
			}
		})
	}
}
