package cli

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckValues(t *testing.T) {
	for _, c := range []struct {
		v       int
		perUnit []int
		ok      bool
	}{
		{MaxValues, nil, true},
		{MaxValues + 1, nil, false},
		{MaxValues / 4, []int{2, 2}, true},
		{MaxValues/4 + 1, []int{2, 2}, false},
		{1 << 20, []int{1 << 20}, false},
		{math.MaxInt, []int{math.MaxInt, 3}, false}, // overflows int
		{1 << 33, []int{1 << 33}, false},            // wraps to 0 without saturation
		{5, []int{0, -1}, true},                     // a factor below 1 counts as 1
	} {
		err := CheckValues("--n", c.v, c.perUnit...)
		var u UsageError
		if (err == nil) != c.ok || (err != nil && (!errors.As(err, &u) || !strings.HasPrefix(err.Error(), "--n "))) {
			t.Errorf("CheckValues(%d, %v) = %v, want ok %v", c.v, c.perUnit, err, c.ok)
		}
	}
}

func TestCheckRange(t *testing.T) {
	if err := CheckRange("--reps", 0, 1, math.MaxInt); err == nil || err.Error() != "--reps 0: want at least 1" {
		t.Errorf("open range: %v", err)
	}
	if err := CheckRange("--obs", 11, 1, 10); err == nil || err.Error() != "--obs 11: want 1 to 10" {
		t.Errorf("closed range: %v", err)
	}
	if err := CheckRange("--obs", 10, 1, 10); err != nil {
		t.Errorf("in range: %v", err)
	}
}
