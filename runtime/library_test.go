package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isolate points every place FindLibrary looks at fresh, empty directories.
func isolate(t *testing.T) (home string) {
	home = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("AMORTIZE_CACHE", "")
	t.Setenv(LibraryEnv, "")
	saved := systemPaths
	systemPaths = []string{filepath.Join(home, "usr", "lib", "libonnxruntime.so")}
	t.Cleanup(func() { systemPaths = saved })
	return home
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindLibrary(t *testing.T) {
	home := isolate(t)
	cache := filepath.Join(home, ".cache", "amortize", "onnxruntime", ORTVersion, "libonnxruntime.so.1")
	envPath := filepath.Join(home, "env", "libonnxruntime.so")
	t.Setenv(LibraryEnv, envPath)

	_, err := FindLibrary("")
	if !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("nothing installed: %v", err)
	}
	for _, want := range []string{envPath + " ($" + LibraryEnv + ")", cache + " (project cache", systemPaths[0] + " (system)", "scripts/onnxruntime.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not list %q", err, want)
		}
	}

	// Each place, in order of precedence.
	touch(t, systemPaths[0])
	if got, err := FindLibrary(""); got != systemPaths[0] || err != nil {
		t.Errorf("system install: %q, %v", got, err)
	}
	touch(t, cache)
	if got, err := FindLibrary(""); got != cache || err != nil {
		t.Errorf("project cache: %q, %v", got, err)
	}
	touch(t, envPath)
	if got, err := FindLibrary(""); got != envPath || err != nil {
		t.Errorf("environment: %q, %v", got, err)
	}
	explicit := filepath.Join(home, "mine.so")
	if _, err := FindLibrary(explicit); !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), explicit) {
		t.Errorf("missing explicit path: %v", err)
	}
	touch(t, explicit)
	if got, err := FindLibrary(explicit); got != explicit || err != nil {
		t.Errorf("explicit path: %q, %v", got, err)
	}
}

func TestCachePath(t *testing.T) {
	home := isolate(t)
	want := filepath.Join("onnxruntime", ORTVersion, "libonnxruntime.so.1")
	if got := cachePath(); got != filepath.Join(home, ".cache", "amortize", want) {
		t.Errorf("under HOME: %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := cachePath(); got != filepath.Join("/xdg", "amortize", want) {
		t.Errorf("under XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("AMORTIZE_CACHE", "/mine")
	if got := cachePath(); got != filepath.Join("/mine", want) {
		t.Errorf("under AMORTIZE_CACHE: %s", got)
	}
}

// CUDA prefers the core that scripts/onnxruntime-cuda.sh caches, since only
// it loads the CUDA provider; the CPU never picks it.
func TestFindLibraryCUDA(t *testing.T) {
	home := isolate(t)
	cpu := filepath.Join(home, ".cache", "amortize", "onnxruntime", ORTVersion, "libonnxruntime.so.1")
	cuda := filepath.Join(home, ".cache", "amortize", "onnxruntime-cuda", CUDAORTVersion, "libonnxruntime.so")
	touch(t, cpu)
	if got, err := findLibrary("", CUDA); got != cpu || err != nil {
		t.Errorf("CUDA without its cache: %q, %v", got, err)
	}
	touch(t, cuda)
	if got, err := findLibrary("", CUDA); got != cuda || err != nil {
		t.Errorf("CUDA: %q, %v", got, err)
	}
	if got, err := findLibrary("", CPU); got != cpu || err != nil {
		t.Errorf("CPU: %q, %v", got, err)
	}
}

// TestDisableTelemetry: the switch is set when the user has not set it,
// and a value the user set is kept.
func TestDisableTelemetry(t *testing.T) {
	t.Setenv(telemetryEnv, "0")
	if err := disableTelemetry(); err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv(telemetryEnv); v != "0" {
		t.Errorf("user's %s=0 became %q", telemetryEnv, v)
	}
	os.Unsetenv(telemetryEnv) // t.Setenv restores it
	if err := disableTelemetry(); err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv(telemetryEnv); v != "1" {
		t.Errorf("%s is %q, want 1", telemetryEnv, v)
	}
}

// TestTelemetryProcessWide: the Open that loads the library fixes the
// telemetry setting for the process; an Open asking for the other one is
// refused rather than silently ignored.
func TestTelemetryProcessWide(t *testing.T) {
	if err := initEnvironment("", CPU, false); err != nil {
		if errors.Is(err, ErrNoLibrary) && os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	if _, err := OpenBytes(nil, Options{Telemetry: true}); err == nil || !strings.Contains(err.Error(), "Telemetry") {
		t.Errorf("Open with Telemetry after a load without: %v, want an error naming Telemetry", err)
	}
}
