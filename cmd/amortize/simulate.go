package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/amortize/amortize/simulator"
	"github.com/amortize/amortize/simulator/tasks"
	"github.com/spf13/cobra"
)

func tasksCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tasks",
		Short: "List the built-in simulation tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := tasks.BenchmarkDir()
			for _, name := range tasks.Names() {
				t, err := tasks.Get(name)
				if err != nil {
					return err
				}
				ref := ""
				if dir != "" && t.HasReference(dir) {
					ref = " (reference posteriors)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-20s θ %d, x %d%s\n    %s\n", name, t.Prior.Dim(), t.Simulator.XDim(), ref, t.Description)
			}
			return nil
		},
	}
}

func simulateCmd() *cobra.Command {
	var (
		task    string
		n       int
		seed    uint64
		workers int
		out     string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate (θ, x) pairs from a task's prior and simulator",
		Example: `  amortize simulate --task two_moons --n 10000 --seed 1 --out sims.npz
  amortize simulate --task slcp --n 100000 --workers 2 --out sims.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out is required (.npz or .csv)")
			}
			t, err := tasks.Get(task)
			if err != nil {
				return usageError{err}
			}
			res, err := simulate(cmd, t, n, seed, workers)
			if err != nil {
				return err
			}
			if err := simulator.Save(out, res.Data); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d simulations of %s to %s (%d dropped for NaN/Inf)\n", res.Data.Len(), task, out, res.Dropped)
			return nil
		},
	}
	cmd.Flags().StringVar(&task, "task", "two_moons", "task name (see `amortize tasks`)")
	cmd.Flags().IntVar(&n, "n", 10000, "number of simulations")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&workers, "workers", 0, "goroutines (0: all cores); results do not depend on it")
	cmd.Flags().StringVar(&out, "out", "", "output file: .npz or .csv")
	return cmd
}

// simulate runs a task with a progress bar on stderr.
func simulate(cmd *cobra.Command, t *tasks.Task, n int, seed uint64, workers int) (*simulator.Result, error) {
	if n < 1 {
		return nil, usagef("--n must be positive, got %d", n)
	}
	b := newBar(os.Stderr, "simulate "+t.Name)
	res, err := simulator.Simulate(cmd.Context(), t.Prior, t.Simulator, n, simulator.Options{
		Seed: seed, Workers: workers,
		Progress: func(done, total int) { b.update(done, total, "") },
	})
	if err != nil {
		return nil, err
	}
	res.Data.ThetaNames, res.Data.XNames = t.ThetaNames, t.XNames
	return res, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		var v float64
		if _, err := fmt.Sscan(strings.TrimSpace(f), &v); err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}
