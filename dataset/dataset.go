// Package dataset holds the (θ, x) Dataset and reads and writes datasets
// and matrices as CSV, NumPy .npy arrays and .npz archives, with the prior
// that drew θ. Package simulator produces Datasets; the commands save and
// load their files.
package dataset

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/prior"
)

// ErrInvalid marks a Dataset that fails Validate.
var ErrInvalid = errors.New("invalid dataset")

// Dataset holds n simulations: row i of X was simulated from row i of Theta.
//
// ThetaNames and XNames label the columns; nil means the defaults
// "theta_1", "theta_2", … and "x_1", "x_2", …. Prior, when known, is the
// distribution Theta was drawn from; it travels with the dataset's files
// so that a model trained on them can carry it.
type Dataset struct {
	Theta, X           *mat.Dense
	ThetaNames, XNames []string
	Prior              prior.Prior
}

// Len returns the number of simulations.
func (d *Dataset) Len() int {
	if d == nil || d.Theta == nil {
		return 0
	}
	r, _ := d.Theta.Dims()
	return r
}

// Names returns the column names, with defaults where absent.
func (d *Dataset) Names() (theta, x []string) {
	theta, x = d.ThetaNames, d.XNames
	if theta == nil && d.Theta != nil {
		_, c := d.Theta.Dims()
		theta = DefaultNames("theta", c)
	}
	if x == nil && d.X != nil {
		_, c := d.X.Dims()
		x = DefaultNames("x", c)
	}
	return theta, x
}

// Validate checks that Theta and X are present with equal row counts, that
// names match the column counts and are not empty, and that every value is
// finite, reporting the count and first position of any NaN or Inf.
func (d *Dataset) Validate() error {
	if err := d.checkShape(); err != nil {
		return err
	}
	if err := checkFinite("theta", d.Theta); err != nil {
		return err
	}
	return checkFinite("x", d.X)
}

// checkShape is Validate without the finiteness check: what writing a
// dataset to a file needs.
func (d *Dataset) checkShape() error {
	if d == nil || d.Theta == nil || d.X == nil || d.Theta.IsEmpty() || d.X.IsEmpty() {
		return fmt.Errorf("dataset: %w: theta or x is missing", ErrInvalid)
	}
	n, dt := d.Theta.Dims()
	m, dx := d.X.Dims()
	if n != m {
		return fmt.Errorf("dataset: %w: theta has %d rows but x has %d", ErrInvalid, n, m)
	}
	if d.Prior != nil && d.Prior.Dim() != dt {
		return fmt.Errorf("dataset: %w: the prior has %d dimensions but theta has %d columns", ErrInvalid, d.Prior.Dim(), dt)
	}
	if err := checkNames("theta", d.ThetaNames, dt); err != nil {
		return err
	}
	return checkNames("x", d.XNames, dx)
}

func checkNames(what string, names []string, cols int) error {
	if names == nil {
		return nil
	}
	if len(names) != cols {
		return fmt.Errorf("dataset: %w: %d %s names for %d columns", ErrInvalid, len(names), what, cols)
	}
	for i, s := range names {
		if s == "" {
			return fmt.Errorf("dataset: %w: %s name %d is empty", ErrInvalid, what, i+1)
		}
	}
	return nil
}

func checkFinite(what string, m *mat.Dense) error {
	r, _ := m.Dims()
	count, first := 0, [2]int{}
	for i := range r {
		for j, v := range m.RawRowView(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if count == 0 {
					first = [2]int{i, j}
				}
				count++
			}
		}
	}
	if count > 0 {
		return fmt.Errorf("dataset: %w: %s has %d NaN or Inf values, the first at row %d, column %d",
			ErrInvalid, what, count, first[0]+1, first[1]+1)
	}
	return nil
}

// DefaultNames returns prefix_1 … prefix_n, the column names of a dataset
// without names of its own ("theta_1", …, "x_1", …).
func DefaultNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = prefix + "_" + strconv.Itoa(i+1)
	}
	return names
}
