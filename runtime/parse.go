package runtime

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	"google.golang.org/protobuf/proto"
)

// parse decodes and checks a model file in Go before onnxruntime sees it.
// Two things make this worth its code: the contract checks need no
// onnxruntime session (asking onnxruntime for the metadata and the inputs
// would build two throw-away sessions, each as costly as the real one), and
// bytes that are not a well-formed, self-contained model of the contract's
// shape never reach onnxruntime's C++ parser.
func parse(data []byte) (*onnxpb.ModelProto, *format.Metadata, error) {
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%w: empty file", ErrContract)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, nil, fmt.Errorf("%w: not an ONNX model: %v", ErrContract, err)
	}
	g := mp.GetGraph()
	if g == nil || len(g.GetNode()) == 0 {
		return nil, nil, fmt.Errorf("%w: not an ONNX model: it has no graph", ErrContract)
	}
	meta, err := readMetadata(mp.GetMetadataProps())
	if err != nil {
		return nil, nil, err
	}
	if err := checkIO(g, meta); err != nil {
		return nil, nil, err
	}
	// Stored tensors first: a file that asks for external data is said
	// to, whatever else is wrong with it.
	if err := checkGraph(g, 0); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrContract, err)
	}
	if err := checkOps(&mp); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrContract, err)
	}
	return &mp, meta, nil
}

// allowedOps is format.Ops as a set.
var allowedOps = func() map[string]bool {
	s := make(map[string]bool, len(format.Ops))
	for _, op := range format.Ops {
		s[op] = true
	}
	return s
}()

// checkOps accepts only what the exporter writes: the operators of
// format.Ops in the default domain at format.Opset, and no model-local
// functions or training graphs. Other operators can loop for ever (Loop,
// a trip count of 2^62), read files or run custom kernels.
func checkOps(mp *onnxpb.ModelProto) error {
	if fs := mp.GetFunctions(); len(fs) > 0 {
		return fmt.Errorf("model-local functions are not allowed (the file defines %q)", fs[0].GetName())
	}
	if len(mp.GetTrainingInfo()) > 0 {
		return fmt.Errorf("training_info is not allowed")
	}
	imports := mp.GetOpsetImport()
	if len(imports) != 1 || imports[0].GetDomain() != format.Domain || imports[0].GetVersion() != format.Opset {
		var got []string
		for _, o := range imports {
			got = append(got, fmt.Sprintf("%q version %d", o.GetDomain(), o.GetVersion()))
		}
		return fmt.Errorf("opset imports %v: the contract has exactly the default domain \"\" at version %d", got, format.Opset)
	}
	return checkNodes(mp.GetGraph(), 0)
}

