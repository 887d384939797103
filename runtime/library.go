package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnv names the environment variable that points at the onnxruntime
// shared library (the name onnxruntime_go's own tests use).
const LibraryEnv = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

// telemetryEnv is onnxruntime's switch for its usage telemetry.
const telemetryEnv = "ORT_DISABLE_TELEMETRY"

// ORTVersion is the onnxruntime release scripts/onnxruntime.sh fetches.
const ORTVersion = "1.30.0"

// CUDAORTVersion is the onnxruntime release scripts/onnxruntime-cuda.sh
// fetches: a core and the CUDA execution provider of the same version (a
// provider loads only into the core it was built with).
const CUDAORTVersion = "1.29.0"

// ErrNoLibrary is returned when no onnxruntime shared library is found.
var ErrNoLibrary = errors.New("runtime: onnxruntime shared library not found")

// systemPaths are the usual install locations of the library.
var systemPaths = []string{
	"/usr/local/lib/libonnxruntime.so",
	"/usr/local/lib/libonnxruntime.so.1",
	"/usr/lib/libonnxruntime.so",
	"/usr/lib/libonnxruntime.so.1",
	"/usr/lib/x86_64-linux-gnu/libonnxruntime.so",
	"/usr/lib/x86_64-linux-gnu/libonnxruntime.so.1",
}

// cachePath is where scripts/onnxruntime.sh caches the library.
func cachePath() string {
	return cacheFile("onnxruntime", ORTVersion, "libonnxruntime.so.1")
}

// cudaCachePath is where scripts/onnxruntime-cuda.sh caches the core library
// that its CUDA provider loads into.
func cudaCachePath() string {
	return cacheFile("onnxruntime-cuda", CUDAORTVersion, "libonnxruntime.so")
}

func cacheFile(elem ...string) string {
	dir := os.Getenv("AMORTIZE_CACHE")
	if dir == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			base = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(base, "amortize")
	}
	return filepath.Join(append([]string{dir}, elem...)...)
}

// FindLibrary returns the onnxruntime library to load: explicit (if not
// empty), else $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the project cache, else
// the system paths. The error lists every place it looked.
func FindLibrary(explicit string) (string, error) {
	return findLibrary(explicit, CPU)
}

// findLibrary is FindLibrary for a device: CUDA looks in the CUDA cache
// before the CPU one, since only that core can load the CUDA provider.
func findLibrary(explicit string, d Device) (string, error) {
	type candidate struct{ path, from string }
	var cands []candidate
	if explicit != "" {
		// An explicit choice is final: falling back would hide a typo.
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%w at the explicit path %s: %v", ErrNoLibrary, explicit, err)
		}
		return explicit, nil
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		cands = append(cands, candidate{env, "$" + LibraryEnv})
	}
	if c := cudaCachePath(); d == CUDA && c != "" {
		cands = append(cands, candidate{c, "project CUDA cache (scripts/onnxruntime-cuda.sh)"})
	}
	if c := cachePath(); c != "" {
		cands = append(cands, candidate{c, "project cache (scripts/onnxruntime.sh)"})
	}
	for _, p := range systemPaths {
		cands = append(cands, candidate{p, "system"})
	}
	var looked []string
	for _, c := range cands {
		if st, err := os.Stat(c.path); err == nil && !st.IsDir() {
			return c.path, nil
		}
		looked = append(looked, c.path+" ("+c.from+")")
	}
	return "", fmt.Errorf("%w; looked in: %s; run scripts/onnxruntime.sh or set $%s",
		ErrNoLibrary, strings.Join(looked, ", "), LibraryEnv)
}

// The onnxruntime environment is process-wide: it is created once, with the
// first library found and the first Open's telemetry setting, and lives
// until the process ends.
var env struct {
	sync.Mutex
	path      string
	telemetry bool
}

func initEnvironment(explicit string, d Device, telemetry bool) error {
	env.Lock()
	defer env.Unlock()
	if env.path != "" {
		if explicit != "" && explicit != env.path {
			return fmt.Errorf("runtime: onnxruntime already loaded from %s, cannot also load %s", env.path, explicit)
		}
		if telemetry != env.telemetry {
			return fmt.Errorf("runtime: onnxruntime already loaded with Options.Telemetry %t, cannot switch it to %t", env.telemetry, telemetry)
		}
		return nil
	}
	path, err := findLibrary(explicit, d)
	if err != nil {
		return err
	}
	if !telemetry {
		if err := disableTelemetry(); err != nil {
			return err
		}
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("runtime: loading onnxruntime from %s: %w", path, err)
	}
	env.path, env.telemetry = path, telemetry
	return nil
}

// disableTelemetry sets ORT_DISABLE_TELEMETRY=1 unless the user set the
// variable. The official builds log usage events to a SQLite database
// under ~/.cache/Microsoft and a debug log in the temporary directory for
// every session: file I/O nobody asked for, and concurrent processes
// contend for the database's lock, stalling session creation for seconds.
// The library reads only this variable, when its environment is created:
// onnxruntime's DisableTelemetryEvents, called after, still leaves the
// database written.
func disableTelemetry() error {
	if _, set := os.LookupEnv(telemetryEnv); set {
		return nil
	}
	if err := os.Setenv(telemetryEnv, "1"); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	return nil
}

// LibraryPath is the onnxruntime library the process loaded, or "" before
// the first Open.
func LibraryPath() string {
	env.Lock()
	defer env.Unlock()
	return env.path
}
