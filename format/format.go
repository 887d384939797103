// Package format is the model file contract shared by the writer (package
// export) and the readers (package runtime): input and output names, the
// metadata keys and their encoding, and the version rule. docs/FORMAT.md is
// its prose.
//
// It imports only the standard library, so a deployable reader stays small.
package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is the format's major.minor. A reader accepts every file of its
// major version (minor bumps only add inputs, outputs or metadata keys) and
// rejects newer majors.
const (
	Version = "1.1"
	Major   = 1
	Opset   = 17
	IR      = 8
	// Prefix starts every metadata key of the contract.
	Prefix = "amortize."
)

// Domain is the one operator-set domain of a model file: ONNX's default
// domain, imported at version Opset.
const Domain = ""

// Ops lists, sorted, the operators of Domain a model file may use: exactly
// those the exporter writes (a test of package export keeps the two
// equal). Readers reject every other operator, model-local functions and
// other domains before an ONNX runtime parses the file, so that a file
// cannot loop, read files or call custom kernels.
var Ops = []string{
	"Abs", "Add", "Cast", "Concat", "ConstantOfShape", "CumSum", "Div", "Exp",
	"Gather", "GatherElements", "GreaterOrEqual", "Log", "MatMul", "Max",
	"Mod", "Mul", "Neg", "Pad", "ReduceMax", "ReduceSum", "Relu", "Reshape",
	"Shape", "Sigmoid", "Slice", "Softmax", "Softplus", "Split", "Sqrt", "Sub",
	"Tanh",
}

// Limits on the sizes a file declares, far above real models; readers
// refuse a file beyond them before allocating anything by its numbers.
const (
	MaxThetaDim = 10_000  // theta_dim
	MaxXDim     = 100_000 // x_dim
	// MaxNoiseDim bounds noise.normal + noise.uniform.
	MaxNoiseDim = 100_000
	// MaxNameBytes bounds each θ and x name.
	MaxNameBytes = 256
	// MaxSpecBytes bounds the spec's JSON.
	MaxSpecBytes = 64 << 10
	// MaxFileBytes bounds a whole file: protobuf's own limit.
	MaxFileBytes = 2<<30 - 1
)

// Methods: what the file's network estimates (metadata key method).
const (
	MethodNPE = "npe" // q(θ | x): a posterior
	MethodNLE = "nle" // q(x | θ): a likelihood
	MethodNRE = "nre" // log r(θ, x) = log p(x | θ) − log p(x), up to a constant of x for some losses
)

// Input and output names. NPE files use all six (shapes as given here);
// NLE files swap the roles of θ and x (theta [batch, theta_dim] is the
// condition, x [batch, n_x, x_dim] the values scored, sample holds x
// draws); NRE files have inputs x and theta and the one output log_ratio.
const (
	InputX          = "x"               // float32 [batch, x_dim]
	InputTheta      = "theta"           // float32 [batch, n_theta, theta_dim]
	InputNoise      = "noise"           // float32 [batch, n_samples, noise_normal+noise_uniform]
	OutputLogProb   = "log_prob"        // float32 [batch, n_theta]
	OutputSample    = "sample"          // float32 [batch, n_samples, theta_dim]
	OutputSampleLog = "sample_log_prob" // float32 [batch, n_samples]
	OutputLogRatio  = "log_ratio"       // float32 [batch, n_theta], NRE files
)

// Inputs and Outputs list the names in the order sessions bind them; a
// file has those its method's Layout names.
var (
	Inputs  = []string{InputX, InputTheta, InputNoise}
	Outputs = []string{OutputLogProb, OutputSample, OutputSampleLog, OutputLogRatio}
)

// Layout is how a method's file lays out its inputs and outputs. Every
// method has a per-observation input Cond [batch, CondDim] and an input
// Values [batch, n, ValueDim] of values scored against it, giving LogOut
// [batch, n]. A density (NPE, NLE) also has noise [batch, n_samples,
// noise_dim] and gives sample [batch, n_samples, ValueDim] and
// sample_log_prob [batch, n_samples].
type Layout struct {
	Cond, Values      string
	CondDim, ValueDim int
	LogOut            string
	Sampling          bool
}

// Layout returns the file's layout, by its method.
func (m *Metadata) Layout() Layout {
	switch m.Method {
	case MethodNLE:
		return Layout{Cond: InputTheta, Values: InputX, CondDim: m.ThetaDim, ValueDim: m.XDim, LogOut: OutputLogProb, Sampling: true}
	case MethodNRE:
		return Layout{Cond: InputX, Values: InputTheta, CondDim: m.XDim, ValueDim: m.ThetaDim, LogOut: OutputLogRatio}
	default:
		return Layout{Cond: InputX, Values: InputTheta, CondDim: m.XDim, ValueDim: m.ThetaDim, LogOut: OutputLogProb, Sampling: true}
	}
}

