package simulator_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/simulator"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	d := awkward()
	for _, name := range []string{"data.csv", "data.NPZ"} {
		path := filepath.Join(dir, name)
		// Saving twice replaces the file.
		for range 2 {
			if err := simulator.Save(path, d); err != nil {
				t.Fatal(err)
			}
		}
		got, err := simulator.Load(path, 2)
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
	if _, err := simulator.Load(filepath.Join(dir, "data.NPZ"), 3); err == nil || !strings.Contains(err.Error(), "theta has 2 columns, want 3") {
		t.Errorf("npz with wrong thetaDim: %v", err)
	}
	if _, err := simulator.Load(filepath.Join(dir, "data.NPZ"), 0); err != nil {
		t.Errorf("npz with thetaDim 0: %v", err)
	}
}

func TestSaveLeavesNoPartialFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.npz")
	bad := &simulator.Dataset{Theta: mat.NewDense(2, 1, nil), X: mat.NewDense(3, 1, nil)}
	if err := simulator.Save(path, bad); !errors.Is(err, simulator.ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestLoadSaveErrors(t *testing.T) {
	dir := t.TempDir()
	d := awkward()
	if err := simulator.Save(filepath.Join(dir, "data.txt"), d); !errors.Is(err, simulator.ErrExtension) {
		t.Errorf("save .txt: got %v, want ErrExtension", err)
	}
	if _, err := simulator.Load(filepath.Join(dir, "data.json"), 1); !errors.Is(err, simulator.ErrExtension) {
		t.Errorf("load .json: got %v, want ErrExtension", err)
	}
	if err := simulator.Save(filepath.Join(dir, "missing", "data.csv"), d); err == nil {
		t.Error("save into a missing directory: no error")
	}
	if _, err := simulator.Load(filepath.Join(dir, "absent.csv"), 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("load absent file: got %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, "ragged.csv")
	if err := os.WriteFile(path, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := simulator.Load(path, 1); !errors.Is(err, simulator.ErrFormat) || !strings.Contains(err.Error(), path) {
		t.Errorf("load ragged csv: got %v, want ErrFormat naming the file", err)
	}
}
