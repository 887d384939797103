package models

import (
	"encoding/json"
	"fmt"
	"os"
)

// WriteFile saves m as JSON (model.json, the trainer's output, which
// export turns into a model file). It writes path.tmp and renames it, so
// that an interrupted write leaves any earlier file at path whole.
func WriteFile(m *Model, path string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
