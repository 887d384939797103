package trainer

import (
	"fmt"

	"github.com/amortize/amortize/models"
	"gorgonia.org/gorgonia"
)

// net is an estimator's log-prob compiled for one batch size: a training
// net also computes the weighted loss and its gradient, a forward net only
// the per-row objectives. Nets built on the same weights share them.
//
// A density estimator's rows are (θ, x) pairs and its objective is the
// log-density: log q(θ|x) for NPE, log q(x|θ) for NLE. A classifier's rows
// are observations x, each with cols = loss.Columns() (θ, x) pairs laid
// out consecutively in the θ and x inputs (its own θ first, then the
// contrasting θ), and its objective is loss.Objective of their logits.
type net[T float] struct {
	rows        int
	cols        int // pairs per row: 1, or loss.Columns() for a classifier
	theta, x, w []T // input backing slices, filled in place before a run
	vm          gorgonia.VM

	lp   []T // per-row objective
	bal  []T // per-row BNRE balance, classifier nets with one
	loss []T // −Σ wᵢ objᵢ (+ λ(Σ wᵢ balᵢ)²), training nets
	grad []T // gradient, laid out as weights.flat, training nets
}

// newNet builds and compiles the graph. Estimator code panics on misuse;
// that is reported here as an error. lossFn matters for classifiers only.
func newNet[T float](e models.Network, w *weights, rows int, train bool, lossFn models.Loss) (n *net[T], err error) {
	spec := e.Spec()
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("trainer: building the %s graph: %v", spec.Kind, r)
		}
	}()
	if _, ok := w.flat.([]T); !ok {
		return nil, fmt.Errorf("trainer: weights of type %T for a %T net", w.flat, T(0))
	}
	g := newGraph(w)
	n = &net[T]{rows: rows, cols: 1}
	c, isClassifier := e.(models.Classifier)
	if isClassifier {
		n.cols = lossFn.Columns()
	}
	theta, tv := g.Input(rows*n.cols, spec.ThetaDim)
	x, xv := g.Input(rows*n.cols, spec.XDim)
	n.theta, n.x = raw[T](tv), raw[T](xv)
	var obj, bal models.Tensor
	switch {
	case isClassifier:
		obj, bal = lossFn.Objective(g, g.Reshape(c.Logit(g, theta, x), n.cols))
	case spec.Method == models.MethodNLE:
		obj = e.(models.Estimator).LogProb(g, x, theta)
	default:
		obj = e.(models.Estimator).LogProb(g, theta, x)
	}
	lp := node(obj)
	if s := lp.Shape(); s[0] != rows || s[1] != 1 {
		return nil, fmt.Errorf("trainer: %s objective has shape %v, want [%d 1]", spec.Kind, s, rows)
	}
	// Training nets capture the per-row objectives too, for Net.Loss.
	n.lp = make([]T, rows)
	outs := []*gorgonia.Node{capture(lp, n.lp)}
	if bal != nil {
		n.bal = make([]T, rows)
		outs = append(outs, capture(node(bal), n.bal))
	}
	if train {
		wt, wv := g.Input(rows, 1)
		n.w = raw[T](wv)
		loss := apply(opLoss, [2]int{}, nil, lp, node(wt))
		if bal != nil {
			// BNRE: + λ·(Σ wᵢ balᵢ)², the square of the batch's mean
			// balance, as sbi's regulariser.
			m := apply(opLoss, [2]int{}, nil, node(bal), node(wt))
			lambda := gorgonia.NewScalar(g.g, g.dtype, gorgonia.WithName("lambda"), gorgonia.WithValue(T(lossFn.Lambda)))
			loss = gorgonia.Must(gorgonia.Add(loss, gorgonia.Must(gorgonia.Mul(lambda, gorgonia.Must(gorgonia.Square(m))))))
		}
		seed := gorgonia.NewScalar(g.g, g.dtype, gorgonia.WithName("seed"), gorgonia.WithValue(T(1)))
		// gorgonia refuses to differentiate with respect to a parameter the
		// loss does not depend on (one that only reaches it through Step);
		// such a parameter's gradient is zero.
		live := differentiable(g.g, loss)
		var wrt gorgonia.Nodes
		for _, p := range g.params {
			if live[p] {
				wrt = append(wrt, p)
			}
		}
		n.loss = make([]T, 1)
		outs = append(outs, capture(loss, n.loss))
		n.grad = make([]T, len(w.flat.([]T)))
		if len(wrt) > 0 {
			grads, err := gorgonia.Backpropagate(gorgonia.Nodes{loss}, gorgonia.Nodes{seed}, wrt)
			if err != nil {
				return nil, fmt.Errorf("trainer: differentiating the %s loss: %w", spec.Kind, err)
			}
			off, k := 0, 0
			for i, p := range w.specs {
				if live[g.params[i]] {
					outs = append(outs, capture(grads[k], n.grad[off:off+p.Size()]))
					k++
				}
				off += p.Size()
			}
		}
	}
	// Compiling only what the outputs need drops the gradients gorgonia
	// derives for inputs and constants.
	n.vm = gorgonia.NewTapeMachine(g.g.ExactSubgraphRoots(outs...))
	return n, nil
}

// run executes the tape once.
func (n *net[T]) run() error {
	defer n.vm.Reset()
	return n.vm.RunAll()
}

// differentiable is the set of nodes that out depends on through
// differentiable inputs of ops.
func differentiable(g *gorgonia.ExprGraph, out *gorgonia.Node) map[*gorgonia.Node]bool {
	seen := make(map[*gorgonia.Node]bool)
	var walk func(n *gorgonia.Node)
	walk = func(n *gorgonia.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		d, ok := n.Op().(gorgonia.SDOp)
		if !ok {
			return
		}
		children := g.From(n.ID())
		diffs := d.DiffWRT(children.Len())
		for j := 0; children.Next(); j++ {
			if diffs[j] {
				walk(children.Node().(*gorgonia.Node))
			}
		}
	}
	walk(out)
	return seen
}
