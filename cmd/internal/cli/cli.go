// Package cli holds the command-line pieces the amortize and
// amortize-infer binaries share: the inference commands (inspect, sample,
// logprob, map, serve), usage errors and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/spf13/cobra"
)

// UsageError marks a mistake in the command line or its input (exit code 2).
type UsageError struct{ error }

func (u UsageError) Unwrap() error { return u.error }

// Usage marks err as a usage error.
func Usage(err error) error { return UsageError{err} }

// Usagef is a UsageError with a formatted message.
func Usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

func usagef(format string, a ...any) error { return Usagef(format, a...) }

// globals are the flags every command shares.
type globals struct {
	library  string
	threads  int
	device   string
	deviceID int
}

func (g *globals) options() (runtime.Options, error) {
	o := runtime.Options{LibraryPath: g.library, Threads: g.threads, DeviceID: g.deviceID}
	var err error
	if o.Device, err = runtime.ParseDevice(g.device); err != nil {
		return o, usagef("--device %q: want cpu or cuda", g.device)
	}
	if err := CheckRange("--threads", g.threads, 0, MaxThreads); err != nil {
		return o, err
	}
	if g.deviceID < 0 {
		return o, usagef("--device-id %d: want 0 or more", g.deviceID)
	}
	return o, nil
}

// RuntimeOptions reads the shared runtime flags (--library, --threads,
// --device, --device-id) of cmd, for commands outside this package.
func RuntimeOptions(cmd *cobra.Command) (runtime.Options, error) {
	return globalsOf(cmd).options()
}

// globalsOf reads the shared runtime flags of cmd.
func globalsOf(cmd *cobra.Command) *globals {
	var g globals
	f := cmd.Flags()
	g.library, _ = f.GetString("library")
	g.threads, _ = f.GetInt("threads")
	g.device, _ = f.GetString("device")
	g.deviceID, _ = f.GetInt("device-id")
	return &g
}

// Run executes root with args and returns the exit code: 0 success, 1
// failure at run time, 2 usage error. Errors print one line on stderr.
func Run(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	code := exitCode(err)
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if code == 2 && cmd != nil {
		msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
	}
	fmt.Fprintln(stderr, Name(root)+": "+msg)
	return code
}

func exitCode(err error) int {
	var u UsageError
	switch {
	case errors.As(err, &u),
		errors.Is(err, posterior.ErrInput),
		errors.Is(err, runtime.ErrInput),
		errors.Is(err, os.ErrNotExist),
		// cobra's own complaints about the command line.
		strings.HasPrefix(err.Error(), "unknown command"),
		strings.HasPrefix(err.Error(), "accepts "),
		strings.HasPrefix(err.Error(), "requires "):
		return 2
	}
	return 1
}

// AddInference adds the inference commands (inspect, sample, logprob, map,
// serve) and their shared flags (--library, --threads) to root.
func AddInference(root *cobra.Command) {
	g := &globals{}
	root.PersistentFlags().StringVar(&g.library, "library", "", "onnxruntime shared library (default: $ONNXRUNTIME_SHARED_LIBRARY_PATH, the project cache, system paths)")
	root.PersistentFlags().IntVar(&g.threads, "threads", 0, "onnxruntime intra-op threads per call (0: one, large calls cut over every core)")
	root.PersistentFlags().StringVar(&g.device, "device", "cpu", "where models run: cpu or cuda (cuda needs scripts/onnxruntime-cuda.sh's library)")
	root.PersistentFlags().IntVar(&g.deviceID, "device-id", 0, "which GPU --device cuda uses")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{err} })
	root.AddCommand(inspectCmd(g), sampleCmd(g), logProbCmd(g), mapCmd(g), serveCmd(g))
}

// open loads a model file, with the usage check that the path names one.
func open(g *globals, path string) (*runtime.Model, error) {
	opts, err := g.options()
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err != nil {
		return nil, UsageError{err}
	} else if st.IsDir() {
		return nil, usagef("%s is a directory, not a model file", path)
	}
	return runtime.Open(path, opts)
}
