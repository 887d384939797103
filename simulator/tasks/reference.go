package tasks

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/benchmarks"
)

// BenchmarkEnv names the environment variable that replaces the reference
// data compiled into the program with a directory of the same layout.
const BenchmarkEnv = "AMORTIZE_BENCHMARKS"

// Reference holds sbibm reference data for one observation of a task.
type Reference struct {
	Observation []float64  // x_o, XDim values
	TrueTheta   []float64  // the θ that generated x_o
	Samples     *mat.Dense // reference posterior samples, one per row (10,000 in sbibm)
}

// BenchmarkData returns the reference data: the directory named by
// $AMORTIZE_BENCHMARKS when it is set, otherwise the data compiled into the
// program (package benchmarks).
func BenchmarkData() fs.FS {
	if dir := os.Getenv(BenchmarkEnv); dir != "" {
		return os.DirFS(dir)
	}
	return benchmarks.FS
}

// referenceFiles are the files of one observation directory.
var referenceFiles = [...]string{"observation.csv", "true_parameters.csv", "reference_posterior_samples.csv"}

func (t *Task) obsDir(obs int) string {
	return path.Join(t.Name, fmt.Sprintf("obs%02d", obs))
}

// HasReference reports whether fsys holds reference files for observation
// 1 of the task.
func (t *Task) HasReference(fsys fs.FS) bool {
	if fsys == nil {
		return false
	}
	for _, name := range referenceFiles {
		if !benchmarks.Exists(fsys, path.Join(t.obsDir(1), name)) {
			return false
		}
	}
	return true
}

// Reference reads observation obs (1-based, sbibm's num_observation) from
// <task>/obsNN/{observation,true_parameters,reference_posterior_samples}.csv
// in fsys (each file plain or gzip-compressed as name.gz). Each file has a
// header row; the loader checks every dimension against the task.
func (t *Task) Reference(fsys fs.FS, obs int) (*Reference, error) {
	if obs < 1 {
		return nil, fmt.Errorf("tasks: observation number %d, want ≥ 1", obs)
	}
	od := t.obsDir(obs)
	xdim, dim := t.Simulator.XDim(), t.Prior.Dim()
	var m [len(referenceFiles)]*mat.Dense
	for i, name := range referenceFiles {
		var err error
		m[i], err = readCSVFile(fsys, path.Join(od, name))
		if err != nil {
			return nil, err
		}
	}
	want := [len(referenceFiles)]int{xdim, dim, dim}
	for i, name := range referenceFiles {
		r, c := m[i].Dims()
		if c != want[i] {
			return nil, fmt.Errorf("%w: %s has %d columns, task %s needs %d",
				ErrShape, path.Join(od, name), c, t.Name, want[i])
		}
		if i < 2 && r != 1 {
			return nil, fmt.Errorf("%w: %s has %d rows, want 1", ErrShape, path.Join(od, name), r)
		}
	}
	return &Reference{
		Observation: m[0].RawRowView(0),
		TrueTheta:   m[1].RawRowView(0),
		Samples:     m[2],
	}, nil
}

// readCSVFile reads name (or name.gz) from fsys.
func readCSVFile(fsys fs.FS, name string) (*mat.Dense, error) {
	f, err := benchmarks.Open(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrNoReference, err)
	}
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	defer f.Close()
	_, m, err := readCSV(f)
	if err != nil {
		return nil, fmt.Errorf("tasks: reading %s: %w", name, err)
	}
	return m, nil
}

// readCSV reads a header row and at least one row of numbers.
func readCSV(r io.Reader) (names []string, m *mat.Dense, err error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("empty file")
	}
	if err != nil {
		return nil, nil, err
	}
	names = append([]string(nil), header...)
	var data []float64
	rows := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		for j, field := range rec {
			v, err := strconv.ParseFloat(field, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("row %d, column %d: %w", rows+2, j+1, err)
			}
			data = append(data, v)
		}
		rows++
	}
	if rows == 0 {
		return nil, nil, errors.New("no data rows")
	}
	return names, mat.NewDense(rows, len(names), data), nil
}
