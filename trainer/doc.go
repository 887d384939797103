// Package trainer fits the estimators of package models to simulations by
// neural posterior estimation (NPE), on gorgonia expression graphs.
//
// Train is the entry point: it z-scores θ and x, splits off a validation
// set, and minimises −mean log q(θ|x) with Adam and global-norm gradient
// clipping until the validation loss stops improving, as sbi does, with
// sbi's defaults. Runs are reproducible from their seed, can be cancelled
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
