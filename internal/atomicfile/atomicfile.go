// Package atomicfile writes files whole or not at all, so that a reader, or
// a run that was killed mid-write, never sees part of one.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write writes path through a temporary file of its own name in the same
// directory: write fills it, it gets perm, is synced to disk and renamed
// over path. On any error the temporary file is removed and path is left as
// it was. Errors are returned as they come, for the caller to wrap: the
// file system's name the path, write's are its own.
func Write(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600); perm says what the caller's
	// file is, whatever the umask.
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
