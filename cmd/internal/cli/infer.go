package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"
)

// seedFlag is --seed: given, or drawn and reported so that the run can be
// repeated.
type seedFlag struct{ v uint64 }

func (s *seedFlag) register(cmd *cobra.Command) {
	cmd.Flags().Uint64Var(&s.v, "seed", 0, "random seed (default: drawn, and printed to stderr)")
}

func (s *seedFlag) get(cmd *cobra.Command) uint64 {
	if cmd.Flags().Changed("seed") {
		return s.v
	}
	s.v = rand.Uint64() >> 11 // as the server draws them
	fmt.Fprintf(cmd.ErrOrStderr(), "%s: seed %d (pass --seed %d to repeat this run)\n", Name(cmd), s.v, s.v)
	return s.v
}

func modelName(path string) string { return strings.TrimSuffix(filepath.Base(path), ".onnx") }

func sampleCmd(g *globals) *cobra.Command {
	var (
		x     = matrixFlags{name: "x"}
		n     int
		seed  seedFlag
		out   output
		batch int
		meth  string
		mcmc  mcmcFlags
	)
	cmd := &cobra.Command{
		Use:   "sample MODEL",
		Short: "Draw posterior samples θ ~ p(θ | x)",
		Long: `sample draws n samples from the posterior of each observation x, keeping
the estimator's draws that fall inside the prior support (as sbi's direct
posterior does). With the same model, x, n and seed it returns the same
samples as the server's POST /v1/models/{name}/sample.

With --method mcmc it samples by Markov chain Monte Carlo instead (sbi's
MCMCPosterior): over log q(θ | x) inside the prior support for an NPE model
(for posteriors that rejection cannot reach), over the likelihood or ratio
potential for NLE and NRE models, which sample by MCMC by default. Chains for all observations share each
model call; R-hat, bulk ESS and a warning when they fail are printed on
stderr (see docs/MCMC.md).

CSV output has a header of θ names; with several observations a first
column "observation" (0-based) says which one a row belongs to. NPY output
is the same table as float64. JSON output is the server's response object.`,
		Example: `  amortize-infer sample two_moons.onnx --x 0.1,0.2 --n 1000 --seed 1 > samples.csv
  amortize-infer sample two_moons.onnx --x "0.1,0.2;0.5,-0.3" --n 500 --out samples.npy
  amortize-infer sample slcp.onnx --x-file obs01/observation.csv --n 10000 --out samples.json
  amortize-infer sample two_moons.onnx --x 0.1,0.2 --n 1000 --method mcmc --chains 100 --thin 10`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.resolve(); err != nil {
				return err
			}
			if err := CheckRange("--n", n, 1, MaxValues); err != nil {
				return err
			}
			if err := CheckRange("--batch-draws", batch, 1, MaxValues); err != nil {
				return err
			}
			if meth != "" && meth != "direct" && meth != "mcmc" {
				return usagef("--method %q: want direct or mcmc", meth)
			}
			m, err := open(g, args[0])
			if err != nil {
				return err
			}
			defer m.Close()
			if meth == "" {
				// NLE and NRE files hold no posterior to draw from.
				meth = "direct"
				if m.Method() != format.MethodNPE {
					meth = "mcmc"
				}
			}
			if meth == "direct" {
				if name := mcmc.changed(cmd.Flags()); name != "" {
					return usagef("--%s is for --method mcmc", name)
				}
			}
			xs, err := x.read(m.XDim())
			if err != nil {
				return err
			}
			// The samples of every observation, an observation column, and
			// the draws of one round with their noise.
			rows, _ := xs.Dims()
			if err := CheckValues("--n", n, rows, m.ThetaDim()+1); err != nil {
				return err
			}
			noise := m.Metadata().Noise
			if err := CheckValues("--batch-draws", batch, m.ThetaDim()+noise.Normal+noise.Uniform); err != nil {
				return err
			}
			var post *posterior.MCMC
			if meth == "mcmc" {
				var closeProposal func()
				if post, closeProposal, err = mcmc.posterior(cmd, g, m, args[0]); err != nil {
					return noPrior(args[0], err)
				}
				defer closeProposal()
			}
			sd := seed.get(cmd)
			var res []*posterior.Samples
			if post != nil {
				res, err = sampleMCMC(cmd, post, xs, n, sd)
			} else {
				res, err = sampleDirect(cmd, m, xs, n, sd, batch)
			}
			if err != nil {
				return noPrior(args[0], err)
			}
			rows, d := len(res), m.ThetaDim()
			names := m.Metadata().ThetaNames
			table := res[0].Theta
			if rows > 1 {
				names = append([]string{"observation"}, names...)
				table = mat.NewDense(rows*n, d+1, nil)
			}
			for i, r := range res {
				warnExtrapolating(cmd, i, r.Extrapolating)
				for k := 0; rows > 1 && k < n; k++ {
					dst := table.RawRowView(i*n + k)
					dst[0] = float64(i)
					copy(dst[1:], r.Theta.RawRowView(k))
				}
			}
			resp := json.RawMessage(api.AppendSampleResponse(nil, modelName(args[0]), sd, res))
			return out.write(cmd.OutOrStdout(), names, table, 32, resp)
		},
	}
	x.register(cmd.Flags(), "observation(s): comma-separated values, rows separated by ';'",
		"file of observations, one per row: .csv (with a header), .npy, or .json (an array, an array of arrays, or the server's request {\"x\": …})")
	cmd.Flags().IntVar(&n, "n", 1000, "samples per observation")
	cmd.Flags().IntVar(&batch, "batch-draws", 1<<16, "most draws per onnxruntime call (results do not depend on it)")
	cmd.Flags().StringVar(&meth, "method", "", "direct (the estimator's draws inside the prior support) or mcmc (default: direct for NPE models, mcmc for NLE and NRE)")
	mcmc.register(cmd.Flags())
	seed.register(cmd)
	out.register(cmd.Flags())
	return cmd
}

