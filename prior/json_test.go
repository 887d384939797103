package prior

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// awkward returns priors whose parameters have long or extreme decimal
// expansions, where a lossy float format would show.
func awkward(t *testing.T) map[string]Prior {
	t.Helper()
	ps := fixtures(t)
	third, tenth := 1.0/3, 0.1
	box, err := NewBoxUniform([]float64{-tenth, math.Copysign(0, -1), 5e-324, -1e300}, []float64{third, math.Pi, 1e-300, math.MaxFloat64 / 4})
	if err != nil {
		t.Fatal(err)
	}
	ps["awkward box"] = box
	ind, err := NewIndependent([]Marginal{
		{"normal", []float64{math.E, third}},
		{"gamma", []float64{1e-7, 123456.789e10}},
		{"beta", []float64{math.Nextafter(1, 2), math.Sqrt2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ps["awkward independent"] = ind
	mvn, err := NewMultivariateNormal([]float64{tenth, -third}, mat.NewSymDense(2, []float64{third, tenth / 7, tenth / 7, 2.0 / 3}))
	if err != nil {
		t.Fatal(err)
	}
	ps["awkward mvn"] = mvn
	return ps
}

func TestJSONRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 5))
	for name, p := range awkward(t) {
		data, err := Marshal(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		q, err := Unmarshal(data)
		if err != nil {
			t.Fatalf("%s: Unmarshal(%s): %v", name, data, err)
		}
		again, err := Marshal(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(data, again) {
			t.Errorf("%s: re-marshalled\n%s\nwant\n%s", name, again, data)
		}
		if q.Dim() != p.Dim() {
			t.Fatalf("%s: dimension %d after round trip, want %d", name, q.Dim(), p.Dim())
		}
		plo, phi := p.Bounds()
		qlo, qhi := q.Bounds()
		if !sameBits(plo, qlo) || !sameBits(phi, qhi) {
			t.Errorf("%s: bounds [%v, %v] after round trip, want [%v, %v]", name, qlo, qhi, plo, phi)
		}
		// Draws, and points around them, must get bit-identical densities.
		a, b := mat.NewDense(50, p.Dim(), nil), mat.NewDense(50, p.Dim(), nil)
		p.Sample(a, rand.NewPCG(1, 2))
		q.Sample(b, rand.NewPCG(1, 2))
		if !mat.Equal(a, b) {
			t.Errorf("%s: seeded draws differ after round trip", name)
		}
		for i := range 50 {
			th := a.RawRowView(i)
			for j := range th {
				th[j] += rnd.NormFloat64()
			}
			if lp, lq := p.LogProb(th), q.LogProb(th); math.Float64bits(lp) != math.Float64bits(lq) {
				t.Errorf("%s: LogProb(%v) = %v after round trip, want %v", name, th, lq, lp)
			}
		}
	}
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func TestMarshalFormat(t *testing.T) {
	box, _ := NewBoxUniform([]float64{0, -1.5}, []float64{1, 2})
	ind, _ := NewIndependent([]Marginal{{"normal", []float64{0, 1}}, {"gamma", []float64{2, 0.5}}})
	mvn, _ := NewMultivariateNormal([]float64{0, 1e-7}, mat.NewSymDense(2, []float64{1, 0.5, 0.5, 2}))
	for _, c := range []struct {
		p    Prior
		want string
	}{
		{box, `{"type":"box_uniform","low":[0,-1.5],"high":[1,2]}`},
		{ind, `{"type":"independent","marginals":[{"family":"normal","params":[0,1]},{"family":"gamma","params":[2,0.5]}]}`},
		{mvn, `{"type":"multivariate_normal","mean":[0,1e-7],"cov":[[1,0.5],[0.5,2]]}`},
	} {
		got, err := Marshal(c.p)
		if err != nil || string(got) != c.want {
			t.Errorf("Marshal = %s, %v; want %s", got, err, c.want)
		}
		// The types are json.Marshalers, so they encode the same inside
		// other values.
		nested, err := json.Marshal(struct{ Prior Prior }{c.p})
		if err != nil || string(nested) != `{"Prior":`+c.want+`}` {
			t.Errorf("nested json.Marshal = %s, %v", nested, err)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	mvn, _ := NewMultivariateNormal([]float64{0}, mat.NewSymDense(1, []float64{1}))
	for _, c := range []struct {
		p    Prior
		want error
		msg  string
	}{
		{nil, ErrInvalid, "nil prior"},
		{(*BoxUniform)(nil), ErrInvalid, "box_uniform: not built by NewBoxUniform"},
		{&BoxUniform{}, ErrInvalid, "box_uniform: not built by NewBoxUniform"},
		{&Independent{}, ErrInvalid, "independent: not built by NewIndependent"},
		{&MultivariateNormal{}, ErrInvalid, "multivariate_normal: not built by NewMultivariateNormal"},
		{disc{mvn}, ErrUnknownType, "prior.disc has no JSON encoding"},
	} {
		data, err := Marshal(c.p)
		if data != nil || !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Marshal(%#v) = %s, %v; want %v containing %q", c.p, data, err, c.want, c.msg)
		}
	}
}

func TestUnmarshalErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
		msg  string
	}{
		{``, ErrJSON, "unexpected end of JSON input"},
		{`{"type":"box_uniform","low":[0],"high":[1]`, ErrJSON, "unexpected end"},
		{`{"type":"box_uniform","low":[0],"high":[1]} {}`, ErrJSON, "invalid character"},
		{`null`, ErrJSON, `missing "type"`},
		{`{}`, ErrJSON, `missing "type"`},
		{`[1, 2]`, ErrJSON, "cannot unmarshal array"},
		{`{"type":7}`, ErrJSON, "cannot unmarshal number"},
		{`{"type":"uniform"}`, ErrUnknownType, `"uniform" (want box_uniform, independent or multivariate_normal)`},
		{`{"type":"box_uniform","low":[0],"high":[1],"mean":[0]}`, ErrJSON, `unknown field "mean"`},
		{`{"type":"box_uniform","lows":[0],"high":[1]}`, ErrJSON, `unknown field "lows"`},
		{`{"type":"box_uniform","low":[0],"high":["1"]}`, ErrJSON, "cannot unmarshal string"},
		{`{"type":"box_uniform","low":[0],"high":[1e400]}`, ErrJSON, "1e400"},
		{`{"type":"box_uniform","high":[1]}`, ErrInvalid, "empty bounds"},
		{`{"type":"box_uniform","low":[0,3],"high":[1,2]}`, ErrInvalid, "dimension 1: low = 3 must be below high = 2"},
		{`{"type":"independent","marginals":[]}`, ErrInvalid, "no marginals"},
		{`{"type":"independent","marginals":[{"family":"normal","params":[0,1]},{"family":"cauchy","params":[0,1]}]}`, ErrInvalid, `dimension 1: unknown family "cauchy"`},
		{`{"type":"independent","marginals":[{"family":"gamma","params":[1],"shape":2}]}`, ErrJSON, `unknown field "shape"`},
		{`{"type":"independent","marginals":[{"family":"gamma","params":[1]}]}`, ErrInvalid, "dimension 0: gamma takes 2 parameters"},
		{`{"type":"multivariate_normal","mean":[0,0],"cov":[[1,0]]}`, ErrInvalid, "cov has 1 rows, mean has 2 values"},
		{`{"type":"multivariate_normal","mean":[0,0],"cov":[[1],[0,1]]}`, ErrInvalid, "cov row 1 has 1 values, want 2"},
		{`{"type":"multivariate_normal","mean":[0,0],"cov":[[1,0.5],[0.4,1]]}`, ErrInvalid, "cov[0][1] = 0.5 but cov[1][0] = 0.4"},
		{`{"type":"multivariate_normal","mean":[0,0],"cov":[[1,2],[2,1]]}`, ErrInvalid, "not positive definite"},
		{`{"type":"multivariate_normal","mean":[],"cov":[]}`, ErrInvalid, "empty mean"},
		{`{"type":"multivariate_normal"}`, ErrInvalid, "empty mean"},
	} {
		p, err := Unmarshal([]byte(c.in))
		if p != nil || !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v containing %q", c.in, p, err, c.want, c.msg)
		}
	}
}
