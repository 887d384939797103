package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/models/eager"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

const rows = 5

// shapes are the operand shapes Ops broadcasts between, for rows rows.
var shapes = []struct {
	name string
	r, c int
}{{"NxF", rows, 3}, {"1xF", 1, 3}, {"Nx1", rows, 1}, {"1x1", 1, 1}}

// opEst wraps one op on two parameters a and b into an estimator whose
// log-prob is Σⱼ op(a,b)ᵢⱼ·θᵢⱼ (θ broadcasts the result to [rows,3]).
func opEst(name string, ra, ca, rb, cb int, f func(o models.Ops, a, b models.Tensor) models.Tensor) funcEst {
	return funcEst{
		spec: models.Spec{Kind: name, ThetaDim: 3, XDim: 1},
		params: []models.ParamSpec{
			{Name: "a", Rows: ra, Cols: ca, Init: models.Uniform(2)},
			{Name: "b", Rows: rb, Cols: cb, Init: models.Uniform(2)},
		},
		logProb: func(o models.Ops, theta, x models.Tensor) models.Tensor {
			return o.SumCols(o.Mul(f(o, o.Param("a"), o.Param("b")), theta))
		},
	}
}

// TestBroadcast checks every binary op on every pair of broadcastable
// shapes against package eager, by value in float64 and float32 and by
// gradient.
func TestBroadcast(t *testing.T) {
	ops := map[string]func(o models.Ops, a, b models.Tensor) models.Tensor{
		"add": models.Ops.Add, "sub": models.Ops.Sub, "mul": models.Ops.Mul, "div": models.Ops.Div,
		"maximum": models.Ops.Maximum, "minimum": models.Ops.Minimum,
		"step": func(o models.Ops, a, b models.Tensor) models.Tensor { return o.Mul(o.Step(a, b), a) },
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for name, f := range ops {
		for _, sa := range shapes {
			for _, sb := range shapes {
				t.Run(fmt.Sprintf("%s/%s,%s", name, sa.name, sb.name), func(t *testing.T) {
					e := opEst(name, sa.r, sa.c, sb.r, sb.c, f)
					values := models.InitParams(e, rng)
					if name == "div" {
						// keep the divisor away from zero
						for i, v := range values["b"] {
							values["b"][i] = math.Copysign(0.5+math.Abs(v), v)
						}
					}
					theta, x, w := batch(rng, rows, 3, 1)
					checkGradient(t, e, values, theta, x, w, 4, rng)
					checkFloat32(t, e, values, theta, x, w, 1e-6)
				})
			}
		}
	}
}

// checkFloat32 compares the float32 graph's loss with the eager float64
// loss; tol is relative to max(1, |loss|).
func checkFloat32(t *testing.T, e models.Estimator, values map[string][]float64, theta, x, w []float64, tol float64) {
	t.Helper()
	n, _ := trainNet[float32](t, e, values, theta, x, w)
	if err := n.run(); err != nil {
		t.Fatal(err)
	}
	want := eagerLoss(t, e, values, theta, x, w)
	if d := math.Abs(float64(n.loss[0]) - want); d > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s: float32 loss %v, eager %v (rel. diff %.2g)", e.Spec().Kind, n.loss[0], want, d/math.Max(1, math.Abs(want)))
	}
}

// TestUnaryAndStructural checks the remaining ops by value and gradient.
func TestUnaryAndStructural(t *testing.T) {
	ops := map[string]func(o models.Ops, a, b models.Tensor) models.Tensor{
		"neg":     func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Neg(a) },
		"exp":     func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Exp(a) },
		"log":     func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Log(o.Abs(a)) },
		"sqrt":    func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Sqrt(o.Abs(a)) },
		"square":  func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Square(a) },
		"tanh":    func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Tanh(a) },
		"sigmoid": func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Sigmoid(a) },
		"relu":    func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.ReLU(a) },
		"slice": func(o models.Ops, a, _ models.Tensor) models.Tensor {
			return o.Concat(o.Slice(a, 1, 3), o.Slice(a, 0, 1))
		},
		"concat": func(o models.Ops, a, b models.Tensor) models.Tensor {
			return o.Add(o.Concat(o.Slice(b, 0, 1), o.Slice(a, 1, 3)), o.Concat(o.Slice(a, 0, 2), o.Slice(b, 2, 3)))
		},
		"reshape": func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.Reshape(o.Reshape(o.Exp(a), 1), 3) },
		"reshape6": func(o models.Ops, a, b models.Tensor) models.Tensor {
			ab := o.Concat(a, b) // [rows,6] → [rows·2,3] → rows of a then b
			return o.Reshape(o.Mul(o.Reshape(ab, 3), o.Const(1, 3, []float64{1, 2, 3})), 6)
		},
		"sumcols": func(o models.Ops, a, _ models.Tensor) models.Tensor { return o.SumCols(o.Square(a)) },
		"maxcols": func(o models.Ops, a, _ models.Tensor) models.Tensor {
			return o.MaxCols(o.Mul(a, o.Const(1, 3, []float64{1, -2, 3})))
		},
		"matmul": func(o models.Ops, a, b models.Tensor) models.Tensor {
			return o.MatMul(o.MatMul(a, o.Const(3, 4, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})), o.Param("w"))
		},
		"logsumexp": func(o models.Ops, a, _ models.Tensor) models.Tensor {
			return models.LogSumExp(o, o.Mul(a, o.Scalar(30)))
		},
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for name, f := range ops {
		t.Run(name, func(t *testing.T) {
			e := opEst(name, rows, 3, rows, 3, f)
			if name == "reshape6" {
				e = opEst(name, rows, 3, rows, 3, f)
				e.logProb = func(o models.Ops, theta, x models.Tensor) models.Tensor {
					return o.SumCols(o.Mul(f(o, o.Param("a"), o.Param("b")), o.Concat(theta, theta)))
				}
			}
			if name == "matmul" {
				e.params = append(e.params, models.ParamSpec{Name: "w", Rows: 4, Cols: 3, Init: models.Uniform(1)})
			}
			values := models.InitParams(e, rng)
			theta, x, w := batch(rng, rows, 3, 1)
			checkGradient(t, e, values, theta, x, w, 6, rng)
			checkFloat32(t, e, values, theta, x, w, 1e-5)
		})
	}
}

