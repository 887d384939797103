// Package zscore fits the standardisation that the trainer applies to θ and
// x and that the diagnostics' classifiers apply to their inputs: each
// column's mean and unbiased standard deviation.
package zscore

import "math"

// MinStd is the smallest standard deviation Fit lets a column divide by.
// sbi floors the std at 1e-14 and so multiplies any later deviation from a
// constant training column by 1e14; a column of less spread is instead left
// unscaled (std 1), so it is only centred.
const MinStd = 1e-14

// Fit returns the mean and unbiased (n−1) standard deviation of each of the
// cols columns of the n rows row(0) … row(n−1). A column whose std is below
// MinStd (constant, or a single row) gets std 1.
func Fit(n, cols int, row func(i int) []float64) (mean, std []float64) {
	mean, std = make([]float64, cols), make([]float64, cols)
	for i := range n {
		for j, v := range row(i)[:cols] {
			mean[j] += v
		}
	}
	fn := float64(n)
	for j := range mean {
		mean[j] /= fn
	}
	for i := range n {
		for j, v := range row(i)[:cols] {
			d := v - mean[j]
			std[j] += d * d
		}
	}
	for j := range std {
		if n > 1 {
			std[j] = math.Sqrt(std[j] / (fn - 1))
		}
		if !(std[j] >= MinStd) {
			std[j] = 1
		}
	}
	return mean, std
}