// sampleDirect draws by rejection to the prior support.
func sampleDirect(cmd *cobra.Command, m *runtime.Model, xs *mat.Dense, n int, seed uint64, batch int) ([]*posterior.Samples, error) {
	s, err := posterior.NewSampler(m, posterior.SamplerOptions{BatchDraws: batch})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Sample(cmd.Context(), xs, n, seed)
}

// warnExtrapolating tells the user when an observation lies far outside
// the training data.
func warnExtrapolating(cmd *cobra.Command, obs int, dims []int) {
	if len(dims) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: observation %d: x dimensions %v are more than 5 training standard deviations from the training mean; the posterior there is an extrapolation\n", Name(cmd), obs, dims)
	}
}

// openWithObservation opens a model file and reads the single observation
// its commands (logprob, map) take.
func openWithObservation(g *globals, path string, x *matrixFlags) (*runtime.Model, []float64, error) {
	m, err := open(g, path)
	if err != nil {
		return nil, nil, err
	}
	xv, err := oneObservation(x, m.XDim())
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, xv, nil
}

// oneObservation reads x and insists on a single row.
func oneObservation(x *matrixFlags, dim int) ([]float64, error) {
	xs, err := x.read(dim)
	if err != nil {
		return nil, err
	}
	if r, _ := xs.Dims(); r != 1 {
		return nil, usagef("--%s: %d observations; this command takes one", x.name, r)
	}
	return xs.RawRowView(0), nil
}

