// Package eager evaluates estimator code of package models immediately, in
// float64, with gonum. It is the reference the trainer's and the exporter's
// backends are tested against, and a pure-Go evaluator of trained models.
//
// An Ops value is not safe for concurrent use; create one per goroutine
// (creation is cheap: parameters are shared, not copied).
package eager

import (
	"fmt"
	"math"

	"github.com/amortize/amortize/models"
	"gonum.org/v1/gonum/mat"
)

// Ops implements models.Ops over *mat.Dense values.
type Ops struct {
	params map[string]*mat.Dense
}

var _ models.Ops = (*Ops)(nil)

// New returns Ops whose parameters are the given row-major values, shaped by
// the network's declarations.
func New(e models.Network, values map[string][]float64) (*Ops, error) {
	o := &Ops{params: make(map[string]*mat.Dense)}
	for _, p := range e.Params() {
		v, ok := values[p.Name]
		if !ok {
			return nil, fmt.Errorf("eager: missing parameter %q", p.Name)
		}
		if len(v) != p.Size() {
			return nil, fmt.Errorf("eager: parameter %q has %d values, want %d", p.Name, len(v), p.Size())
		}
		o.params[p.Name] = mat.NewDense(p.Rows, p.Cols, v)
	}
	return o, nil
}

// FromModel returns Ops holding a trained density estimator's weights
// (NPE, NLE), widened to float64.
func FromModel(m *models.Model) (*Ops, models.Estimator, error) {
	e, err := m.Estimator()
	if err != nil {
		return nil, nil, err
	}
	o, err := New(e, widen(m))
	return o, e, err
}

// FromClassifier returns Ops holding a trained NRE classifier's weights,
// widened to float64.
func FromClassifier(m *models.Model) (*Ops, models.Classifier, error) {
	c, err := m.Classifier()
	if err != nil {
		return nil, nil, err
	}
	o, err := New(c, widen(m))
	return o, c, err
}

func widen(m *models.Model) map[string][]float64 {
	values := make(map[string][]float64, len(m.Weights))
	for k, w := range m.Weights {
		v := make([]float64, len(w))
		for i, x := range w {
			v[i] = float64(x)
		}
		values[k] = v
	}
	return values
}

// Matrix wraps a row-major batch as a tensor.
func Matrix(rows, cols int, data []float64) models.Tensor {
	return mat.NewDense(rows, cols, data)
}

func d(t models.Tensor) *mat.Dense {
	m, ok := t.(*mat.Dense)
	if !ok {
		panic(fmt.Sprintf("eager: tensor of type %T", t))
	}
	return m
}

// Dense returns the tensor's matrix.
func Dense(t models.Tensor) *mat.Dense { return d(t) }

func (o *Ops) Param(name string) models.Tensor {
	p, ok := o.params[name]
	if !ok {
		panic(fmt.Sprintf("eager: unknown parameter %q", name))
	}
	return p
}

func (o *Ops) Const(rows, cols int, data []float64) models.Tensor {
	return mat.NewDense(rows, cols, append([]float64(nil), data...))
}

func (o *Ops) Scalar(v float64) models.Tensor { return mat.NewDense(1, 1, []float64{v}) }

func (o *Ops) Cols(a models.Tensor) int { _, c := d(a).Dims(); return c }

func (o *Ops) Slice(a models.Tensor, from, to int) models.Tensor {
	m := d(a)
	r, c := m.Dims()
	if from < 0 || to > c || from >= to {
		panic(fmt.Sprintf("eager: slice [%d,%d) of %d columns", from, to, c))
	}
	out := mat.NewDense(r, to-from, nil)
	out.Copy(m.Slice(0, r, from, to))
	return out
}

func (o *Ops) Concat(ts ...models.Tensor) models.Tensor {
	r, _ := d(ts[0]).Dims()
	cols := 0
	for _, t := range ts {
		tr, tc := d(t).Dims()
		if tr != r {
			panic(fmt.Sprintf("eager: concat of %d and %d rows", r, tr))
		}
		cols += tc
	}
	out := mat.NewDense(r, cols, nil)
	at := 0
	for _, t := range ts {
		_, tc := d(t).Dims()
		out.Slice(0, r, at, at+tc).(*mat.Dense).Copy(d(t))
		at += tc
	}
	return out
}

func (o *Ops) Reshape(a models.Tensor, cols int) models.Tensor {
	m := d(a)
	r, c := m.Dims()
	if (r*c)%cols != 0 {
		panic(fmt.Sprintf("eager: reshape %d×%d to %d columns", r, c, cols))
	}
	data := make([]float64, 0, r*c)
	for i := range r {
		data = append(data, m.RawRowView(i)...)
	}
	return mat.NewDense(r*c/cols, cols, data)
}

