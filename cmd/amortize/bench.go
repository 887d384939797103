package main

import (
	"bytes"
	"fmt"
	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/dataset"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amortize/amortize/benchmarks"
	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/simulator"
	"github.com/amortize/amortize/simulator/tasks"
	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Accuracy and speed benchmarks",
	}
	cmd.AddCommand(accuracyCmd(), speedCmd(), benchMCMCCmd())
	return cmd
}

// accuracyRun is one simulate → train → export → load → sample → C2ST run
// over reference observations: the accuracy benchmark and the demo.
type accuracyRun struct {
	task     *tasks.Task
	sims     int
	obs      []int
	benchDir string // --bench-dir: reference data instead of the compiled-in copy
	outDir   string
	samples  int
	// x, when set, is the one observation, numbered 0, scored against the
	// task's exact posterior (the tutorials' observations).
	x  []float64
	tf trainFlags
	// c2stN limits the samples C2ST compares (0: all 10,000, sbibm's
	// headline; 1,000 is sbibm's quick variant).
	c2stN int
	// model, when set, is a model file scored instead of one trained here.
	model string
	// mcmc samples nle and nre models.
	mcmc mcmcFlags
}

// registerBenchDir adds --bench-dir.
func (r *accuracyRun) registerBenchDir(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.benchDir, "bench-dir", "",
		"directory of sbibm reference data <task>/obsNN/*.csv[.gz] (default: $"+tasks.BenchmarkEnv+", else the copy built into amortize)")
}

// benchData is the reference data the run scores against.
func (r *accuracyRun) benchData() fs.FS {
	if r.benchDir != "" {
		return os.DirFS(r.benchDir)
	}
	return tasks.BenchmarkData()
}

// benchSource names where benchData looked, for messages.
func (r *accuracyRun) benchSource() string {
	if r.benchDir != "" {
		return " under --bench-dir " + r.benchDir
	}
	if dir := os.Getenv(tasks.BenchmarkEnv); dir != "" {
		return " under $" + tasks.BenchmarkEnv + " " + dir
	}
	return ""
}

type obsResult struct {
	obs     int
	samples *mat.Dense
	ref     *tasks.Reference
	c2st    float64
	accept  float64
}

func (r *accuracyRun) run(cmd *cobra.Command) (*models.Model, []obsResult, error) {
	w := cmd.OutOrStdout()
	// The model is reopened through onnxruntime after training: a missing
	// library should stop the run before minutes of work, not after.
	var lib string
	if f := cmd.Flag("library"); f != nil {
		lib = f.Value.String()
	}
	if _, err := runtime.FindLibrary(lib); err != nil {
		return nil, nil, err
	}
	refs, xs, err := r.references(cmd)
	if err != nil {
		return nil, nil, err
	}
	if r.outDir != "" {
		if err := os.MkdirAll(r.outDir, 0o755); err != nil {
			return nil, nil, err
		}
	}
	// MCMC flags for a model sampled directly are a mistake, caught before
	// training.
	mcmcFlagFor := func(method string) error {
		if name := r.mcmc.Changed(cmd.Flags()); name != "" && method == models.MethodNPE {
			return cli.Usagef("--%s is for nle and nre models, sampled by MCMC; npe models are sampled directly", name)
		}
		return nil
	}
	if err := mcmcFlagFor(r.tf.method); r.model == "" && err != nil {
		return nil, nil, err
	}
	m, file, err := r.modelFile(cmd)
	if err != nil {
		return nil, nil, err
	}
	rm, err := runtime.OpenBytes(file, runtime.Options{LibraryPath: lib})
	if err != nil {
		return nil, nil, err
	}
	defer rm.Close()
	if rm.ThetaDim() != r.task.Prior.Dim() || rm.XDim() != r.task.Simulator.XDim() {
		return nil, nil, cli.Usagef("--model %s takes θ of %d and x of %d values; %s has %d and %d",
			r.model, rm.ThetaDim(), rm.XDim(), r.task.Name, r.task.Prior.Dim(), r.task.Simulator.XDim())
	}
	meta := rm.Metadata()
	var draws []*posterior.Samples
	if err := mcmcFlagFor(meta.Method); err != nil {
		return nil, nil, err
	}
	if meta.Method == models.MethodNPE {
		post, err := posterior.NewDirect(rm, posterior.DirectOptions{})
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		if draws, err = post.SampleBatched(cmd.Context(), xs, r.samples, rand.NewPCG(r.tf.opts.Seed, 99)); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(w, "sampled %d × %d in %.3f s through onnxruntime\n", len(r.obs), r.samples, time.Since(start).Seconds())
	}

	out := make([]obsResult, len(r.obs))
	var sum, secs float64
	for i, o := range r.obs {
		var line string
		if meta.Method == models.MethodNPE {
			line = fmt.Sprintf("(acceptance %.3f)", draws[i].Acceptance)
		} else {
			// One run per observation, so that each has its own speed.
			s, d, err := r.mcmc.Sample(cmd, rm, r.model, xs.RawRowView(i), r.samples, r.tf.opts.Seed+uint64(o))
			if err != nil {
				return nil, nil, err
			}
			draws = append(draws, s)
			secs += d.Seconds()
			c := s.Convergence
			line = fmt.Sprintf("R-hat max %.4f  ESS min %.0f  %.0f samples/s", slices.Max(c.RHat), slices.Min(c.ESS), float64(r.samples)/d.Seconds())
			if c.Warning != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: observation %d: %s\n", cli.Name(cmd), o, c.Warning)
			}
		}
		out[i] = obsResult{obs: o, samples: draws[i].Theta, ref: refs[i], accept: draws[i].Acceptance}
		if r.outDir != "" {
			if err := writeSamples(filepath.Join(r.outDir, fmt.Sprintf("obs%02d_samples.csv", o)), rm.Metadata().ThetaNames, draws[i].Theta); err != nil {
				return nil, nil, err
			}
		}
		ref, alg := refs[i].Samples, draws[i].Theta
		if r.c2stN > 0 {
			ref, alg = head(ref, r.c2stN), head(alg, r.c2stN)
		}
		c, err := diagnostics.C2ST(cmd.Context(), ref, alg, diagnostics.C2STOptions{})
		if err != nil {
			return nil, nil, err
		}
		out[i].c2st = c
		sum += c
		fmt.Fprintf(w, "obs %02d  C2ST %.3f  %s\n", o, c, line)
	}
	fmt.Fprintf(w, "mean C2ST %.3f over %d observations (%s, %s %s, %s)\n", sum/float64(len(r.obs)), len(r.obs), r.task.Name,
		meta.Method, meta.Estimator, r.source())
	if meta.Method != models.MethodNPE {
		fmt.Fprintf(w, "MCMC %s: %.0f samples/s over all observations\n", r.mcmc.Method(), float64(len(r.obs)*r.samples)/secs)
	}
	return m, out, nil
}

