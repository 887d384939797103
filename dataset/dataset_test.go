package dataset_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/dataset"
)

func TestDatasetNames(t *testing.T) {
	d := &dataset.Dataset{Theta: mat.NewDense(2, 2, nil), X: mat.NewDense(2, 3, nil)}
	th, x := d.Names()
	if !slices.Equal(th, []string{"theta_1", "theta_2"}) || !slices.Equal(x, []string{"x_1", "x_2", "x_3"}) {
		t.Errorf("default names %v %v", th, x)
	}
	d.XNames = []string{"a", "b", "c"}
	if _, x := d.Names(); !slices.Equal(x, d.XNames) {
		t.Errorf("names %v, want the given ones", x)
	}
	if d.Len() != 2 || (*dataset.Dataset)(nil).Len() != 0 {
		t.Errorf("Len %d, want 2", d.Len())
	}
}

func TestDatasetValidate(t *testing.T) {
	nan := mat.NewDense(3, 2, []float64{1, 2, 3, math.NaN(), 5, math.Inf(-1)})
	for _, tc := range []struct {
		name string
		d    *dataset.Dataset
		want string // "" for valid
	}{
		{"valid", &dataset.Dataset{Theta: mat.NewDense(3, 1, nil), X: mat.NewDense(3, 2, nil), XNames: []string{"a", "b"}}, ""},
		{"nil", nil, "missing"},
		{"no x", &dataset.Dataset{Theta: mat.NewDense(3, 1, nil)}, "missing"},
		{"rows", &dataset.Dataset{Theta: mat.NewDense(3, 1, nil), X: mat.NewDense(2, 2, nil)}, "theta has 3 rows but x has 2"},
		{"names", &dataset.Dataset{Theta: mat.NewDense(3, 1, nil), X: mat.NewDense(3, 2, nil), XNames: []string{"a"}}, "1 x names for 2 columns"},
		{"empty name", &dataset.Dataset{Theta: mat.NewDense(3, 1, nil), X: mat.NewDense(3, 2, nil), ThetaNames: []string{""}}, "theta name 1 is empty"},
		{"nan", &dataset.Dataset{Theta: mat.NewDense(3, 1, nil), X: nan}, "x has 2 NaN or Inf values, the first at row 2, column 2"},
	} {
		err := tc.d.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, dataset.ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want ErrInvalid with %q", tc.name, err, tc.want)
		}
	}
}

// awkward returns a dataset of values whose text or binary forms are easy
// to get wrong, with names that need CSV quoting.
func awkward() *dataset.Dataset {
	return &dataset.Dataset{
		Theta: mat.NewDense(3, 2, []float64{
			1.0 / 3, math.Copysign(0, -1),
			math.MaxFloat64, math.SmallestNonzeroFloat64,
			-1e-310, 0.1,
		}),
		X: mat.NewDense(3, 3, []float64{
			1 << 53, -123456789.123456789, 2.5e-8,
			math.Nextafter(1, 2), -math.MaxFloat64, 42,
			1e300, -7, math.Pi,
		}),
		ThetaNames: []string{"θ₁", `say "hi"`},
		XNames:     []string{"x,1", "x 2", "x3"},
	}
}