// broadcast applies f elementwise with numpy broadcasting of 2-D shapes.
func broadcast(a, b models.Tensor, f func(x, y float64) float64) models.Tensor {
	ma, mb := d(a), d(b)
	ar, ac := ma.Dims()
	br, bc := mb.Dims()
	r, c := max(ar, br), max(ac, bc)
	if (ar != r && ar != 1) || (br != r && br != 1) || (ac != c && ac != 1) || (bc != c && bc != 1) {
		panic(fmt.Sprintf("eager: cannot broadcast %d×%d with %d×%d", ar, ac, br, bc))
	}
	out := mat.NewDense(r, c, nil)
	// Strides of 0 repeat a broadcast axis.
	as, bs := ma.RawMatrix(), mb.RawMatrix()
	ars, acs := stride(ar, as.Stride), stride(ac, 1)
	brs, bcs := stride(br, bs.Stride), stride(bc, 1)
	od := out.RawMatrix().Data
	for i := range r {
		ai, bi := i*ars, i*brs
		row := od[i*c : (i+1)*c]
		for j := range row {
			row[j] = f(as.Data[ai+j*acs], bs.Data[bi+j*bcs])
		}
	}
	return out
}

func stride(n, s int) int {
	if n == 1 {
		return 0
	}
	return s
}

func apply(a models.Tensor, f func(x float64) float64) models.Tensor {
	m := d(a)
	r, c := m.Dims()
	out := mat.NewDense(r, c, nil)
	raw, od := m.RawMatrix(), out.RawMatrix().Data
	for i := range r {
		src := raw.Data[i*raw.Stride : i*raw.Stride+c]
		dst := od[i*c : (i+1)*c]
		for j, v := range src {
			dst[j] = f(v)
		}
	}
	return out
}

func (o *Ops) Add(a, b models.Tensor) models.Tensor {
	return broadcast(a, b, func(x, y float64) float64 { return x + y })
}
func (o *Ops) Sub(a, b models.Tensor) models.Tensor {
	return broadcast(a, b, func(x, y float64) float64 { return x - y })
}
func (o *Ops) Mul(a, b models.Tensor) models.Tensor {
	return broadcast(a, b, func(x, y float64) float64 { return x * y })
}
func (o *Ops) Div(a, b models.Tensor) models.Tensor {
	return broadcast(a, b, func(x, y float64) float64 { return x / y })
}
func (o *Ops) Maximum(a, b models.Tensor) models.Tensor { return broadcast(a, b, math.Max) }
func (o *Ops) Minimum(a, b models.Tensor) models.Tensor { return broadcast(a, b, math.Min) }
func (o *Ops) Step(a, b models.Tensor) models.Tensor {
	return broadcast(a, b, func(x, y float64) float64 {
		if x >= y {
			return 1
		}
		return 0
	})
}

func (o *Ops) MatMul(a, b models.Tensor) models.Tensor {
	var out mat.Dense
	out.Mul(d(a), d(b))
	return &out
}

func (o *Ops) Neg(a models.Tensor) models.Tensor {
	return apply(a, func(x float64) float64 { return -x })
}
func (o *Ops) Exp(a models.Tensor) models.Tensor  { return apply(a, math.Exp) }
func (o *Ops) Log(a models.Tensor) models.Tensor  { return apply(a, math.Log) }
func (o *Ops) Sqrt(a models.Tensor) models.Tensor { return apply(a, math.Sqrt) }
func (o *Ops) Square(a models.Tensor) models.Tensor {
	return apply(a, func(x float64) float64 { return x * x })
}
func (o *Ops) Abs(a models.Tensor) models.Tensor  { return apply(a, math.Abs) }
func (o *Ops) Tanh(a models.Tensor) models.Tensor { return apply(a, math.Tanh) }
func (o *Ops) Sigmoid(a models.Tensor) models.Tensor {
	return apply(a, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) })
}
func (o *Ops) ReLU(a models.Tensor) models.Tensor {
	return apply(a, func(x float64) float64 { return math.Max(x, 0) })
}

func reduce(a models.Tensor, f func(row []float64) float64) models.Tensor {
	m := d(a)
	r, _ := m.Dims()
	out := mat.NewDense(r, 1, nil)
	for i := range r {
		out.Set(i, 0, f(m.RawRowView(i)))
	}
	return out
}

func (o *Ops) SumCols(a models.Tensor) models.Tensor {
	return reduce(a, func(row []float64) float64 {
		var s float64
		for _, v := range row {
			s += v
		}
		return s
	})
}

func (o *Ops) MaxCols(a models.Tensor) models.Tensor {
	return reduce(a, func(row []float64) float64 {
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		return m
	})
}
