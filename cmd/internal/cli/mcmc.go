package cli

import (
	"fmt"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gonum.org/v1/gonum/mat"
)

// mcmcFlags are sample's options for --method mcmc.
type mcmcFlags struct {
	chains, warmup, thin int
	method, init         string
	proposal             string
	noTransform          bool
}

func (f *mcmcFlags) register(fs *pflag.FlagSet) { f.registerWith(fs, 20, 100) }

// registerWith adds the flags with these chains and warm-up defaults.
func (f *mcmcFlags) registerWith(fs *pflag.FlagSet, chains, warmup int) {
	fs.IntVar(&f.chains, "chains", chains, "MCMC chains per observation (ensemble: walkers, at least 2·θ dim+2)")
	fs.IntVar(&f.warmup, "warmup", warmup, "MCMC warm-up steps per chain, discarded (0: none)")
	fs.IntVar(&f.thin, "thin", 10, "keep every --thin-th MCMC step")
	fs.StringVar(&f.method, "mcmc-method", posterior.MethodSlice, "MCMC sampler: slice or ensemble")
	fs.StringVar(&f.init, "init", posterior.InitSIR, "MCMC initial states: sir (prior draws resampled by the potential), prior, or proposal (the direct posterior of --proposal)")
	fs.StringVar(&f.proposal, "proposal", "", "NPE model file whose direct posterior gives --init proposal its states (default: MODEL, when it is an NPE model)")
	fs.BoolVar(&f.noTransform, "no-transform", false, "sample θ itself instead of its unconstrained image")
}

// MCMCFlags are sample's MCMC flags (--chains, --warmup, --thin,
// --mcmc-method, --init, --proposal, --no-transform) for commands outside
// this package, such as amortize check and the benchmarks.
type MCMCFlags struct{ f mcmcFlags }

// Register adds the flags to fs with sample's defaults.
func (m *MCMCFlags) Register(fs *pflag.FlagSet) { m.f.register(fs) }

// RegisterWith adds the flags to fs with these chains and warm-up defaults.
func (m *MCMCFlags) RegisterWith(fs *pflag.FlagSet, chains, warmup int) {
	m.f.registerWith(fs, chains, warmup)
}

// Method is the --mcmc-method given.
func (m *MCMCFlags) Method() string { return m.f.method }

// Changed names an MCMC flag given on the command line, or is empty.
func (m *MCMCFlags) Changed(fs *pflag.FlagSet) string { return m.f.changed(fs) }

// Options checks the flags and returns the MCMC options for model (read
// from modelPath), without a progress callback; close releases a proposal
// model it opened. A proposal file opens with cmd's runtime flags.
func (m *MCMCFlags) Options(cmd *cobra.Command, model *runtime.Model, modelPath string) (posterior.MCMCOptions, func(), error) {
	return m.f.options(globalsOf(cmd), model, modelPath)
}

// changed names an MCMC flag given on the command line, or is empty.
func (f *mcmcFlags) changed(fs *pflag.FlagSet) string {
	for _, name := range []string{"chains", "warmup", "thin", "mcmc-method", "init", "proposal", "no-transform"} {
		if fs.Changed(name) {
			return name
		}
	}
	return ""
}

// options checks the flags and returns the posterior's options; close
// releases a proposal model it opened.
func (f *mcmcFlags) options(g *globals, m *runtime.Model, modelPath string) (opts posterior.MCMCOptions, close func(), err error) {
	close = func() {}
	switch {
	case f.chains < 1:
		return opts, close, usagef("--chains %d: want at least 1", f.chains)
	case f.warmup < 0:
		return opts, close, usagef("--warmup %d: want 0 or more", f.warmup)
	case f.thin < 1:
		return opts, close, usagef("--thin %d: want at least 1", f.thin)
	case f.method != posterior.MethodSlice && f.method != posterior.MethodEnsemble:
		return opts, close, usagef("--mcmc-method %q: want slice or ensemble", f.method)
	case f.init != posterior.InitSIR && f.init != posterior.InitPrior && f.init != posterior.InitProposal:
		return opts, close, usagef("--init %q: want sir, prior or proposal", f.init)
	case f.proposal != "" && f.init != posterior.InitProposal:
		return opts, close, usagef("--proposal is for --init proposal")
	}
	opts = posterior.MCMCOptions{
		Method: f.method, NumChains: f.chains, WarmupSteps: f.warmup, Thin: f.thin,
		Init: f.init, NoTransform: f.noTransform,
	}
	if opts.WarmupSteps == 0 {
		opts.WarmupSteps = -1 // none, as asked
	}
	if f.init == posterior.InitProposal {
		pm := m
		if f.proposal != "" && f.proposal != modelPath {
			if pm, err = open(g, f.proposal); err != nil {
				return opts, close, err
			}
			close = func() { pm.Close() }
		}
		if pm.Metadata().Method != "npe" {
			close()
			return opts, func() {}, usagef("--init proposal: %s is not an NPE model; pass one with --proposal", modelPath)
		}
		d, err := posterior.NewDirect(pm, posterior.DirectOptions{})
		if err != nil {
			close()
			return opts, func() {}, err
		}
		opts.Proposal = d
	}
	return opts, close, nil
}

// posterior checks the flags and builds the MCMC posterior of m, with a
// progress bar when stderr is a terminal; close releases a proposal model
// it opened.
func (f *mcmcFlags) posterior(cmd *cobra.Command, g *globals, m *runtime.Model, modelPath string) (*posterior.MCMC, func(), error) {
	opts, closeProposal, err := f.options(g, m, modelPath)
	if err != nil {
		return nil, nil, err
	}
	bar := NewBar(cmd.ErrOrStderr(), "mcmc "+f.method)
	opts.Progress = func(done, total int) { bar.Update(done, total, "steps") }
	post, err := posterior.NewModelMCMC(m, nil, opts)
	if err != nil {
		closeProposal()
		return nil, nil, err
	}
	return post, closeProposal, nil
}

// sampleMCMC draws n samples per row of xs and prints the convergence
// summary of each observation on stderr.
func sampleMCMC(cmd *cobra.Command, post *posterior.MCMC, xs *mat.Dense, n int, seed uint64) ([]*posterior.Samples, error) {
	res, err := post.SampleBatched(cmd.Context(), xs, n, posterior.Source(seed))
	if err != nil {
		return nil, err
	}
	stderr := cmd.ErrOrStderr()
	for i, r := range res {
		fmt.Fprintf(stderr, "%s: observation %d: %s\n", Name(cmd), i+1, r.Convergence)
		if w := r.Convergence.Warning; w != "" {
			fmt.Fprintf(stderr, "%s: warning: observation %d: %s\n", Name(cmd), i+1, w)
		}
	}
	return res, nil
}
