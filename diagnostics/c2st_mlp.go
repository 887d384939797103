package diagnostics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Settings of scikit-learn 1.2's MLPClassifier that sbibm leaves at their
// defaults.
const (
	batchSize    = 200 // batch_size="auto" is min(200, n)
	learningRate = 1e-3
	beta1        = 0.9
	beta2        = 0.999
	adamEps      = 1e-8
	l2Penalty    = 1e-4 // alpha
	lossTol      = 1e-4 // tol
	patience     = 10   // n_iter_no_change
	// probEps is the clipping of predicted probabilities in the log loss:
	// NumPy's float64 machine epsilon.
	probEps = 0x1p-52
)

// classifier is scikit-learn's MLPClassifier with two ReLU hidden layers
// and one logistic output, with the buffers for training on mini-batches.
// It is used by one goroutine. The matrix products go through blas64, so a
// program that registers a native BLAS with blas64.Use speeds them up.
type classifier struct {
	sizes  []int       // layer widths: input, hidden, hidden, 1
	params []float64   // every layer's weights, then every layer's biases
	coefs  []float64   // the weights part of params, which the L2 penalty covers
	w, b   [][]float64 // views of params; w[l] is sizes[l]×sizes[l+1], row-major
	grad   []float64   // gradient of the batch loss, laid out like params
	gw, gb [][]float64 // views of grad
	m, v   []float64   // Adam's moment estimates
	step   int         // Adam updates so far

	batch int         // rows per mini-batch
	act   [][]float64 // act[l] is batch×sizes[l]: the inputs, then each layer's output
	delta [][]float64 // delta[l] (l ≥ 1) is batch×sizes[l]: loss gradient at layer l's pre-activation
	ones  []float64   // batch ones, to sum the rows of a delta block

	early *earlyStop // nil: stop on the training loss's plateau
}

// newClassifier draws the initial weights from src the way scikit-learn
// does: for each layer, weights then biases uniform on ±sqrt(6/(fan_in+fan_out)).
func newClassifier(dim, hidden, batch int, src *rand.Rand) *classifier {
	c := &classifier{sizes: []int{dim, hidden, hidden, 1}, batch: batch}
	layers := len(c.sizes) - 1
	nw, nb := 0, 0
	for l := range layers {
		nw += c.sizes[l] * c.sizes[l+1]
		nb += c.sizes[l+1]
	}
	c.params = make([]float64, nw+nb)
	c.coefs = c.params[:nw]
	c.grad = make([]float64, nw+nb)
	c.m = make([]float64, nw+nb)
	c.v = make([]float64, nw+nb)
	c.w, c.gw = make([][]float64, layers), make([][]float64, layers)
	c.b, c.gb = make([][]float64, layers), make([][]float64, layers)
	wOff, bOff := 0, nw
	for l := range layers {
		in, out := c.sizes[l], c.sizes[l+1]
		c.w[l], c.gw[l] = c.params[wOff:wOff+in*out], c.grad[wOff:wOff+in*out]
		c.b[l], c.gb[l] = c.params[bOff:bOff+out], c.grad[bOff:bOff+out]
		wOff += in * out
		bOff += out
		bound := math.Sqrt(6 / float64(in+out))
		for _, p := range [][]float64{c.w[l], c.b[l]} {
			for i := range p {
				p[i] = bound * (2*src.Float64() - 1)
			}
		}
	}
	c.act = make([][]float64, len(c.sizes))
	c.delta = make([][]float64, len(c.sizes))
	for l, s := range c.sizes {
		c.act[l] = make([]float64, batch*s)
		if l > 0 {
			c.delta[l] = make([]float64, batch*s)
		}
	}
	c.ones = make([]float64, batch)
	for i := range c.ones {
		c.ones[i] = 1
	}
	return c
}

