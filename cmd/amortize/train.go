package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/prior"
	"github.com/amortize/amortize/trainer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// trainFlags are the estimator and training options shared by train,
// bench and demo.
type trainFlags struct {
	method     string
	classifier string
	estimator  string
	hidden     int
	layers     int
	transforms int
	bins       int
	components int
	opts       trainer.Options
	flags      *pflag.FlagSet // to tell a given --batch 0 from the default
}

func (f *trainFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.flags = fl
	fl.StringVar(&f.method, "method", "npe", "what to estimate: npe (posterior), nle (likelihood), nre (likelihood-to-evidence ratio)")
	fl.StringVar(&f.estimator, "estimator", "", "density estimator for npe and nle: gaussian, mdn, maf, nsf (default: nsf for npe, maf for nle, as sbi)")
	fl.StringVar(&f.classifier, "classifier", "resnet", "classifier for nre: resnet, mlp, linear")
	fl.StringVar(&f.opts.Loss.Kind, "loss", "nre-b", "nre loss: nre-b (contrastive, sbi's NRE), nre-a (binary), nre-c (K classes), bnre (balanced)")
	fl.IntVar(&f.opts.Loss.Atoms, "atoms", 0, "nre-b: θ per x, its own included (0: 10); nre-c: classes K (0: 5)")
	fl.Float64Var(&f.opts.Loss.Gamma, "gamma", 0, "nre-c: γ, the joint classes' weight against the marginal one (0: 1)")
	fl.Float64Var(&f.opts.Loss.Lambda, "bnre-lambda", 0, "bnre: strength of the balancing regulariser (0: 100)")
	fl.IntVar(&f.hidden, "hidden", 0, "hidden units per layer (0: sbi's default, 50)")
	fl.IntVar(&f.layers, "layers", 0, "hidden layers / residual blocks (0: default)")
	fl.IntVar(&f.transforms, "transforms", 0, "flow transforms (0: default, 5)")
	fl.IntVar(&f.bins, "bins", 0, "spline bins for nsf (0: default, 10)")
	fl.IntVar(&f.components, "components", 0, "mixture components for mdn (0: default, 10)")
	fl.IntVar(&f.opts.BatchSize, "batch", 0, "training batch size (default: sbi's, 50 for nle, else 200)")
	fl.Float64Var(&f.opts.LearningRate, "lr", 5e-4, "Adam learning rate")
	fl.Float64Var(&f.opts.ValidationFraction, "validation", 0.1, "fraction of simulations held out for early stopping")
	fl.IntVar(&f.opts.StopAfterEpochs, "patience", 20, "stop after this many epochs without validation improvement")
	fl.IntVar(&f.opts.MaxEpochs, "max-epochs", 0, "maximum epochs (0: no limit)")
	fl.Float64Var(&f.opts.LRDecay, "lr-decay", 0, "multiply the learning rate by this after more than --lr-patience epochs without improvement (0: constant rate, as sbi)")
	fl.IntVar(&f.opts.LRPatience, "lr-patience", 10, "epochs without validation improvement before --lr-decay")
	fl.Float64Var(&f.opts.ClipMaxNorm, "clip", 5, "clip the global gradient norm to this (0: off)")
	fl.Uint64Var(&f.opts.Seed, "seed", 1, "random seed (split, initialisation, batches)")
}

// batchSize is the batch the trainer uses: the flag, or sbi's default.
func (f *trainFlags) batchSize() int {
	switch {
	case f.opts.BatchSize > 0:
		return f.opts.BatchSize
	case f.method == models.MethodNLE:
		return 50
	}
	return 200
}