// ZScore is the standardisation the graph applies to raw θ and x.
type ZScore struct {
	ThetaMean []float64 `json:"theta_mean"`
	ThetaStd  []float64 `json:"theta_std"`
	XMean     []float64 `json:"x_mean"`
	XStd      []float64 `json:"x_std"`
}

// Noise is the noise layout per draw: Normal standard-normal columns, then
// Uniform uniform(0,1) columns.
type Noise struct {
	Normal  int `json:"normal"`
	Uniform int `json:"uniform"`
}

// Dim is the number of noise columns per draw.
func (n Noise) Dim() int { return n.Normal + n.Uniform }

// Training summarises how the estimator was trained.
type Training struct {
	Simulations  int     `json:"simulations"`
	Epochs       int     `json:"epochs"`
	BestEpoch    int     `json:"best_epoch"`
	BestValLoss  float64 `json:"best_val_loss"`
	Seed         uint64  `json:"seed"`
	TrainSeconds float64 `json:"train_seconds"`
}

// Metadata is everything the contract stores in metadata_props.
type Metadata struct {
	FormatVersion string          // format_version
	Method        string          // method: npe, nle or nre
	Estimator     string          // estimator: gaussian, mdn, maf, nsf; classifier kind for nre: resnet, mlp, linear
	Spec          json.RawMessage // spec: the estimator's sizes
	ThetaDim      int             // theta_dim
	XDim          int             // x_dim
	ThetaNames    []string        // theta_names (JSON array)
	XNames        []string        // x_names (JSON array)
	Prior         json.RawMessage // prior (JSON, or null)
	ZScore        ZScore          // zscore
	Noise         Noise           // noise
	Training      Training        // training
	// Loss is the training loss (format 1.1, NLE and NRE files): JSON
	// {"kind":…} with the kind's settings; empty when absent.
	Loss json.RawMessage // loss
}

// Keys lists the metadata keys (without Prefix) every file has. A format-1.0
// file may lack method, which then means npe.
var Keys = []string{"format_version", "method", "estimator", "spec", "theta_dim", "x_dim",
	"theta_names", "x_names", "prior", "zscore", "noise", "training"}

// KeyLoss is the optional metadata key of Metadata.Loss (format 1.1).
const KeyLoss = "loss"

// Encode returns the key/value pairs, keys with Prefix, in Keys order.
func (m *Metadata) Encode() ([][2]string, error) {
	vals := make(map[string]string)
	var err error
	js := func(k string, v any) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = json.Marshal(v); err == nil {
			vals[k] = string(b)
		}
	}
	vals["format_version"] = m.FormatVersion
	vals["method"] = m.Method
	vals["estimator"] = m.Estimator
	vals["theta_dim"] = strconv.Itoa(m.ThetaDim)
	vals["x_dim"] = strconv.Itoa(m.XDim)
	js("spec", m.Spec)
	js("theta_names", m.ThetaNames)
	js("x_names", m.XNames)
	js("zscore", m.ZScore)
	js("noise", m.Noise)
	js("training", m.Training)
	if len(m.Prior) == 0 {
		vals["prior"] = "null"
	} else {
		js("prior", m.Prior)
	}
	if err != nil {
		return nil, fmt.Errorf("format: encoding metadata: %w", err)
	}
	out := make([][2]string, len(Keys), len(Keys)+1)
	for i, k := range Keys {
		out[i] = [2]string{Prefix + k, vals[k]}
	}
	if len(m.Loss) > 0 {
		if !json.Valid(m.Loss) {
			return nil, errors.New("format: loss metadata is not valid JSON")
		}
		out = append(out, [2]string{Prefix + KeyLoss, string(m.Loss)})
	}
	return out, m.Validate()
}

// ErrNewerVersion is returned for a file of a newer major format version.
var ErrNewerVersion = errors.New("format: model file has a newer major format version")