// source says where the model came from, for the summary line.
func (r *accuracyRun) source() string {
	if r.model != "" {
		return r.model
	}
	return fmt.Sprintf("%d simulations", r.sims)
}

// modelFile returns the model file to score: --model's, or one simulated,
// trained and exported here (then with its trained model).
func (r *accuracyRun) modelFile(cmd *cobra.Command) (*models.Model, []byte, error) {
	if r.model != "" {
		b, err := os.ReadFile(r.model)
		if err != nil {
			return nil, nil, cli.Usage(err)
		}
		return nil, b, nil
	}
	w := cmd.OutOrStdout()
	res, err := simulate(cmd, r.task, r.sims, r.tf.opts.Seed, 0)
	if err != nil {
		return nil, nil, err
	}
	m, err := r.tf.train(cmd, res.Data, r.task.Prior)
	if err != nil {
		return nil, nil, err
	}
	m.Summary.Simulations = res.Data.Len()
	bs := r.tf.batchSize()
	steps := m.Summary.Epochs * ((res.Data.Len()*9/10 + bs - 1) / bs)
	fmt.Fprintf(w, "trained %s %s on %d simulations: %d epochs (best %d, val loss %.4f) in %.1f s, %.2f ms/step\n",
		m.Method, m.Spec.Kind, res.Data.Len(), m.Summary.Epochs, m.Summary.BestEpoch, m.Summary.BestValLoss,
		m.Summary.TrainSeconds, 1000*m.Summary.TrainSeconds/float64(max(steps, 1)))
	var file bytes.Buffer
	if err := export.Write(m, &file); err != nil {
		return nil, nil, err
	}
	if r.outDir != "" {
		if err := os.WriteFile(filepath.Join(r.outDir, "model.onnx"), file.Bytes(), 0o644); err != nil {
			return nil, nil, err
		}
	}
	return m, file.Bytes(), nil
}

// references loads the reference observations and posterior samples: the
// sbibm files when present, else, for tasks with an exact posterior,
// observations simulated from seeded prior draws and exact samples.
func (r *accuracyRun) references(cmd *cobra.Command) ([]*tasks.Reference, *mat.Dense, error) {
	refs := make([]*tasks.Reference, len(r.obs))
	xs := mat.NewDense(len(r.obs), r.task.Simulator.XDim(), nil)
	d := r.task.Prior.Dim()
	for i, o := range r.obs {
		switch {
		case r.x != nil:
			post, err := r.task.Posterior(r.x, 10000, rand.NewPCG(0, 0x9057))
			if err != nil {
				return nil, nil, err
			}
			refs[i] = &tasks.Reference{Observation: r.x, Samples: post}
		case r.task.HasReference(r.benchData()):
			ref, err := r.task.Reference(r.benchData(), o)
			if err != nil {
				return nil, nil, err
			}
			refs[i] = ref
		case r.task.Posterior != nil:
			// Observation o is fixed by o alone, whatever the other flags.
			theta := mat.NewDense(1, d, nil)
			r.task.Prior.Sample(theta, rand.NewPCG(uint64(o), 0x0b5))
			x, err := simulator.SimulateTheta(cmd.Context(), theta, r.task.Simulator, simulator.Options{Seed: uint64(o)})
			if err != nil {
				return nil, nil, err
			}
			obs := mat.Row(nil, 0, x)
			post, err := r.task.Posterior(obs, 10000, rand.NewPCG(uint64(o), 0x9057))
			if err != nil {
				return nil, nil, err
			}
			refs[i] = &tasks.Reference{Observation: obs, TrueTheta: mat.Row(nil, 0, theta), Samples: post}
		default:
			return nil, nil, fmt.Errorf("no reference posteriors for %s%s: tasks with reference data are %s",
				r.task.Name, r.benchSource(), strings.Join(benchmarks.Tasks(), ", "))
		}
		xs.SetRow(i, refs[i].Observation)
	}
	return refs, xs, nil
}