// fit trains on the rows idx of x (len(y) rows of sizes[0] values) with
// labels y, one epoch at a time until the epoch's mean batch loss has not
// improved on the best by lossTol for more than patience epochs (or, with
// c.early set, until its rule stops), or for maxEpochs.
func (c *classifier) fit(ctx context.Context, x, y []float64, idx []int, maxEpochs int, src *rand.Rand) (epochs int, err error) {
	order := slices.Clone(idx)
	labels := make([]float64, c.batch)
	rule := plateau{best: math.Inf(1)}
	for epochs < maxEpochs {
		if err := ctx.Err(); err != nil {
			return epochs, fmt.Errorf("diagnostics: c2st interrupted: %w", err)
		}
		epochs++
		src.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var total float64
		for lo := 0; lo < len(order); lo += c.batch {
			rows := order[lo:min(lo+c.batch, len(order))]
			c.load(x, rows)
			for k, i := range rows {
				labels[k] = y[i]
			}
			total += c.backprop(len(rows), labels[:len(rows)]) * float64(len(rows))
			c.adam()
		}
		loss := total / float64(len(order))
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return epochs, fmt.Errorf("%w: epoch %d loss %v", ErrDiverged, epochs, loss)
		}
		if c.early != nil {
			if c.early.stop(c, x, y) {
				break
			}
			continue
		}
		if rule.stop(loss) {
			break
		}
	}
	if c.early != nil && c.early.params != nil {
		copy(c.params, c.early.params)
	}
	return epochs, nil
}

// earlyStop is scikit-learn's early_stopping=True: training ends when the
// accuracy on the held-out rows val has not improved on the best by
// lossTol for more than noChange epochs, and the weights of the best
// epoch are kept.
type earlyStop struct {
	val      []int
	noChange int
	best     float64   // best validation accuracy so far; start below 0
	stale    int       // epochs since
	params   []float64 // the weights that scored best
}

// stop scores the classifier after one more epoch and reports whether
// training should end.
func (e *earlyStop) stop(c *classifier, x, y []float64) bool {
	if acc := c.accuracy(x, y, e.val); acc > e.best+lossTol {
		e.best, e.stale = acc, 0
		e.params = append(e.params[:0], c.params...)
	} else {
		e.stale++
	}
	return e.stale > e.noChange
}

// plateau is scikit-learn's stopping rule on the training loss curve
// (n_iter_no_change with early_stopping=False).
type plateau struct {
	best  float64 // lowest loss so far; start at +Inf
	stale int     // consecutive epochs whose loss was not below best−lossTol
}

// stop records the loss of one more epoch and reports whether training
// should end: after more than patience stale epochs in a row.
func (p *plateau) stop(loss float64) bool {
	if loss > p.best-lossTol {
		p.stale++
	} else {
		p.stale = 0
	}
	p.best = min(p.best, loss)
	return p.stale > patience
}

// accuracy returns the fraction of the rows idx of x that the classifier
// labels as y does.
func (c *classifier) accuracy(x, y []float64, idx []int) float64 {
	correct := 0
	for lo := 0; lo < len(idx); lo += c.batch {
		rows := idx[lo:min(lo+c.batch, len(idx))]
		c.load(x, rows)
		for k, p := range c.forward(len(rows)) {
			if (p > 0.5) == (y[rows[k]] == 1) {
				correct++
			}
		}
	}
	return float64(correct) / float64(len(idx))
}

// load copies the rows of x listed in rows into the input batch.
func (c *classifier) load(x []float64, rows []int) {
	d := c.sizes[0]
	in := c.act[0]
	for k, i := range rows {
		copy(in[k*d:(k+1)*d], x[i*d:(i+1)*d])
	}
}

// forward propagates the first nb input rows and returns their predicted
// probabilities of label 1.
func (c *classifier) forward(nb int) []float64 {
	last := len(c.w) - 1
	for l, w := range c.w {
		in, out := c.sizes[l], c.sizes[l+1]
		z := c.act[l+1][:nb*out]
		for r := range nb {
			copy(z[r*out:(r+1)*out], c.b[l])
		}
		mul(blas.NoTrans, blas.NoTrans, 1, general(c.act[l], nb, in), general(w, in, out), 1, general(z, nb, out))
		if l < last {
			for i, v := range z {
				z[i] = max(v, 0)
			}
		} else {
			for i, v := range z {
				z[i] = 1 / (1 + math.Exp(-v))
			}
		}
	}
	return c.act[last+1][:nb]
}