// Decode parses metadata from a lookup of prefixed keys and validates it.
func Decode(lookup func(key string) (string, bool)) (*Metadata, error) {
	get := func(k string) (string, error) {
		v, ok := lookup(Prefix + k)
		if !ok {
			return "", fmt.Errorf("format: metadata key %s%s missing (not an amortize model file?)", Prefix, k)
		}
		return v, nil
	}
	var m Metadata
	var err error
	str := func(k string, dst *string) {
		if err == nil {
			*dst, err = get(k)
		}
	}
	num := func(k string, dst *int) {
		if err != nil {
			return
		}
		var s string
		if s, err = get(k); err == nil {
			if *dst, err = strconv.Atoi(s); err != nil {
				err = fmt.Errorf("format: metadata %s%s is %q, not an integer", Prefix, k, s)
			}
		}
	}
	obj := func(k string, dst any) {
		if err != nil {
			return
		}
		var s string
		if s, err = get(k); err == nil {
			if e := json.Unmarshal([]byte(s), dst); e != nil {
				err = fmt.Errorf("format: metadata %s%s: %w", Prefix, k, e)
			}
		}
	}
	str("format_version", &m.FormatVersion)
	if err == nil {
		err = checkVersion(m.FormatVersion)
	}
	if v, ok := lookup(Prefix + "method"); ok {
		m.Method = v
	} else {
		m.Method = MethodNPE
	}
	str("estimator", &m.Estimator)
	obj("spec", &m.Spec)
	num("theta_dim", &m.ThetaDim)
	num("x_dim", &m.XDim)
	obj("theta_names", &m.ThetaNames)
	obj("x_names", &m.XNames)
	obj("prior", &m.Prior)
	obj("zscore", &m.ZScore)
	obj("noise", &m.Noise)
	obj("training", &m.Training)
	if v, ok := lookup(Prefix + KeyLoss); ok && err == nil {
		if !json.Valid([]byte(v)) {
			err = fmt.Errorf("format: metadata %s%s is not valid JSON", Prefix, KeyLoss)
		}
		m.Loss = json.RawMessage(v)
	}
	if err != nil {
		return nil, err
	}
	if string(m.Prior) == "null" {
		m.Prior = nil
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func checkVersion(v string) error {
	major, _, ok := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if !ok || err != nil || n < 0 {
		return fmt.Errorf("format: format_version %q is not major.minor", v)
	}
	if n > Major {
		return fmt.Errorf("%w: file %s, this reader %s", ErrNewerVersion, v, Version)
	}
	return nil
}

// Validate checks that the metadata is self-consistent.
func (m *Metadata) Validate() error {
	if err := checkVersion(m.FormatVersion); err != nil {
		return err
	}
	switch {
	case m.Method != MethodNPE && m.Method != MethodNLE && m.Method != MethodNRE:
		return fmt.Errorf("format: metadata method %q is not npe, nle or nre", m.Method)
	case m.Estimator == "":
		return errors.New("format: metadata has no estimator")
	case m.ThetaDim < 1 || m.XDim < 1:
		return fmt.Errorf("format: metadata dims θ %d, x %d must be ≥ 1", m.ThetaDim, m.XDim)
	case len(m.ThetaNames) != m.ThetaDim:
		return fmt.Errorf("format: %d θ names for theta_dim %d", len(m.ThetaNames), m.ThetaDim)
	case len(m.XNames) != m.XDim:
		return fmt.Errorf("format: %d x names for x_dim %d", len(m.XNames), m.XDim)
	case len(m.ZScore.ThetaMean) != m.ThetaDim || len(m.ZScore.ThetaStd) != m.ThetaDim:
		return fmt.Errorf("format: θ z-score has %d means and %d stds for theta_dim %d", len(m.ZScore.ThetaMean), len(m.ZScore.ThetaStd), m.ThetaDim)
	case len(m.ZScore.XMean) != m.XDim || len(m.ZScore.XStd) != m.XDim:
		return fmt.Errorf("format: x z-score has %d means and %d stds for x_dim %d", len(m.ZScore.XMean), len(m.ZScore.XStd), m.XDim)
	case m.Noise.Normal < 0 || m.Noise.Uniform < 0 || (m.Noise.Dim() < 1) != (m.Method == MethodNRE):
		// A density samples from noise; a classifier has none.
		return fmt.Errorf("format: bad noise layout %+v for method %s", m.Noise, m.Method)
	}
	return m.checkLimits()
}

// checkLimits refuses sizes beyond the documented limits. The dims are
// checked before the per-dimension lists (in Validate's order) would be
// compared, so none of these numbers has sized anything yet.
func (m *Metadata) checkLimits() error {
	for _, l := range []struct {
		key   string
		v, hi int
	}{{"theta_dim", m.ThetaDim, MaxThetaDim}, {"x_dim", m.XDim, MaxXDim},
		{"noise.normal", m.Noise.Normal, MaxNoiseDim}, {"noise.uniform", m.Noise.Uniform, MaxNoiseDim},
		{"noise.normal + noise.uniform", m.Noise.Dim(), MaxNoiseDim}, {"spec (bytes)", len(m.Spec), MaxSpecBytes}} {
		if l.v > l.hi {
			return fmt.Errorf("format: metadata %s%s is %d, over the limit %d", Prefix, l.key, l.v, l.hi)
		}
	}
	for _, names := range [][]string{m.ThetaNames, m.XNames} {
		for i, n := range names {
			if len(n) > MaxNameBytes {
				return fmt.Errorf("format: name %d is %d bytes, over the limit %d", i, len(n), MaxNameBytes)
			}
		}
	}
	return nil
}
