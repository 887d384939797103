package models

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/amortize/amortize/format"
)

// Network is what every trainable family declares: its full description
// and its parameters.
type Network interface {
	// Spec is the network's full description; New(Spec()) or
	// NewClassifier(Spec()) rebuilds it.
	Spec() Spec
	// Params declares every trainable parameter, in a fixed order.
	Params() []ParamSpec
}

// Estimator is a conditional density estimator over standardised (z-scored)
// values: q(θ | x) for neural posterior estimation, q(x | θ) for neural
// likelihood estimation. The code is the same; Spec.Method decides which
// variable is the density's (InDim columns) and which the condition
// (CondDim columns), and the estimator's comments say θ and x for the first.
type Estimator interface {
	Network
	// LogProb is log q(θ|x) → [N,1] for θ [N,InDim] and x [N,CondDim].
	LogProb(o Ops, theta, x Tensor) Tensor
	// Sample maps noise [N, NoiseNormal+NoiseUniform] (standard normal
	// columns first, then uniform(0,1) columns) and x to θ [N,InDim] and
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
func InitParams(e Network, src rand.Source) map[string][]float64 {
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
	Kind string `json:"kind"`
	// Method is what the network estimates: "" or MethodNPE (q(θ|x)),
	// MethodNLE (q(x|θ)) or MethodNRE (a classifier of (θ, x)).
	Method   string `json:"method,omitempty"`
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

// Methods of simulation-based inference a Spec can describe.
const (
	MethodNPE = format.MethodNPE
	MethodNLE = format.MethodNLE
	MethodNRE = format.MethodNRE
)

// MethodName is the spec's method, MethodNPE when it is empty.
func (s Spec) MethodName() string {
	if s.Method == "" {
		return MethodNPE
	}
	return s.Method
}

// InDim is the dimension of the density's variable: θ for NPE, x for NLE.
func (s Spec) InDim() int {
	if s.Method == MethodNLE {
		return s.XDim
	}
	return s.ThetaDim
}

// CondDim is the dimension of the condition: x for NPE, θ for NLE.
func (s Spec) CondDim() int {
	if s.Method == MethodNLE {
		return s.ThetaDim
	}
	return s.XDim
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

// Kinds lists the registered estimator kinds (density estimators, for NPE
// and NLE).
func Kinds() []string {
	return slices.Sorted(maps.Keys(registry))
}

// ErrMethod is returned for a method a spec or kind does not allow.
var ErrMethod = errors.New("models: unknown or unsuitable method")

// DefaultSpec is the spec of kind with sbi's default sizes. A classifier
// kind (ClassifierKinds) gets method MethodNRE; a density estimator's
// method is left empty (NPE): set Method to MethodNLE for a likelihood.
func DefaultSpec(kind string, thetaDim, xDim int) (Spec, error) {
	if c, ok := classifiers[kind]; ok {
		s := Spec{Kind: kind, Method: MethodNRE, ThetaDim: thetaDim, XDim: xDim}
		c.defaults(&s)
		return s, nil
	}
	r, ok := registry[kind]
	if !ok {
		return Spec{}, fmt.Errorf("%w %q (known: %v, classifiers %v)", ErrUnknownKind, kind, Kinds(), ClassifierKinds())
	}
	s := Spec{Kind: kind, ThetaDim: thetaDim, XDim: xDim}
	r.defaults(&s)
	return s, nil
}

// New builds the density estimator a spec describes (method NPE or NLE).
// Zero sizes take the kind's defaults, so a spec may name only what it
// changes.
func New(s Spec) (Estimator, error) {
	switch s.Method {
	case "", MethodNPE, MethodNLE:
	default:
		return nil, fmt.Errorf("%w: a %s density estimator cannot have method %q (npe, nle; classifiers: NewClassifier)", ErrMethod, s.Kind, s.Method)
	}
	r, ok := registry[s.Kind]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownKind, s.Kind, Kinds())
	}
	if err := s.checkDims(); err != nil {
		return nil, err
	}
	d := Spec{Kind: s.Kind, Method: s.Method, ThetaDim: s.ThetaDim, XDim: s.XDim}
	r.defaults(&d)
	fill(&s.Hidden, d.Hidden)
	fill(&s.Layers, d.Layers)
	fill(&s.Components, d.Components)
	fill(&s.Transforms, d.Transforms)
	fill(&s.Bins, d.Bins)
	if s.TailBound == 0 {
		s.TailBound = d.TailBound
	}
	if err := s.complete(d); err != nil {
		return nil, err
	}
	return r.build(s)
}

// complete gives s the activation of its kind's defaults d where it names
// none, then checks the activation and the sizes.
func (s *Spec) complete(d Spec) error {
	if s.Activation == "" {
		s.Activation = d.Activation
	}
	switch s.Activation {
	case "", "relu", "tanh", "elu":
	default:
		return fmt.Errorf("models: unknown activation %q (relu, tanh, elu)", s.Activation)
	}
	return s.checkSizes()
}

func (s Spec) checkDims() error {
	if s.ThetaDim < 1 || s.XDim < 1 {
		return fmt.Errorf("models: %s needs theta_dim ≥ 1 and x_dim ≥ 1, got %d and %d", s.Kind, s.ThetaDim, s.XDim)
	}
	// NLE's density variable is x: its limit is θ's.
	if s.Method == MethodNLE && s.XDim > 10_000 {
		return fmt.Errorf("models: x_dim %d exceeds the limit 10000 of a likelihood's variable", s.XDim)
	}
	return nil
}

func (s Spec) checkSizes() error {
	if s.Hidden < 0 || s.Layers < 0 || s.Components < 0 || s.Transforms < 0 || s.Bins < 0 || s.TailBound < 0 {
		return fmt.Errorf("models: negative size in spec %+v", s)
	}
	// Sizes beyond these are typos, not networks: refuse them before any
	// allocation can fail.
	for _, l := range []struct {
		name  string
		v, hi int
	}{{"theta_dim", s.ThetaDim, 10_000}, {"x_dim", s.XDim, 100_000}, {"hidden", s.Hidden, 10_000},
		{"layers", s.Layers, 100}, {"components", s.Components, 1000}, {"transforms", s.Transforms, 100}} {
		if l.v > l.hi {
			return fmt.Errorf("models: %s %d exceeds the limit %d", l.name, l.v, l.hi)
		}
	}
	return nil
}

func fill(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}
