// Package export writes a trained estimator as one self-contained ONNX model
// file: log-prob and sampling graphs, z-scoring and metadata (the contract is
// docs/FORMAT.md). The graph comes from the same estimator code the trainer
// ran, through an ONNX implementation of models.Ops.
package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	"github.com/amortize/amortize/internal/atomicfile"
	"github.com/amortize/amortize/models"
	"google.golang.org/protobuf/proto"
)

// ErrUntrained is returned for a model without weights.
var ErrUntrained = errors.New("export: model has no trained weights")

// Build returns the ONNX model of a trained estimator (NPE, NLE) or
// classifier (NRE).
func Build(m *models.Model) (*onnxpb.ModelProto, error) {
	if m == nil || len(m.Weights) == 0 {
		return nil, ErrUntrained
	}
	if m.Method == "" {
		return nil, errors.New("export: model has no method (npe, nle, nre)")
	}
	net, err := m.Network()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if len(m.ThetaNames) != m.Spec.ThetaDim || len(m.XNames) != m.Spec.XDim {
		return nil, fmt.Errorf("export: %d θ names and %d x names for dims %d and %d",
			len(m.ThetaNames), len(m.XNames), m.Spec.ThetaDim, m.Spec.XDim)
	}
	g := newGraph(net, m.Weights)
	var noise format.Noise
	if e, ok := net.(models.Estimator); ok {
		noise.Normal, noise.Uniform = e.Noise()
	}
	meta, err := metadata(m, noise)
	if err != nil {
		return nil, err
	}
	l := (&format.Metadata{Method: m.Method, ThetaDim: m.Spec.ThetaDim, XDim: m.Spec.XDim}).Layout()

	// log_prob (log_ratio): values [B,S,V] and the condition [B,C] → rows
	// of B·S.
	g.path(l.Values, "rows_log_prob")
	vals := g.sized(g.node("Reshape", 0, l.ValueDim, nil, l.Values, g.int64Init(-1, int64(l.ValueDim))), g.rows)
	cond := g.observations(l.Cond, l.CondDim)
	theta, x := vals, cond
	if l.Cond == format.InputTheta {
		theta, x = cond, vals
	}
	var lp models.Tensor
	switch n := net.(type) {
	case models.Estimator:
		lp = m.LogProb(g, n, theta, x)
	case models.Classifier:
		lp = m.LogRatio(g, n, theta, x)
	}
	g.output(l.LogOut, g.spreadOut(tv(lp)).name, l.Values)
	inputs := []*onnxpb.ValueInfoProto{
		tensorInfo(l.Cond, f32, "batch", l.CondDim),
		tensorInfo(l.Values, f32, "batch", "n_"+l.Values, l.ValueDim),
	}
	outputs := []*onnxpb.ValueInfoProto{tensorInfo(l.LogOut, f32, "batch", "n_"+l.Values)}

	if e, ok := net.(models.Estimator); ok && l.Sampling {
		// sample: noise [B,S',n] and the condition → draws [B,S',V] and
		// their log-prob [B,S'].
		nd := noise.Dim()
		g.path(format.InputNoise, "rows_sample")
		eps := g.sized(g.node("Reshape", 0, nd, nil, format.InputNoise, g.int64Init(-1, int64(nd))), g.rows)
		st, slp := m.Sample(g, e, eps, g.observations(l.Cond, l.CondDim))
		g.output(format.OutputSample, g.spreadOut(tv(st)).name, format.InputNoise, int64(l.ValueDim))
		g.output(format.OutputSampleLog, g.spreadOut(tv(slp)).name, format.InputNoise)
		inputs = append(inputs, tensorInfo(format.InputNoise, f32, "batch", "n_samples", nd))
		outputs = append(outputs,
			tensorInfo(format.OutputSample, f32, "batch", "n_samples", l.ValueDim),
			tensorInfo(format.OutputSampleLog, f32, "batch", "n_samples"))
	}
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(format.IR),
		ProducerName:    proto.String("amortize"),
		ProducerVersion: proto.String(format.Version),
		DocString:       proto.String("amortize " + m.Method + " " + m.Spec.Kind + " estimator; contract: docs/FORMAT.md"),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(format.Opset)}},
		MetadataProps:   meta,
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("amortize_" + m.Spec.Kind),
			Node:        g.nodes,
			Initializer: g.inits,
			Input:       inputs,
			Output:      outputs,
			ValueInfo:   g.valueInfo(),
		},
	}, nil
}

