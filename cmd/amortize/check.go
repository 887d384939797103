package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/simulator"
	"github.com/amortize/amortize/simulator/tasks"
	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"
)

// checkFlags are the flags every `amortize check` command shares.
type checkFlags struct {
	task, simCmd, priorFile, data string
	xDim, n, draws, workers       int
	seed                          uint64
	alpha                         float64
	out, formats, x               string
	failOnMiscalibration          bool
	nulls                         int
	method                        string
	mcmc                          cli.MCMCFlags
}

func (f *checkFlags) register(cmd *cobra.Command, local bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.task, "task", "", "built-in task giving the prior and simulator (see amortize tasks)")
	fl.StringVar(&f.simCmd, "simulator-cmd", "", "external simulator program and arguments: θ CSV on stdin, x CSV on stdout")
	fl.StringVar(&f.priorFile, "prior", "", "prior JSON for --simulator-cmd (default: the prior in the model file)")
	fl.IntVar(&f.xDim, "x-dim", 0, "dimension of x written by --simulator-cmd (default: the model's)")
	fl.StringVar(&f.data, "data", "", "(θ, x) pairs from the prior predictive, .npz or .csv, instead of simulating")
	fl.IntVar(&f.n, "n", 1000, "number of (θ, x) pairs (with --data: its first n rows)")
	fl.IntVar(&f.draws, "draws", 1000, "posterior draws per observation")
	fl.IntVar(&f.workers, "workers", 0, "simulation goroutines (0: all cores); results do not depend on it")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed")
	alpha := 0.01
	if local {
		alpha = 0.05
	}
	fl.Float64Var(&f.alpha, "alpha", alpha, "family-wise level of the verdict")
	fl.StringVar(&f.out, "out", "check-out", "directory for the JSON report and the plots")
	fl.StringVar(&f.formats, "format", "png,svg", "plot formats: png, svg or both")
	fl.BoolVar(&f.failOnMiscalibration, "fail-on-miscalibration", false, "exit with status 1 when the check fails (for CI)")
	fl.StringVar(&f.method, "method", "", "how the posterior is sampled: direct or mcmc (default: direct for NPE models, mcmc for NLE and NRE)")
	f.mcmc.Register(fl)
	if local {
		fl.StringVar(&f.x, "x", "", "the observation x_o, comma-separated")
		fl.IntVar(&f.nulls, "nulls", 50, "lc2st: classifiers trained on permuted labels (the null distribution)")
	}
}

// Bounds on the sizes a command line may ask for, before anything is
// allocated.
const (
	maxCheckN     = 10_000_000
	maxCheckDraws = 1_000_000
)

// checkEnv is what a check runs on: the model, its posterior, the
// simulator and, for the global checks, the (θ, x) pairs.
type checkEnv struct {
	cmd        *cobra.Command
	f          *checkFlags
	path       string
	model      *runtime.Model
	post       diagnostics.Posterior
	sampling   string // how post samples, for the report
	closers    []func()
	prior      prior.Prior
	sim        simulator.Simulator
	source     string
	thetaNames []string
	xNames     []string
	theta, xs  *mat.Dense
	progress   bool
}

// checkError is ErrMiscalibrated with the check's name.
func checkError(name string) error {
	return fmt.Errorf("%s: %w", name, diagnostics.ErrMiscalibrated)
}

func checkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a posterior's calibration: SBC, expected coverage, TARP, local C2ST, predictive checks",
		Long: `Calibration checks of a model file that need no reference posterior. Each
writes a JSON report and plots into --out and prints a one-paragraph verdict;
with --fail-on-miscalibration a failed check exits with status 1.

The (θ, x) pairs come from a built-in task (--task), an external simulator
(--simulator-cmd, with the model's prior unless --prior) or a file of pairs
drawn from the prior predictive (--data).`,
		Example: `  amortize check sbc model.onnx --task two_moons --n 1000 --draws 1000
  amortize check coverage model.onnx --data sims.npz --fail-on-miscalibration
  amortize check tarp model.onnx --simulator-cmd "python3 sim.py"
  amortize check lc2st model.onnx --task two_moons --x 0,0
  amortize check ppc model.onnx --task two_moons --x 0,0`,
		Args: cobra.NoArgs,
	}
	for _, c := range []struct {
		use, short string
		local      bool
		run        func(e *checkEnv) (verdict string, ok bool, err error)
	}{
		{"sbc", "Simulation-based calibration: ranks of the true θ among posterior draws", false, runSBC},
		{"coverage", "Expected coverage of highest-density regions (sbi's log-prob ranking)", false, runCoverage},
		{"tarp", "Tests of accuracy with random points (TARP)", false, runTARP},
		{"lc2st", "Local classifier two-sample test at one observation --x", true, runLC2ST},
		{"ppc", "Posterior predictive check at one observation --x", true, runPPC},
	} {
		f := &checkFlags{}
		sub := &cobra.Command{
			Use:   c.use + " MODEL.onnx",
			Short: c.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				e, err := newCheckEnv(cmd, f, args[0], c.use)
				if err != nil {
					return err
				}
				defer e.close()
				start := time.Now()
				verdict, ok, err := c.run(e)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s (%.1f s; report and plots in %s)\n", verdict, time.Since(start).Seconds(), f.out)
				if !ok && f.failOnMiscalibration {
					return checkError(c.use)
				}
				return nil
			},
		}
		f.register(sub, c.local)
		cmd.AddCommand(sub)
	}
	return cmd
}

