package trainer

import (
	"context"
	"fmt"

	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/models"
	"github.com/amortize/amortize/prior"
)

// TrainDataset trains as Train does on data's simulations and returns a
// complete model: it carries data's column names (the defaults where they
// are nil) and prior besides the training summary, so that its model file
// samples as it is. data.Prior must be set and have a JSON encoding (every
// prior of package prior does): Simulate sets it, and Load reads it from
// the dataset's files.
func TrainDataset(ctx context.Context, spec models.Spec, data *dataset.Dataset, opts Options) (*models.Model, error) {
	if data == nil {
		return nil, fmt.Errorf("%w: nil dataset", ErrData)
	}
	if data.Prior == nil {
		return nil, fmt.Errorf("%w: the dataset has no prior, which a model file needs to sample: set Dataset.Prior", ErrData)
	}
	if err := data.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrData, err)
	}
	pj, err := prior.Marshal(data.Prior)
	if err != nil {
		return nil, fmt.Errorf("%w: the dataset's prior: %w", ErrData, err)
	}
	m, err := Train(ctx, spec, data.Theta, data.X, opts)
	if err != nil {
		return nil, err
	}
	m.ThetaNames, m.XNames = data.Names()
	m.Prior = pj
	return m, nil
}
