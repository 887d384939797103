package trainer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"time"

	"github.com/amortize/amortize/internal/atomicfile"
	"github.com/amortize/amortize/models"
	"gonum.org/v1/gonum/mat"
)

// checkpointVersion changes whenever checkpointFile does. Version 1 had
// no learning-rate schedule; it resumes as a run without one.
const checkpointVersion = 2

// checkpointMagic starts a checkpoint file; the payload's length (uint64,
// little-endian) and SHA-256 follow, then the payload, checkpointFile in
// gob, so that a truncated or corrupted file is refused rather than resumed
// with damaged weights. Files without the magic are older checkpoints
// (versions 1 and 2), written before the checksum: they are still resumed,
// guarded only by gob's decoding and restore's consistency checks, and
// the next checkpoint is written with a checksum.
var checkpointMagic = []byte("amortize checkpoint\n")

const (
	checkpointHeader     = 8 + sha256.Size
	lastUncheckedVersion = 2
)

// checkpointFile is everything a run needs to continue exactly where it
// stopped. Values are float64 whatever the training dtype: float32 values
// round-trip through float64 exactly.
type checkpointFile struct {
	Version int

	// What must match for a resumed run to be the same run. Spec holds
	// the method; Loss is zero for density estimators.
	Spec               models.Spec
	Loss               models.Loss
	Seed               uint64
	Float64            bool
	BatchSize          int
	ValidationFraction float64
	LearningRate       float64
	ClipMaxNorm        float64
	LRDecay            float64
	LRPatience         int
	Rows               int
	Fingerprint        uint64

	TrainRows, ValRows               []int
	ThetaMean, ThetaStd, XMean, XStd []float64

	Weights, AdamM, AdamV, Best []float64
	AdamT                       int
	LR                          float64 // the current, possibly decayed, rate
	PlateauBad                  int

	BestValLoss      float64
	BestEpoch        int
	SinceImprovement int
	Epoch, Step      int
	TrainLossSum     float64
	Steps            int
	Elapsed          time.Duration
}

// checkpoint writes the state, if there is a path, atomically: to a
// temporary file in the same directory, then renamed over the old one.
func (t *state[T]) checkpoint(start time.Time) (err error) {
	path := t.opts.CheckpointPath
	if path == "" {
		return nil
	}
	c := checkpointFile{
		Version: checkpointVersion,
		Spec:    t.spec, Loss: t.opts.Loss, Seed: t.opts.Seed, Float64: t.opts.Float64, BatchSize: t.opts.BatchSize,
		ValidationFraction: t.opts.ValidationFraction, LearningRate: t.opts.LearningRate, ClipMaxNorm: t.opts.ClipMaxNorm,
		LRDecay: t.opts.LRDecay, LRPatience: t.opts.LRPatience,
		Rows: len(t.trainRows) + len(t.valRows), Fingerprint: t.dataHash,
		TrainRows: t.trainRows, ValRows: t.valRows,
		ThetaMean: t.thetaMean, ThetaStd: t.thetaStd, XMean: t.xMean, XStd: t.xStd,
		Weights: widen(t.params), AdamM: widen(t.opt.m), AdamV: widen(t.opt.v), Best: widen(t.best), AdamT: t.opt.t,
		LR: t.opt.lr, PlateauBad: t.plateau.bad,
		BestValLoss: t.bestValLoss, BestEpoch: t.bestEpoch, SinceImprovement: t.sinceImprovement,
		Epoch: t.epoch, Step: t.step, TrainLossSum: t.trainLossSum, Steps: t.steps,
		Elapsed: t.elapsed + time.Since(start),
	}
	// A checkpoint is private to whoever trains.
	if err := atomicfile.Write(path, 0o600, func(w io.Writer) error { return encodeCheckpoint(w, &c) }); err != nil {
		return fmt.Errorf("trainer: writing checkpoint: %w", err)
	}
	return nil
}

