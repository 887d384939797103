package posterior

import (
	"slices"
	"testing"
)

// TestGroups: streams share a call while the draws they get beyond their
// plans stay within maxWaste; waiting streams (plan 0) get none.
func TestGroups(t *testing.T) {
	for _, c := range []struct {
		plan []int
		want [][]int
	}{
		{[]int{104, 104, 104}, [][]int{{0, 1, 2}}},
		{[]int{104, 0, 104}, [][]int{{0, 2}}},
		{[]int{112, 112, 16, 112, 512, 100}, [][]int{{4}, {0, 1, 3, 5}, {2}}},
		// A second 60 would bring the waste to 80 draws.
		{[]int{60, 100, 60, 100}, [][]int{{1, 3, 0}, {2}}},
		{[]int{100, 60}, [][]int{{0, 1}}},
		{[]int{0}, nil},
	} {
		b := &batch{plan: c.plan}
		got := b.groups()
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("plans %v: groups %v, want %v", c.plan, got, c.want)
		}
	}
}

// TestCapDraws: the draws of one call never need more than maxCallValues
// values per column count, whatever the file declares, and the defaults of
// models of real sizes are left alone.
func TestCapDraws(t *testing.T) {
	for _, c := range []struct{ draws, cols, want int }{
		{DefaultBatchDraws, 3, DefaultBatchDraws},
		{100_000, 10, 100_000},
		{100_000, 1000, 16768},  // 2^24/1000 = 16777, down to a multiple of 16
		{100_000, 100_000, 160}, // the format's largest noise
		{2048, 1 << 40, 16},     // at least one multiple of Lanes
	} {
		got := capDraws(c.draws, c.cols)
		if got != c.want {
			t.Errorf("capDraws(%d, %d) = %d, want %d", c.draws, c.cols, got, c.want)
		}
		if got > 16 && got*c.cols > maxCallValues {
			t.Errorf("capDraws(%d, %d) = %d: %d values", c.draws, c.cols, got, got*c.cols)
		}
	}
}
