package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Responses are built by appending to pooled buffers: encoding/json's
// reflection and float formatting dominated the sample route's time.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// maxPooled keeps one huge response from pinning its buffer in the pool.
const maxPooled = 1 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// writeBody sends a complete JSON body.
func writeBody(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body) // a failed write means the client left; nothing to tell it
}

// writeJSON encodes v with encoding/json, for the routes off the hot path.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeBody(w, code, append(b, '\n'))
	return nil
}

// appendFloat writes v with the fewest digits that read back as the same
// value of the given bit size; a non-finite v, which JSON cannot carry,
// becomes null (log-probabilities outside the prior support are -Inf).
func appendFloat(b []byte, v float64, bits int) []byte {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, bits)
}

// appendFloats writes v as a JSON array.
func appendFloats(b []byte, v []float64, bits int) []byte {
	b = append(b, '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, f, bits)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// decode reads the JSON request body into dst: one object, no unknown
// fields (a misspelt "seed" must not be silently ignored), within the
// body limit.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return decodeError(err)
		}
		return errorf(http.StatusBadRequest, "request body holds more than one JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var (
		tooBig *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, "request body exceeds the limit of %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "empty request body, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "malformed JSON: unexpected end of the body")
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errorf(http.StatusBadRequest, "request body is JSON %s, want an object", typ.Value)
		}
		return errorf(http.StatusBadRequest, "field %q: JSON %s cannot be a %v", typ.Field, typ.Value, typ.Type)
	}
	// The remaining decoder errors (unknown fields, mostly) read well as
	// they are once the package prefix is gone.
	return errorf(http.StatusBadRequest, "%s", trimJSON(err))
}

// vector checks one observation or θ: its length and that every value is a
// float32, the models' precision (a finite float64 such as 1e300 is not).
func vector(name string, v []float64, dim int) error {
	if v == nil {
		return errorf(http.StatusBadRequest, "%s is required", name)
	}
	if len(v) != dim {
		return errorf(http.StatusBadRequest, "%s has %d values, the model expects %d", name, len(v), dim)
	}
	for j, f := range v {
		if g := float64(float32(f)); math.IsInf(g, 0) || math.IsNaN(g) {
			return errorf(http.StatusBadRequest, "%s[%d] = %g is outside the float32 range of the model", name, j, f)
		}
	}
	return nil
}

// matrix checks rows of equal length dim and packs them into a matrix.
func matrix(name string, rows [][]float64, dim int) (*mat.Dense, error) {
	if len(rows) == 0 {
		return nil, errorf(http.StatusBadRequest, "%s is required: an array of arrays of %d numbers", name, dim)
	}
	data := make([]float64, 0, len(rows)*dim)
	for i, row := range rows {
		if err := vector(fmt.Sprintf("%s[%d]", name, i), row, dim); err != nil {
			return nil, err
		}
		data = append(data, row...)
	}
	return mat.NewDense(len(rows), dim, data), nil
}

// observations parses x given as one observation ([...]) or several
// ([[...], ...]).
func observations(raw json.RawMessage, dim int) (*mat.Dense, error) {
	nested := false
	for i, c := range raw {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c != '[' {
			break // null, a number, …: the single-vector path names the problem
		}
		for _, c := range raw[i+1:] {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				nested = c == '['
				break
			}
		}
		break
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errorf(http.StatusBadRequest, "x is required: %d numbers, or an array of such arrays", dim)
	}
	if nested {
		var rows [][]float64
		if err := json.Unmarshal(raw, &rows); err != nil {
			return nil, errorf(http.StatusBadRequest, "x: want an array of arrays of %d numbers: %v", dim, trimJSON(err))
		}
		return matrix("x", rows, dim)
	}
	var x []float64
	if err := json.Unmarshal(raw, &x); err != nil {
		return nil, errorf(http.StatusBadRequest, "x: want %d numbers, or an array of such arrays: %v", dim, trimJSON(err))
	}
	if err := vector("x", x, dim); err != nil {
		return nil, err
	}
	return mat.NewDense(1, dim, x), nil
}

func trimJSON(err error) string { return strings.TrimPrefix(err.Error(), "json: ") }
