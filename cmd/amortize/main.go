// Command amortize is the full amortize CLI: simulate, train, export,
// sample, diagnose, benchmark and an end-to-end demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// usageError marks mistakes in the command line (exit code 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:   "amortize",
		Short: "Simulation-based inference: train once, deploy anywhere",
		Long: `amortize trains neural posterior estimators on simulations, exports them as
self-contained ONNX model files and samples their posteriors.

Typical flow:
  amortize simulate --task two_moons --n 10000 --out sims.npz
  amortize train --data sims.npz --theta-dim 2 --estimator nsf --out model.json
  amortize export model.json --out model.onnx
  amortize sample model.onnx --x 0,0 --n 1000`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(simulateCmd(), trainCmd(), exportCmd(), benchCmd(), demoCmd(), tasksCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "amortize:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
