package prior

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"gonum.org/v1/gonum/mat"
)

// Type tags of the JSON encoding.
const (
	typeBoxUniform         = "box_uniform"
	typeIndependent        = "independent"
	typeMultivariateNormal = "multivariate_normal"
)

// Marshal encodes p as tagged JSON (see the package documentation). Only
// this package's priors have an encoding; others give ErrUnknownType.
func Marshal(p Prior) ([]byte, error) {
	switch p := p.(type) {
	case *BoxUniform:
		return p.MarshalJSON()
	case *Independent:
		return p.MarshalJSON()
	case *MultivariateNormal:
		return p.MarshalJSON()
	case nil:
		return nil, fmt.Errorf("%w: nil prior", ErrInvalid)
	}
	return nil, fmt.Errorf("%w: %T has no JSON encoding", ErrUnknownType, p)
}

// Unmarshal decodes a prior written by Marshal. It rejects malformed JSON
// and unknown fields (ErrJSON), unknown type tags (ErrUnknownType) and
// invalid parameters (ErrInvalid, from the constructors).
func Unmarshal(data []byte) (Prior, error) {
	// A first pass checks the syntax of the whole input and reads the tag.
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJSON, err)
	}
	if head.Type == nil {
		return nil, fmt.Errorf("%w: missing \"type\"", ErrJSON)
	}
	switch *head.Type {
	case typeBoxUniform:
		var v boxJSON
		if err := decodeStrict(data, &v); err != nil {
			return nil, err
		}
		return orNil(NewBoxUniform(v.Low, v.High))
	case typeIndependent:
		var v independentJSON
		if err := decodeStrict(data, &v); err != nil {
			return nil, err
		}
		return orNil(NewIndependent(v.Marginals))
	case typeMultivariateNormal:
		var v mvnJSON
		if err := decodeStrict(data, &v); err != nil {
			return nil, err
		}
		cov, err := symFromRows(v.Cov, len(v.Mean))
		if err != nil {
			return nil, err
		}
		return orNil(NewMultivariateNormal(v.Mean, cov))
	}
	return nil, fmt.Errorf("%w: %q (want %s, %s or %s)", ErrUnknownType, *head.Type,
		typeBoxUniform, typeIndependent, typeMultivariateNormal)
}

// orNil converts a constructor's result to a Prior, keeping a failed
// constructor's nil pointer from becoming a non-nil interface.
func orNil[P Prior](p P, err error) (Prior, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// decodeStrict decodes data into v, rejecting fields v does not have: a
// misspelt key would otherwise be dropped silently.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrJSON, err)
	}
	return nil
}

// symFromRows builds an n×n symmetric matrix from rows, which must be
// square, of size n and exactly symmetric.
func symFromRows(rows [][]float64, n int) (*mat.SymDense, error) {
	if len(rows) != n {
		return nil, fmt.Errorf("%w: multivariate_normal: cov has %d rows, mean has %d values", ErrInvalid, len(rows), n)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: multivariate_normal: empty mean", ErrInvalid)
	}
	for i, r := range rows {
		if len(r) != n {
			return nil, fmt.Errorf("%w: multivariate_normal: cov row %d has %d values, want %d", ErrInvalid, i+1, len(r), n)
		}
	}
	s := mat.NewSymDense(n, nil)
	for i, r := range rows {
		for j := i; j < n; j++ {
			if r[j] != rows[j][i] {
				return nil, fmt.Errorf("%w: multivariate_normal: cov[%d][%d] = %v but cov[%d][%d] = %v", ErrInvalid, i, j, r[j], j, i, rows[j][i])
			}
			s.SetSym(i, j, r[j])
		}
	}
	return s, nil
}

// MaxJSONSize bounds the prior JSON that ReadFile reads; 4 MB holds a
// multivariate normal of a few hundred dimensions.
const MaxJSONSize = 4 << 20

// ReadFile reads a prior from a JSON file of at most MaxJSONSize bytes.
func ReadFile(path string) (Prior, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prior: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("prior: %s: %w", path, err)
	}
	if len(b) > MaxJSONSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrJSON, path, MaxJSONSize)
	}
	p, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