// newCheckEnv opens the model and sets up the simulator and pairs that
// the check named check needs.
func newCheckEnv(cmd *cobra.Command, f *checkFlags, path, check string) (*checkEnv, error) {
	switch {
	case f.n < 1 || f.n > maxCheckN:
		return nil, usagef("--n %d: want 1 to %d", f.n, maxCheckN)
	case f.draws < 1 || f.draws > maxCheckDraws:
		return nil, usagef("--draws %d: want 1 to %d", f.draws, maxCheckDraws)
	case !(f.alpha > 0 && f.alpha < 1):
		return nil, usagef("--alpha %v: want 0 < alpha < 1", f.alpha)
	case f.workers < 0:
		return nil, usagef("--workers %d: want 0 or more", f.workers)
	}
	sources := 0
	for _, s := range []string{f.task, f.simCmd, f.data} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return nil, usagef("give exactly one of --task, --simulator-cmd and --data")
	}
	if _, err := plotFormats(f.formats); err != nil {
		return nil, err
	}
	local := check == "lc2st" || check == "ppc"
	if check == "ppc" && f.data != "" {
		return nil, usagef("ppc simulates from the posterior draws: give --task or --simulator-cmd, not --data")
	}
	if st, err := os.Stat(path); err != nil {
		return nil, cli.Usage(err)
	} else if st.IsDir() {
		return nil, usagef("%s is a directory, not a model file", path)
	}
	library, _ := cmd.Flags().GetString("library")
	threads, _ := cmd.Flags().GetInt("threads")
	m, err := runtime.Open(path, runtime.Options{LibraryPath: library, Threads: threads})
	if err != nil {
		return nil, err
	}
	e := &checkEnv{cmd: cmd, f: f, path: path, model: m, progress: isTerminal(os.Stderr)}
	e.closers = append(e.closers, func() { m.Close() })
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()
	meta := m.Metadata()
	e.thetaNames, e.xNames, e.prior = meta.ThetaNames, meta.XNames, m.Prior()
	switch {
	case f.task != "":
		t, err := tasks.Get(f.task)
		if err != nil {
			return nil, cli.Usage(err)
		}
		if t.Prior.Dim() != m.ThetaDim() || t.Simulator.XDim() != m.XDim() {
			return nil, usagef("--task %s has θ dimension %d and x dimension %d, the model %d and %d",
				f.task, t.Prior.Dim(), t.Simulator.XDim(), m.ThetaDim(), m.XDim())
		}
		e.prior, e.sim, e.source = t.Prior, t.Simulator, "task "+f.task
	case f.simCmd != "":
		if f.priorFile != "" {
			b, err := os.ReadFile(f.priorFile)
			if err != nil {
				return nil, cli.Usage(err)
			}
			if e.prior, err = prior.Unmarshal(b); err != nil {
				return nil, usagef("--prior %s: %w", f.priorFile, err)
			}
		}
		if e.prior == nil {
			return nil, usagef("the model file has no prior: give --prior")
		}
		if e.prior.Dim() != m.ThetaDim() {
			return nil, usagef("the prior has dimension %d, the model's θ %d", e.prior.Dim(), m.ThetaDim())
		}
		xd := f.xDim
		if xd == 0 {
			xd = m.XDim()
		}
		if xd != m.XDim() {
			return nil, usagef("--x-dim %d, the model expects x of dimension %d", xd, m.XDim())
		}
		args := strings.Fields(f.simCmd)
		e.sim = &simulator.Command{Dim: xd, Path: args[0], Args: args[1:], Context: cmd.Context()}
		e.source = "simulator " + f.simCmd
	}
	if e.prior == nil {
		return nil, usagef("the model file has no prior, which the posterior needs")
	}
	if err := e.newPosterior(); err != nil {
		return nil, err
	}
	// The local checks at x_o; lc2st needs pairs as well.
	if local && f.x == "" {
		return nil, usagef("%s needs the observation: --x", check)
	}
	if check != "ppc" {
		if err := e.loadPairs(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// close releases the model and a proposal model the posterior opened,
// the last opened first.
func (e *checkEnv) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// newPosterior builds the posterior that --method names: direct sampling
// for an NPE model, MCMC over the likelihood or ratio potential for NLE
// and NRE (its draws for all observations of a chunk in one run), with
// sample's MCMC flags.
func (e *checkEnv) newPosterior() error {
	f, m := e.f, e.model
	method := f.method
	if method == "" {
		method = "direct"
		if m.Method() != format.MethodNPE {
			method = "mcmc"
		}
	}
	switch {
	case method != "direct" && method != "mcmc":
		return usagef("--method %q: want direct or mcmc", f.method)
	case method == "direct" && m.Method() != format.MethodNPE:
		return usagef("--method direct: %s is an %s model, which only --method mcmc samples", e.path, m.Method())
	case method == "direct" && f.mcmc.Changed(e.cmd.Flags()) != "":
		return usagef("--%s is for --method mcmc", f.mcmc.Changed(e.cmd.Flags()))
	}
	if method == "direct" {
		var err error
		e.sampling = "direct"
		e.post, err = posterior.NewDirect(m, posterior.DirectOptions{Prior: e.prior})
		return err
	}
	opts, closeProposal, err := f.mcmc.Options(e.cmd, m, e.path)
	if err != nil {
		return err
	}
	e.closers = append(e.closers, closeProposal)
	e.sampling = fmt.Sprintf("mcmc %s, %d chains per observation, %d warm-up steps, thin %d, init %s",
		opts.Method, opts.NumChains, max(opts.WarmupSteps, 0), opts.Thin, opts.Init)
	e.post, err = posterior.NewModelMCMC(m, e.prior, opts)
	return err
}

// loadPairs simulates --n pairs, or reads them from --data.
func (e *checkEnv) loadPairs() error {
	f := e.f
	if f.data != "" {
		d, err := dataset.Load(f.data, e.model.ThetaDim())
		if err != nil {
			return cli.Usage(err)
		}
		if _, xd := d.X.Dims(); xd != e.model.XDim() {
			return usagef("--data %s: x has %d columns, the model expects %d", f.data, xd, e.model.XDim())
		}
		n := min(f.n, d.Len())
		e.theta = mat.DenseCopyOf(d.Theta.Slice(0, n, 0, e.model.ThetaDim()))
		e.xs = mat.DenseCopyOf(d.X.Slice(0, n, 0, e.model.XDim()))
		e.source = fmt.Sprintf("%d pairs of %s", n, f.data)
		return nil
	}
	opts := simulator.Options{Seed: f.seed, Workers: f.workers}
	if e.progress {
		b := newBar(os.Stderr, "simulate")
		opts.Progress = func(done, total int) { b.update(done, total, "") }
	}
	res, err := simulator.Simulate(e.cmd.Context(), e.prior, e.sim, f.n, opts)
	if err != nil {
		return err
	}
	e.theta, e.xs = res.Data.Theta, res.Data.X
	return nil
}

// options are the shared settings of the global checks.
func (e *checkEnv) options(label string) diagnostics.CheckOptions {
	o := diagnostics.CheckOptions{Draws: e.f.draws, Seed: e.f.seed, Alpha: e.f.alpha}
	if e.progress {
		b := newBar(os.Stderr, label)
		o.Progress = func(done, total int) { b.update(done, total, "") }
	}
	return o
}

// report is the JSON file every check writes.
type report struct {
	Check      string   `json:"check"`
	Model      string   `json:"model"`
	Source     string   `json:"source"`
	Sampling   string   `json:"sampling"`
	ThetaNames []string `json:"theta_names"`
	XNames     []string `json:"x_names"`
	Verdict    string   `json:"verdict"`
	Passed     bool     `json:"passed"`
	Plots      []string `json:"plots"`
	Result     any      `json:"result"`
}

// write saves the report and the plots drawn by each plot function (one
// file per format, name.png or name.svg) into --out.
func (e *checkEnv) write(check, verdict string, passed bool, result any, plots map[string]func(*bytes.Buffer, string) error) error {
	formats, _ := plotFormats(e.f.formats)
	r := report{Check: check, Model: e.path, Source: e.source, Sampling: e.sampling, ThetaNames: e.thetaNames, XNames: e.xNames,
		Verdict: verdict, Passed: passed, Result: result}
	names := make([]string, 0, len(plots))
	for name := range plots {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, format := range formats {
			var buf bytes.Buffer
			if err := plots[name](&buf, format); err != nil {
				return fmt.Errorf("plot %s: %w", name, err)
			}
			file := filepath.Join(e.f.out, name+"."+format)
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				return err
			}
			r.Plots = append(r.Plots, file)
		}
	}
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return os.WriteFile(filepath.Join(e.f.out, check+".json"), append(b, '\n'), 0o644)
}

// posteriorPlot draws the posterior at the first pair with its true θ
// marked: the picture beside the calibration plots.
func (e *checkEnv) posteriorPlot() (func(*bytes.Buffer, string) error, error) {
	draws, err := e.post.SampleEach(e.cmd.Context(), e.xs.Slice(0, 1, 0, e.model.XDim()).(*mat.Dense), e.f.draws, posterior.Source(e.f.seed, 0))
	if err != nil {
		return nil, err
	}
	truth := slices.Clone(e.theta.RawRowView(0))
	return func(w *bytes.Buffer, format string) error {
		return diagnostics.PairPlot(w, []diagnostics.SampleSet{
			{Label: "posterior at pair 1", Samples: draws[0], Color: color.RGBA{R: 200, G: 40, B: 40, A: 255}},
		}, diagnostics.PairPlotOptions{Names: e.thetaNames, Format: format, Truth: truth})
	}, nil
}

func runSBC(e *checkEnv) (string, bool, error) {
	res, err := diagnostics.SBC(e.cmd.Context(), e.post, e.theta, e.xs, e.options("sbc"))
	if err != nil {
		return "", false, err
	}
	pair, err := e.posteriorPlot()
	if err != nil {
		return "", false, err
	}
	v := res.Verdict(e.thetaNames)
	return v, res.Calibrated, e.write("sbc", v, res.Calibrated, res, map[string]func(*bytes.Buffer, string) error{
		"sbc":      func(w *bytes.Buffer, f string) error { return diagnostics.WriteSBCPlot(w, res, e.thetaNames, f) },
		"pairplot": pair,
	})
}

func runCoverage(e *checkEnv) (string, bool, error) {
	res, err := diagnostics.ExpectedCoverage(e.cmd.Context(), e.post, e.theta, e.xs, e.options("coverage"))
	if err != nil {
		return "", false, err
	}
	v := res.Verdict()
	return v, res.Calibrated, e.write("coverage", v, res.Calibrated, res, map[string]func(*bytes.Buffer, string) error{
		"coverage": func(w *bytes.Buffer, f string) error { return diagnostics.WriteCoveragePlot(w, res, f) },
	})
}

func runTARP(e *checkEnv) (string, bool, error) {
	res, err := diagnostics.TARP(e.cmd.Context(), e.post, e.theta, e.xs, e.options("tarp"))
	if err != nil {
		return "", false, err
	}
	v := res.Verdict()
	return v, res.Calibrated, e.write("tarp", v, res.Calibrated, res, map[string]func(*bytes.Buffer, string) error{
		"tarp": func(w *bytes.Buffer, f string) error { return diagnostics.WriteTARPPlot(w, res, f) },
	})
}

// observation parses --x for the model.
func (e *checkEnv) observation() ([]float64, error) {
	var xo []float64
	for _, s := range strings.Split(e.f.x, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, usagef("--x %q: %w", e.f.x, err)
		}
		xo = append(xo, v)
	}
	if len(xo) != e.model.XDim() {
		return nil, usagef("--x has %d values, the model expects %d", len(xo), e.model.XDim())
	}
	return xo, nil
}

