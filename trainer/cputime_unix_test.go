//go:build unix

package trainer

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used: under a
// loaded machine it measures work more steadily than the wall clock.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
