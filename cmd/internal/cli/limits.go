package cli

import (
	"math"
	"net"
	"strconv"
	"time"

	"github.com/amortize/amortize/serve"
	"github.com/spf13/cobra"
)

// MaxValues is the most numbers one command may hold for its data or its
// result: 2^28, 2 GiB as float64. A size flag beyond it (sample --n,
// simulate --n, train --sims, …) is a usage error before anything is
// allocated, instead of the Go runtime's "out of memory" crash; larger jobs
// are split into several runs.
const MaxValues = 1 << 28

// MaxThreads bounds --threads: onnxruntime starts one thread per unit.
const MaxThreads = 1024

// CheckValues is a usage error when v (the value of flag) times the
// numbers each unit of it holds exceeds MaxValues.
func CheckValues(flag string, v int, perUnit ...int) error {
	total, per := v, 1
	for _, p := range perUnit {
		p = max(p, 1)
		per = saturatingMul(per, p)
		total = saturatingMul(total, p)
	}
	if total > MaxValues {
		return Usagef("%s %d: %d × %d numbers is more than the %d one run may hold; split the run", flag, v, v, per, MaxValues)
	}
	return nil
}

func saturatingMul(a, b int) int {
	if a > 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

// CheckRange is a usage error unless lo ≤ v ≤ hi.
func CheckRange(flag string, v, lo, hi int) error {
	switch {
	case v >= lo && v <= hi:
		return nil
	case hi == math.MaxInt:
		return Usagef("%s %d: want at least %d", flag, v, lo)
	}
	return Usagef("%s %d: want %d to %d", flag, v, lo, hi)
}

// Name is the program name for messages, the root command's: amortize or
// amortize-infer, whichever the user ran.
func Name(cmd *cobra.Command) string { return cmd.Root().Name() }

// checkServeFlags rejects serve's flag values that serve.New would take
// for its defaults (zero) or refuse later, or that would not fit in memory.
func checkServeFlags(cfg *serve.Config, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Usagef("--addr %q: want host:port, e.g. 127.0.0.1:8080: %w", addr, err)
	}
	// A named port ("http") is the listener's to resolve.
	if n, err := strconv.Atoi(port); err == nil && (n < 0 || n > 65535) {
		return Usagef("--addr %q: port %d out of range", addr, n)
	}
	for _, v := range []struct {
		flag        string
		v, min, max int
	}{
		{"--max-body", int(cfg.MaxBodyBytes), 1, math.MaxInt},
		{"--max-samples", cfg.MaxSamples, 1, MaxValues},
		{"--max-concurrent", cfg.MaxConcurrent, 1, math.MaxInt32},
		{"--batch-draws", cfg.BatchDraws, 1, MaxValues},
		{"--workers", cfg.Workers, 0, MaxThreads},
	} {
		if err := CheckRange(v.flag, v.v, v.min, v.max); err != nil {
			return err
		}
	}
	for _, v := range []struct {
		flag string
		d    time.Duration
	}{{"--timeout", cfg.Timeout}, {"--shutdown-timeout", cfg.ShutdownTimeout}} {
		if v.d <= 0 {
			return Usagef("%s %v: want a positive duration", v.flag, v.d)
		}
	}
	return nil
}
