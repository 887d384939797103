package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/amortize/amortize/dataset"
	"gonum.org/v1/gonum/mat"
)

// matrixFlags are a pair of flags giving rows of numbers inline or in a file.
type matrixFlags struct {
	name   string // what the rows are, for messages: "x", "theta"
	inline string
	file   string
}

func (f *matrixFlags) register(cmd interface {
	StringVar(p *string, name, value, usage string)
}, inlineUsage, fileUsage string) {
	cmd.StringVar(&f.inline, f.name, "", inlineUsage)
	cmd.StringVar(&f.file, f.name+"-file", "", fileUsage)
}

// read returns the rows, each checked to have dim values that are finite
// in float32, the models' precision.
func (f *matrixFlags) read(dim int) (*mat.Dense, error) {
	var (
		m    *mat.Dense
		err  error
		from string
	)
	switch {
	case f.inline != "" && f.file != "":
		return nil, usagef("give --%s or --%s-file, not both", f.name, f.name)
	case f.inline != "":
		m, err = parseInline(f.inline)
		from = "--" + f.name
	case f.file != "":
		m, err = readMatrix(f.file, dim, f.name)
		from = f.file
	default:
		return nil, usagef("--%s or --%s-file is required", f.name, f.name)
	}
	if err != nil {
		return nil, usagef("%s: %w", from, err)
	}
	r, c := m.Dims()
	if c != dim {
		return nil, usagef("%s: %s has %d values per row, the model expects %d", from, f.name, c, dim)
	}
	for i := range r {
		for j, v := range m.RawRowView(i) {
			if g := float64(float32(v)); math.IsNaN(g) || math.IsInf(g, 0) {
				return nil, usagef("%s: %s row %d value %d is %v, not a finite float32", from, f.name, i+1, j+1, v)
			}
		}
	}
	return m, nil
}

// parseInline reads rows of comma-separated numbers separated by
// semicolons: "0.1,0.2" or "0.1,0.2;0.3,0.4".
func parseInline(s string) (*mat.Dense, error) {
	var data []float64
	cols := -1
	rows := strings.Split(s, ";")
	for i, row := range rows {
		fields := strings.Split(row, ",")
		if cols >= 0 && len(fields) != cols {
			return nil, fmt.Errorf("row %d has %d values, row 1 has %d", i+1, len(fields), cols)
		}
		cols = len(fields)
		for _, f := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return nil, fmt.Errorf("row %d: %q is not a number", i+1, strings.TrimSpace(f))
			}
			data = append(data, v)
		}
	}
	return mat.NewDense(len(rows), cols, data), nil
}

// readMatrix reads rows of numbers from a .csv file (a header row, then
// numbers), a .npy file (a 1-D or 2-D float array) or a .json file (an
// array of numbers, an array of such arrays, or the server's request
// object, whose field key holds them).
func readMatrix(path string, dim int, key string) (*mat.Dense, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv":
		_, m, err := dataset.ReadMatrixCSV(bufio.NewReader(f))
		return m, err
	case ".npy":
		m, err := dataset.ReadNPY(bufio.NewReader(f))
		if err != nil {
			return nil, err
		}
		// A 1-D array reads as a column; as many values as one row holds
		// are that row.
		if r, c := m.Dims(); c == 1 && r == dim && dim > 1 {
			return mat.NewDense(1, dim, m.RawMatrix().Data), nil
		}
		return m, nil
	case ".json":
		return readJSON(f, key)
	default:
		return nil, fmt.Errorf("unknown file type %q: want .csv, .npy or .json", ext)
	}
}

func readJSON(r io.Reader, key string) (*mat.Dense, error) {
	var raw json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		var req map[string]json.RawMessage
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("json: %w", err)
		}
		if raw = req[key]; raw == nil {
			return nil, fmt.Errorf("json: the object has no field %q", key)
		}
	}
	// Pointers tell null, which would read as 0, from a number.
	var rows [][]*float64
	if err := json.Unmarshal(raw, &rows); err != nil {
		var row []*float64
		if json.Unmarshal(raw, &row) != nil {
			return nil, fmt.Errorf("json: want an array of numbers, an array of such arrays, or an object with %q holding one", key)
		}
		rows = [][]*float64{row}
	}
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("json: no numbers")
	}
	data := make([]float64, 0, len(rows)*len(rows[0]))
	for i, row := range rows {
		if len(row) != len(rows[0]) {
			return nil, fmt.Errorf("json: row %d has %d values, row 1 has %d", i+1, len(row), len(rows[0]))
		}
		for j, v := range row {
			if v == nil {
				return nil, fmt.Errorf("json: row %d value %d is null, not a number", i+1, j+1)
			}
			data = append(data, *v)
		}
	}
	return mat.NewDense(len(rows), len(rows[0]), data), nil
}

// output is where a command writes its result, and in which format.
type output struct {
	path   string // "" for stdout
	format string // csv, json or npy; "" to follow the path's extension
}

func (o *output) register(cmd interface {
	StringVar(p *string, name, value, usage string)
}) {
	cmd.StringVar(&o.path, "out", "", "output file, .csv, .json or .npy (default: stdout)")
	cmd.StringVar(&o.format, "format", "", "output format: csv, json or npy (default: from --out, else csv)")
}

// resolve settles the format before any work is done, so that a typo
// fails at once.
func (o *output) resolve() error {
	f := o.format
	if f == "" {
		f = strings.TrimPrefix(strings.ToLower(filepath.Ext(o.path)), ".")
		if o.path == "" {
			f = "csv"
		}
	}
	switch f {
	case "csv", "json", "npy":
		o.format = f
		return nil
	}
	if o.format != "" {
		return usagef("--format %q: want csv, json or npy", o.format)
	}
	return usagef("--out %s: cannot tell the format from the extension; want .csv, .json or .npy, or pass --format", o.path)
}

// write sends the result: a table (header and rows) for csv and npy, v for
// json.
func (o *output) write(stdout io.Writer, header []string, rows *mat.Dense, bits int, v any) (err error) {
	w := stdout
	if o.path != "" {
		f, err := os.Create(o.path)
		if err != nil {
			return err
		}
		defer func() {
			if e := f.Close(); err == nil {
				err = e
			}
		}()
		w = f
	}
	switch o.format {
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "npy":
		return dataset.WriteNPY(w, rows)
	}
	return dataset.WriteMatrixCSV(w, header, rows, bits)
}

// ParseRow reads one row of comma-separated numbers, as --x takes them.
func ParseRow(s string) ([]float64, error) {
	m, err := parseInline(s)
	if err != nil {
		return nil, err
	}
	if r, _ := m.Dims(); r != 1 {
		return nil, fmt.Errorf("%d rows, want one", r)
	}
	return m.RawRowView(0), nil
}