const f32 = onnxpb.TensorProto_FLOAT

// output reshapes rows back to the first two axes of input (the batch and
// the per-x count), followed by tail, under the contract's name.
func (g *graph) output(name, rows, input string, tail ...int64) {
	bs := g.node("Shape", 0, 0, []*onnxpb.AttributeProto{intAttr("start", 0), intAttr("end", 2)}, input)
	shape := bs.name
	if len(tail) > 0 {
		shape = g.node("Concat", 0, 0, []*onnxpb.AttributeProto{intAttr("axis", 0)}, bs.name, g.int64Init(tail...)).name
	}
	g.nodes = append(g.nodes, &onnxpb.NodeProto{
		OpType: proto.String("Reshape"), Name: proto.String(g.fresh("Reshape_")),
		Input: []string{rows, shape}, Output: []string{name},
		// allowzero: a 0 in the shape means an empty axis (n_theta or
		// n_samples = 0), not "copy the input's axis".
		Attribute: []*onnxpb.AttributeProto{intAttr("allowzero", 1)},
	})
}

// valueInfo declares the symbolic shape of every batch-sized intermediate.
func (g *graph) valueInfo() []*onnxpb.ValueInfoProto {
	out := make([]*onnxpb.ValueInfoProto, 0, len(g.batch))
	for _, v := range g.batch {
		out = append(out, tensorInfo(v.name, onnxpb.TensorProto_FLOAT, v.dim, v.cols))
	}
	return out
}

func tensorInfo(name string, dt onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case string:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)), Shape: shape,
		}}},
	}
}

func metadata(m *models.Model, noise format.Noise) ([]*onnxpb.StringStringEntryProto, error) {
	spec, err := json.Marshal(m.Spec)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if len(m.Prior) > 0 && !json.Valid(m.Prior) {
		return nil, errors.New("export: model prior is not valid JSON")
	}
	md := format.Metadata{
		FormatVersion: format.Version, Method: m.Method, Estimator: m.Spec.Kind, Spec: spec,
		ThetaDim: m.Spec.ThetaDim, XDim: m.Spec.XDim, ThetaNames: m.ThetaNames, XNames: m.XNames,
		Prior:  m.Prior,
		ZScore: format.ZScore{ThetaMean: m.ThetaMean, ThetaStd: m.ThetaStd, XMean: m.XMean, XStd: m.XStd},
		Noise:  noise, Training: m.Summary,
	}
	if m.Loss != nil {
		if md.Loss, err = json.Marshal(m.Loss); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	kv, err := md.Encode()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	out := make([]*onnxpb.StringStringEntryProto, len(kv))
	for i, p := range kv {
		out[i] = &onnxpb.StringStringEntryProto{Key: proto.String(p[0]), Value: proto.String(p[1])}
	}
	return out, nil
}

// Write encodes a trained estimator as an ONNX model file.
func Write(m *models.Model, w io.Writer) error {
	mp, err := Build(m)
	if err != nil {
		return err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return fmt.Errorf("export: encoding model: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// WriteFile writes the model file at path atomically: a temporary file in
// the same directory, renamed into place, so no partial file is ever left.
func WriteFile(m *models.Model, path string) error {
	// Encoded first, so that a model that cannot be written leaves no file.
	var b bytes.Buffer
	if err := Write(m, &b); err != nil {
		return err
	}
	// A model file is an ordinary output, for servers running as other
	// users too (as dataset.Save).
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
