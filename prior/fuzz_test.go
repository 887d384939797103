package prior

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// FuzzUnmarshal decodes prior JSON, from model files and --prior, and uses
// what decodes: an error of the package's kinds or a prior that encodes to
// itself, samples inside its support and scores them, never NaN, never a
// panic.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"type":"box_uniform","low":[0,-1],"high":[1,1]}`,
		`{"type":"independent","marginals":[{"family":"normal","params":[0,1]},{"family":"gamma","params":[2,3]},{"family":"beta","params":[0.5,0.5]},{"family":"lognormal","params":[0,1]},{"family":"uniform","params":[-1,1]}]}`,
		`{"type":"multivariate_normal","mean":[0,1],"cov":[[1,0.5],[0.5,2]]}`,
		`{"type":"multivariate_normal","mean":[0],"cov":[[0]]}`,
		`{"type":"box_uniform","low":[1],"high":[0]}`,
		`{"type":"independent","marginals":[]}`,
		// σ² overflows: the log density was NaN.
		`{"type":"independent","marginals":[{"family":"normal","params":[0,1e308]},{"family":"lognormal","params":[0,1e308]}]}`,
		`{"type":"beta"}`, `{"type":null}`, `null`, `[]`, `{`, `{"type":"box_uniform","low":[0],"high":[1],"x":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Unmarshal(data)
		if err != nil {
			if !errors.Is(err, ErrJSON) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("error %v is of no kind", err)
			}
			return
		}
		d := p.Dim()
		if d < 1 {
			t.Fatalf("dimension %d", d)
		}
		enc, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("%s does not decode: %v", enc, err)
		}
		if enc2, _ := Marshal(q); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip %s → %s", enc, enc2)
		}
		low, high := p.Bounds()
		if len(low) != d || len(high) != d {
			t.Fatalf("bounds %v %v for dimension %d", low, high, d)
		}
		if d > 64 {
			return // sampling is linear in the dimension; the rest is covered
		}
		s := mat.NewDense(4, d, nil)
		p.Sample(s, rand.NewPCG(1, 2))
		for i := range 4 {
			row := s.RawRowView(i)
			if math.IsNaN(p.LogProb(row)) {
				t.Fatalf("log prob of sample %v is NaN", row)
			}
			for j, v := range row {
				if math.IsNaN(v) || v < low[j] || v > high[j] {
					t.Fatalf("sample %v outside the bounds %v %v", row, low, high)
				}
			}
		}
		if math.IsNaN(p.LogProb(make([]float64, d))) {
			t.Fatal("log prob at 0 is NaN")
		}
	})
}
