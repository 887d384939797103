// Package trainer fits the networks of package models to simulations, on
// gorgonia expression graphs: density estimators by neural posterior
// estimation (NPE, q(θ|x)) or neural likelihood estimation (NLE, q(x|θ)),
// classifiers by neural ratio estimation (NRE: NRE-A, NRE-B, NRE-C, BNRE).
//
// Train is the entry point: it z-scores θ and x, splits off a validation
// set, and minimises the method's loss (−mean log q for NPE and NLE) with
// Adam and global-norm gradient clipping until the validation loss stops
// improving, as sbi does, with sbi's defaults; TrainDataset trains on a
// dataset.Dataset and returns a model that carries its names and prior,
// ready to export. Build is the same machinery
// for training loops of one's own. Runs are reproducible from their seed, can be cancelled
// through their context and resumed from a checkpoint.
//
// Graph is the gorgonia implementation of models.Ops (and of
// models.SplineOps) that the training runs on. It builds its graphs from
// custom gorgonia ops rather than gorgonia's own: each owns its output
// buffer, never aliases or overwrites an input, broadcasts natively and has
// a fused gradient. That sidesteps the hazards of gorgonia v0.9.18 found
// while evaluating it (Reshape aliasing inputs, #511; stale node values
// after RunAll, #576; a wrong LogSumExp; an allocating, element-wise
// clipping AdamSolver) and makes a training step allocate little. Values
// are read out while the tape runs, never from nodes afterwards.
//
// Matrix products go to OpenBLAS through cgo (Debian's libopenblas-dev);
// build with -tags noopenblas, or with CGO_ENABLED=0, for pure Go.
//
// Train calls may run concurrently: each builds its own graphs. Options.
// Threads sets OpenBLAS's thread count, which is process-wide.
package trainer
