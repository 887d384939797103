package trainer

import (
	"fmt"

	"github.com/amortize/amortize/models"
	"gorgonia.org/gorgonia"
)

// net is an estimator's log-prob compiled for one batch size: a training
// net also computes the weighted NPE loss and its gradient, a forward net
// only the per-row log-probs. Nets built on the same Weights share them.
type net[T float] struct {
	rows        int
	theta, x, w []T // input backing slices, filled in place before a run
	vm          gorgonia.VM

	lp   []T // per-row log q(θ|x), forward nets
	loss []T // −Σ wᵢ log q(θᵢ|xᵢ), training nets
	grad []T // gradient, laid out as Weights.flat, training nets
}

// newNet builds and compiles the graph. Estimator code panics on misuse;
// that is reported here as an error.
func newNet[T float](e models.Estimator, w *Weights, rows int, train bool) (n *net[T], err error) {
	spec := e.Spec()
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("trainer: building the %s graph: %v", spec.Kind, r)
		}
	}()
	if _, ok := w.flat.([]T); !ok {
		return nil, fmt.Errorf("trainer: weights of type %T for a %T net", w.flat, T(0))
	}
	g := NewGraph(w)
	n = &net[T]{rows: rows}
	theta, tv := g.Input(rows, spec.ThetaDim)
	x, xv := g.Input(rows, spec.XDim)
	n.theta, n.x = raw[T](tv), raw[T](xv)
	lp := node(e.LogProb(g, theta, x))
	if s := lp.Shape(); s[0] != rows || s[1] != 1 {
		return nil, fmt.Errorf("trainer: %s log-prob has shape %v, want [%d 1]", spec.Kind, s, rows)
	}
	var outs []*gorgonia.Node
	if !train {
		n.lp = make([]T, rows)
		outs = append(outs, capture(lp, n.lp))
	} else {
		wt, wv := g.Input(rows, 1)
		n.w = raw[T](wv)
		loss := apply(opLoss, [2]int{}, nil, lp, node(wt))
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
