package posterior

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// Convergence summarises an MCMC run for one observation: split R-hat and
// bulk effective sample size per dimension, both rank-normalised as in
// Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization,
// folding, and localization: an improved R-hat for assessing convergence
// of MCMC" (https://doi.org/10.1214/20-BA1221), and the sampler's own
// figures.
type Convergence struct {
	Method string
	// Chains, Warmup and Thin are the run's settings; Draws is the kept
	// draws per chain after thinning.
	Chains, Warmup, Thin, Draws int
	// RHat is the rank-normalised split R-hat per dimension: the larger of
	// the bulk and the folded (tail) value. Above 1.01 the chains disagree.
	RHat []float64
	// ESS is the rank-normalised bulk effective sample size per dimension,
	// over all kept draws of all chains.
	ESS []float64
	// Acceptance is the fraction of proposals accepted (ensemble; 1 for
	// slice sampling, whose every step moves).
	Acceptance float64
	// EvalsPerStep is the mean potential evaluations per chain per step,
	// the initial states' (and SIR's candidates') left out
	// (slice sampling: a step updates every coordinate).
	EvalsPerStep float64
	// Warning says what is wrong when R-hat exceeds MaxRHat or ESS is
	// low; empty otherwise.
	Warning string
}

// MaxRHat is the largest split R-hat taken as converged.
const MaxRHat = 1.01

// minESS is the bulk ESS below which a warning is given: Vehtari et al.'s
// 400, or half the draws for runs too short to reach it.
func minESS(total int) float64 { return math.Min(400, float64(total)/2) }

// judge fills in Warning.
func (c *Convergence) judge() {
	if c.Draws < 4 {
		c.Warning = fmt.Sprintf("only %d draws per chain: too few to judge convergence; ask for more samples or use fewer chains", c.Draws)
		return
	}
	var msgs []string
	worstR, rDim := 0.0, -1
	for j, r := range c.RHat {
		if r > worstR || math.IsNaN(r) {
			worstR, rDim = r, j
		}
	}
	if rDim >= 0 && !(worstR <= MaxRHat) {
		msgs = append(msgs, fmt.Sprintf("R-hat %.3f > %.2f in θ dimension %d: the chains have not mixed, or stay in separate modes of a multimodal posterior (then the pooled draws can still be right: docs/MCMC.md)", worstR, MaxRHat, rDim))
	}
	low := minESS(c.Chains * c.Draws)
	worstE, eDim := math.Inf(1), -1
	for j, e := range c.ESS {
		if e < worstE || math.IsNaN(e) {
			worstE, eDim = e, j
		}
	}
	if eDim >= 0 && !(worstE >= low) {
		msgs = append(msgs, fmt.Sprintf("bulk ESS %.0f < %.0f in θ dimension %d: the draws are strongly correlated", worstE, low, eDim))
	}
	if len(msgs) > 0 {
		c.Warning = strings.Join(msgs, "; ") + "; run longer (more warm-up steps or draws), thin more or use more chains"
	}
}

// String is a one-line summary for logs and the command line.
func (c *Convergence) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d chains × %d draws (warm-up %d, thin %d)", c.Method, c.Chains, c.Draws, c.Warmup, c.Thin)
	fmt.Fprintf(&b, ", R-hat max %.4f, bulk ESS min %.0f", maxOf(c.RHat), minOf(c.ESS))
	if c.Method == MethodEnsemble {
		fmt.Fprintf(&b, ", acceptance %.2f", c.Acceptance)
	} else {
		fmt.Fprintf(&b, ", %.1f evaluations per step", c.EvalsPerStep)
	}
	return b.String()
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// RHat returns the rank-normalised split R-hat of chains (each a slice of
// draws of one scalar, all of equal length ≥ 4): the larger of the bulk
// value and that of the draws folded about their median.
func RHat(chains [][]float64) float64 {
	split := splitChains(chains)
	bulk := rhat(zScale(split))
	med := median(split)
	folded := make([][]float64, len(split))
	for i, c := range split {
		folded[i] = make([]float64, len(c))
		for k, v := range c {
			folded[i][k] = math.Abs(v - med)
		}
	}
	return math.Max(bulk, rhat(zScale(folded)))
}