// TestStepHasNoGradient: a parameter that reaches the loss only through
// Step gets a zero gradient (gorgonia cannot differentiate comparisons; the
// graph must still build), and Step's value matches eager's.
func TestStepHasNoGradient(t *testing.T) {
	e := funcEst{
		spec: models.Spec{Kind: "step", ThetaDim: 3, XDim: 1},
		params: []models.ParamSpec{
			{Name: "a", Rows: 1, Cols: 3, Init: models.Uniform(1)},
			{Name: "c", Rows: 1, Cols: 3, Init: models.Uniform(1)},
		},
		logProb: func(o models.Ops, theta, x models.Tensor) models.Tensor {
			return o.SumCols(o.Mul(o.Step(theta, o.Param("a")), o.Param("c")))
		},
	}
	rng := rand.New(rand.NewPCG(3, 3))
	values := models.InitParams(e, rng)
	theta, x, w := batch(rng, rows, 3, 1)
	n, _ := trainNet[float64](t, e, values, theta, x, w)
	if err := n.run(); err != nil {
		t.Fatal(err)
	}
	if want := eagerLoss(t, e, values, theta, x, w); math.Abs(n.loss[0]-want) > 1e-12 {
		t.Errorf("loss %v, eager %v", n.loss[0], want)
	}
	for j := range 3 {
		if n.grad[j] != 0 {
			t.Errorf("gradient through Step: d/da[%d] = %v", j, n.grad[j])
		}
		// d/dc_j = −mean over rows of [θ_j ≥ a_j]
		var want float64
		for i := range rows {
			if theta[i*3+j] >= values["a"][j] {
				want -= w[i]
			}
		}
		if math.Abs(n.grad[3+j]-want) > 1e-15 {
			t.Errorf("d/dc[%d] = %v, want %v", j, n.grad[3+j], want)
		}
	}
}

// TestEstimatorGradients runs the gradient and parity checks on this
// package's test estimators and on every kind registered in models.
func TestEstimatorGradients(t *testing.T) {
	type tc struct {
		e        models.Estimator
		perParam int
	}
	cases := []tc{{mlpGauss{d: 2, x: 3, h: 8}, 5}, {mixture{d: 2, x: 3, h: 6, k: 3}, 5}}
	for _, kind := range models.Kinds() {
		spec, err := models.DefaultSpec(kind, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		spec.Hidden = 12 // keep finite differences cheap
		e, err := models.New(spec)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		cases = append(cases, tc{e, 3})
	}
	for i, c := range cases {
		t.Run(c.e.Spec().Kind, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, uint64(i)))
			values := models.InitParams(c.e, rng)
			theta, x, w := batch(rng, 7, 2, 3)
			checkGradient(t, c.e, values, theta, x, w, c.perParam, rng)
			checkFloat32(t, c.e, values, theta, x, w, 1e-5)
		})
	}
}