func checkNodes(g *onnxpb.GraphProto, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("subgraphs nested deeper than %d", maxDepth)
	}
	for _, n := range g.GetNode() {
		if n.GetDomain() != format.Domain || !allowedOps[n.GetOpType()] {
			op := n.GetOpType()
			if n.GetDomain() != format.Domain {
				op = n.GetDomain() + "." + op
			}
			return fmt.Errorf("node %q: operator %s is not allowed (a model file uses only %v)", n.GetName(), op, format.Ops)
		}
		for _, a := range n.GetAttribute() {
			for _, sub := range subgraphs(a) {
				if err := checkNodes(sub, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func subgraphs(a *onnxpb.AttributeProto) []*onnxpb.GraphProto {
	gs := a.GetGraphs()
	if a.GetG() != nil {
		gs = append(slices.Clip(gs), a.GetG())
	}
	return gs
}

func readMetadata(props []*onnxpb.StringStringEntryProto) (*format.Metadata, error) {
	kv := make(map[string]string, len(props))
	for _, p := range props {
		if _, dup := kv[p.GetKey()]; dup {
			return nil, fmt.Errorf("%w: metadata key %s appears twice", ErrContract, p.GetKey())
		}
		kv[p.GetKey()] = p.GetValue()
	}
	meta, err := format.Decode(func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContract, err)
	}
	return meta, nil
}

// checkIO verifies the graph's inputs and outputs against the contract:
// float32, the contract's rank, the fixed axes of the right size and the
// dynamic ones not fixed (a fixed batch would fail every other batch size).
func checkIO(g *onnxpb.GraphProto, meta *format.Metadata) error {
	const dyn = -1
	l := meta.Layout()
	want := map[string][]int64{
		l.Cond:   {dyn, int64(l.CondDim)},
		l.Values: {dyn, dyn, int64(l.ValueDim)},
		l.LogOut: {dyn, dyn},
	}
	if l.Sampling {
		want[format.InputNoise] = []int64{dyn, dyn, int64(meta.Noise.Dim())}
		want[format.OutputSample] = []int64{dyn, dyn, int64(l.ValueDim)}
		want[format.OutputSampleLog] = []int64{dyn, dyn}
	}
	seen := make(map[string]bool)
	for _, v := range append(append([]*onnxpb.ValueInfoProto(nil), g.GetInput()...), g.GetOutput()...) {
		name := v.GetName()
		w, ok := want[name]
		if !ok {
			continue
		}
		if seen[name] {
			return fmt.Errorf("%w: %s is declared twice", ErrContract, name)
		}
		seen[name] = true
		tt := v.GetType().GetTensorType()
		if tt == nil {
			return fmt.Errorf("%w: %s is not a tensor", ErrContract, name)
		}
		if dt := onnxpb.TensorProto_DataType(tt.GetElemType()); dt != onnxpb.TensorProto_FLOAT {
			return fmt.Errorf("%w: %s has element type %v, want FLOAT (float32)", ErrContract, name, dt)
		}
		dims := tt.GetShape().GetDim()
		if len(dims) != len(w) {
			return fmt.Errorf("%w: %s has rank %d, want %d", ErrContract, name, len(dims), len(w))
		}
		for i, d := range dims {
			fixed, isFixed := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue)
			switch {
			case w[i] == dyn && isFixed:
				return fmt.Errorf("%w: %s axis %d is fixed to %d, the contract needs it dynamic", ErrContract, name, i, fixed.DimValue)
			case w[i] != dyn && (!isFixed || fixed.DimValue != w[i]):
				return fmt.Errorf("%w: %s axis %d is %s, the metadata needs %d", ErrContract, name, i, dimString(d), w[i])
			}
		}
	}
	for name := range want {
		if !seen[name] {
			return fmt.Errorf("%w: it has no %s (a %s file needs %v)", ErrContract, name, meta.Method, slices.Sorted(maps.Keys(want)))
		}
	}
	// An input no caller feeds fails every call; one with an initializer
	// of its name has a default, as a later minor version may add.
	inits := make(map[string]bool, len(g.GetInitializer()))
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		if !slices.Contains(format.Inputs, v.GetName()) && !inits[v.GetName()] {
			return fmt.Errorf("%w: graph input %q is not in the contract (inputs %v) and has no initializer", ErrContract, v.GetName(), format.Inputs)
		}
	}
	return nil
}

func dimString(d *onnxpb.TensorShapeProto_Dimension) string {
	switch v := d.GetValue().(type) {
	case *onnxpb.TensorShapeProto_Dimension_DimValue:
		return fmt.Sprint(v.DimValue)
	case *onnxpb.TensorShapeProto_Dimension_DimParam:
		return fmt.Sprintf("%q", v.DimParam)
	}
	return "unset"
}

// maxDepth bounds the nesting of subgraphs (If, Loop bodies) walked.
const maxDepth = 8

// checkGraph checks every tensor stored in the graph: initializers and the
// tensors of node attributes, in subgraphs too.
func checkGraph(g *onnxpb.GraphProto, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("subgraphs nested deeper than %d", maxDepth)
	}
	for _, t := range g.GetInitializer() {
		if err := checkTensor(t); err != nil {
			return fmt.Errorf("initializer %q: %w", t.GetName(), err)
		}
	}
	for _, t := range g.GetSparseInitializer() {
		if err := checkSparse(t); err != nil {
			return fmt.Errorf("sparse initializer %q: %w", t.GetValues().GetName(), err)
		}
	}
	if len(g.GetSparseInitializer()) > 0 {
		return fmt.Errorf("sparse initializers are not part of the contract")
	}
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			if err := checkAttribute(a); err != nil {
				return fmt.Errorf("node %q attribute %q: %w", n.GetName(), a.GetName(), err)
			}
			for _, sub := range subgraphs(a) {
				if err := checkGraph(sub, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkAttribute checks the tensors an attribute stores, whatever its
// declared type says: onnxruntime reads the field that is set.
func checkAttribute(a *onnxpb.AttributeProto) error {
	ts := a.GetTensors()
	if a.GetT() != nil {
		ts = append(slices.Clip(ts), a.GetT())
	}
	for _, t := range ts {
		if err := checkTensor(t); err != nil {
			return err
		}
	}
	sts := a.GetSparseTensors()
	if a.GetSparseTensor() != nil {
		sts = append(slices.Clip(sts), a.GetSparseTensor())
	}
	for _, t := range sts {
		if err := checkSparse(t); err != nil {
			return fmt.Errorf("sparse tensor: %w", err)
		}
	}
	return nil
}

// checkSparse checks a sparse tensor's values and indices as stored
// tensors, and its dense dimensions.
func checkSparse(t *onnxpb.SparseTensorProto) error {
	for _, part := range []struct {
		name string
		t    *onnxpb.TensorProto
	}{{"values", t.GetValues()}, {"indices", t.GetIndices()}} {
		if part.t == nil {
			return fmt.Errorf("no %s", part.name)
		}
		if err := checkTensor(part.t); err != nil {
			return fmt.Errorf("%s: %w", part.name, err)
		}
	}
	if _, err := elements(t.GetDims()); err != nil {
		return err
	}
	return nil
}

// elemSize is the byte size of the numeric element types.
var elemSize = map[onnxpb.TensorProto_DataType]int64{
	onnxpb.TensorProto_FLOAT: 4, onnxpb.TensorProto_DOUBLE: 8, onnxpb.TensorProto_FLOAT16: 2, onnxpb.TensorProto_BFLOAT16: 2,
	onnxpb.TensorProto_INT8: 1, onnxpb.TensorProto_INT16: 2, onnxpb.TensorProto_INT32: 4, onnxpb.TensorProto_INT64: 8,
	onnxpb.TensorProto_UINT8: 1, onnxpb.TensorProto_UINT16: 2, onnxpb.TensorProto_UINT32: 4, onnxpb.TensorProto_UINT64: 8,
	onnxpb.TensorProto_BOOL: 1,
}

// checkTensor checks that a stored tensor is self-contained (no external
// data: a file must not make the reader open other files) and holds exactly
// as many values as its dimensions say.
func checkTensor(t *onnxpb.TensorProto) error {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return fmt.Errorf("external data is not allowed: a model file is self-contained")
	}
	if t.GetSegment() != nil {
		return fmt.Errorf("segmented tensors are not supported")
	}
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	size, ok := elemSize[dt]
	if !ok {
		return fmt.Errorf("element type %v is not supported", dt)
	}
	n, err := elements(t.GetDims())
	if err != nil {
		return err
	}
	if raw := t.GetRawData(); len(raw) > 0 {
		if int64(len(raw)) != n*size {
			return fmt.Errorf("%d bytes of raw data for dimensions %v of %v", len(raw), t.GetDims(), dt)
		}
		return nil
	}
	var got int
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		got = len(t.GetFloatData())
	case onnxpb.TensorProto_DOUBLE:
		got = len(t.GetDoubleData())
	case onnxpb.TensorProto_INT64:
		got = len(t.GetInt64Data())
	case onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		got = len(t.GetUint64Data())
	default:
		got = len(t.GetInt32Data())
	}
	if int64(got) != n {
		return fmt.Errorf("%d values for dimensions %v of %v", got, t.GetDims(), dt)
	}
	return nil
}

// elements is the count of values of a tensor of dims, at most
// math.MaxInt32.
func elements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", dims)
		}
		if d > 0 && n > math.MaxInt32/d {
			return 0, fmt.Errorf("dimensions %v are too large", dims)
		}
		n *= d
	}
	return n, nil
}
