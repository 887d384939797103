package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/amortize/amortize/api"
	"github.com/spf13/cobra"
)

func inspectCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Print a model file's contract and metadata",
		Long: `inspect prints what a model file promises: its estimator, the names and
dimensions of θ and x, the prior, the z-scoring built into the graph, the
training summary and the tensors of the ONNX contract. With --json it prints
the same object as the server's GET /v1/models/{name}.`,
		Example: `  amortize-infer inspect two_moons.onnx
  amortize-infer inspect two_moons.onnx --json | jq .prior`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := open(g, args[0])
			if err != nil {
				return err
			}
			defer m.Close()
			info := api.Describe(strings.TrimSuffix(filepath.Base(args[0]), ".onnx"), m.Metadata())
			if asJSON {
				b, err := json.MarshalIndent(info, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			return describe(cmd.OutOrStdout(), info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// describe writes info for people.
func describe(w io.Writer, info api.ModelInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	z, t := info.ZScore, info.Training
	row("model", "%s", info.Name)
	row("format", "%s", info.FormatVersion)
	row("method", "%s", info.Method)
	row("estimator", "%s %s", info.Estimator, compact(info.Spec))
	row("theta", "%d: %s", info.ThetaDim, strings.Join(info.ThetaNames, ", "))
	row("x", "%d: %s", info.XDim, strings.Join(info.XNames, ", "))
	row("prior", "%s", compact(info.Prior))
	row("z-score θ", "mean %v, std %v", z.ThetaMean, z.ThetaStd)
	row("z-score x", "mean %v, std %v", z.XMean, z.XStd)
	if info.Noise.Dim() > 0 {
		row("noise", "%d standard normal + %d uniform per draw", info.Noise.Normal, info.Noise.Uniform)
	}
	if len(info.Loss) > 0 {
		row("loss", "%s", compact(info.Loss))
	}
	row("training", "%d simulations, %d epochs (best %d, validation loss %.6g), seed %d, %.1f s",
		t.Simulations, t.Epochs, t.BestEpoch, t.BestValLoss, t.Seed, t.TrainSeconds)
	fmt.Fprintln(tw)
	for _, io := range []struct {
		title string
		ts    []api.Tensor
	}{{"inputs", info.Inputs}, {"outputs", info.Outputs}} {
		fmt.Fprintln(tw, io.title)
		for _, t := range io.ts {
			shape := make([]string, len(t.Shape))
			for i, s := range t.Shape {
				shape[i] = fmt.Sprint(s)
			}
			fmt.Fprintf(tw, "  %s\t%s [%s]\n", t.Name, t.Type, strings.Join(shape, ", "))
		}
	}
	return tw.Flush()
}

// compact prints raw JSON on one line.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
