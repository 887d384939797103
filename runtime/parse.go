package runtime

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/amortize/amortize/export/format"
	"github.com/amortize/amortize/export/onnxpb"
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
	if err := checkGraph(g, 0); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrContract, err)
	}
	return &mp, meta, nil
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
	if len(g.GetSparseInitializer()) > 0 {
		return fmt.Errorf("sparse initializers are not part of the contract")
	}
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			ts := a.GetTensors()
			if a.GetT() != nil {
				ts = append(ts, a.GetT())
			}
			for _, t := range ts {
				if err := checkTensor(t); err != nil {
					return fmt.Errorf("node %q attribute %q: %w", n.GetName(), a.GetName(), err)
				}
			}
			gs := a.GetGraphs()
			if a.GetG() != nil {
				gs = append(gs, a.GetG())
			}
			for _, sub := range gs {
				if err := checkGraph(sub, depth+1); err != nil {
					return err
				}
			}
		}
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
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 {
			return fmt.Errorf("negative dimension in %v", t.GetDims())
		}
		if d > 0 && n > math.MaxInt32/d {
			return fmt.Errorf("dimensions %v are too large", t.GetDims())
		}
		n *= d
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
