package runtime

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/amortize/amortize/format"
	ort "github.com/yalue/onnxruntime_go"
)

// Run and the calls it makes: a request is cut into chunks that bound the
// rows of one onnxruntime call, and chunks into pieces that run at once.

// Run evaluates the graph for b observations x (b×XDim, row-major): the
// log-probability of nTheta parameter vectors per observation (theta:
// b×nTheta×ThetaDim) and nSample samples per observation from explicit
// noise (b×nSample×noise dim). Either count may be 0 and costs nothing.
// It returns logProb (b×nTheta), sample (b×nSample×ThetaDim) and
// sampleLogProb (b×nSample), written into dst when its slices are large
// enough (the destination idiom: a hot loop allocates nothing of its own).
//
// That is an NPE file's layout. For other methods (format.Layout) x is the
// per-observation input and theta the values scored: an NLE file's θ
// (b×ThetaDim) and x (b×nTheta×XDim), giving log q(x|θ) and x draws; an
// NRE file's x and θ as for NPE, giving log r(θ, x) in logProb and no
// draws (nSample must be 0).
func (m *Model) Run(x []float32, b int, theta []float32, nTheta int, noise []float32, nSample int, dst *Output) (*Output, error) {
	l := m.layout
	d, xd, nd := l.ValueDim, l.CondDim, m.meta.Noise.Dim()
	switch {
	case b < 1:
		return nil, fmt.Errorf("%w: %d observations", ErrInput, b)
	case nTheta < 0 || nSample < 0:
		return nil, fmt.Errorf("%w: negative count", ErrInput)
	case nSample > 0 && !l.Sampling:
		return nil, fmt.Errorf("%w: an %s model draws no samples", ErrInput, m.meta.Method)
	case !holds(x, b, 1, xd):
		return nil, fmt.Errorf("%w: %s has %d values, want %d %s × %s_dim %d", ErrInput, l.Cond, len(x), b, rowsName(l), l.Cond, xd)
	case !holds(theta, b, nTheta, d):
		return nil, fmt.Errorf("%w: %s has %d values, want %d %s × %d × %s_dim %d", ErrInput, l.Values, len(theta), b, rowsName(l), nTheta, l.Values, d)
	case nSample > 0 && !holds(noise, b, nSample, nd), nSample == 0 && len(noise) != 0:
		return nil, fmt.Errorf("%w: noise has %d values, want %d %s × %d × noise dim %d", ErrInput, len(noise), b, rowsName(l), nSample, nd)
	}
	for _, in := range []struct {
		name string
		v    []float32
	}{{l.Cond, x}, {l.Values, theta}, {"noise", noise}} {
		if err := finite(in.name, in.v); err != nil {
			return nil, err
		}
	}
	if dst == nil {
		dst = new(Output)
	}
	dst.LogProb = grow(dst.LogProb, b*nTheta)
	dst.Sample = grow(dst.Sample, b*nSample*d)
	dst.SampleLogProb = grow(dst.SampleLogProb, b*nSample)

	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.paths[0] == nil {
		return nil, ErrClosed
	}
	if err := m.chunks(call{x, b, theta, nTheta, noise, nSample, dst}); err != nil {
		return nil, err
	}
	return dst, nil
}

// rowsName is what a call's rows are: observations, or parameter vectors
// for NLE.
func rowsName(l format.Layout) string {
	if l.Cond == format.InputTheta {
		return "parameter vectors"
	}
	return "observations"
}

// call is one evaluation: inputs and the outputs to fill.
type call struct {
	x       []float32
	b       int
	theta   []float32
	nTheta  int
	noise   []float32
	nSample int
	out     *Output
}

// obs is the part of c for observations [i, j).
func (c call) obs(m *Model, i, j int) call {
	d, xd, nd := m.layout.ValueDim, m.layout.CondDim, m.meta.Noise.Dim()
	t, s := c.nTheta, c.nSample
	return call{
		x: c.x[i*xd : j*xd], b: j - i,
		theta: c.theta[i*t*d : j*t*d], nTheta: t,
		noise: c.noise[i*s*nd : j*s*nd], nSample: s,
		out: &Output{
			LogProb:       c.out.LogProb[i*t : j*t],
			Sample:        c.out.Sample[i*s*d : j*s*d],
			SampleLogProb: c.out.SampleLogProb[i*s : j*s],
		},
	}
}

// rows is the part of c, one observation, for θ rows [t0, t1) and draws
// [s0, s1).
func (c call) rows(m *Model, t0, t1, s0, s1 int) call {
	d, nd := m.layout.ValueDim, m.meta.Noise.Dim()
	return call{
		x: c.x, b: 1,
		theta: c.theta[t0*d : t1*d], nTheta: t1 - t0,
		noise: c.noise[s0*nd : s1*nd], nSample: s1 - s0,
		out: &Output{
			LogProb:       c.out.LogProb[t0:t1],
			Sample:        c.out.Sample[s0*d : s1*d],
			SampleLogProb: c.out.SampleLogProb[s0:s1],
		},
	}
}

