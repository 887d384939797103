package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestUI checks the UI handler's routes without a browser: the page, only
// onnxruntime-web's listed files, only the model directory's *.onnx files,
// and the cross-origin isolation headers on every answer.
func TestUI(t *testing.T) {
	page := fstest.MapFS{"index.html": {Data: []byte("<!doctype html>page")}, "app.mjs": {Data: []byte("//app")}}
	ortDir, models := t.TempDir(), t.TempDir()
	for _, f := range ORTWebFiles {
		if err := os.WriteFile(filepath.Join(ortDir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ortDir, "ort.all.min.mjs"), []byte("not served"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"b.onnx": "model b", "a.onnx": "model a", "notes.txt": "secret", ".hidden.onnx": "hidden"} {
		if err := os.WriteFile(filepath.Join(models, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(ortDir, "ort.wasm.min.mjs"), filepath.Join(models, "escape.onnx")); err != nil {
		t.Fatal(err)
	}

	if _, err := UI(UIConfig{Page: page, ORTWeb: t.TempDir(), Models: models}); !errors.Is(err, ErrNoORTWeb) || !strings.Contains(err.Error(), "scripts/web-deps.sh") {
		t.Errorf("UI without onnxruntime-web's files: %v, want %v naming scripts/web-deps.sh", err, ErrNoORTWeb)
	}
	if _, err := UI(UIConfig{Page: page, ORTWeb: ortDir, Models: filepath.Join(models, "none")}); !errors.Is(err, ErrConfig) {
		t.Errorf("UI without a model directory: %v, want %v", err, ErrConfig)
	}
	h, err := UI(UIConfig{Page: page, ORTWeb: ortDir, Models: models})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: models, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	s.MountUI(h)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/ui/", 200, "<!doctype html>page"},
		{"/ui/app.mjs", 200, "//app"},
		{"/ui/ort/ort.wasm.min.mjs", 200, "ort.wasm.min.mjs"},
		{"/ui/ort/ort-wasm-simd-threaded.wasm", 200, "ort-wasm-simd-threaded.wasm"},
		{"/ui/ort/ort.all.min.mjs", 404, ""},
		{"/ui/models/", 200, `["a.onnx","b.onnx"]` + "\n"}, // not the link out, nor the dot file
		{"/ui/models/a.onnx", 200, "model a"},
		{"/ui/models/notes.txt", 404, ""},
		{"/ui/models/.hidden.onnx", 404, ""},
		{"/ui/models/escape.onnx", 404, ""}, // a link out of the directory
		{"/ui/models/..%2Fescape.onnx", 404, ""},
		{"/healthz", 200, ""}, // the API is still there
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || (c.body != "" && string(body) != c.body) {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, resp.StatusCode, body, c.status, c.body)
		}
		if strings.HasPrefix(c.path, "/ui/") && (resp.Header.Get("Cross-Origin-Opener-Policy") != "same-origin" || resp.Header.Get("Cross-Origin-Embedder-Policy") != "require-corp") {
			t.Errorf("GET %s: no cross-origin isolation headers: %v", c.path, resp.Header)
		}
		if c.path == "/ui/models/" {
			var names []string
			if err := json.Unmarshal(body, &names); err != nil {
				t.Errorf("GET %s: %v", c.path, err)
			}
		}
	}
	if resp, err := http.Get(srv.URL + "/ui/ort/ort-wasm-simd-threaded.wasm"); err == nil {
		if ct := resp.Header.Get("Content-Type"); ct != "application/wasm" {
			t.Errorf("the WASM file is served as %q: browsers compile it in streaming only as application/wasm", ct)
		}
		resp.Body.Close()
	}
}
