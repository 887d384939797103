package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/runtime"
	"github.com/spf13/cobra"
)

// maxReps bounds --reps: the latency figure keeps 100 timings per rep.
const maxReps = 10_000

// speedCmd times the four figures users compare with sbi on one model file:
// many samples for one x, single-sample latency, many observations at once,
// and log-probs. Each figure is the median of repeated runs in this process.
func speedCmd() *cobra.Command {
	var reps int
	cmd := &cobra.Command{
		Use:   "speed MODEL.onnx",
		Short: "Time sampling and log-prob of a model file through onnxruntime",
		Example: `  amortize bench speed two_moons_nsf.onnx
  amortize bench speed model.onnx --reps 50 --threads 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckRange("--reps", reps, 1, maxReps); err != nil {
				return err
			}
			opts, err := cli.RuntimeOptions(cmd)
			if err != nil {
				return err
			}
			start := time.Now()
			m, err := runtime.Open(args[0], opts)
			if err != nil {
				return err
			}
			defer m.Close()
			open := time.Since(start)
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float32, 100*m.XDim())
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			theta := make([]float32, 10_000*m.ThetaDim())
			for i := range theta {
				theta[i] = float32(rng.NormFloat64())
			}
			var out runtime.Output
			var noise []float32
			src := rand.NewPCG(3, 4)
			run := func(b, nTheta, nSample int) error {
				noise = m.Noise(noise, b*nSample, src)
				_, err := m.Run(x[:b*m.XDim()], b, theta[:b*nTheta*m.ThetaDim()], nTheta, noise, nSample, &out)
				return err
			}
			cases := []struct {
				name             string
				b, nTheta, nSamp int
				rows             int
				latency          bool
			}{
				{"(a) 10,000 samples, one x", 1, 0, 10_000, 10_000, false},
				{"(b) 1 sample, one x (latency)", 1, 0, 1, 1, true},
				{"(c) 100 x × 1,000 samples", 100, 0, 1000, 100_000, false},
				{"(d) log-prob of 10,000 θ, one x", 1, 10_000, 0, 10_000, false},
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "model\t%s (θ %d, x %d)\n", m.Metadata().Estimator, m.ThetaDim(), m.XDim())
			fmt.Fprintf(w, "open\t%v\n", open.Round(time.Microsecond))
			fmt.Fprintln(w, "figure\tmedian\trows/s")
			for _, c := range cases {
				n := reps
				if c.latency {
					n = 100 * reps
				}
				times := make([]time.Duration, 0, n)
				if err := run(c.b, c.nTheta, c.nSamp); err != nil { // warm up
					return err
				}
				for range n {
					t0 := time.Now()
					if err := run(c.b, c.nTheta, c.nSamp); err != nil {
						return err
					}
					times = append(times, time.Since(t0))
				}
				slices.Sort(times)
				med := times[len(times)/2]
				fmt.Fprintf(w, "%s\t%v\t%.0f\n", c.name, med.Round(time.Microsecond), float64(c.rows)/med.Seconds())
			}
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&reps, "reps", 20, "repetitions per figure (latency: 100×)")
	return cmd
}
