package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/simulator/tasks"
	"github.com/spf13/cobra"
)

// mcmcFlags are sample's MCMC flags with a timed sampler, for the
// benchmarks.
type mcmcFlags struct{ cli.MCMCFlags }

// Sample draws n samples of the posterior of x by MCMC over model m (read
// from path, "" when built here) and returns them with the wall time of the
// whole call: initialisation, warm-up and draws, as sbi's sample() counts.
func (f *mcmcFlags) Sample(cmd *cobra.Command, m *runtime.Model, path string, x []float64, n int, seed uint64) (*posterior.Samples, time.Duration, error) {
	opts, closeProposal, err := f.Options(cmd, m, path)
	if err != nil {
		return nil, 0, err
	}
	defer closeProposal()
	post, err := posterior.NewModelMCMC(m, nil, opts)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	s, err := post.Sample(cmd.Context(), x, n, posterior.Source(seed))
	return s, time.Since(start), err
}

// maxMCMCReps bounds --reps of bench mcmc.
const maxMCMCReps = 100

// benchMCMCCmd times MCMC sampling of one observation's posterior, as
// sbi's MCMCPosterior.sample is timed, and scores the draws.
func benchMCMCCmd() *cobra.Command {
	var (
		f    mcmcFlags
		r    accuracyRun
		task string
		obs  int
		x    string
		n    int
		reps int
		seed uint64
	)
	cmd := &cobra.Command{
		Use:   "mcmc MODEL.onnx",
		Short: "Time MCMC sampling of a model file's posterior: samples/s, R-hat, ESS, C2ST",
		Long: `Samples the posterior of one observation by MCMC over the model file (an nle,
nre or npe model) --reps times and prints the median samples per second, whole
calls timed (initialisation, warm-up and draws), with the first run's R-hat and
bulk ESS. With --task (and --obs) the observation is the benchmark's and the
draws are scored by C2ST against its reference posterior (as many reference
samples as draws, at most the 10,000 there are).`,
		Example: `  amortize bench mcmc nle.onnx --task two_moons --obs 1 --n 1000 --chains 20 --thin 10 --warmup 10 --init sir
  amortize bench mcmc nre.onnx --task two_moons --obs 1 --n 10000 --chains 100 --mcmc-method ensemble
  amortize bench mcmc nle.onnx --x 0.1,0.2 --n 1000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckRange("--reps", reps, 1, maxMCMCReps); err != nil {
				return err
			}
			if err := cli.CheckRange("--n", n, 1, math.MaxInt); err != nil {
				return err
			}
			if (x == "") == (task == "") {
				return cli.Usagef("give the observation: --x values, or --task (and --obs)")
			}
			opts, err := cli.RuntimeOptions(cmd)
			if err != nil {
				return err
			}
			m, err := runtime.Open(args[0], opts)
			if err != nil {
				return err
			}
			defer m.Close()
			if err := cli.CheckValues("--n", n, m.ThetaDim()); err != nil {
				return err
			}
			var (
				ref  *tasks.Reference
				obsX []float64
			)
			if task != "" {
				if r.task, err = tasks.Get(task); err != nil {
					return cli.Usage(err)
				}
				if obs < 1 {
					return cli.Usagef("--obs %d: want 1 or more", obs)
				}
				r.obs = []int{obs}
				refs, _, err := r.references(cmd)
				if err != nil {
					return err
				}
				ref, obsX = refs[0], refs[0].Observation
			} else if obsX, err = cli.ParseRow(x); err != nil {
				return cli.Usagef("--x: %w", err)
			}
			if len(obsX)%m.XDim() != 0 {
				return cli.Usagef("the observation has %d values; the model takes a multiple of %d", len(obsX), m.XDim())
			}
			w := cmd.OutOrStdout()
			var first *posterior.Samples
			times := make([]time.Duration, reps)
			for i := range reps {
				s, d, err := f.Sample(cmd, m, args[0], obsX, n, seed)
				if err != nil {
					return err
				}
				if i == 0 {
					first = s
				}
				times[i] = d
			}
			slices.Sort(times)
			med := times[reps/2]
			c := first.Convergence
			fmt.Fprintf(w, "model     %s %s (θ %d, x %d)\n", m.Method(), m.Metadata().Estimator, m.ThetaDim(), m.XDim())
			fmt.Fprintf(w, "run       %s\n", c)
			fmt.Fprintf(w, "time      %v median of %d (min %v, max %v)\n", med.Round(time.Millisecond), reps,
				times[0].Round(time.Millisecond), times[reps-1].Round(time.Millisecond))
			fmt.Fprintf(w, "samples/s %.0f\n", float64(n)/med.Seconds())
			fmt.Fprintf(w, "R-hat max %.4f\nESS min   %.0f\n", slices.Max(c.RHat), slices.Min(c.ESS))
			if c.Warning != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s\n", cli.Name(cmd), c.Warning)
			}
			if ref != nil {
				k := min(n, ref.Samples.RawMatrix().Rows)
				v, err := diagnostics.C2ST(cmd.Context(), head(ref.Samples, k), head(first.Theta, k), diagnostics.C2STOptions{})
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "C2ST      %.3f (%d draws against %d reference samples, %s observation %d)\n", v, k, k, task, obs)
			}
			return nil
		},
	}
	f.RegisterWith(cmd.Flags(), 20, 100)
	fl := cmd.Flags()
	fl.StringVar(&task, "task", "", "benchmark task whose observation --obs is sampled and scored")
	fl.IntVar(&obs, "obs", 1, "reference observation of --task")
	r.registerBenchDir(cmd)
	fl.StringVar(&x, "x", "", "the observation, comma-separated values (iid trials concatenated), instead of --task")
	fl.IntVar(&n, "n", 1000, "posterior samples")
	fl.IntVar(&reps, "reps", 3, "timed repetitions (the same seed each time)")
	fl.Uint64Var(&seed, "seed", 1, "random seed")
	return cmd
}
