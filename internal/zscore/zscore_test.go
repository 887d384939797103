package zscore_test

import (
	"math"
	"testing"

	"github.com/amortize/amortize/internal/zscore"
)

// TestFit checks the mean and n−1 std against hand values, and the columns
// too flat to divide by: constant, below MinStd, and a single row.
func TestFit(t *testing.T) {
	rows := [][]float64{
		{1, 5, 3, 1},
		{2, 5, 3 + 1e-15, 1e-9},
		{6, 5, 3, 0},
	}
	mean, std := zscore.Fit(len(rows), 4, func(i int) []float64 { return rows[i] })
	wantMean := []float64{3, 5, 3 + 1e-15/3, (1 + 1e-9) / 3}
	// Column 0: deviations −2, −1, 3; squares sum to 14 over n−1 = 2.
	wantStd := []float64{math.Sqrt(7), 1, 1, 0}
	wantStd[3] = math.Sqrt((sq(1-wantMean[3]) + sq(1e-9-wantMean[3]) + sq(wantMean[3])) / 2)
	for j := range 4 {
		if math.Abs(mean[j]-wantMean[j]) > 1e-15*math.Abs(wantMean[j]) {
			t.Errorf("column %d: mean %v, want %v", j, mean[j], wantMean[j])
		}
		if math.Abs(std[j]-wantStd[j]) > 1e-15*wantStd[j] {
			t.Errorf("column %d: std %v, want %v", j, std[j], wantStd[j])
		}
	}

	mean, std = zscore.Fit(1, 2, func(int) []float64 { return []float64{4, -2} })
	if mean[0] != 4 || mean[1] != -2 || std[0] != 1 || std[1] != 1 {
		t.Errorf("one row: mean %v, std %v, want [4 -2] and [1 1]", mean, std)
	}
}

func sq(v float64) float64 { return v * v }