// chunks runs c in pieces of at most chunkRows rows (θ to score plus
// draws), on up to m.workers goroutines: whole observations while they fit,
// else one observation's rows in slices. Observations and their rows are
// contiguous in every input and output, so the pieces are sub-slices and
// nothing is copied. Every row is computed on its own, so the results do
// not depend on how the call is cut.
func (m *Model) chunks(c call) error {
	limit := m.chunkRows
	if total := c.b * (c.nTheta + c.nSample); m.workers > 1 && total >= 2*MinPieceRows {
		// A multiple of the workers' count of equal pieces, as few as the
		// chunk limit allows, none under MinPieceRows: 10,000 rows in
		// pieces of 4,096 would leave one worker idle for the third.
		n, most := 1, total
		if limit > 0 {
			n, most = (total+limit-1)/limit, limit
		}
		n = roundUp(n, m.workers)
		limit = min(max(roundUp((total+n-1)/n, Lanes), MinPieceRows), most)
	}
	pieces := c.pieces(m, limit)
	if len(pieces) == 1 {
		return m.run(pieces[0])
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range min(m.workers, len(pieces)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(pieces); i = int(next.Add(1)) - 1 {
				if err := m.run(pieces[i]); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// Lanes is the widest vector register's count of float32 values.
// onnxruntime's element-wise kernels compute the last (values mod Lanes)
// values of a tensor in a scalar tail that rounds differently, and a
// value's place elsewhere does not matter. So in a call of a multiple of
// Lanes rows, each row's result depends on its own inputs alone, wherever
// the call puts it; callers that batch unrelated rows pad to one. Pieces
// of a multiple of Lanes rows have no tail, and the last piece's tail holds
// the rows of the whole call's, so a cut call is rounded as the whole one
// (as long as the limit is a multiple too, as the defaults are).
const Lanes = 16

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// pieces cuts c into calls of at most limit rows (≤ 0: no limit).
func (c call) pieces(m *Model, limit int) []call {
	per := c.nTheta + c.nSample
	if limit <= 0 || c.b*per <= limit {
		return []call{c}
	}
	var out []call
	if per <= limit {
		k := limit / per
		for i := 0; i < c.b; i += k {
			out = append(out, c.obs(m, i, min(i+k, c.b)))
		}
		return out
	}
	// Both paths get the same slice of their rows, so a piece holds at
	// most limit rows.
	step := max(limit/2, 1)
	if step > Lanes {
		step -= step % Lanes
	}
	if c.nTheta == 0 || c.nSample == 0 {
		step = limit
	}
	for i := range c.b {
		one := c.obs(m, i, i+1)
		for r := 0; r < max(c.nTheta, c.nSample); r += step {
			t0, s0 := min(r, c.nTheta), min(r, c.nSample)
			out = append(out, one.rows(m, t0, min(r+step, c.nTheta), s0, min(r+step, c.nSample)))
		}
	}
	return out
}

// run is one onnxruntime call per path asked for, with tensors for the
// inputs and outputs of those paths only: each costs two cgo calls.
func (m *Model) run(c call) error {
	l := m.layout
	d, xd, nd := l.ValueDim, l.CondDim, m.meta.Noise.Dim()
	want := [2]bool{c.nTheta > 0, c.nSample > 0}
	var used [7]bool
	for i, p := range m.paths {
		if !want[i] || p == nil {
			continue
		}
		for _, j := range p.inputs {
			used[j] = true
		}
		for _, j := range p.outputs {
			used[len(format.Inputs)+j] = true
		}
	}
	var vals [7]ort.Value
	defer func() {
		for _, v := range vals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	type arg struct {
		shape ort.Shape
		data  []float32
	}
	// Slots in the order of format.Inputs and format.Outputs.
	var args [7]arg
	B, T, S := int64(c.b), int64(c.nTheta), int64(c.nSample)
	args[slices.Index(format.Inputs, l.Cond)] = arg{ort.NewShape(B, int64(xd)), c.x}
	args[slices.Index(format.Inputs, l.Values)] = arg{ort.NewShape(B, T, int64(d)), c.theta}
	args[2] = arg{ort.NewShape(B, S, int64(nd)), c.noise}
	args[3+slices.Index(format.Outputs, l.LogOut)] = arg{ort.NewShape(B, T), c.out.LogProb}
	args[4] = arg{ort.NewShape(B, S, int64(d)), c.out.Sample}
	args[5] = arg{ort.NewShape(B, S), c.out.SampleLogProb}
	for i, a := range args {
		if !used[i] {
			continue
		}
		t, err := ort.NewTensor(a.shape, a.data)
		if err != nil {
			return fmt.Errorf("runtime: tensor %v: %w", a.shape, err)
		}
		vals[i] = t
	}
	for i, p := range m.paths {
		if !want[i] || p == nil {
			continue
		}
		if err := p.run(vals[:]); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
	}
	return nil
}

// Output holds the results of Run.
type Output struct {
	LogProb       []float32
	Sample        []float32
	SampleLogProb []float32
}

// holds reports whether v has exactly b×n×dim values, by division so that
// huge counts cannot overflow into a match.
func holds(v []float32, b, n, dim int) bool {
	if n == 0 {
		return len(v) == 0
	}
	return len(v)%dim == 0 && len(v)/dim%n == 0 && len(v)/dim/n == b
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func finite(name string, v []float32) error {
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("%w: %s[%d] is %v", ErrInput, name, i, f)
		}
	}
	return nil
}