// restore loads the checkpoint at the options' path into t. It reports
// false, and no error, when there is no checkpoint yet.
func (t *state[T]) restore(rows int) (bool, error) {
	b, err := os.ReadFile(t.opts.CheckpointPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("trainer: reading checkpoint: %w", err)
	}
	c, err := decodeCheckpoint(b)
	if err != nil {
		return false, fmt.Errorf("%w: %s: %w", ErrCheckpoint, t.opts.CheckpointPath, err)
	}
	o := t.opts
	mismatch := func(what string, have, want any) (bool, error) {
		return false, fmt.Errorf("%w: %s: %s is %v, this run's is %v", ErrCheckpoint, o.CheckpointPath, what, have, want)
	}
	if c.Version == 1 {
		c.LRPatience, c.LR = o.LRPatience, c.LearningRate
	}
	switch {
	case c.Version < 1 || c.Version > checkpointVersion:
		return mismatch("format version", c.Version, checkpointVersion)
	case c.Spec != t.spec:
		return mismatch("spec", c.Spec, t.spec)
	case c.Loss != o.Loss:
		return mismatch("loss", c.Loss, o.Loss)
	case c.Seed != o.Seed:
		return mismatch("seed", c.Seed, o.Seed)
	case c.Float64 != o.Float64:
		return mismatch("float64", c.Float64, o.Float64)
	case c.BatchSize != o.BatchSize:
		return mismatch("batch size", c.BatchSize, o.BatchSize)
	case c.ValidationFraction != o.ValidationFraction:
		return mismatch("validation fraction", c.ValidationFraction, o.ValidationFraction)
	case c.LearningRate != o.LearningRate:
		return mismatch("learning rate", c.LearningRate, o.LearningRate)
	case c.ClipMaxNorm != o.ClipMaxNorm:
		return mismatch("gradient clip", c.ClipMaxNorm, o.ClipMaxNorm)
	case c.LRDecay != o.LRDecay || (o.LRDecay != 0 && c.LRPatience != o.LRPatience): // patience means nothing without decay
		return mismatch("learning-rate decay", fmt.Sprintf("%v after %d", c.LRDecay, c.LRPatience), fmt.Sprintf("%v after %d", o.LRDecay, o.LRPatience))
	case c.Rows != rows || c.Fingerprint != t.dataHash:
		return false, fmt.Errorf("%w: %s was written for other data", ErrCheckpoint, o.CheckpointPath)
	case len(c.TrainRows)+len(c.ValRows) != rows, len(c.ThetaMean) != t.spec.ThetaDim, len(c.XMean) != t.spec.XDim:
		return false, fmt.Errorf("%w: %s is inconsistent", ErrCheckpoint, o.CheckpointPath)
	}
	if err := c.check(rows); err != nil {
		return false, fmt.Errorf("%w: %s is inconsistent: %v", ErrCheckpoint, o.CheckpointPath, err)
	}
	values := make(map[string][]float64)
	off := 0
	for _, p := range t.e.Params() {
		if off+p.Size() > len(c.Weights) {
			return false, fmt.Errorf("%w: %s holds %d weights, fewer than the spec needs", ErrCheckpoint, o.CheckpointPath, len(c.Weights))
		}
		values[p.Name] = c.Weights[off : off+p.Size()]
		off += p.Size()
	}
	if off != len(c.Weights) || len(c.AdamM) != off || len(c.AdamV) != off || len(c.Best) != off {
		return false, fmt.Errorf("%w: %s holds state of the wrong size", ErrCheckpoint, o.CheckpointPath)
	}
	if err := t.setup(values); err != nil {
		return false, err
	}
	narrow(t.opt.m, c.AdamM)
	narrow(t.opt.v, c.AdamV)
	narrow(t.best, c.Best)
	t.opt.t, t.opt.lr, t.plateau.bad = c.AdamT, c.LR, c.PlateauBad
	t.trainRows, t.valRows = c.TrainRows, c.ValRows
	t.thetaMean, t.thetaStd, t.xMean, t.xStd = c.ThetaMean, c.ThetaStd, c.XMean, c.XStd
	t.bestValLoss, t.bestEpoch, t.sinceImprovement = c.BestValLoss, c.BestEpoch, c.SinceImprovement
	t.epoch, t.step, t.trainLossSum, t.steps, t.elapsed = c.Epoch, c.Step, c.TrainLossSum, c.Steps, c.Elapsed
	return true, nil
}