func (f *trainFlags) spec(d, xd int) (models.Spec, error) {
	kind := f.estimator
	switch f.method {
	case models.MethodNPE:
		if kind == "" {
			kind = "nsf"
		}
	case models.MethodNLE:
		if kind == "" {
			kind = "maf"
		}
	case models.MethodNRE:
		if kind != "" {
			return models.Spec{}, usagef("--estimator is for npe and nle; nre takes --classifier")
		}
		kind = f.classifier
	default:
		return models.Spec{}, usagef("--method %q: want npe, nle or nre", f.method)
	}
	if f.method != models.MethodNRE {
		// The NRE flags keep their defaults; they mean nothing here.
		f.opts.Loss = models.Loss{}
	}
	s, err := models.DefaultSpec(kind, d, xd)
	if err != nil {
		return s, cli.Usage(err)
	}
	if f.method == models.MethodNLE {
		s.Method = models.MethodNLE
	} else if (f.method == models.MethodNRE) != (s.Method == models.MethodNRE) {
		return s, usagef("%s is not a %s network (--estimator: gaussian, mdn, maf, nsf; --classifier: resnet, mlp, linear)", kind, f.method)
	}
	for _, v := range []struct {
		flag int
		dst  *int
	}{{f.hidden, &s.Hidden}, {f.layers, &s.Layers}, {f.transforms, &s.Transforms}, {f.bins, &s.Bins}, {f.components, &s.Components}} {
		if v.flag != 0 {
			*v.dst = v.flag
		}
	}
	var err2 error
	if s.Method == models.MethodNRE {
		_, err2 = models.NewClassifier(s)
		if err2 == nil {
			_, err2 = f.opts.Loss.WithDefaults()
		}
	} else {
		_, err2 = models.New(s)
	}
	if err2 != nil {
		return s, cli.Usage(err2)
	}
	return s, nil
}

