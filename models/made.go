package models

import "fmt"

// made is nflows' MADE conditioner as sbi's MAF configures it: feedforward
// (not residual) blocks, sequential degrees, no batch norm, no dropout, and
// the context entering the first layer only.
//
// For an input y [N,D] it returns, per column i, an unconstrained scale and
// a shift that depend on y_1 … y_{i−1} and the context alone. The masks are
// constants multiplied into the weights before each product, so a backend
// differentiates straight through them and masked weights get no gradient.
type made struct {
	name                 string
	d, x, hidden, blocks int
	activation           string
	// maskIn [D,H], maskHidden [H,H] and maskOut [H,2D] match the
	// weights' [in,out] layout.
	maskIn, maskHidden, maskOut []float64
}

func newMADE(name string, d, x, hidden, blocks int, activation string) *made {
	in := make([]int, d)
	for i := range in {
		in[i] = i + 1
	}
	// nflows' sequential hidden degrees cycle through 1 … D−1; with D = 1
	// they are all 0, so the network sees the context only.
	hid := make([]int, hidden)
	for k := range hid {
		hid[k] = k%max(1, d-1) + min(1, d-1)
	}
	// Output column i is the unconstrained scale of coordinate i and column
	// D+i its shift; nflows interleaves the two, which only permutes the
	// output weights' columns.
	out := make([]int, 2*d)
	for i := range d {
		out[i], out[d+i] = i+1, i+1
	}
	return &made{
		name: name, d: d, x: x, hidden: hidden, blocks: blocks, activation: activation,
		maskIn:     madeMask(in, hid, false),
		maskHidden: madeMask(hid, hid, false),
		maskOut:    madeMask(hid, out, true),
	}
}

// madeMask is the [len(in), len(out)] connectivity: a hidden unit sees inputs of
// degree at most its own, an output only inputs of strictly lower degree.
func madeMask(in, out []int, strict bool) []float64 {
	m := make([]float64, len(in)*len(out))
	for i, di := range in {
		for j, dj := range out {
			if dj > di || (!strict && dj == di) {
				m[i*len(out)+j] = 1
			}
		}
	}
	return m
}

func madeHidden(j int) string { return fmt.Sprintf(".hidden%d", j) }

// params declares the layers in nflows' module order, each with PyTorch's
// default initialisation (fan-in counts masked inputs too, as in nflows).
func (m *made) params() []ParamSpec {
	ps := LinearParams(m.name+".input", m.d, m.hidden)
	ps = append(ps, LinearParams(m.name+".context", m.x, m.hidden)...)
	for j := range m.blocks {
		ps = append(ps, LinearParams(m.name+madeHidden(j), m.hidden, m.hidden)...)
	}
	return append(ps, LinearParams(m.name+".output", m.hidden, 2*m.d)...)
}

// madeNet is a MADE bound to one context: the masked weights and the
// context's contribution are built once and shared by every pass of an
// autoregressive inverse.
type madeNet struct {
	m    *made
	wIn  Tensor // nil until a pass sees a non-zero input
	ctx  Tensor // activation(x·Wc + bc) + input bias, [N,H]
	wHid []Tensor
	wOut Tensor
}

func (m *made) bind(o Ops, x Tensor) *madeNet {
	n := &madeNet{
		m:    m,
		ctx:  o.Add(Activate(o, Linear(o, x, m.name+".context"), m.activation), o.Param(m.name+".input.b")),
		wOut: m.masked(o, ".output", m.hidden, 2*m.d, m.maskOut),
	}
	for j := range m.blocks {
		n.wHid = append(n.wHid, m.masked(o, madeHidden(j), m.hidden, m.hidden, m.maskHidden))
	}
	return n
}

func (m *made) masked(o Ops, layer string, rows, cols int, mask []float64) Tensor {
	return o.Mul(o.Param(m.name+layer+".w"), o.Const(rows, cols, mask))
}

// params returns the unconstrained scale and the shift [N,D] for input y;
// a nil y stands for zeros, the first pass of an inverse.
func (n *madeNet) params(o Ops, y Tensor) (unconstrained, shift Tensor) {
	m := n.m
	h := n.ctx
	if y != nil {
		// Built on first use: a one-pass inverse (D = 1) never needs it.
		if n.wIn == nil {
			n.wIn = m.masked(o, ".input", m.d, m.hidden, m.maskIn)
		}
		h = o.Add(o.MatMul(y, n.wIn), h)
	}
	h = Activate(o, h, m.activation)
	for j, w := range n.wHid {
		h = Activate(o, o.Add(o.MatMul(h, w), o.Param(m.name+madeHidden(j)+".b")), m.activation)
	}
	out := o.Add(o.MatMul(h, n.wOut), o.Param(m.name+".output.b"))
	return o.Slice(out, 0, m.d), o.Slice(out, m.d, 2*m.d)
}
