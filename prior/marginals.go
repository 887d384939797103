package prior

// Typed constructors of the marginals that NewIndependent composes into a
// prior, one per dimension of θ:
//
//	p, err := prior.NewIndependent([]prior.Marginal{prior.Normal(0, 1), prior.Gamma(2, 0.5)})
//
// They only fill in a Marginal, so that a prior is written in one
// expression; NewIndependent checks the parameters and returns an error
// naming the dimension and parameter at fault (never a panic).

// Uniform is the uniform distribution on the closed interval [low, high].
func Uniform(low, high float64) Marginal {
	return Marginal{Family: "uniform", Params: []float64{low, high}}
}

// Normal is the normal distribution of mean mu and standard deviation sigma.
func Normal(mu, sigma float64) Marginal {
	return Marginal{Family: "normal", Params: []float64{mu, sigma}}
}

// LogNormal is the distribution of θ whose log is normal with mean mu and
// standard deviation sigma; its support is (0, +Inf).
func LogNormal(mu, sigma float64) Marginal {
	return Marginal{Family: "lognormal", Params: []float64{mu, sigma}}
}

// Gamma is the gamma distribution of shape alpha and rate beta (mean
// alpha/beta); its support is (0, +Inf).
func Gamma(alpha, beta float64) Marginal {
	return Marginal{Family: "gamma", Params: []float64{alpha, beta}}
}

// Beta is the beta distribution of shapes alpha and beta on (0, 1).
func Beta(alpha, beta float64) Marginal {
	return Marginal{Family: "beta", Params: []float64{alpha, beta}}
}