func head(m *mat.Dense, n int) *mat.Dense {
	r, c := m.Dims()
	if n >= r {
		return m
	}
	return m.Slice(0, n, 0, c).(*mat.Dense)
}

// writeSamples writes posterior samples under the model's θ names, as
// amortize sample does; the values were float32.
func writeSamples(path string, names []string, m *mat.Dense) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := dataset.WriteMatrixCSV(f, names, m, 32); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func parseObs(s string) ([]int, error) {
	if s == "" || s == "all" {
		return []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		if lo, hi, ok := strings.Cut(f, "-"); ok {
			a, err1 := strconv.Atoi(strings.TrimSpace(lo))
			b, err2 := strconv.Atoi(strings.TrimSpace(hi))
			if err1 != nil || err2 != nil || a < 1 || a > b {
				return nil, fmt.Errorf("bad observation range %q", f)
			}
			if b-a >= maxObservations-len(out) {
				return nil, fmt.Errorf("--obs %s: more than %d observations", s, maxObservations)
			}
			for i := a; i <= b; i++ {
				out = append(out, i)
			}
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("bad observation number %q", f)
		}
		if len(out) == maxObservations {
			return nil, fmt.Errorf("--obs %s: more than %d observations", s, maxObservations)
		}
		out = append(out, v)
	}
	return out, nil
}

func accuracyCmd() *cobra.Command {
	var (
		r    accuracyRun
		task string
		obs  string
		x    string
	)
	cmd := &cobra.Command{
		Use:   "accuracy",
		Short: "Train on a benchmark task and score C2ST against reference posteriors",
		Long: `Simulates, trains, exports, reloads the model file through onnxruntime,
samples each reference observation's posterior and scores C2ST (sbibm's
recipe) against the reference samples. Writes DIR/obsNN_samples.csv.

NPE models are sampled directly; NLE and NRE models (--method nle or nre) by
MCMC over their likelihood or ratio potential, one run per observation, which
prints each observation's R-hat, bulk ESS and samples per second (the MCMC
flags are sample's, with 100 chains by default). --model scores a model file
already trained instead of training one.`,
		Example: `  amortize bench accuracy --task two_moons --sims 10000 --estimator nsf --obs 1,2,3 --seed 1 --out out/
  amortize bench accuracy --task slcp --sims 10000 --obs 1-10
  amortize bench accuracy --task two_moons --sims 10000 --method nle --obs 1-10
  amortize bench accuracy --task two_moons --model nre.onnx --chains 100 --mcmc-method slice
  amortize bench accuracy --task gaussian_linear_3d --sims 2000 --batch 50 --x 0.8,0.6,0.4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := tasks.Get(task)
			if err != nil {
				return cli.Usage(err)
			}
			if r.obs, err = parseObs(obs); err != nil {
				return cli.Usage(err)
			}
			if x != "" {
				if t.Posterior == nil {
					return cli.Usage(fmt.Errorf("--x needs a task with an exact posterior; %s has none", t.Name))
				}
				if r.x, err = cli.ParseRow(x); err != nil {
					return cli.Usagef("--x: %w", err)
				}
				if len(r.x) != t.Simulator.XDim() {
					return cli.Usagef("--x has %d values, %s's x has %d", len(r.x), t.Name, t.Simulator.XDim())
				}
				r.obs = []int{0}
			}
			r.task = t
			if err := r.check(); err != nil {
				return err
			}
			_, _, err = r.run(cmd)
			return err
		},
	}
	r.tf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&task, "task", "two_moons", "benchmark task")
	fl.IntVar(&r.sims, "sims", 10000, "simulation budget")
	fl.StringVar(&obs, "obs", "all", "observations: 1,2,3 or 1-10 or all")
	fl.StringVar(&r.outDir, "out", "", "directory for obsNN_samples.csv and model.onnx")
	r.registerBenchDir(cmd)
	fl.IntVar(&r.samples, "samples", 10000, "posterior samples per observation")
	fl.IntVar(&r.c2stN, "c2st-n", 0, "compare only the first N samples of each set (0: all)")
	fl.StringVar(&x, "x", "", "score this one observation, comma-separated values, against the task's exact posterior instead (numbered 0)")
	fl.StringVar(&r.model, "model", "", "score this model file (.onnx) instead of training one (the training flags are then unused)")
	// Accuracy wants many well-mixed draws: 100 chains × 100 draws for
	// 10,000 samples.
	r.mcmc.RegisterWith(fl, 100, 100)
	return cmd
}
