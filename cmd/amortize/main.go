// Command amortize is the full amortize CLI: simulate, train, export,
// sample, diagnose, benchmark, serve and an end-to-end demo.
//
// Exit codes: 0 success, 1 failure at run time, 2 usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/trainer"
	"github.com/spf13/cobra"
)

// usagef marks a mistake in the command line (exit code 2).
var usagef = cli.Usagef

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	trainer.UseBLAS(1) // gonum's products (C2ST, priors) on OpenBLAS too, one thread
	os.Exit(cli.Run(ctx, newRoot(), os.Args[1:], os.Stdout, os.Stderr))
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "amortize",
		Short: "Simulation-based inference: train once, deploy anywhere",
		Long: `amortize trains neural posterior estimators on simulations, exports them as
self-contained ONNX model files and samples their posteriors.

Exit codes: 0 success, 1 failure at run time, 2 usage error.`,
		Example: `  amortize demo
  amortize simulate --task two_moons --n 10000 --out sims.npz
  amortize train --data sims.npz --estimator nsf --out model.json --onnx model.onnx
  amortize export model.json --out model.onnx
  amortize inspect model.onnx
  amortize sample model.onnx --x 0,0 --n 1000
  amortize serve --models ./models --addr :8080`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	cli.AddInference(root)
	root.AddCommand(simulateCmd(), trainCmd(), exportCmd(), benchCmd(), demoCmd(), tasksCmd(), checkCmd())
	return root
}
