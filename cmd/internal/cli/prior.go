package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/prior"
)

// PriorHelp describes a --prior flag's value.
const PriorHelp = `prior: inline JSON such as '{"type":"box_uniform","low":[-1,-1],"high":[1,1]}', or a file holding it`

// ReadPrior reads a --prior value: inline JSON when it starts with '{',
// otherwise the path of a JSON file. Errors are usage errors naming the
// flag.
func ReadPrior(value string) (prior.Prior, error) {
	if s := strings.TrimSpace(value); strings.HasPrefix(s, "{") {
		if len(s) > prior.MaxJSONSize {
			return nil, usagef("--prior: inline JSON longer than %d bytes", prior.MaxJSONSize)
		}
		p, err := prior.Unmarshal([]byte(s))
		if err != nil {
			return nil, usagef("--prior: %w", err)
		}
		return p, nil
	}
	p, err := prior.ReadFile(value)
	if err != nil {
		return nil, usagef("--prior %s: %w", value, err)
	}
	return p, nil
}

// noPrior turns the posterior's missing-prior error into advice for the
// command line.
func noPrior(model string, err error) error {
	if errors.Is(err, posterior.ErrNoPrior) {
		return fmt.Errorf("%s has no prior, and sampling needs one to keep θ inside its support: "+
			"train the model with a prior (amortize train --prior JSON|FILE, or --data from amortize simulate)", model)
	}
	return err
}