// TestRunsAreRepeatableAndInputsIntact: a net gives the same loss and
// gradient on every run, leaves its inputs and the weights untouched
// (gorgonia's Reshape of an input aliased it, #511), and reads the right
// values (gorgonia's node values after RunAll can belong to other nodes,
// #576).
func TestRunsAreRepeatableAndInputsIntact(t *testing.T) {
	e := mixture{d: 2, x: 3, h: 6, k: 3}
	rng := rand.New(rand.NewPCG(5, 5))
	values := models.InitParams(e, rng)
	theta, x, w := batch(rng, rows, 2, 3)
	n, wts := trainNet[float32](t, e, values, theta, x, w)
	before := append([]float32(nil), wts.flat.([]float32)...)
	inputs := append(append(append([]float32(nil), n.theta...), n.x...), n.w...)
	var loss float32
	var grad []float32
	for run := range 3 {
		if err := n.run(); err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			loss, grad = n.loss[0], append([]float32(nil), n.grad...)
			continue
		}
		if n.loss[0] != loss {
			t.Errorf("run %d: loss %v, first run %v", run, n.loss[0], loss)
		}
		for i := range grad {
			if n.grad[i] != grad[i] {
				t.Fatalf("run %d: gradient %d is %v, first run %v", run, i, n.grad[i], grad[i])
			}
		}
	}
	after := append(append(append([]float32(nil), n.theta...), n.x...), n.w...)
	for i := range inputs {
		if inputs[i] != after[i] {
			t.Fatalf("input value %d changed from %v to %v", i, inputs[i], after[i])
		}
	}
	for i, v := range wts.flat.([]float32) {
		if v != before[i] {
			t.Fatalf("weight %d changed from %v to %v", i, before[i], v)
		}
	}
	want := eagerLoss(t, e, values, theta, x, w)
	if math.Abs(float64(loss)-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Errorf("loss %v, eager %v", loss, want)
	}
}

// TestGorgoniaLogSumExpIsWrong documents why models.LogSumExp (max shift)
// is the only log-sum-exp used: gorgonia's own returns the wrong value.
func TestGorgoniaLogSumExpIsWrong(t *testing.T) {
	g := gorgonia.NewGraph()
	a := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(3), gorgonia.WithName("a"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{1, 2, 3}))))
	lse, err := gorgonia.LogSumExp(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got gorgonia.Value
	gorgonia.Read(lse, &got)
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	var v float64
	switch d := got.Data().(type) {
	case float64:
		v = d
	case []float64:
		v = d[0]
	}
	if math.Abs(v-want) < 1e-6 {
		t.Errorf("gorgonia's LogSumExp is right now (%v): models.LogSumExp may no longer be needed", v)
	}
	t.Logf("gorgonia LogSumExp([1 2 3]) = %.4f, correct %.4f", v, want)

	// Ours, on the same graph backend, is right even where exp overflows.
	e := funcEst{
		spec:   models.Spec{Kind: "lse", ThetaDim: 3, XDim: 1},
		params: []models.ParamSpec{{Name: "a", Rows: 1, Cols: 3}},
		logProb: func(o models.Ops, theta, x models.Tensor) models.Tensor {
			return models.LogSumExp(o, o.Add(theta, o.Param("a")))
		},
	}
	values := map[string][]float64{"a": {1000, 0, 0}}
	n, _ := trainNet[float64](t, e, values, []float64{1, 2, 3}, []float64{0}, []float64{-1})
	if err := n.run(); err != nil {
		t.Fatal(err)
	}
	if want := 1001 + math.Log(1+math.Exp(-999)+math.Exp(-998)); math.Abs(n.loss[0]-want) > 1e-9 {
		t.Errorf("models.LogSumExp on gorgonia: %v, want %v", n.loss[0], want)
	}
}

// TestSampleMatchesEager: every registered kind's sampler (the inverse
// direction, with the fused inverse spline for nsf) gives on the gorgonia
// backend the θ and log-prob that package eager gives.
func TestSampleMatchesEager(t *testing.T) {
	const n = 9
	for i, kind := range models.Kinds() {
		t.Run(kind, func(t *testing.T) {
			spec, err := models.DefaultSpec(kind, 3, 2)
			if err != nil {
				t.Fatal(err)
			}
			e, err := models.New(spec)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(6, uint64(i)))
			values := models.InitParams(e, rng)
			normal, uniform := e.Noise()
			cols := normal + uniform
			noise := randn(rng, n*cols)
			for r := range n {
				for j := normal; j < cols; j++ {
					noise[r*cols+j] = rng.Float64()
				}
			}
			x := randn(rng, n*2)

			o, err := eager.New(e, values)
			if err != nil {
				t.Fatal(err)
			}
			wantTheta, wantLP := e.Sample(o, eager.Matrix(n, cols, noise), eager.Matrix(n, 2, x))

			w, err := newWeights(e, values, tensor.Float64)
			if err != nil {
				t.Fatal(err)
			}
			g := newGraph(w)
			nt, nv := g.Input(n, cols)
			xt, xv := g.Input(n, 2)
			copy(raw[float64](nv), noise)
			copy(raw[float64](xv), x)
			theta, lp := e.Sample(g, nt, xt)
			got := runGraph[float64](t, g, theta, lp)
			for k, want := range [][]float64{eager.Dense(wantTheta).RawMatrix().Data, eager.Dense(wantLP).RawMatrix().Data} {
				for j, v := range want {
					if d := math.Abs(got[k][j] - v); d > 1e-9*math.Max(1, math.Abs(v)) {
						t.Errorf("output %d[%d]: gorgonia %v, eager %v", k, j, got[k][j], v)
					}
				}
			}
		})
	}
}
