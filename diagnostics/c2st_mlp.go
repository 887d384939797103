package diagnostics

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
// It is used by one goroutine.
type classifier struct {
	sizes  []int       // layer widths: input, hidden, hidden, 1
	params []float64   // every layer's weights, then every layer's biases
	coefs  []float64   // the weights part of params, which the L2 penalty covers
	w, b   [][]float64 // views of params; w[l] is sizes[l]×sizes[l+1], row-major
	grad   []float64   // gradient of the batch loss, laid out like params
	gw, gb [][]float64 // views of grad
	m, v   []float64   // Adam's moment estimates
	step   int         // Adam updates so far

	batch   int         // rows per mini-batch
	act     [][]float64 // act[l] is batch×sizes[l]: the inputs, then each layer's output
	delta   [][]float64 // delta[l] (l ≥ 1) is batch×sizes[l]: loss gradient at layer l's pre-activation
	scratch []float64   // a transposed weight matrix or activation block
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
	c.scratch = make([]float64, max(batch*max(dim, hidden), hidden*hidden))
	return c
}

// fit trains on the rows idx of x (len(y) rows of sizes[0] values) with
// labels y, one epoch at a time until the epoch's mean batch loss has not
// improved on the best by lossTol for more than patience epochs, or for
// maxEpochs.
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
		if rule.stop(loss) {
			break
		}
	}
	return epochs, nil
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
		matMul(z, c.act[l][:nb*in], w, nb, in, out)
		b := c.b[l]
		for r := range nb {
			row := z[r*out : (r+1)*out]
			row = row[:len(b)]
			if l < last {
				for j, bj := range b {
					row[j] = max(row[j]+bj, 0)
				}
			} else {
				for j, bj := range b {
					row[j] = 1 / (1 + math.Exp(-(row[j] + bj)))
				}
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
	var sq float64
	for _, w := range c.coefs {
		sq += w * w
	}
	loss = (loss + 0.5*l2Penalty*sq) / float64(nb)

	// With a logistic output, the log loss's gradient at the output's
	// pre-activation is simply p − y.
	last := len(c.w) - 1
	top := c.delta[last+1][:nb]
	for k, pk := range p {
		top[k] = pk - y[k]
	}
	inv := 1 / float64(nb)
	for l := last; l >= 0; l-- {
		in, out := c.sizes[l], c.sizes[l+1]
		a := c.act[l][:nb*in]
		d := c.delta[l+1][:nb*out]

		at := c.scratch[:in*nb]
		transpose(at, a, nb, in)
		gw := c.gw[l]
		matMul(gw, at, d, in, nb, out)
		for i, w := range c.w[l] {
			gw[i] = (gw[i] + l2Penalty*w) * inv
		}
		gb := c.gb[l]
		clear(gb)
		for r := range nb {
			for j, v := range d[r*out : (r+1)*out] {
				gb[j] += v
			}
		}
		for j := range gb {
			gb[j] *= inv
		}

		if l == 0 {
			break
		}
		wt := c.scratch[:out*in]
		transpose(wt, c.w[l], in, out)
		prev := c.delta[l][:nb*in]
		matMul(prev, d, wt, nb, out, in)
		for i, av := range a {
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

// transpose sets dst (c×r) to the transpose of src (r×c), both row-major.
func transpose(dst, src []float64, r, c int) {
	for i := range r {
		for j, v := range src[i*c : (i+1)*c] {
			dst[j*r+i] = v
		}
	}
}

// matMul sets c (m×n) to a (m×k) times b (k×n), all row-major. Blocks of
// 4×2 outputs are accumulated in registers, which is about twice as fast as
// row-by-row updates for the small matrices of the classifier.
func matMul(c, a, b []float64, m, k, n int) {
	i := 0
	for ; i+4 <= m; i += 4 {
		a0 := a[i*k : (i+1)*k]
		a1 := a[(i+1)*k : (i+2)*k][:len(a0)]
		a2 := a[(i+2)*k : (i+3)*k][:len(a0)]
		a3 := a[(i+3)*k : (i+4)*k][:len(a0)]
		j := 0
		for ; j+2 <= n; j += 2 {
			var c00, c01, c10, c11, c20, c21, c30, c31 float64
			for p, x := range a0 {
				bp := b[p*n+j : p*n+j+2]
				b0, b1 := bp[0], bp[1]
				c00 += x * b0
				c01 += x * b1
				x = a1[p]
				c10 += x * b0
				c11 += x * b1
				x = a2[p]
				c20 += x * b0
				c21 += x * b1
				x = a3[p]
				c30 += x * b0
				c31 += x * b1
			}
			c[i*n+j], c[i*n+j+1] = c00, c01
			c[(i+1)*n+j], c[(i+1)*n+j+1] = c10, c11
			c[(i+2)*n+j], c[(i+2)*n+j+1] = c20, c21
			c[(i+3)*n+j], c[(i+3)*n+j+1] = c30, c31
		}
		for ; j < n; j++ {
			var c0, c1, c2, c3 float64
			for p, x := range a0 {
				bv := b[p*n+j]
				c0 += x * bv
				c1 += a1[p] * bv
				c2 += a2[p] * bv
				c3 += a3[p] * bv
			}
			c[i*n+j], c[(i+1)*n+j], c[(i+2)*n+j], c[(i+3)*n+j] = c0, c1, c2, c3
		}
	}
	for ; i < m; i++ {
		row := c[i*n : (i+1)*n]
		clear(row)
		for p, x := range a[i*k : (i+1)*k] {
			for j, bv := range b[p*n : (p+1)*n][:len(row)] {
				row[j] += x * bv
			}
		}
	}
}
