package dataset_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sbinet/npyio/npy"
	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/prior"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	d := awkward()
	for _, name := range []string{"data.csv", "data.NPZ"} {
		path := filepath.Join(dir, name)
		// Saving twice replaces the file.
		for range 2 {
			if err := dataset.Save(path, d); err != nil {
				t.Fatal(err)
			}
		}
		got, err := dataset.Load(path, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(got.Theta, d.Theta) || !sameBits(got.X, d.X) || !slices.Equal(got.XNames, d.XNames) {
			t.Errorf("%s: dataset changed", name)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v; want 0644", name, fi.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files, want 2 (temporary files left?)", len(entries))
	}
	// A .npz knows its split; a thetaDim that disagrees is an error.
	if _, err := dataset.Load(filepath.Join(dir, "data.NPZ"), 3); err == nil || !strings.Contains(err.Error(), "theta has 2 columns, want 3") {
		t.Errorf("npz with wrong thetaDim: %v", err)
	}
	if _, err := dataset.Load(filepath.Join(dir, "data.NPZ"), 0); err != nil {
		t.Errorf("npz with thetaDim 0: %v", err)
	}
}

func TestSaveLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.npz")
	bad := &dataset.Dataset{Theta: mat.NewDense(2, 1, nil), X: mat.NewDense(3, 1, nil)}
	if err := dataset.Save(path, bad); !errors.Is(err, dataset.ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestLoadSaveErrors(t *testing.T) {
	dir := t.TempDir()
	d := awkward()
	if err := dataset.Save(filepath.Join(dir, "data.txt"), d); !errors.Is(err, dataset.ErrExtension) {
		t.Errorf("save .txt: got %v, want ErrExtension", err)
	}
	if _, err := dataset.Load(filepath.Join(dir, "data.json"), 1); !errors.Is(err, dataset.ErrExtension) {
		t.Errorf("load .json: got %v, want ErrExtension", err)
	}
	if err := dataset.Save(filepath.Join(dir, "missing", "data.csv"), d); err == nil {
		t.Error("save into a missing directory: no error")
	}
	if _, err := dataset.Load(filepath.Join(dir, "absent.csv"), 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("load absent file: got %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, "ragged.csv")
	if err := os.WriteFile(path, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dataset.Load(path, 1); !errors.Is(err, dataset.ErrFormat) || !strings.Contains(err.Error(), path) {
		t.Errorf("load ragged csv: got %v, want ErrFormat naming the file", err)
	}
}

// A dataset's prior survives Save and Load in both formats, and tells a
// CSV file's θ columns from its x columns whatever their names.
func TestSaveLoadPrior(t *testing.T) {
	dir := t.TempDir()
	p, err := prior.NewBoxUniform([]float64{-1, 0}, []float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	d := &dataset.Dataset{
		Theta:      mat.NewDense(2, 2, []float64{0.5, 1, -0.5, 1.5}),
		X:          mat.NewDense(2, 1, []float64{3, 4}),
		ThetaNames: []string{"offset", "gain"},
		XNames:     []string{"rate"},
		Prior:      p,
	}
	want, _ := prior.Marshal(p)
	for _, name := range []string{"sims.csv", "sims.npz"} {
		path := filepath.Join(dir, name)
		if err := dataset.Save(path, d); err != nil {
			t.Fatal(err)
		}
		got, err := dataset.Load(path, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Prior == nil {
			t.Fatalf("%s: prior lost", name)
		}
		if b, _ := prior.Marshal(got.Prior); !bytes.Equal(b, want) {
			t.Errorf("%s: prior %s, want %s", name, b, want)
		}
		if _, c := got.Theta.Dims(); c != 2 || !slices.Equal(got.ThetaNames, d.ThetaNames) {
			t.Errorf("%s: θ columns %d %q, want 2 %q", name, c, got.ThetaNames, d.ThetaNames)
		}
	}
	side := dataset.PriorPath(filepath.Join(dir, "sims.csv"))
	if filepath.Base(side) != "sims.prior.json" {
		t.Errorf("PriorPath = %s", side)
	}
	// A prior that disagrees with the θ columns is an error, not a silent
	// split.
	if err := os.WriteFile(side, []byte(`{"type":"box_uniform","low":[0],"high":[1]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dataset.Load(filepath.Join(dir, "sims.csv"), 2); !errors.Is(err, dataset.ErrInvalid) {
		t.Errorf("prior of 1 dimension for 2 θ columns: %v, want ErrInvalid", err)
	}
	if err := os.WriteFile(side, []byte(`{"type":"box_uniform"`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dataset.Load(filepath.Join(dir, "sims.csv"), 2); !errors.Is(err, prior.ErrJSON) {
		t.Errorf("broken prior file: %v, want prior.ErrJSON", err)
	}
	// Saving a dataset without a prior removes the old one's prior file,
	// which would otherwise be taken for this dataset's.
	d.Prior = nil
	if err := dataset.Save(filepath.Join(dir, "sims.csv"), d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(side); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale prior file: %v", err)
	}
	if err := (&dataset.Dataset{Theta: d.Theta, X: d.X, Prior: mustBox(t, 1)}).Validate(); !errors.Is(err, dataset.ErrInvalid) {
		t.Errorf("Validate with a prior of the wrong dimension: %v", err)
	}
}

func mustBox(t *testing.T, dim int) prior.Prior {
	t.Helper()
	p, err := prior.NewBoxUniform(make([]float64, dim), slices.Repeat([]float64{1}, dim))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Without a θ dimension or a prior, simulate's default header names split
// a CSV file; other names are an error that says so.
func TestLoadCSVThetaFromHeader(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		header string
		theta  int
	}{
		{"theta_1,theta_2,x_1", 2},
		{"theta_1,x_1,x_2", 1},
		{"theta_1,theta_2,theta_4", 2},
		{"theta_2,theta_1,x_1", 0},
		{"a,b,c", 0},
		{"theta_1,theta_2,theta_3", 0},
	} {
		path := filepath.Join(dir, "d.csv")
		if err := os.WriteFile(path, []byte(tc.header+"\n1,2,3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := dataset.Load(path, 0)
		if tc.theta == 0 {
			if !errors.Is(err, dataset.ErrThetaDim) {
				t.Errorf("%s: %v, want ErrThetaDim", tc.header, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.header, err)
			continue
		}
		if _, c := d.Theta.Dims(); c != tc.theta {
			t.Errorf("%s: %d θ columns, want %d", tc.header, c, tc.theta)
		}
	}
}

// A .npz "prior" entry that is not one valid prior of θ's dimension is a
// format error.
func TestReadNPZBadPrior(t *testing.T) {
	d := &dataset.Dataset{Theta: mat.NewDense(1, 2, []float64{0, 0}), X: mat.NewDense(1, 1, []float64{1})}
	var plain bytes.Buffer
	if err := dataset.WriteNPZ(&plain, d); err != nil {
		t.Fatal(err)
	}
	for _, entry := range [][]string{
		{`{"type":"box_uniform"`},
		{`{"type":"box_uniform","low":[0],"high":[1]}`},
		{`{"type":"box_uniform","low":[0,0],"high":[1,1]}`, `{}`},
	} {
		zr, err := zip.NewReader(bytes.NewReader(plain.Bytes()), int64(plain.Len()))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range zr.File {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
		}
		w, err := zw.Create("prior.npy")
		if err == nil {
			err = npy.Write(w, entry)
		}
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dataset.ReadNPZ(bytes.NewReader(buf.Bytes()), int64(buf.Len())); !errors.Is(err, dataset.ErrFormat) {
			t.Errorf("prior %q: %v, want ErrFormat", entry, err)
		}
	}
	d.Prior = mustBox(t, 1)
	if err := dataset.WriteNPZ(&bytes.Buffer{}, d); !errors.Is(err, dataset.ErrInvalid) {
		t.Errorf("WriteNPZ with a prior of the wrong dimension: %v", err)
	}
}
