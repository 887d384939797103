package models

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/amortize/amortize/internal/atomicfile"
)

// WriteFile saves m as JSON (model.json, the trainer's output, which
// export turns into a model file), atomically: an interrupted write leaves
// any earlier file at path whole.
func WriteFile(m *Model, path string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// MaxFileBytes bounds a model.json that ReadFile accepts: JSON weights of
// the largest networks the spec allows fit easily, and a crafted file
// cannot make ReadFile hold more than this.
const MaxFileBytes = 1 << 30

// ReadFile loads a model saved by WriteFile and checks that its weights
// fit its spec.
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tooLarge := fmt.Errorf("%s is larger than %d bytes, the limit for a trained model (JSON)", path, MaxFileBytes)
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	} else if fi.Size() > MaxFileBytes {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1)) // the file may grow while read
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, tooLarge
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is not a trained model (JSON): %w", path, err)
	}
	if _, err := m.Network(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}
