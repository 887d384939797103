package dataset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/amortize/amortize/internal/atomicfile"
	"github.com/amortize/amortize/prior"
)

// ErrExtension is returned by Load and Save for a path whose extension is
// neither .csv nor .npz.
var ErrExtension = errors.New("unknown data file extension, want .csv or .npz")

// PriorPath is the file beside a .csv dataset that holds its prior's JSON:
// sims.csv → sims.prior.json. (A .npz dataset holds its prior inside.)
func PriorPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".prior.json"
}

// Load reads a dataset from a .csv file (see ReadCSV) or from a .npz file
// (see ReadNPZ). A .csv dataset's prior is read from PriorPath(path) when
// that file exists. The θ columns of a .csv file are the first thetaDim;
// with thetaDim 0, as many as the prior has dimensions, or else those the
// header names theta_1, theta_2, …. A positive thetaDim must match a .npz
// file's θ array.
func Load(path string, thetaDim int) (*Dataset, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".csv" && ext != ".npz" {
		return nil, fmt.Errorf("dataset: load %s: %w", path, ErrExtension)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	if ext == ".npz" {
		d, err := loadNPZ(f, thetaDim)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return d, nil
	}
	var p prior.Prior
	if pp := PriorPath(path); fileExists(pp) {
		if p, err = prior.ReadFile(pp); err != nil {
			return nil, fmt.Errorf("dataset: prior of %s: %w", path, err)
		}
		if thetaDim == 0 {
			thetaDim = p.Dim()
		}
	}
	d, err := ReadCSV(f, thetaDim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p != nil {
		if _, c := d.Theta.Dims(); p.Dim() != c {
			return nil, fmt.Errorf("dataset: %s: %w: its prior %s has %d dimensions, θ has %d columns",
				path, ErrInvalid, PriorPath(path), p.Dim(), c)
		}
		d.Prior = p
	}
	return d, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func loadNPZ(f *os.File, thetaDim int) (*Dataset, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	d, err := ReadNPZ(f, fi.Size())
	if err != nil {
		return nil, err
	}
	if _, c := d.Theta.Dims(); thetaDim > 0 && c != thetaDim {
		return nil, fmt.Errorf("dataset: npz: theta has %d columns, want %d", c, thetaDim)
	}
	return d, nil
}

// Save writes d to path as .csv (see WriteCSV) or .npz (see WriteNPZ),
// chosen by the extension; a .csv dataset's prior goes to PriorPath(path),
// and a prior file left there by an earlier dataset is removed. Each file
// is written to a temporary file in the same directory and renamed into
// place, so path never holds a partial file.
func Save(path string, d *Dataset) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		if err := writeAtomic(path, func(w io.Writer) error { return WriteCSV(w, d) }); err != nil {
			return err
		}
		pp := PriorPath(path)
		if d.Prior == nil {
			if err := os.Remove(pp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("dataset: %w", err)
			}
			return nil
		}
		b, err := prior.Marshal(d.Prior)
		if err != nil {
			return fmt.Errorf("dataset: save %s: %w", pp, err)
		}
		return writeAtomic(pp, func(w io.Writer) error {
			_, err := w.Write(append(b, '\n'))
			return err
		})
	case ".npz":
		return writeAtomic(path, func(w io.Writer) error { return WriteNPZ(w, d) })
	}
	return fmt.Errorf("dataset: save %s: %w", path, ErrExtension)
}

// writeAtomic writes path whole or not at all. A dataset is an ordinary
// file, readable by others.
func writeAtomic(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, 0o644, write); err != nil {
		return fmt.Errorf("dataset: save %s: %w", path, err)
	}
	return nil
}