func runLC2ST(e *checkEnv) (string, bool, error) {
	xo, err := e.observation()
	if err != nil {
		return "", false, err
	}
	if e.f.nulls < 1 {
		return "", false, usagef("--nulls must be positive, got %d", e.f.nulls)
	}
	opts := diagnostics.LC2STOptions{Seed: e.f.seed, Alpha: e.f.alpha, Eval: e.f.draws, NullTrials: e.f.nulls}
	if e.progress {
		b := newBar(os.Stderr, "lc2st classifiers")
		opts.Progress = func(done, total int) { b.update(done, total, "") }
	}
	l, err := diagnostics.NewLC2ST(e.cmd.Context(), e.post, e.theta, e.xs, opts)
	if err != nil {
		return "", false, err
	}
	res, err := l.Test(e.cmd.Context(), e.post, xo)
	if err != nil {
		return "", false, err
	}
	v := res.Verdict()
	return v, res.Valid, e.write("lc2st", v, res.Valid, res, map[string]func(*bytes.Buffer, string) error{
		"lc2st": func(w *bytes.Buffer, f string) error { return diagnostics.WriteLC2STPlot(w, res, f) },
	})
}

func runPPC(e *checkEnv) (string, bool, error) {
	xo, err := e.observation()
	if err != nil {
		return "", false, err
	}
	res, err := diagnostics.PPC(e.cmd.Context(), e.post, e.sim, xo, e.options("ppc"))
	if err != nil {
		return "", false, err
	}
	v := res.Verdict(e.xNames)
	return v, res.Consistent, e.write("ppc", v, res.Consistent, res, map[string]func(*bytes.Buffer, string) error{
		"ppc": func(w *bytes.Buffer, f string) error {
			return diagnostics.PairPlot(w, []diagnostics.SampleSet{
				{Label: "posterior predictive", Samples: res.Predictive, Color: color.RGBA{R: 40, G: 90, B: 200, A: 255}},
			}, diagnostics.PairPlotOptions{Names: e.xNames, Format: f, Truth: xo})
		},
	})
}

// plotFormats parses --format.
func plotFormats(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f != diagnostics.PNG && f != diagnostics.SVG {
			return nil, usagef("--format %q: want png, svg or png,svg", s)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// isTerminal reports whether f is a character device, where progress
// bars belong; a pipe or a file gets none.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
