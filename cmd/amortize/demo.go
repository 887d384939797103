package main

import (
	"bytes"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/simulator/tasks"
	"github.com/spf13/cobra"
)

func demoCmd() *cobra.Command {
	var (
		r   accuracyRun
		obs int
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "End to end on two_moons: simulate, train, export, reload, sample, diagnose",
		Long: `Simulates two_moons, trains a neural spline flow, exports it as an ONNX model
file, reopens that file with onnxruntime, samples the posterior of a reference
observation, scores C2ST against the reference posterior (when the benchmark
data is present) and writes a pair plot.`,
		Example: `  amortize demo
  amortize demo --sims 2000 --estimator maf --out demo-out`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := tasks.Get("two_moons")
			if err != nil {
				return err
			}
			r.task, r.obs = t, []int{obs}
			if err := cli.CheckRange("--obs", obs, 1, 10); err != nil {
				return err
			}
			if err := r.check(); err != nil {
				return err
			}
			if err := os.MkdirAll(r.outDir, 0o755); err != nil {
				return err
			}
			model, res, err := r.run(cmd)
			if err != nil {
				return err
			}
			// The reference is drawn over the model's points, faintly: where
			// they agree both show, and the model's strays stay red.
			var png bytes.Buffer
			if err := diagnostics.PairPlot(&png, []diagnostics.SampleSet{
				{Label: "amortize " + model.Spec.Kind, Samples: res[0].samples, Color: color.NRGBA{R: 220, G: 40, B: 40, A: 120}},
				{Label: "reference posterior (sbibm)", Samples: res[0].ref.Samples, Color: color.NRGBA{R: 20, G: 60, B: 200, A: 40}},
			}, diagnostics.PairPlotOptions{Names: t.ThetaNames, SizeCm: 14, Title: demoTitle(t.Name, res[0])}); err != nil {
				return err
			}
			plot := filepath.Join(r.outDir, "pairplot.png")
			if err := os.WriteFile(plot, png.Bytes(), 0o644); err != nil {
				return err
			}
			if err := demoSBC(cmd, t, r.outDir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model file %s, samples %s, pair plot %s\n",
				filepath.Join(r.outDir, "model.onnx"), filepath.Join(r.outDir, fmt.Sprintf("obs%02d_samples.csv", obs)), plot)
			return nil
		},
	}
	r.tf.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&r.sims, "sims", 10000, "simulation budget")
	fl.IntVar(&obs, "obs", 1, "reference observation (1–10)")
	fl.StringVar(&r.outDir, "out", "demo-out", "output directory")
	r.registerBenchDir(cmd)
	fl.IntVar(&r.samples, "samples", 10000, "posterior samples")
	fl.IntVar(&r.c2stN, "c2st-n", 0, "compare only the first N samples (0: all)")
	r.mcmc.RegisterWith(fl, 100, 100) // for --method nle and nre
	return cmd
}

// demoTitle names the observation and the score of one result.
func demoTitle(task string, r obsResult) string {
	x := make([]string, len(r.ref.Observation))
	for i, v := range r.ref.Observation {
		x[i] = strconv.FormatFloat(v, 'g', 3, 64)
	}
	return fmt.Sprintf("%s, observation %d: x = (%s), C2ST %.3f", task, r.obs, strings.Join(x, ", "), r.c2st)
}