// train fits an estimator to a dataset with a live status line on stderr.
func (f *trainFlags) train(cmd *cobra.Command, data *dataset.Dataset, p prior.Prior) (*models.Model, error) {
	_, d := data.Theta.Dims()
	_, xd := data.X.Dims()
	spec, err := f.spec(d, xd)
	if err != nil {
		return nil, err
	}
	b := newBar(cmd.ErrOrStderr(), "train "+spec.Kind)
	opts := f.options()
	opts.Progress = func(p trainer.Progress) {
		lr := ""
		if opts.LRDecay > 0 {
			lr = fmt.Sprintf("  lr %.3g", p.LearningRate)
		}
		b.line(fmt.Sprintf("epoch %d  train %.4f  val %.4f  best %.4f%s  (%d since best, %s)",
			p.Epoch, p.TrainLoss, p.ValLoss, p.BestValLoss, lr, p.EpochsSinceImprovement, p.Elapsed.Round(time.Second)))
	}
	m, err := trainer.Train(cmd.Context(), spec, data.Theta, data.X, opts)
	b.done()
	if err != nil {
		return nil, err
	}
	m.ThetaNames, m.XNames = data.Names()
	if p != nil {
		if m.Prior, err = prior.Marshal(p); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func trainCmd() *cobra.Command {
	var (
		tf        trainFlags
		task      string
		sims      int
		data      string
		thetaDim  int
		priorFile string
		out       string
		onnxOut   string
		simCmd    string
		xDim      int
		force     bool
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a neural posterior (NPE), likelihood (NLE) or ratio (NRE) estimator",
		Example: `  amortize train --task two_moons --sims 10000 --estimator nsf --out model.json --onnx model.onnx
  amortize train --task two_moons --sims 10000 --method nle --onnx likelihood.onnx
  amortize train --task two_moons --sims 10000 --method nre --classifier resnet --loss nre-b --atoms 10 --onnx ratio.onnx
  amortize train --data sims.npz --estimator maf --onnx model.onnx
  amortize train --data table.csv --theta-dim 2 --prior prior.json --estimator maf --out model.json
  amortize train --task slcp --sims 10000 --checkpoint slcp.ckpt --resume --out model.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" && onnxOut == "" {
				return usagef("give --out (trained model, JSON) and/or --onnx (model file)")
			}
			if err := tf.check(); err != nil {
				return err
			}
			if err := checkCheckpoint(tf.opts.CheckpointPath, tf.opts.Resume, force); err != nil {
				return err
			}
			var ds *dataset.Dataset
			var p prior.Prior
			switch {
			case data != "":
				var err error
				if ds, p, err = loadData(data, thetaDim, priorFile); err != nil {
					return err
				}
			default:
				t, err := userTask(cmd, task, priorFile, simCmd, xDim)
				if err != nil {
					return err
				}
				res, err := simulate(cmd, t, sims, tf.opts.Seed, 0)
				if err != nil {
					return err
				}
				ds, p = res.Data, t.Prior
				fmt.Fprintf(cmd.OutOrStdout(), "simulated %d of %s (%d dropped for NaN/Inf)\n", ds.Len(), t.Name, res.Dropped)
			}
			m, err := tf.train(cmd, ds, p)
			if err != nil {
				return err
			}
			m.Summary.Simulations = ds.Len()
			fmt.Fprintf(cmd.OutOrStdout(), "trained %s %s: %d epochs, best validation loss %.4f at epoch %d, %.1f s\n",
				m.Method, m.Spec.Kind, m.Summary.Epochs, m.Summary.BestValLoss, m.Summary.BestEpoch, m.Summary.TrainSeconds)
			if out != "" {
				if err := models.WriteFile(m, out); err != nil {
					return err
				}
			}
			if onnxOut != "" {
				if err := export.WriteFile(m, onnxOut); err != nil {
					return err
				}
			}
			return nil
		},
	}
	tf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&task, "task", "two_moons", "simulate this task (when --data is not given)")
	fl.IntVar(&sims, "sims", 10000, "simulations for --task")
	fl.StringVar(&data, "data", "", "dataset file (.npz with arrays theta and x, or .csv)")
	fl.IntVar(&thetaDim, "theta-dim", 0, "number of θ columns in a .csv dataset (default: from its prior, or from the header names theta_1, theta_2, …)")
	fl.StringVar(&priorFile, "prior", "", "with --data or --simulator-cmd, the "+cli.PriorHelp+" (stored in the model file; --data files from simulate carry theirs)")
	fl.StringVar(&simCmd, "simulator-cmd", "", "external simulator program and arguments (see amortize simulate --help)")
	fl.IntVar(&xDim, "x-dim", 0, "dimension of x written by --simulator-cmd")
	fl.StringVar(&out, "out", "", "write the trained model (JSON) here")
	fl.StringVar(&onnxOut, "onnx", "", "also export the model file (.onnx) here")
	fl.StringVar(&tf.opts.CheckpointPath, "checkpoint", "", "checkpoint file, written every epoch")
	fl.BoolVar(&tf.opts.Resume, "resume", false, "resume from --checkpoint")
	fl.BoolVar(&force, "force", false, "start afresh, overwriting an existing --checkpoint")
	return cmd
}

// loadData reads a --data file and the prior its model file will carry:
// --prior, else the one the dataset carries. Without either it fails
// before any training, since a model file without a prior cannot sample.
func loadData(path string, thetaDim int, priorFlag string) (*dataset.Dataset, prior.Prior, error) {
	var p prior.Prior
	if priorFlag != "" {
		var err error
		if p, err = cli.ReadPrior(priorFlag); err != nil {
			return nil, nil, err
		}
		if thetaDim == 0 {
			thetaDim = p.Dim()
		}
	}
	ds, err := dataset.Load(path, thetaDim)
	if errors.Is(err, dataset.ErrThetaDim) {
		return nil, nil, usagef("%w; pass --theta-dim N (the number of θ columns) or --prior", err)
	}
	if err != nil {
		return nil, nil, err
	}
	if p == nil {
		p = ds.Prior
	}
	if p == nil {
		return nil, nil, usagef("%s carries no prior (simulate stores it inside a .npz, and beside a .csv as %s), "+
			"and a model file needs one to sample: pass --prior with the prior's JSON, inline or in a file",
			path, filepath.Base(dataset.PriorPath(path)))
	}
	if _, c := ds.Theta.Dims(); p.Dim() != c {
		return nil, nil, usagef("--prior has %d dimensions but %s has %d θ columns", p.Dim(), path, c)
	}
	return ds, p, nil
}

func exportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "export MODEL.json",
		Short:   "Export a trained model as a self-contained ONNX model file",
		Example: `  amortize export model.json --out model.onnx`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			m, err := models.ReadFile(args[0])
			if err != nil {
				return err
			}
			if err := export.WriteFile(m, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s %s)\n", out, m.Method, m.Spec.Kind)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output .onnx path")
	return cmd
}
