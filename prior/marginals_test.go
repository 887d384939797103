package prior_test

import (
	"errors"
	"fmt"
	"log"
	"math"
	"strings"
	"testing"

	"github.com/amortize/amortize/prior"
)

// TestMarginalConstructors checks each constructor against the density of
// its family in closed form, and that it writes the JSON of the family's
// name and parameters in order.
func TestMarginalConstructors(t *testing.T) {
	lgamma := func(x float64) float64 { v, _ := math.Lgamma(x); return v }
	for _, tc := range []struct {
		m      prior.Marginal
		json   string
		x      float64
		logPdf float64
	}{
		{prior.Uniform(-1, 3), `{"family":"uniform","params":[-1,3]}`, 0.5, -math.Log(4)},
		{prior.Normal(1, 2), `{"family":"normal","params":[1,2]}`, 0, -0.125 - math.Log(2) - 0.5*math.Log(2*math.Pi)},
		{prior.LogNormal(0.5, 0.25), `{"family":"lognormal","params":[0.5,0.25]}`, 2,
			-0.5*math.Pow((math.Log(2)-0.5)/0.25, 2) - math.Log(0.25*2) - 0.5*math.Log(2*math.Pi)},
		{prior.Gamma(3, 2), `{"family":"gamma","params":[3,2]}`, 1.5,
			3*math.Log(2) - lgamma(3) + 2*math.Log(1.5) - 2*1.5},
		{prior.Beta(2, 5), `{"family":"beta","params":[2,5]}`, 0.3,
			lgamma(7) - lgamma(2) - lgamma(5) + math.Log(0.3) + 4*math.Log(0.7)},
	} {
		p, err := prior.NewIndependent([]prior.Marginal{tc.m})
		if err != nil {
			t.Fatalf("%v: %v", tc.m, err)
		}
		if got := p.LogProb([]float64{tc.x}); math.Abs(got-tc.logPdf) > 1e-12 {
			t.Errorf("%s: log p(%v) = %v, want %v", tc.m.Family, tc.x, got, tc.logPdf)
		}
		data, err := prior.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"type":"independent","marginals":[` + tc.json + `]}`; string(data) != want {
			t.Errorf("JSON %s, want %s", data, want)
		}
	}
}

func TestMarginalConstructorsInvalid(t *testing.T) {
	for _, tc := range []struct {
		m    prior.Marginal
		want string
	}{
		{prior.Uniform(1, 1), "uniform"},
		{prior.Normal(0, -1), "sigma"},
		{prior.Normal(math.NaN(), 1), "mu"},
		{prior.LogNormal(0, 0), "sigma"},
		{prior.Gamma(-2, 1), "alpha"},
		{prior.Gamma(2, math.Inf(1)), "beta"},
		{prior.Beta(1, 0), "beta"},
	} {
		_, err := prior.NewIndependent([]prior.Marginal{prior.Normal(0, 1), tc.m})
		if !errors.Is(err, prior.ErrInvalid) || !strings.Contains(err.Error(), "dimension 1") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want ErrInvalid naming dimension 1 and %s", tc.m, err, tc.want)
		}
	}
}

func ExampleNormal() {
	p, err := prior.NewIndependent([]prior.Marginal{prior.Normal(0, 1), prior.Gamma(2, 0.5), prior.Beta(2, 2)})
	if err != nil {
		log.Fatal(err)
	}
	low, high := p.Bounds()
	fmt.Println(p.Dim(), low, high)
	_, err = prior.NewIndependent([]prior.Marginal{prior.Normal(0, -1)})
	fmt.Println(err)
	// Output:
	// 3 [-Inf 0 0] [+Inf +Inf 1]
	// prior: invalid parameters: independent: dimension 0: normal: sigma = -1 must be positive
}
