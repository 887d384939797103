package models

import (
	"errors"
	"fmt"
	"math"
)

// Loss kinds. NLL is −mean log q for density estimators (NPE, NLE); the
// others are sbi's ratio-estimation losses.
const (
	LossNLL  = "nll"
	LossNREA = "nre-a" // binary: joint pair against one marginal pair (sbi NRE_A)
	LossNREB = "nre-b" // contrastive over atoms (sbi NRE_B)
	LossNREC = "nre-c" // K classes and γ (sbi NRE_C)
	LossBNRE = "bnre"  // NRE-A with the balancing regulariser (sbi BNRE)
)

// ErrLoss is returned for a loss that cannot be used.
var ErrLoss = errors.New("models: invalid loss")

// Loss is a training loss and its settings; the model file records it.
type Loss struct {
	Kind string `json:"kind"`
	// Atoms is NRE-B's number of θ per x, its own included (default 10),
	// and NRE-C's number of classes K (default 5).
	Atoms  int     `json:"atoms,omitempty"`
	Gamma  float64 `json:"gamma,omitempty"`  // NRE-C's γ (default 1)
	Lambda float64 `json:"lambda,omitempty"` // BNRE's regulariser strength (default 100)
}

// WithDefaults fills sbi's defaults and checks the settings; an empty kind
// is NRE-B, which sbi calls NRE.
func (l Loss) WithDefaults() (Loss, error) {
	if l.Kind == "" {
		l.Kind = LossNREB
	}
	switch l.Kind {
	case LossNREB:
		if l.Atoms == 0 {
			l.Atoms = 10
		}
		if l.Atoms < 2 {
			return l, fmt.Errorf("%w: nre-b needs at least 2 atoms, got %d (--atoms)", ErrLoss, l.Atoms)
		}
	case LossNREC:
		if l.Atoms == 0 {
			l.Atoms = 5
		}
		if l.Gamma == 0 {
			l.Gamma = 1
		}
		if l.Atoms < 1 {
			return l, fmt.Errorf("%w: nre-c needs at least 1 class, got %d (--atoms)", ErrLoss, l.Atoms)
		}
		if !(l.Gamma > 0) || math.IsInf(l.Gamma, 0) {
			return l, fmt.Errorf("%w: nre-c needs γ > 0, got %v (--gamma)", ErrLoss, l.Gamma)
		}
	case LossBNRE:
		if l.Lambda == 0 {
			l.Lambda = 100
		}
		if !(l.Lambda > 0) || math.IsInf(l.Lambda, 0) {
			return l, fmt.Errorf("%w: bnre needs λ > 0, got %v (--bnre-lambda)", ErrLoss, l.Lambda)
		}
	case LossNREA:
	default:
		return l, fmt.Errorf("%w: kind %q (nre-a, nre-b, nre-c, bnre)", ErrLoss, l.Kind)
	}
	if l.Atoms > 1000 {
		return l, fmt.Errorf("%w: %d atoms exceed the limit 1000 (--atoms)", ErrLoss, l.Atoms)
	}
	return l, nil
}

// Contrasts is how many θ from other rows of the batch each x is paired
// with, per group; each group is drawn without replacement, independently
// of the others (sbi draws NRE-C's joint and marginal sets by two calls).
func (l Loss) Contrasts() []int {
	switch l.Kind {
	case LossNREB:
		return []int{l.Atoms - 1}
	case LossNREC:
		return []int{l.Atoms - 1, l.Atoms}
	default:
		return []int{1}
	}
}

// Columns is the number of logits per x: its own θ, then the contrasts.
func (l Loss) Columns() int {
	c := 1
	for _, n := range l.Contrasts() {
		c += n
	}
	return c
}

// Objective is the per-row quantity whose weighted mean the training
// maximises, for logits [N,Columns] laid out as Contrasts says (column 0:
// the x's own θ). The loss of a batch with row weights w (Σw = 1) is
// −Σ wᵢ objᵢ, plus Lambda·(Σ wᵢ balanceᵢ)² for BNRE, whose balance is
// returned non-nil.
//
//   - nre-a: −½[softplus(−l₀) + softplus(l₁)], sbi's binary cross-entropy
//     over the pairs (joint labelled 1, marginal 0);
//   - nre-b: l₀ − logsumexp_k l_k;
//   - nre-c: p₀ log P(marginal class | marginal set) + p_K log P(joint
//     class | joint set), p₀ = 1/(1+γ), p_K = γ/(1+γ), as sbi's NRE_C;
//   - bnre: nre-a's, with balance σ(l₀) + σ(l₁) − 1.
func (l Loss) Objective(o Ops, logits Tensor) (obj, balance Tensor) {
	switch l.Kind {
	case LossNREB:
		return o.Sub(o.Slice(logits, 0, 1), LogSumExp(o, logits)), nil
	case LossNREC:
		k := l.Atoms
		logG, logK := math.Log(l.Gamma), math.Log(float64(k))
		joint, marginal := o.Slice(logits, 0, k), o.Slice(logits, k, 2*k)
		// log(Σ_k γ e^{l_k} + K), the classes' normaliser with the
		// null class's K.
		norm := func(ls Tensor) Tensor {
			a := o.Add(ls, o.Scalar(logG))
			m := o.Maximum(o.MaxCols(a), o.Scalar(logK))
			return o.Add(m, o.Log(o.Add(o.SumCols(o.Exp(o.Sub(a, m))), o.Exp(o.Sub(o.Scalar(logK), m)))))
		}
		lpM := o.Sub(o.Scalar(logK), norm(marginal))
		lpJ := o.Sub(o.Add(o.Slice(joint, 0, 1), o.Scalar(logG)), norm(joint))
		pM, pJ := 1/(1+l.Gamma), l.Gamma/(1+l.Gamma)
		return o.Add(o.Mul(lpM, o.Scalar(pM)), o.Mul(lpJ, o.Scalar(pJ))), nil
	default:
		l0, l1 := o.Slice(logits, 0, 1), o.Slice(logits, 1, 2)
		obj = o.Mul(o.Add(Softplus(o, o.Neg(l0)), Softplus(o, l1)), o.Scalar(-0.5))
		if l.Kind == LossBNRE {
			balance = o.Sub(o.Add(o.Sigmoid(l0), o.Sigmoid(l1)), o.Scalar(1))
		}
		return obj, balance
	}
}
