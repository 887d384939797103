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

// ReadFile loads a model saved by WriteFile and checks that its weights
// fit its spec.
func ReadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
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
