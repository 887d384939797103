package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ORTWebVersion is the onnxruntime-web release the browser page is tested
// with (the Go runtime's onnxruntime release); scripts/web-deps.sh fetches
// its files, verified, into DefaultORTWebDir.
const ORTWebVersion = "1.30.0"

// ORTWebFiles are the files of onnxruntime-web's dist directory that the
// page loads: the WASM backend's module, its loader and the WASM binary.
var ORTWebFiles = []string{"ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"}

// ErrNoORTWeb is returned by UI when onnxruntime-web's files are missing.
var ErrNoORTWeb = errors.New("serve: onnxruntime-web's files are missing")

// DefaultORTWebDir is where scripts/web-deps.sh puts onnxruntime-web's
// files: onnxruntime-web/VERSION in the cache directory $AMORTIZE_CACHE
// (default $XDG_CACHE_HOME/amortize or ~/.cache/amortize), as for the
// onnxruntime library.
func DefaultORTWebDir() string {
	cache := os.Getenv("AMORTIZE_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(base, "amortize")
	}
	return filepath.Join(cache, "onnxruntime-web", ORTWebVersion)
}

// UIConfig configures UI.
type UIConfig struct {
	// Page is the page: index.html and what it loads (package
	// examples/browser's Page).
	Page fs.FS
	// ORTWeb is the directory holding ORTWebFiles.
	ORTWeb string
	// Models is the directory whose *.onnx files the page lists and loads.
	Models string
}

// UI serves a browser page that evaluates model files itself, with
// onnxruntime-web, all from one origin and nothing from elsewhere:
//
//	GET /             the page (UIConfig.Page)
//	GET /ort/FILE     onnxruntime-web's ORTWebFiles
//	GET /models/      JSON list of the *.onnx files in UIConfig.Models
//	GET /models/NAME  one of them
//
// Every answer carries the cross-origin isolation headers, so that the
// page may run onnxruntime-web's WASM on several threads.
func UI(cfg UIConfig) (http.Handler, error) {
	if cfg.Page == nil {
		return nil, fmt.Errorf("%w: no page for the UI", ErrConfig)
	}
	if _, err := fs.Stat(cfg.Page, "index.html"); err != nil {
		return nil, fmt.Errorf("%w: the UI page has no index.html: %w", ErrConfig, err)
	}
	for _, f := range ORTWebFiles {
		if st, err := os.Stat(filepath.Join(cfg.ORTWeb, f)); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: no %s in %q: run scripts/web-deps.sh (or make web-deps) to fetch onnxruntime-web %s, or point --ui-ort at a directory holding %s",
				ErrNoORTWeb, f, cfg.ORTWeb, ORTWebVersion, strings.Join(ORTWebFiles, ", "))
		}
	}
	if st, err := os.Stat(cfg.Models); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %q is not a model directory", ErrConfig, cfg.Models)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(cfg.Page))
	mux.HandleFunc("GET /ort/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		for _, f := range ORTWebFiles {
			if f == name {
				serveFile(w, r, cfg.ORTWeb, name)
				return
			}
		}
		http.NotFound(w, r)
	})
	mux.HandleFunc("GET /models/{$}", func(w http.ResponseWriter, r *http.Request) {
		entries, err := os.ReadDir(cfg.Models)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		names := []string{}
		for _, e := range entries {
			if !isModelFile(e.Name()) {
				continue
			}
			if f := openFile(cfg.Models, e.Name()); f != nil {
				f.Close()
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(names)
	})
	mux.HandleFunc("GET /models/{file}", func(w http.ResponseWriter, r *http.Request) {
		if name := r.PathValue("file"); isModelFile(name) {
			serveFile(w, r, cfg.Models, name)
		} else {
			http.NotFound(w, r)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		w.Header().Set("Cross-Origin-Embedder-Policy", "require-corp")
		mux.ServeHTTP(w, r)
	}), nil
}

// isModelFile reports whether the UI lists and serves a file of this name.
func isModelFile(name string) bool {
	return strings.HasSuffix(name, ".onnx") && !strings.HasPrefix(name, ".")
}

// openFile opens the regular file name of dir, or returns nil (and
// closes what it opened): os.OpenInRoot keeps a name from reaching
// outside the directory, links included.
func openFile(dir, name string) *os.File {
	f, err := os.OpenInRoot(dir, name)
	if err != nil {
		return nil
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil
	}
	return f
}

func serveFile(w http.ResponseWriter, r *http.Request, dir, name string) {
	f := openFile(dir, name)
	if f == nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// MountUI serves ui under /ui/ beside the JSON API. Call it before Serve.
func (s *Server) MountUI(ui http.Handler) {
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", ui))
	mux.Handle("/", s.handler)
	s.handler = mux
}
