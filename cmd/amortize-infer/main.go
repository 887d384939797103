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
	"os"
	"os/signal"
	"syscall"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal a second one should kill at once.
	go func() { <-ctx.Done(); stop() }()
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
	root.CompletionOptions.DisableDefaultCmd = true
	cli.AddInference(root)
	os.Exit(cli.Run(ctx, root, os.Args[1:], os.Stdout, os.Stderr))
}
