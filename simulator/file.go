package simulator

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrExtension is returned by Load and Save for a path whose extension is
// neither .csv nor .npz.
var ErrExtension = errors.New("unknown data file extension, want .csv or .npz")

// Load reads a dataset from a .csv file, split after thetaDim columns (see
// ReadCSV), or from a .npz file (see ReadNPZ), where a positive thetaDim
// must match the θ array's columns.
func Load(path string, thetaDim int) (*Dataset, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".csv" && ext != ".npz" {
		return nil, fmt.Errorf("simulator: load %s: %w", path, ErrExtension)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	defer f.Close()
	var d *Dataset
	if ext == ".csv" {
		d, err = ReadCSV(f, thetaDim)
	} else {
		d, err = loadNPZ(f, thetaDim)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func loadNPZ(f *os.File, thetaDim int) (*Dataset, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	d, err := ReadNPZ(f, fi.Size())
	if err != nil {
		return nil, err
	}
	if _, c := d.Theta.Dims(); thetaDim > 0 && c != thetaDim {
		return nil, fmt.Errorf("simulator: npz: theta has %d columns, want %d", c, thetaDim)
	}
	return d, nil
}

// Save writes d to path as .csv (see WriteCSV) or .npz (see WriteNPZ),
// chosen by the extension. It writes a temporary file in the same directory
// and renames it into place, so path never holds a partial file.
func Save(path string, d *Dataset) (err error) {
	var write func(io.Writer, *Dataset) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		write = WriteCSV
	case ".npz":
		write = WriteNPZ
	default:
		return fmt.Errorf("simulator: save %s: %w", path, ErrExtension)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f, d); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// CreateTemp makes the file private; a dataset is an ordinary file.
	if err = f.Chmod(0o644); err == nil {
		if err = f.Sync(); err == nil {
			err = f.Close()
		}
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("simulator: save %s: %w", path, err)
	}
	return nil
}
