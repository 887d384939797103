package simulator

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"

	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/dataset"
)

// Command is a Simulator that runs an external program once per batch, so
// that simulators written in any language (Python, Julia, C) plug into the
// parallel runner. The program reads θ as CSV on stdin (a header row
// theta_1,…, then one row per parameter set) and writes CSV on stdout (a
// header row of distinct names of its choice, then one row of XDim values
// per θ row, in order); NaN or Inf values mark failed simulations. Its randomness should come from the
// seed in $AMORTIZE_SEED, which the runner derives from the chunk's stream,
// so results stay reproducible.
type Command struct {
	Dim  int      // XDim
	Path string   // program
	Args []string // arguments
	// Context, if set, bounds every run of the program.
	Context context.Context
}

// XDim is the dimension of x.
func (c *Command) XDim() int { return c.Dim }

// Simulate runs the program on theta.
func (c *Command) Simulate(x, theta *mat.Dense, src rand.Source) error {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	n, d := theta.Dims()
	var in bytes.Buffer
	if err := dataset.WriteMatrixCSV(&in, dataset.DefaultNames("theta", d), theta, 64); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Stdin = &in
	cmd.Env = append(os.Environ(), "AMORTIZE_SEED="+strconv.FormatUint(src.Uint64()>>1, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("simulator: %s: %w: %s", c.Path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	_, got, err := dataset.ReadMatrixCSV(bytes.NewReader(out))
	if err != nil {
		return fmt.Errorf("simulator: output of %s: %w", c.Path, err)
	}
	if r, cols := got.Dims(); r != n || cols != c.Dim {
		return fmt.Errorf("simulator: %s wrote %d×%d values for %d parameter rows of x dimension %d", c.Path, r, cols, n, c.Dim)
	}
	x.Copy(got)
	return nil
}
