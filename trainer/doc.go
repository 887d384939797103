// Package trainer fits the networks of package models to simulations, on
// expression graphs with fused gradients: density estimators by neural
// posterior estimation (NPE, q(θ|x)) or neural likelihood estimation (NLE,
// q(x|θ)), classifiers by neural ratio estimation (NRE: NRE-A, NRE-B,
// NRE-C, BNRE).
//
// Train is the entry point: it z-scores θ and x, splits off a validation
// set, and minimises the method's loss (−mean log q for NPE and NLE) with
// Adam and global-norm gradient clipping until the validation loss stops
// improving, as sbi does, with sbi's defaults; TrainDataset trains on a
// dataset.Dataset and returns a model that carries its names and prior,
// ready to export. Build is the same machinery for training loops of one's
// own. Runs are reproducible from their seed and thread count, can be
// cancelled through their context and resumed from a checkpoint.
//
// Matrix products go to OpenBLAS through cgo (Debian's libopenblas-dev);
// build with -tags noopenblas, or with CGO_ENABLED=0, for pure Go.
//
// Train calls may run concurrently: each builds its own graphs. Train and
// Build set OpenBLAS's thread count, which is process-wide, from their
// options' Threads (default 1); UseBLAS also sends gonum's own products to
// OpenBLAS. Linking the package changes no global setting.
package trainer