// BulkESS returns the rank-normalised bulk effective sample size of chains
// (each of equal length ≥ 4).
func BulkESS(chains [][]float64) float64 { return ess(zScale(splitChains(chains))) }

// splitChains cuts each chain into halves (dropping the middle draw of an
// odd length), so that a trend within a chain shows as disagreement.
func splitChains(chains [][]float64) [][]float64 {
	out := make([][]float64, 0, 2*len(chains))
	for _, c := range chains {
		h := len(c) / 2
		out = append(out, c[:h], c[len(c)-h:])
	}
	return out
}

// zScale replaces every draw by the normal quantile of its pooled rank,
// Φ⁻¹((r − 3/8)/(S + 1/4)), ties given their average rank.
func zScale(chains [][]float64) [][]float64 {
	type item struct {
		v    float64
		c, k int
	}
	var all []item
	for c, ch := range chains {
		for k, v := range ch {
			all = append(all, item{v, c, k})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].v < all[b].v })
	out := make([][]float64, len(chains))
	for c, ch := range chains {
		out[c] = make([]float64, len(ch))
	}
	s := float64(len(all))
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // 1-based average of i+1 … j
		z := distuv.UnitNormal.Quantile((rank - 0.375) / (s + 0.25))
		for _, it := range all[i:j] {
			out[it.c][it.k] = z
		}
		i = j
	}
	return out
}

func median(chains [][]float64) float64 {
	var all []float64
	for _, c := range chains {
		all = append(all, c...)
	}
	slices.Sort(all)
	n := len(all)
	if n%2 == 1 {
		return all[n/2]
	}
	return (all[n/2-1] + all[n/2]) / 2
}

func meanVar(x []float64) (mean, variance float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(x)-1)
}

// rhat is the classic potential scale reduction of equal-length chains.
func rhat(chains [][]float64) float64 {
	n := float64(len(chains[0]))
	means := make([]float64, len(chains))
	within := 0.0
	for i, c := range chains {
		m, v := meanVar(c)
		means[i] = m
		within += v
	}
	within /= float64(len(chains))
	_, bv := meanVar(means)
	between := n * bv
	if within == 0 {
		if between == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return math.Sqrt((between/within + n - 1) / n)
}

// ess is the effective sample size of equal-length chains from their
// autocorrelations, truncated by Geyer's initial monotone sequence, as
// Stan and ArviZ compute it.
func ess(chains [][]float64) float64 {
	m, n := len(chains), len(chains[0])
	total := float64(m * n)
	means := make([]float64, m)
	acov := func(c, lag int) float64 {
		s := 0.0
		ch := chains[c]
		for k := 0; k+lag < n; k++ {
			s += (ch[k] - means[c]) * (ch[k+lag] - means[c])
		}
		return s / float64(n)
	}
	meanAcov := func(lag int) float64 {
		s := 0.0
		for c := range m {
			s += acov(c, lag)
		}
		return s / float64(m)
	}
	for c, ch := range chains {
		means[c], _ = meanVar(ch)
	}
	meanVarW := meanAcov(0) * float64(n) / float64(n-1)
	_, bv := meanVar(means)
	varPlus := meanVarW*float64(n-1)/float64(n) + bv
	if varPlus == 0 {
		return total
	}
	rho := make([]float64, n+1)
	rho[0] = 1
	rhoOf := func(lag int) float64 { return 1 - (meanVarW-meanAcov(lag))/varPlus }
	even, odd := 1.0, rhoOf(1)
	rho[1] = odd
	t := 1
	for t < n-3 && even+odd > 0 {
		even, odd = rhoOf(t+1), rhoOf(t+2)
		if even+odd >= 0 {
			rho[t+1], rho[t+2] = even, odd
		}
		t += 2
	}
	maxT := t - 2
	if even > 0 {
		rho[maxT+1] = even
	}
	for t := 1; t <= maxT-2; t += 2 {
		if rho[t+1]+rho[t+2] > rho[t-1]+rho[t] {
			rho[t+1] = (rho[t-1] + rho[t]) / 2
			rho[t+2] = rho[t+1]
		}
	}
	tau := -rho[0]
	for _, r := range rho[:maxT+1] {
		tau += 2 * r
	}
	tau += rho[maxT+1]
	tau = math.Max(tau, 1/math.Log10(total))
	return total / tau
}
