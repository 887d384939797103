package models_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/amortize/amortize/models"
)

// fileModel is a small model with weights from its spec's initialisation.
func fileModel(t *testing.T) *models.Model {
	t.Helper()
	s, err := models.DefaultSpec("gaussian", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	e, err := models.New(s)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float32{}
	for name, v := range models.InitParams(e, rand.NewPCG(1, 2)) {
		for _, f := range v {
			w[name] = append(w[name], float32(f))
		}
	}
	return &models.Model{
		Spec: s, Weights: w, Method: s.MethodName(),
		ThetaMean: []float64{0, 1}, ThetaStd: []float64{1, 2},
		XMean: []float64{0, 0, 0}, XStd: []float64{1, 1, 1},
		ThetaNames: []string{"a", "b"}, XNames: []string{"x1", "x2", "x3"},
	}
}

func TestWriteReadFile(t *testing.T) {
	m := fileModel(t)
	path := filepath.Join(t.TempDir(), "model.json")
	if err := models.WriteFile(m, path); err != nil {
		t.Fatal(err)
	}
	got, err := models.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("read back %+v, wrote %+v", got, m)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp left behind: %v", path, err)
	}
}

func TestReadFileRefuses(t *testing.T) {
	dir := t.TempDir()
	short := fileModel(t)
	for name := range short.Weights {
		short.Weights[name] = short.Weights[name][:1]
		break
	}
	if err := models.WriteFile(short, filepath.Join(dir, "short.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "text.json"), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A sparse file: its size is refused before anything is read.
	if f, err := os.Create(filepath.Join(dir, "huge.json")); err != nil {
		t.Fatal(err)
	} else if err := f.Truncate(models.MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	} else if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"huge.json":    "larger than",
		".":            "not a regular file",
		"missing.json": "no such file",
		"text.json":    "is not a trained model",
		"short.json":   "has 1 values",
	} {
		path := filepath.Join(dir, file)
		if _, err := models.ReadFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", file, err, want)
		}
	}
}