func logProbCmd(g *globals) *cobra.Command {
	var (
		x       = matrixFlags{name: "x"}
		theta   = matrixFlags{name: "theta"}
		leakage bool
		seed    seedFlag
		out     output
	)
	cmd := &cobra.Command{
		Use:   "logprob MODEL",
		Short: "Score parameters: log p(θ | x) for each row of θ",
		Long: `logprob prints log p(θ | x) for each row of θ under the posterior of one
observation x: the estimator's log-density inside the prior support and
-Inf outside (null in JSON). With --leakage it divides by the estimator's
mass inside the support, estimated from 10,000 draws with --seed, as sbi's
leakage correction does.`,
		Example: `  amortize-infer logprob two_moons.onnx --x 0.1,0.2 --theta "0,0;0.5,-0.5"
  amortize-infer logprob two_moons.onnx --x 0.1,0.2 --theta-file samples.csv --leakage --seed 1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.resolve(); err != nil {
				return err
			}
			m, xv, err := openWithObservation(g, args[0], &x)
			if err != nil {
				return err
			}
			defer m.Close()
			th, err := theta.read(m.ThetaDim())
			if err != nil {
				return err
			}
			d, err := posterior.NewDirect(m, posterior.DirectOptions{})
			if err != nil {
				return noPrior(args[0], err)
			}
			var sd uint64
			if leakage {
				sd = seed.get(cmd)
			}
			lp, err := d.LogProb(cmd.Context(), th, xv, leakage, posterior.Source(sd, 0))
			if err != nil {
				return err
			}
			resp := api.LogProbResponse{Model: modelName(args[0])}
			if leakage {
				resp.Seed = &sd
			}
			for i := range lp {
				if math.IsInf(lp[i], 0) {
					resp.LogProb = append(resp.LogProb, nil)
				} else {
					resp.LogProb = append(resp.LogProb, &lp[i])
				}
			}
			return out.write(cmd.OutOrStdout(), []string{"log_prob"}, mat.NewDense(len(lp), 1, lp), 64, resp)
		},
	}
	x.register(cmd.Flags(), "the observation: comma-separated values", "file holding the observation: .csv (with a header), .npy, or .json (an array, or the server's request {\"x\": …})")
	theta.register(cmd.Flags(), "parameters: comma-separated values, rows separated by ';'",
		"file of parameters, one per row: .csv (with a header), .npy or .json")
	cmd.Flags().BoolVar(&leakage, "leakage", false, "correct for the estimator's mass outside the prior support")
	seed.register(cmd)
	out.register(cmd.Flags())
	return cmd
}

func mapCmd(g *globals) *cobra.Command {
	var (
		x    = matrixFlags{name: "x"}
		opts posterior.MAPOptions
		seed seedFlag
		out  output
	)
	cmd := &cobra.Command{
		Use:   "map MODEL",
		Short: "Find the posterior mode (MAP estimate) for an observation",
		Long: `map estimates argmax p(θ | x): the best of --candidates posterior samples,
refined by Nelder–Mead from the --starts best ones, inside the prior support.
The output is one row: θ and its log-density.`,
		Example: `  amortize-infer map two_moons.onnx --x 0.1,0.2 --seed 1
  amortize-infer map slcp.onnx --x-file obs01/observation.csv --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.resolve(); err != nil {
				return err
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"--candidates", opts.Candidates}, {"--starts", opts.Starts}, {"--max-evaluations", opts.MaxEvaluations}} {
				if err := CheckRange(f.name, f.v, 1, MaxValues); err != nil {
					return err
				}
			}
			m, xv, err := openWithObservation(g, args[0], &x)
			if err != nil {
				return err
			}
			defer m.Close()
			if err := CheckValues("--candidates", opts.Candidates, m.ThetaDim()); err != nil {
				return err
			}
			d, err := posterior.NewDirect(m, posterior.DirectOptions{})
			if err != nil {
				return noPrior(args[0], err)
			}
			sd := seed.get(cmd)
			res, err := d.MAP(cmd.Context(), xv, opts, posterior.Source(sd, 0))
			if err != nil {
				return err
			}
			row := append(append([]float64(nil), res.Theta...), res.LogProb)
			header := append(append([]string(nil), m.Metadata().ThetaNames...), "log_prob")
			resp := api.MAPResponse{Model: modelName(args[0]), Seed: sd, Theta: res.Theta, LogProb: res.LogProb}
			return out.write(cmd.OutOrStdout(), header, mat.NewDense(1, len(row), row), 64, resp)
		},
	}
	x.register(cmd.Flags(), "the observation: comma-separated values", "file holding the observation: .csv (with a header), .npy, or .json (an array, or the server's request {\"x\": …})")
	cmd.Flags().IntVar(&opts.Candidates, "candidates", 1000, "posterior samples to start from")
	cmd.Flags().IntVar(&opts.Starts, "starts", 4, "best candidates refined by Nelder–Mead")
	cmd.Flags().IntVar(&opts.MaxEvaluations, "max-evaluations", 2000, "log-density evaluations per start")
	seed.register(cmd)
	out.register(cmd.Flags())
	return cmd
}
