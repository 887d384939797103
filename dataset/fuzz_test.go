package dataset_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/amortize/amortize/dataset"
	"gonum.org/v1/gonum/mat"
)

func fuzzDataset() *dataset.Dataset {
	return &dataset.Dataset{
		Theta:      mat.NewDense(3, 2, []float64{0.1, -2, 3e-9, 4, 5.5, 6}),
		X:          mat.NewDense(3, 1, []float64{1, -1e300, 0}),
		ThetaNames: []string{"a", "b"}, XNames: []string{"x"},
	}
}

// FuzzReadCSV reads CSV datasets and matrices: a dataset or an ErrFormat,
// the same whether read whole or in chunks, never a panic.
func FuzzReadCSV(f *testing.F) {
	var good bytes.Buffer
	if err := dataset.WriteCSV(&good, fuzzDataset()); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good.String(), "a,b\n1,2\n", "a,b\n1\n", "1,2\n3,4\n", "\ufeffa,b\r\n1,2\r\n", "a\n", "", "a,b\n1,nan\n", "\"a\nb\",c\n1,2\n", "a,,b\n1,2,3\n"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, dim uint8) {
		thetaDim := int(dim % 8)
		d, err := dataset.ReadCSV(bytes.NewReader(data), thetaDim)
		if err == nil {
			if d.Len() < 1 || d.Theta.RawMatrix().Cols != thetaDim || len(d.ThetaNames) != thetaDim || len(d.XNames) != d.X.RawMatrix().Cols {
				t.Fatalf("dataset %d rows, names %v %v", d.Len(), d.ThetaNames, d.XNames)
			}
			rows := 0
			if err := dataset.ScanCSV(bytes.NewReader(data), thetaDim, 2, func(c *dataset.Dataset) error {
				for i := range c.Len() {
					if !sameBits(rowOf(c.Theta, i), rowOf(d.Theta, rows)) || !sameBits(rowOf(c.X, i), rowOf(d.X, rows)) {
						t.Fatalf("row %d differs in chunks", rows)
					}
					rows++
				}
				return nil
			}); err != nil || rows != d.Len() {
				t.Fatalf("chunked: %d rows, %v", rows, err)
			}
		}
		names, m, err := dataset.ReadMatrixCSV(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, dataset.ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		if r, c := m.Dims(); r < 1 || c != len(names) {
			t.Fatalf("%d×%d matrix, %d names", r, c, len(names))
		}
	})
}

// FuzzReadNPY reads .npy arrays and .npz datasets: a matrix or an
// ErrFormat, never a panic or an allocation the bytes do not back.
func FuzzReadNPY(f *testing.F) {
	var npy, npz bytes.Buffer
	d := fuzzDataset()
	if err := dataset.WriteNPY(&npy, d.Theta); err != nil {
		f.Fatal(err)
	}
	if err := dataset.WriteNPZ(&npz, d); err != nil {
		f.Fatal(err)
	}
	f.Add(npy.Bytes())
	f.Add(npz.Bytes())
	b := npy.Bytes()
	for _, n := range []int{6, 9, 12, len(b) / 2, len(b) - 1} {
		f.Add(b[:n])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := dataset.ReadNPY(bytes.NewReader(data)); err == nil {
			if r, c := m.Dims(); r*c*4 > len(data) {
				t.Fatalf("%d×%d values from %d bytes", r, c, len(data))
			}
		} else if !errors.Is(err, dataset.ErrFormat) {
			t.Fatalf("npy: error %v is not ErrFormat", err)
		}
		if d, err := dataset.ReadNPZ(bytes.NewReader(data), int64(len(data))); err == nil {
			if d.Theta.RawMatrix().Rows != d.X.RawMatrix().Rows {
				t.Fatal("θ and x rows differ")
			}
		} else if !errors.Is(err, dataset.ErrFormat) {
			t.Fatalf("npz: error %v is not ErrFormat", err)
		}
	})
}

func rowOf(m *mat.Dense, i int) *mat.Dense {
	return m.Slice(i, i+1, 0, m.RawMatrix().Cols).(*mat.Dense)
}

// TestReadCSVWideHeader: a header of 2^20 columns (about 8 MiB) and one row
// reads with memory the rows back, not 4096 rows' worth of the header.
func TestReadCSVWideHeader(t *testing.T) {
	const cols = 1 << 20
	var b bytes.Buffer
	for j := range cols {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "c%d", j)
	}
	b.WriteByte('\n')
	b.WriteString(strings.Repeat("0,", cols-1) + "0\n")
	d, err := dataset.ReadCSV(&b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 || len(d.XNames) != cols-1 {
		t.Fatalf("%d rows, %d x columns", d.Len(), len(d.XNames))
	}
}
