package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// ErrFormat marks a data file that is malformed or of an unsupported kind.
var ErrFormat = errors.New("malformed data file")

// ErrThetaDim is returned for a CSV dataset read without a θ dimension
// whose header does not tell θ columns from x columns.
var ErrThetaDim = errors.New("cannot tell θ columns from x columns")

// csvChunkRows is the chunk size ReadCSV scans with.
const csvChunkRows = 4096

// WriteCSV writes d as CSV: a header row of θ names then x names, then one
// row per simulation. Numbers are written in the shortest form that reads
// back to the same float64; NaN and Inf are written as NaN, +Inf and -Inf.
func WriteCSV(w io.Writer, d *Dataset) error {
	if err := d.checkShape(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	tn, xn := d.Names()
	// csv.Writer quotes names holding commas or quotes; numbers never need it.
	cw := csv.NewWriter(bw)
	if err := cw.Write(slices.Concat(tn, xn)); err != nil {
		return fmt.Errorf("dataset: write csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("dataset: write csv: %w", err)
	}
	var line []byte
	for i := range d.Len() {
		line = appendRow(line[:0], d.Theta.RawRowView(i))
		line = append(line, ',')
		line = appendRow(line, d.X.RawRowView(i))
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("dataset: write csv: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write csv: %w", err)
	}
	return nil
}

func appendRow(b []byte, row []float64) []byte { return appendRowBits(b, row, 64) }

// appendRowBits writes the shortest text that reads back to the same
// float of the given bit size (32 for values that were float32).
func appendRowBits(b []byte, row []float64, bits int) []byte {
	for j, v := range row {
		if j > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, v, 'g', -1, bits)
	}
	return b
}

// WriteMatrixCSV writes a header row of names and one row per row of m, the
// counterpart of ReadMatrixCSV (posterior samples, observations). bits is
// 64, or 32 for values that were float32, which then print shorter.
func WriteMatrixCSV(w io.Writer, names []string, m *mat.Dense, bits int) error {
	r, c := m.Dims()
	if len(names) != c {
		return fmt.Errorf("dataset: write csv: %d names for %d columns", len(names), c)
	}
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if err := cw.Write(names); err != nil {
		return fmt.Errorf("dataset: write csv: %w", err)
	}
	cw.Flush()
	var line []byte
	for i := range r {
		line = append(appendRowBits(line[:0], m.RawRowView(i), bits), '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("dataset: write csv: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write csv: %w", err)
	}
	return nil
}

// ReadCSV reads a CSV dataset written by WriteCSV or any tool that writes a
// header row followed by numeric rows: the first thetaDim columns are θ, the
// rest x. A thetaDim of 0 takes the θ columns from the header: WriteCSV's
// default names theta_1, theta_2, … followed by other names (ErrThetaDim
// otherwise). NaN and Inf cells are kept; use Dataset.Validate to reject
// them.
func ReadCSV(r io.Reader, thetaDim int) (*Dataset, error) {
	var (
		first    *Dataset
		theta, x []float64
		rows     int
	)
	err := ScanCSV(r, thetaDim, csvChunkRows, func(c *Dataset) error {
		if first == nil {
			first = c
		}
		theta = append(theta, c.Theta.RawMatrix().Data...)
		x = append(x, c.X.RawMatrix().Data...)
		rows += c.Len()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if first == nil {
		return nil, fmt.Errorf("dataset: csv: %w: no data rows after the header", ErrFormat)
	}
	return &Dataset{
		Theta:      mat.NewDense(rows, len(first.ThetaNames), theta),
		X:          mat.NewDense(rows, len(first.XNames), x),
		ThetaNames: first.ThetaNames,
		XNames:     first.XNames,
	}, nil
}

// ScanCSV reads a CSV dataset as ReadCSV does, but hands it to fn in chunks
// of at most chunkRows rows (zero or less means 4096), so that files larger
// than memory can be processed; a file with a header but no rows never
// calls fn. fn owns each chunk. An error from fn stops
// the scan and is returned unchanged.
func ScanCSV(r io.Reader, thetaDim, chunkRows int, fn func(chunk *Dataset) error) error {
	s, err := newCSVRows(r)
	if err != nil {
		return err
	}
	cols := len(s.names)
	if thetaDim == 0 {
		if thetaDim = thetaColumns(s.names); thetaDim == 0 {
			return fmt.Errorf("dataset: csv: %w: the header does not start with theta_1, theta_2, … followed by x columns", ErrThetaDim)
		}
	}
	if thetaDim <= 0 || thetaDim >= cols {
		return fmt.Errorf("dataset: csv: theta dimension %d out of range: the file has %d columns, so it must be between 1 and %d",
			thetaDim, cols, cols-1)
	}
	if chunkRows <= 0 {
		chunkRows = csvChunkRows
	}
	for {
		// Sized by the values a chunk holds, but no more than 2^16 before
		// rows back them: a header alone must not size an allocation.
		data, rows, err := s.read(make([]float64, 0, min(min(chunkRows, csvChunkRows)*cols, 1<<16)), chunkRows)
		if err != nil {
			return err
		}
		if rows == 0 {
			return nil
		}
		theta := make([]float64, 0, rows*thetaDim)
		x := make([]float64, 0, rows*(cols-thetaDim))
		for i := range rows {
			row := data[i*cols : (i+1)*cols]
			theta = append(theta, row[:thetaDim]...)
			x = append(x, row[thetaDim:]...)
		}
		err = fn(&Dataset{
			Theta:      mat.NewDense(rows, thetaDim, theta),
			X:          mat.NewDense(rows, cols-thetaDim, x),
			ThetaNames: slices.Clone(s.names[:thetaDim]),
			XNames:     slices.Clone(s.names[thetaDim:]),
		})
		if err != nil {
			return err
		}
	}
}

// thetaColumns counts the leading columns named theta_1, theta_2, … (the
// names WriteCSV writes by default), or returns 0 when there are none or
// nothing else.
func thetaColumns(names []string) int {
	k := 0
	for k < len(names) && names[k] == "theta_"+strconv.Itoa(k+1) {
		k++
	}
	if k == len(names) {
		return 0
	}
	return k
}

// ReadMatrixCSV reads a CSV file of a header row and numeric rows, such as
// an observation or a file of reference posterior samples.
func ReadMatrixCSV(r io.Reader) (names []string, m *mat.Dense, err error) {
	s, err := newCSVRows(r)
	if err != nil {
		return nil, nil, err
	}
	data, rows, err := s.read(nil, math.MaxInt)
	if err != nil {
		return nil, nil, err
	}
	if rows == 0 {
		return nil, nil, fmt.Errorf("dataset: csv: %w: no data rows after the header", ErrFormat)
	}
	return s.names, mat.NewDense(rows, len(s.names), data), nil
}

// csvRows reads the numeric rows of a CSV file after its header.
type csvRows struct {
	cr    *csv.Reader
	names []string
}

func newCSVRows(r io.Reader) (*csvRows, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // ragged rows get our own message, naming the line
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("dataset: csv: %w: empty file, want a header row of column names", ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: csv: %w: %w", ErrFormat, err)
	}
	names := make([]string, len(header))
	seen := make(map[string]int, len(header)) // a scan per name is quadratic in a hostile header's width
	numeric := true
	for j, h := range header {
		h = strings.TrimSpace(h)
		if j == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // byte-order mark written by some spreadsheets
		}
		if h == "" {
			return nil, fmt.Errorf("dataset: csv line 1, column %d: %w: empty column name", j+1, ErrFormat)
		}
		if _, err := strconv.ParseFloat(h, 64); err != nil {
			numeric = false
		}
		if k, dup := seen[h]; dup {
			return nil, fmt.Errorf("dataset: csv line 1, column %d: %w: column name %q repeats column %d", j+1, ErrFormat, h, k+1)
		}
		seen[h] = j
		names[j] = h
	}
	if numeric {
		return nil, fmt.Errorf("dataset: csv line 1: %w: missing header, the first row is numbers", ErrFormat)
	}
	return &csvRows{cr: cr, names: names}, nil
}

// read appends up to max rows to dst and returns it with the number of rows
// read; zero rows means the end of the input.
func (s *csvRows) read(dst []float64, max int) ([]float64, int, error) {
	cols := len(s.names)
	rows := 0
	for rows < max {
		rec, err := s.cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("dataset: csv: %w: %w", ErrFormat, err)
		}
		line, _ := s.cr.FieldPos(0)
		if len(rec) != cols {
			return nil, 0, fmt.Errorf("dataset: csv line %d: %w: found %d fields, the header has %d", line, ErrFormat, len(rec), cols)
		}
		for j, cell := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
			if err != nil {
				return nil, 0, fmt.Errorf("dataset: csv line %d, column %d (%s): %w: cannot parse %q as a float64",
					line, j+1, s.names[j], ErrFormat, cell)
			}
			dst = append(dst, v)
		}
		rows++
	}
	return dst, rows, nil
}
