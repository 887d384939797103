package trainer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amortize/amortize/models"
)

// FuzzCheckpoint resumes a short run from fuzzed checkpoint bytes: the run
// goes on, or stops with an error naming the checkpoint; it never panics
// or runs on past its epochs.
func FuzzCheckpoint(f *testing.F) {
	theta, x := linearGaussian(40, 0.5, 6)
	spec := gaussianSpec(f)
	spec.Hidden = 4
	opts := Options{Seed: 3, BatchSize: 16, MaxEpochs: 1}
	path := filepath.Join(f.TempDir(), "run.ckpt")
	opts.CheckpointPath = path
	if _, err := Train(context.Background(), spec, theta, x, opts); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	cp, err := decodeCheckpoint(good)
	if err != nil {
		f.Fatal(err)
	}
	c := *cp
	for _, edit := range []func(c *checkpointFile){
		func(c *checkpointFile) { c.TrainRows[0] = 1 << 40 },
		func(c *checkpointFile) { c.ValRows[0] = -1 },
		func(c *checkpointFile) { c.TrainRows[0] = c.TrainRows[1] },
		func(c *checkpointFile) { c.Epoch = -1 << 40 },
		func(c *checkpointFile) { c.Step = 1 << 40 },
		func(c *checkpointFile) { c.Step = -5 },
		func(c *checkpointFile) { c.ThetaStd[0] = 0 },
		func(c *checkpointFile) { c.Version = 1 },
	} {
		e := c
		e.TrainRows, e.ValRows, e.ThetaStd = append([]int(nil), c.TrainRows...), append([]int(nil), c.ValRows...), append([]float64(nil), c.ThetaStd...)
		edit(&e)
		// With a valid checksum, so that the edit reaches the value checks.
		var b bytes.Buffer
		if err := encodeCheckpoint(&b, &e); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	opts.Resume, opts.MaxEpochs = true, 3
	e, err := models.New(spec)
	if err != nil {
		f.Fatal(err)
	}
	defaulted, err := opts.withDefaults(spec.Method)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := opts
		o.CheckpointPath = filepath.Join(t.TempDir(), "run.ckpt")
		if err := os.WriteFile(o.CheckpointPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// Restoring alone first: it is fast, and most inputs end there.
		st := &state[float32]{e: e, spec: e.Spec(), opts: defaulted, dataHash: fingerprint(theta, x)}
		st.opts.CheckpointPath = o.CheckpointPath
		if ok, err := st.restore(theta.RawMatrix().Rows); !ok || err != nil {
			if ok || err == nil || !errors.Is(err, ErrCheckpoint) && !strings.Contains(err.Error(), "trainer") {
				t.Fatalf("restore: %v, %v", ok, err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, err := Train(ctx, spec, theta, x, o)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("a resumed run of 3 epochs of 40 rows did not end")
		}
	})
}