// encodeCheckpoint writes c with its header.
func encodeCheckpoint(w io.Writer, c *checkpointFile) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(c); err != nil {
		return err
	}
	sum := sha256.Sum256(payload.Bytes())
	head := binary.LittleEndian.AppendUint64(append([]byte(nil), checkpointMagic...), uint64(payload.Len()))
	for _, b := range [][]byte{head, sum[:], payload.Bytes()} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// check refuses values a run could not have written, which the run would
// index or loop by: the rows must split 0…rows−1, counters must not be
// negative, the z-scoring must be finite with positive scales.
func (c *checkpointFile) check(rows int) error {
	seen := make([]bool, rows)
	for _, r := range append(slices.Clip(c.TrainRows), c.ValRows...) {
		if r < 0 || r >= rows || seen[r] {
			return fmt.Errorf("row %d of a split of %d rows", r, rows)
		}
		seen[r] = true
	}
	if len(c.TrainRows) == 0 {
		return errors.New("no training rows")
	}
	for _, v := range []struct {
		name string
		v    int
	}{{"epoch", c.Epoch}, {"step", c.Step}, {"steps", c.Steps}, {"best epoch", c.BestEpoch},
		{"epochs since improvement", c.SinceImprovement}, {"Adam's step", c.AdamT}, {"plateau count", c.PlateauBad}} {
		if v.v < 0 {
			return fmt.Errorf("%s %d", v.name, v.v)
		}
	}
	for _, z := range [][]float64{c.ThetaMean, c.ThetaStd, c.XMean, c.XStd} {
		for _, v := range z {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("z-score value %v", v)
			}
		}
	}
	for _, s := range append(slices.Clip(c.ThetaStd), c.XStd...) {
		if s <= 0 {
			return fmt.Errorf("z-score scale %v", s)
		}
	}
	if len(c.ThetaStd) != len(c.ThetaMean) || len(c.XStd) != len(c.XMean) {
		return errors.New("z-score means and scales differ in length")
	}
	if math.IsNaN(c.LR) || math.IsInf(c.LR, 0) || c.LR < 0 {
		return fmt.Errorf("learning rate %v", c.LR)
	}
	return nil
}

// decodeCheckpoint reads a checkpoint file, checking its checksum.
func decodeCheckpoint(b []byte) (*checkpointFile, error) {
	var c checkpointFile
	payload, ok := bytes.CutPrefix(b, checkpointMagic)
	if !ok {
		// An older checkpoint without a checksum.
		if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
			return nil, fmt.Errorf("not a checkpoint, or a damaged one: %w", err)
		}
		if c.Version > lastUncheckedVersion {
			return nil, errors.New("damaged: the checksum header is missing")
		}
		return &c, nil
	}
	if len(payload) < checkpointHeader {
		return nil, fmt.Errorf("truncated: %d bytes after the magic, the header alone is %d", len(payload), checkpointHeader)
	}
	n := binary.LittleEndian.Uint64(payload)
	sum, payload := payload[8:checkpointHeader], payload[checkpointHeader:]
	if n != uint64(len(payload)) {
		return nil, fmt.Errorf("truncated or damaged: the header says %d bytes of state, the file holds %d", n, len(payload))
	}
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return nil, errors.New("damaged: the SHA-256 checksum does not match the contents")
	}
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&c); err != nil {
		return nil, fmt.Errorf("damaged: %w", err)
	}
	return &c, nil
}

func widen[T float](v []T) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

func narrow[T float](dst []T, src []float64) {
	for i, f := range src {
		dst[i] = T(f)
	}
}

// fingerprint hashes the data, so that a checkpoint is never resumed on
// other simulations.
func fingerprint(theta, x *mat.Dense) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, m := range []*mat.Dense{theta, x} {
		r, c := m.Dims()
		binary.LittleEndian.PutUint64(b[:], uint64(r)<<32|uint64(c))
		h.Write(b[:])
		for i := range r {
			for _, v := range m.RawRowView(i) {
				binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
				h.Write(b[:])
			}
		}
	}
	return h.Sum64()
}
