package main

import (
	"math"
	"os"

	"github.com/amortize/amortize/cmd/internal/cli"
	"github.com/amortize/amortize/trainer"
)

// check rejects every training flag value the trainer would refuse or
// silently replace by a default, before any simulation runs.
func (f *trainFlags) check() error {
	o := f.opts
	// The batch's default (0) depends on the method; a given 0 is a mistake.
	minBatch := 0
	if f.flags != nil && f.flags.Changed("batch") {
		minBatch = 1
	}
	// Only signs here: the network's sizes are bounded by models.New when
	// the spec is built, and a batch larger than the data is the whole
	// training split.
	for _, v := range []struct {
		flag   string
		v, min int
	}{
		{"--hidden", f.hidden, 0}, {"--layers", f.layers, 0}, {"--transforms", f.transforms, 0},
		{"--bins", f.bins, 0}, {"--components", f.components, 0},
		{"--batch", o.BatchSize, minBatch}, {"--patience", o.StopAfterEpochs, 1}, {"--max-epochs", o.MaxEpochs, 0},
		{"--lr-patience", o.LRPatience, 1},
	} {
		if err := cli.CheckRange(v.flag, v.v, v.min, math.MaxInt); err != nil {
			return err
		}
	}
	switch {
	case !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 0):
		return cli.Usagef("--lr %v: want a positive number", o.LearningRate)
	case !(o.ValidationFraction > 0 && o.ValidationFraction < 1):
		return cli.Usagef("--validation %v: want a fraction between 0 and 1, both excluded", o.ValidationFraction)
	case o.LRDecay != 0 && !(o.LRDecay > 0 && o.LRDecay < 1):
		return cli.Usagef("--lr-decay %v: want 0 (off) or a factor between 0 and 1, both excluded", o.LRDecay)
	case !(o.ClipMaxNorm >= 0):
		return cli.Usagef("--clip %v: want 0 (off) or a positive norm", o.ClipMaxNorm)
	}
	return nil
}

// options are the trainer's options for the flags: --clip 0 is off,
// where the trainer reads 0 as its default.
func (f *trainFlags) options() trainer.Options {
	o := f.opts
	if o.ClipMaxNorm == 0 {
		o.ClipMaxNorm = trainer.NoClip
	}
	return o
}

// checkCheckpoint refuses to replace an existing checkpoint, the state of
// a run that may have taken hours, unless the user resumes it or says so.
func checkCheckpoint(path string, resume, force bool) error {
	if path == "" {
		if resume || force {
			return cli.Usagef("--resume and --force need --checkpoint")
		}
		return nil
	}
	if resume && force {
		return cli.Usagef("give --resume or --force, not both")
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return cli.Usagef("--checkpoint %s is a directory", path)
	case err == nil && !resume && !force:
		return cli.Usagef("--checkpoint %s exists: pass --resume to continue that run, or --force to start afresh and overwrite it", path)
	}
	return nil
}

// maxObservations bounds bench accuracy's --obs: each observation costs
// reference samples and a classifier.
const maxObservations = 1000

// check rejects the run's flag values before any simulation runs.
func (r *accuracyRun) check() error {
	if err := r.tf.check(); err != nil {
		return err
	}
	if err := cli.CheckRange("--samples", r.samples, 1, math.MaxInt); err != nil {
		return err
	}
	if err := cli.CheckValues("--samples", r.samples, len(r.obs), r.task.Prior.Dim()); err != nil {
		return err
	}
	return cli.CheckRange("--c2st-n", r.c2stN, 0, math.MaxInt)
}
