package main

import (
	"fmt"
	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/dataset"
	"math"
	"path/filepath"
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
			refs := tasks.BenchmarkData()
			for _, name := range tasks.Names() {
				t, err := tasks.Get(name)
				if err != nil {
					return err
				}
				ref := ""
				if t.HasReference(refs) {
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
		task      string
		n         int
		seed      uint64
		workers   int
		out       string
		priorFile string
		simCmd    string
		xDim      int
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate (θ, x) pairs from a task's prior and simulator",
		Example: `  amortize simulate --task two_moons --n 10000 --seed 1 --out sims.npz
  amortize simulate --task slcp --n 100000 --workers 2 --out sims.csv
  # your own simulator in any language: θ CSV on stdin, x CSV on stdout, seed in $AMORTIZE_SEED
  amortize simulate --prior prior.json --simulator-cmd "python3 sim.py" --x-dim 4 --n 5000 --out sims.npz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ext := strings.ToLower(filepath.Ext(out)); ext != ".npz" && ext != ".csv" {
				return usagef("--out %q: want a .npz or .csv file", out)
			}
			t, err := userTask(cmd, task, priorFile, simCmd, xDim)
			if err != nil {
				return err
			}
			res, err := simulate(cmd, t, n, seed, workers)
			if err != nil {
				return err
			}
			if err := dataset.Save(out, res.Data); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d simulations of %s to %s (%d dropped for NaN/Inf)\n", res.Data.Len(), t.Name, out, res.Dropped)
			return nil
		},
	}
	cmd.Flags().StringVar(&task, "task", "two_moons", "task name (see amortize tasks)")
	cmd.Flags().IntVar(&n, "n", 10000, "number of simulations")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&workers, "workers", 0, "goroutines (0: all cores); results do not depend on it")
	cmd.Flags().StringVar(&out, "out", "", "output file: .npz or .csv")
	cmd.Flags().StringVar(&priorFile, "prior", "", "with --simulator-cmd, the "+cli.PriorHelp)
	cmd.Flags().StringVar(&simCmd, "simulator-cmd", "", "external simulator program and arguments (instead of --task)")
	cmd.Flags().IntVar(&xDim, "x-dim", 0, "dimension of x written by --simulator-cmd")
	return cmd
}

// userTask is the built-in task, or a task made of a prior file and an
// external simulator program.
func userTask(cmd *cobra.Command, task, priorFile, simCmd string, xDim int) (*tasks.Task, error) {
	args := strings.Fields(simCmd)
	if simCmd != "" && len(args) == 0 {
		return nil, usagef("--simulator-cmd is empty")
	}
	if simCmd != "" && cmd.Flags().Changed("task") {
		return nil, usagef("give --task or --simulator-cmd, not both")
	}
	if simCmd == "" {
		t, err := tasks.Get(task)
		if err != nil {
			return nil, cli.Usage(err)
		}
		return t, nil
	}
	if priorFile == "" || xDim == 0 {
		return nil, usagef("--simulator-cmd needs --prior and --x-dim")
	}
	if err := cli.CheckRange("--x-dim", xDim, 1, cli.MaxValues); err != nil {
		return nil, err
	}
	p, err := cli.ReadPrior(priorFile)
	if err != nil {
		return nil, err
	}
	return &tasks.Task{
		Name:      strings.Join(args, " "), // the user's simulator, in messages
		Prior:     p,
		Simulator: &simulator.Command{Dim: xDim, Path: args[0], Args: args[1:], Context: cmd.Context()},
	}, nil
}

// simulate runs a task with a progress bar on stderr.
func simulate(cmd *cobra.Command, t *tasks.Task, n int, seed uint64, workers int) (*simulator.Result, error) {
	if err := cli.CheckRange("--workers", workers, 0, math.MaxInt); err != nil {
		return nil, err
	}
	flag := "--sims" // simulate's own flag is --n
	if cmd.Flags().Lookup("sims") == nil {
		flag = "--n"
	}
	if err := cli.CheckRange(flag, n, 1, math.MaxInt); err != nil {
		return nil, err
	}
	if err := cli.CheckValues(flag, n, t.Prior.Dim()+t.Simulator.XDim()); err != nil {
		return nil, err
	}
	b := newBar(cmd.ErrOrStderr(), "simulate "+t.Name)
	res, err := simulator.Simulate(cmd.Context(), t.Prior, t.Simulator, n, simulator.Options{
		Seed: seed, Workers: workers,
		Progress: func(done, total int) { b.update(done, total, "") },
	})
	if err != nil {
		return nil, err
	}
	res.Data.ThetaNames, res.Data.XNames, res.Data.Prior = t.ThetaNames, t.XNames, t.Prior
	return res, nil
}
