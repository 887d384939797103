package trainer

// UseBLAS sends gonum's process-wide float64 BLAS (package blas64, which
// gonum/mat, package prior and the C2ST classifier of package diagnostics
// multiply with) to the library the trainer's own products use, OpenBLAS
// when built with cgo, and sets that library's thread count to threads (at
// least 1). Both are settings of the whole process: call UseBLAS once, at
// start, before other goroutines use gonum. Without cgo, or with -tags
// noopenblas, it does nothing.
//
// One thread is what the amortize command uses: C2ST trains its folds in
// parallel, and more OpenBLAS threads on its small products only contend
// for the cores (a 10-D C2ST took three times as long with two threads as
// with one on two cores). Train and Build set the thread count themselves
// (Options.Threads, BuildOptions.Threads) but never change blas64.
func UseBLAS(threads int) {
	setThreads(max(threads, 1))
	useBLAS64()
}