// backprop leaves in c.grad the gradient of the loss of the first nb input
// rows with labels y, and returns that loss: scikit-learn's mean binary log
// loss plus α‖W‖²/(2·nb).
func (c *classifier) backprop(nb int, y []float64) float64 {
	p := c.forward(nb)
	var loss float64
	for k, pk := range p {
		q := min(max(pk, probEps), 1-probEps)
		// The probability given to the true label (0 or 1), exactly q or
		// 1−q: one logarithm instead of two.
		loss -= math.Log(y[k]*q + (1-y[k])*(1-q))
	}
	coefs := blas64.Vector{N: len(c.coefs), Data: c.coefs, Inc: 1}
	loss = (loss + 0.5*l2Penalty*blas64.Dot(coefs, coefs)) / float64(nb)

	// With a logistic output, the log loss's gradient at the output's
	// pre-activation is simply p − y.
	last := len(c.w) - 1
	top := c.delta[last+1][:nb]
	for k, pk := range p {
		top[k] = pk - y[k]
	}
	inv := 1 / float64(nb)
	ones := blas64.Vector{N: nb, Data: c.ones, Inc: 1}
	for l := last; l >= 0; l-- {
		in, out := c.sizes[l], c.sizes[l+1]
		a := general(c.act[l], nb, in)
		d := general(c.delta[l+1], nb, out)
		w := general(c.w[l], in, out)

		// gw = (aᵀ·d + α·w)/nb and gb = (1ᵀ·d)/nb.
		copy(c.gw[l], c.w[l])
		mul(blas.Trans, blas.NoTrans, inv, a, d, l2Penalty*inv, general(c.gw[l], in, out))
		blas64.Gemv(blas.Trans, inv, d, ones, 0, blas64.Vector{N: out, Data: c.gb[l], Inc: 1})

		if l == 0 {
			break
		}
		prev := c.delta[l][:nb*in]
		mul(blas.NoTrans, blas.Trans, 1, d, w, 0, general(prev, nb, in))
		for i, av := range a.Data {
			if av <= 0 { // ReLU passes no gradient where it outputs 0
				prev[i] = 0
			}
		}
	}
	return loss
}

// adam applies one Adam update with the gradient in c.grad, in
// scikit-learn's form (bias correction folded into the learning rate).
func (c *classifier) adam() {
	c.step++
	t := float64(c.step)
	lr := learningRate * math.Sqrt(1-math.Pow(beta2, t)) / (1 - math.Pow(beta1, t))
	m, v := c.m[:len(c.grad)], c.v[:len(c.grad)]
	params := c.params[:len(c.grad)]
	for i, g := range c.grad {
		m[i] = beta1*m[i] + (1-beta1)*g
		v[i] = beta2*v[i] + (1-beta2)*g*g
		params[i] -= lr * m[i] / (math.Sqrt(v[i]) + adamEps)
	}
}

// mul sets c = alpha·op(a)·op(b) + beta·c, as blas64.Gemm does, for
// matrices made by general. A product with one output column or one inner
// term, as the output layer's with its one unit, goes to Gemv or Ger:
// gonum's pure-Go Gemm would work through it a scalar at a time.
func mul(tA, tB blas.Transpose, alpha float64, a, b blas64.General, beta float64, c blas64.General) {
	k := a.Cols
	if tA != blas.NoTrans {
		k = a.Rows
	}
	switch {
	case c.Cols == 1:
		blas64.Gemv(tA, alpha, a, vec(b), beta, vec(c))
	case k == 1:
		if beta == 0 {
			clear(c.Data) // so that NaNs in c do not survive, as in Gemm
		} else {
			blas64.Scal(beta, vec(c))
		}
		blas64.Ger(alpha, vec(a), vec(b), c)
	default:
		blas64.Gemm(tA, tB, alpha, a, b, beta, c)
	}
}

// vec returns the elements of a matrix made by general as one vector: its
// only row or column, whichever way it is transposed.
func vec(m blas64.General) blas64.Vector {
	return blas64.Vector{N: len(m.Data), Data: m.Data, Inc: 1}
}

// general returns the first r rows of the row-major matrix in data with c
// columns, packed: Stride is c and Data holds exactly r·c values.
func general(data []float64, r, c int) blas64.General {
	return blas64.General{Rows: r, Cols: c, Stride: c, Data: data[:r*c]}
}
