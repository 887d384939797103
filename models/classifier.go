package models

import (
	"fmt"
	"maps"
	"slices"
)

// Classifier is a ratio estimator for neural ratio estimation: a network
// of standardised (θ, x) whose logit estimates log r(θ, x) =
// log p(x | θ) − log p(x) (up to a function of x for some losses).
type Classifier interface {
	Network
	// Logit is the classifier's logit → [N,1] for θ [N,ThetaDim] and x
	// [N,XDim].
	Logit(o Ops, theta, x Tensor) Tensor
}

var classifiers = map[string]struct {
	defaults func(*Spec)
	build    func(Spec) (Classifier, error)
}{
	"resnet": {func(s *Spec) { s.Hidden, s.Layers, s.Activation = 50, 2, "relu" }, newResNetClassifier},
	"mlp":    {func(s *Spec) { s.Hidden, s.Layers, s.Activation = 50, 2, "relu" }, newMLPClassifier},
	"linear": {func(*Spec) {}, newLinearClassifier},
}

// ClassifierKinds lists the classifier kinds of neural ratio estimation.
func ClassifierKinds() []string {
	return slices.Sorted(maps.Keys(classifiers))
}

// NewClassifier builds the classifier a spec of method MethodNRE describes;
// zero sizes take the kind's defaults (sbi's classifier_nn).
func NewClassifier(s Spec) (Classifier, error) {
	if s.Method != MethodNRE {
		return nil, fmt.Errorf("%w: classifier %s needs method %q, got %q", ErrMethod, s.Kind, MethodNRE, s.Method)
	}
	c, ok := classifiers[s.Kind]
	if !ok {
		return nil, fmt.Errorf("%w %q (classifiers: %v)", ErrUnknownKind, s.Kind, ClassifierKinds())
	}
	if err := s.checkDims(); err != nil {
		return nil, err
	}
	if s.Components != 0 || s.Transforms != 0 || s.Bins != 0 || s.TailBound != 0 {
		return nil, fmt.Errorf("models: classifier %s takes no components, transforms, bins or tail bound", s.Kind)
	}
	d := Spec{Kind: s.Kind}
	c.defaults(&d)
	if s.Kind == "linear" {
		if s.Hidden != 0 || s.Layers != 0 {
			return nil, fmt.Errorf("models: the linear classifier takes no hidden units or layers, got %d and %d", s.Hidden, s.Layers)
		}
	} else {
		fill(&s.Hidden, d.Hidden)
		fill(&s.Layers, d.Layers)
	}
	if err := s.complete(d); err != nil {
		return nil, err
	}
	return c.build(s)
}

// classifierNet is what each classifier holds: its spec and parameters.
type classifierNet struct {
	spec   Spec
	params []ParamSpec
}

func (c *classifierNet) Spec() Spec          { return c.spec }
func (c *classifierNet) Params() []ParamSpec { return slices.Clone(c.params) }

// pairInput is the first layer over the concatenation (θ, x), stored as one
// weight matrix per input ("in.wt" [ThetaDim,out], "in.wx" [XDim,out],
// "in.b"), so that an exported graph computes x's share once per
// observation. Initialisation is PyTorch's for the concatenated layer.
func pairInputParams(s Spec, out int) []ParamSpec {
	ps := LinearParams("in", s.ThetaDim+s.XDim, out)
	return []ParamSpec{
		{Name: "in.wt", Rows: s.ThetaDim, Cols: out, Init: ps[0].Init},
		{Name: "in.wx", Rows: s.XDim, Cols: out, Init: ps[0].Init},
		ps[1],
	}
}

func pairInput(o Ops, theta, x Tensor) Tensor {
	return o.Add(o.Add(o.MatMul(theta, o.Param("in.wt")), o.MatMul(x, o.Param("in.wx"))), o.Param("in.b"))
}

// resNetClassifier is sbi's build_resnet_classifier: nflows' ResidualNet on
// (θ, x) without context: a linear layer to Hidden units, Layers
// pre-activation residual blocks (activation, linear, activation, linear
// started near zero, added to the block's input) and a linear layer to the
// logit. Parameters "in.*", "b<k>.l0.*", "b<k>.l1.*", "out.*".
type resNetClassifier struct{ classifierNet }

func newResNetClassifier(s Spec) (Classifier, error) {
	ps := pairInputParams(s, s.Hidden)
	for b := range s.Layers {
		q := fmt.Sprintf("b%d.", b)
		ps = append(ps, LinearParams(q+"l0", s.Hidden, s.Hidden)...)
		// nflows starts each block near the identity.
		ps = append(ps,
			ParamSpec{Name: q + "l1.w", Rows: s.Hidden, Cols: s.Hidden, Init: Uniform(1e-3)},
			ParamSpec{Name: q + "l1.b", Rows: 1, Cols: s.Hidden, Init: Uniform(1e-3)})
	}
	ps = append(ps, LinearParams("out", s.Hidden, 1)...)
	return &resNetClassifier{classifierNet{spec: s, params: ps}}, nil
}

func (c *resNetClassifier) Logit(o Ops, theta, x Tensor) Tensor {
	h := pairInput(o, theta, x)
	for b := range c.spec.Layers {
		q := fmt.Sprintf("b%d.", b)
		t := Linear(o, Activate(o, h, c.spec.Activation), q+"l0")
		t = Linear(o, Activate(o, t, c.spec.Activation), q+"l1")
		h = o.Add(h, t)
	}
	return Linear(o, h, "out")
}

// mlpClassifier is sbi's build_mlp_classifier without its batch
// normalisation (whose training-time batch statistics would make a row's
// logit depend on the rest of its batch): Layers linear layers of Hidden
// units, each followed by the activation, then a linear layer to the logit.
// Parameters "in.*", "hidden<l>.*" (l ≥ 1), "out.*".
type mlpClassifier struct{ classifierNet }

func newMLPClassifier(s Spec) (Classifier, error) {
	if s.Layers < 1 {
		return nil, fmt.Errorf("models: the mlp classifier needs at least 1 layer, got %d", s.Layers)
	}
	ps := pairInputParams(s, s.Hidden)
	for l := 1; l < s.Layers; l++ {
		ps = append(ps, LinearParams(fmt.Sprintf("hidden%d", l), s.Hidden, s.Hidden)...)
	}
	ps = append(ps, LinearParams("out", s.Hidden, 1)...)
	return &mlpClassifier{classifierNet{spec: s, params: ps}}, nil
}

func (c *mlpClassifier) Logit(o Ops, theta, x Tensor) Tensor {
	h := Activate(o, pairInput(o, theta, x), c.spec.Activation)
	for l := 1; l < c.spec.Layers; l++ {
		h = Activate(o, Linear(o, h, fmt.Sprintf("hidden%d", l)), c.spec.Activation)
	}
	return Linear(o, h, "out")
}

// linearClassifier is sbi's linear classifier: one linear layer from
// (θ, x) to the logit.
type linearClassifier struct{ classifierNet }

func newLinearClassifier(s Spec) (Classifier, error) {
	s.Activation = ""
	return &linearClassifier{classifierNet{spec: s, params: pairInputParams(s, 1)}}, nil
}

func (c *linearClassifier) Logit(o Ops, theta, x Tensor) Tensor { return pairInput(o, theta, x) }
