package models

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
)

// Estimator is a conditional density estimator q(θ | x) over standardised
// (z-scored) θ and x.
type Estimator interface {
	// Spec is the estimator's full description; New(Spec()) rebuilds it.
	Spec() Spec
	// Params declares every trainable parameter, in a fixed order.
	Params() []ParamSpec
	// LogProb is log q(θ|x) → [N,1] for θ [N,ThetaDim] and x [N,XDim].
	LogProb(o Ops, theta, x Tensor) Tensor
	// Sample maps noise [N, NoiseNormal+NoiseUniform] (standard normal
	// columns first, then uniform(0,1) columns) and x to θ [N,ThetaDim] and
	// its log q(θ|x) [N,1]. It is deterministic given the noise.
	Sample(o Ops, noise, x Tensor) (theta, logProb Tensor)
	// Noise is the number of standard-normal and uniform(0,1) noise columns
	// Sample consumes per draw.
	Noise() (normal, uniform int)
}

// ParamSpec declares one parameter matrix.
type ParamSpec struct {
	Name       string
	Rows, Cols int
	// Init fills a fresh row-major value; nil means zeros.
	Init Init `json:"-"`
}

// Size is Rows·Cols.
func (p ParamSpec) Size() int { return p.Rows * p.Cols }

// Init fills dst with initial values drawn from rng.
type Init func(dst []float64, rng *rand.Rand)

// Uniform initialises from U(−bound, bound).
func Uniform(bound float64) Init {
	return func(dst []float64, rng *rand.Rand) {
		for i := range dst {
			dst[i] = bound * (2*rng.Float64() - 1)
		}
	}
}

// Constant initialises every entry to v.
func Constant(v float64) Init {
	return func(dst []float64, _ *rand.Rand) {
		for i := range dst {
			dst[i] = v
		}
	}
}

// InitParams draws initial values for every parameter of e, in declaration
// order, from one seeded stream so that a seed fixes the whole network.
func InitParams(e Estimator, src rand.Source) map[string][]float64 {
	rng := rand.New(src)
	out := make(map[string][]float64)
	for _, p := range e.Params() {
		v := make([]float64, p.Size())
		if p.Init != nil {
			p.Init(v, rng)
		}
		out[p.Name] = v
	}
	return out
}

// Spec describes an estimator: its kind, dimensions and sizes. Fields that
// a kind does not use are zero and omitted from JSON.
type Spec struct {
	Kind     string `json:"kind"`
	ThetaDim int    `json:"theta_dim"`
	XDim     int    `json:"x_dim"`

	Hidden     int     `json:"hidden,omitempty"`     // hidden units per layer
	Layers     int     `json:"layers,omitempty"`     // hidden layers (gaussian, mdn) or residual blocks (nsf) or MADE blocks (maf)
	Activation string  `json:"activation,omitempty"` // relu, tanh, elu
	Components int     `json:"components,omitempty"` // mdn
	Transforms int     `json:"transforms,omitempty"` // maf, nsf
	Bins       int     `json:"bins,omitempty"`       // nsf
	TailBound  float64 `json:"tail_bound,omitempty"` // nsf
}

// ErrUnknownKind is returned for an estimator kind no constructor handles.
var ErrUnknownKind = errors.New("models: unknown estimator kind")

var registry = map[string]struct {
	defaults func(*Spec)
	build    func(Spec) (Estimator, error)
}{}

func register(kind string, defaults func(*Spec), build func(Spec) (Estimator, error)) {
	registry[kind] = struct {
		defaults func(*Spec)
		build    func(Spec) (Estimator, error)
	}{defaults, build}
}

// Kinds lists the registered estimator kinds.
func Kinds() []string {
	var ks []string
	for k := range registry {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// DefaultSpec is the spec of kind with sbi's default sizes.
func DefaultSpec(kind string, thetaDim, xDim int) (Spec, error) {
	r, ok := registry[kind]
	if !ok {
		return Spec{}, fmt.Errorf("%w %q (known: %v)", ErrUnknownKind, kind, Kinds())
	}
	s := Spec{Kind: kind, ThetaDim: thetaDim, XDim: xDim}
	r.defaults(&s)
	return s, nil
}

// New builds the estimator a spec describes. Zero sizes take the kind's
// defaults, so a spec may name only what it changes.
func New(s Spec) (Estimator, error) {
	r, ok := registry[s.Kind]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownKind, s.Kind, Kinds())
	}
	if s.ThetaDim < 1 || s.XDim < 1 {
		return nil, fmt.Errorf("models: %s needs theta_dim ≥ 1 and x_dim ≥ 1, got %d and %d", s.Kind, s.ThetaDim, s.XDim)
	}
	d := Spec{Kind: s.Kind, ThetaDim: s.ThetaDim, XDim: s.XDim}
	r.defaults(&d)
	fill(&s.Hidden, d.Hidden)
	fill(&s.Layers, d.Layers)
	fill(&s.Components, d.Components)
	fill(&s.Transforms, d.Transforms)
	fill(&s.Bins, d.Bins)
	if s.Activation == "" {
		s.Activation = d.Activation
	}
	if s.TailBound == 0 {
		s.TailBound = d.TailBound
	}
	switch s.Activation {
	case "", "relu", "tanh", "elu":
	default:
		return nil, fmt.Errorf("models: unknown activation %q (relu, tanh, elu)", s.Activation)
	}
	if s.Hidden < 0 || s.Layers < 0 || s.Components < 0 || s.Transforms < 0 || s.Bins < 0 || s.TailBound < 0 {
		return nil, fmt.Errorf("models: negative size in spec %+v", s)
	}
	// Sizes beyond these are typos, not networks: refuse them before any
	// allocation can fail.
	for _, l := range []struct {
		name  string
		v, hi int
	}{{"theta_dim", s.ThetaDim, 10_000}, {"x_dim", s.XDim, 100_000}, {"hidden", s.Hidden, 10_000},
		{"layers", s.Layers, 100}, {"components", s.Components, 1000}, {"transforms", s.Transforms, 100}} {
		if l.v > l.hi {
			return nil, fmt.Errorf("models: %s %d exceeds the limit %d", l.name, l.v, l.hi)
		}
	}
	return r.build(s)
}

func fill(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}
