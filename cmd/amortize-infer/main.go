// Command amortize-infer evaluates amortize model files (docs/FORMAT.md):
// it describes them, draws posterior samples, scores parameters, finds MAP
// estimates, and serves all of that over HTTP. It links the runtime and the
// posterior but not the trainer or the exporter, so the binary stays small
// enough to deploy; onnxruntime itself is a shared library loaded at run time.
//
// Exit codes: 0 success, 1 failure at run time, 2 usage error (bad flags,
// arguments or input files).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/spf13/cobra"
)

// usageError marks a mistake in the command line or its input (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// globals are the flags every command shares.
type globals struct {
	library string
	threads int
}

func (g *globals) options() runtime.Options {
	return runtime.Options{LibraryPath: g.library, Threads: g.threads}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal a second one should kill at once.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
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
	fmt.Fprintln(stderr, "amortize-infer: "+msg)
	return code
}

func exitCode(err error) int {
	var u usageError
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

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "amortize-infer",
		Short: "Evaluate amortize model files: inspect, sample, logprob, map, serve",
		Long: `amortize-infer evaluates a trained posterior estimator exported as an
amortize model file (.onnx): it prints the file's contract, draws posterior
samples restricted to the prior support, scores parameters, finds the MAP
estimate, or serves a directory of models over HTTP.

onnxruntime is loaded at run time from --library, else $ONNXRUNTIME_SHARED_LIBRARY_PATH,
else the project cache (scripts/onnxruntime.sh), else the system library paths.

Exit codes: 0 success, 1 failure at run time, 2 usage error.`,
		Example: `  amortize-infer inspect two_moons.onnx
  amortize-infer sample two_moons.onnx --x 0.1,0.2 --n 1000 --seed 1 > samples.csv
  amortize-infer logprob two_moons.onnx --x 0.1,0.2 --theta-file samples.csv --leakage
  amortize-infer map two_moons.onnx --x 0.1,0.2
  amortize-infer serve --models ./models --addr :8080`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.library, "library", "", "onnxruntime shared library (default: found as described above)")
	root.PersistentFlags().IntVar(&g.threads, "threads", 1, "onnxruntime intra-op threads per call (0: onnxruntime's default)")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(inspectCmd(g), sampleCmd(g), logProbCmd(g), mapCmd(g), serveCmd(g))
	return root
}

// open loads a model file, with the usage check that the path names one.
func open(g *globals, path string) (*runtime.Model, error) {
	if g.threads < 0 {
		return nil, usagef("--threads %d: want 0 or more", g.threads)
	}
	if st, err := os.Stat(path); err != nil {
		return nil, usageError{err}
	} else if st.IsDir() {
		return nil, usagef("%s is a directory, not a model file", path)
	}
	return runtime.Open(path, g.options())
}
