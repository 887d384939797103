package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/amortize/amortize/diagnostics"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/simulator"
	"github.com/amortize/amortize/simulator/tasks"
	"github.com/spf13/cobra"
)

// demoSBC is the demo's calibration step: simulation-based calibration
// of the exported model file in outDir with 1,000 simulations of t × 1,000
// posterior draws; it prints the verdict and writes sbc.png beside the
// pair plot.
func demoSBC(cmd *cobra.Command, t *tasks.Task, outDir string) error {
	const n, draws = 1000, 1000
	library, _ := cmd.Flags().GetString("library")
	threads, _ := cmd.Flags().GetInt("threads")
	m, err := runtime.Open(filepath.Join(outDir, "model.onnx"), runtime.Options{LibraryPath: library, Threads: threads})
	if err != nil {
		return err
	}
	defer m.Close()
	post, err := posterior.NewDirect(m, posterior.DirectOptions{Prior: t.Prior})
	if err != nil {
		return err
	}
	// A seed apart from the training simulations'.
	sims, err := simulator.Simulate(cmd.Context(), t.Prior, t.Simulator, n, simulator.Options{Seed: 1 << 20})
	if err != nil {
		return err
	}
	res, err := diagnostics.SBC(cmd.Context(), post, sims.Data.Theta, sims.Data.X, diagnostics.CheckOptions{Draws: draws})
	if err != nil {
		return err
	}
	var png bytes.Buffer
	if err := diagnostics.WriteSBCPlot(&png, res, t.ThetaNames, diagnostics.PNG); err != nil {
		return err
	}
	plot := filepath.Join(outDir, "sbc.png")
	if err := os.WriteFile(plot, png.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s SBC plot %s\n", res.Verdict(t.ThetaNames), plot)
	return nil
}
