package prior

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestNewBoxUniformErrors(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, c := range []struct {
		low, high []float64
		msg       string
	}{
		{nil, nil, "empty bounds"},
		{[]float64{}, []float64{1}, "empty bounds"},
		{[]float64{0, 0}, []float64{1}, "low has 2 values, high has 1"},
		{[]float64{0, 1}, []float64{1, 1}, "dimension 1: low = 1 must be below high = 1"},
		{[]float64{2}, []float64{1}, "dimension 0: low = 2 must be below high = 1"},
		{[]float64{0, nan}, []float64{1, 1}, "dimension 1: low = NaN and high = 1 must be finite"},
		{[]float64{-inf}, []float64{1}, "dimension 0: low = -Inf and high = 1 must be finite"},
		{[]float64{0}, []float64{inf}, "must be finite"},
		{[]float64{-math.MaxFloat64}, []float64{math.MaxFloat64}, "dimension 0: width high−low"},
	} {
		p, err := NewBoxUniform(c.low, c.high)
		if p != nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("NewBoxUniform(%v, %v) = %v, %v; want ErrInvalid containing %q", c.low, c.high, p, err, c.msg)
		}
	}
}

func TestBoxUniformLogProb(t *testing.T) {
	low, high := []float64{-1, 0, 2.5}, []float64{1, 0.5, 7}
	p, err := NewBoxUniform(low, high)
	if err != nil {
		t.Fatal(err)
	}
	want := -math.Log(2 * 0.5 * 4.5)
	inside := [][]float64{{0, 0.25, 3}, low, high, {-1, 0.5, 2.5}}
	for _, th := range inside {
		if got := p.LogProb(th); math.Abs(got-want) > 1e-15 || !p.InSupport(th) {
			t.Errorf("LogProb(%v) = %v (in support %v), want %v", th, got, p.InSupport(th), want)
		}
	}
	outside := [][]float64{
		{math.Nextafter(-1, -2), 0.25, 3},
		{0, math.Nextafter(0.5, 1), 3},
		{0, 0.25, math.Nextafter(2.5, 0)},
		{0, 0.25, 8},
	}
	for _, th := range outside {
		if got := p.LogProb(th); !math.IsInf(got, -1) || p.InSupport(th) {
			t.Errorf("LogProb(%v) = %v (in support %v), want -Inf", th, got, p.InSupport(th))
		}
	}
}

func TestBoxUniformMoments(t *testing.T) {
	low, high := []float64{-1, 0, 2.5}, []float64{1, 0.5, 7}
	p, err := NewBoxUniform(low, high)
	if err != nil {
		t.Fatal(err)
	}
	m := draws(p, 20000, 11)
	for j := range low {
		w := high[j] - low[j]
		checkMoments(t, fmt.Sprintf("box dimension %d", j), mat.Col(nil, j, m), (low[j]+high[j])/2, w*w/12, -1.2)
	}
}

func TestBoxUniformCopies(t *testing.T) {
	low, high := []float64{0}, []float64{1}
	p, err := NewBoxUniform(low, high)
	if err != nil {
		t.Fatal(err)
	}
	low[0], high[0] = 5, 6
	l, h := p.Bounds()
	l[0], h[0] = 7, 8
	if l, h := p.Bounds(); l[0] != 0 || h[0] != 1 {
		t.Errorf("bounds changed through caller slices: [%v, %v]", l[0], h[0])
	}
}
