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

// decode reads the JSON request body into dst: one object, no unknown
// fields (a misspelt "seed" must not be silently ignored). The endpoint
// has read the body already, within its limits.
func decode(r *http.Request, dst any) error {
	dec := json.NewDecoder(r.Body)
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
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
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

// The fields x and theta are read by a parser of their own rather than into
// []float64: encoding/json reads a null element as 0 and says nothing, and
// its errors cannot name the element at fault.

// scanner walks the JSON value of one field, which the decoder has already
// checked to be well-formed.
type scanner struct {
	b []byte
	i int
}

// peek skips white space and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// kind names the JSON value at the scanner, for errors.
func (s *scanner) kind() string {
	switch c := s.peek(); {
	case c == 'n':
		return "null"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return "missing"
}

// path names element k of field name, in row row (-1: a flat array).
func path(name string, row, k int) string {
	if row < 0 {
		return fmt.Sprintf("%s[%d]", name, k)
	}
	return fmt.Sprintf("%s[%d][%d]", name, row, k)
}

// list reads an array of dim numbers, each within the float32 range of the
// models, and appends them to dst. It reads past dim values only to count
// them for the error.
func (s *scanner) list(dst []float64, name string, row, dim int) ([]float64, error) {
	whole := name
	if row >= 0 {
		whole = fmt.Sprintf("%s[%d]", name, row)
	}
	if s.peek() != '[' {
		return nil, errorf(http.StatusBadRequest, "%s is %s, want an array of %d numbers", whole, s.kind(), dim)
	}
	s.i++
	k := 0
	if s.peek() == ']' {
		s.i++
	} else {
		for ; ; k++ {
			if c := s.peek(); c != '-' && (c < '0' || c > '9') {
				return nil, errorf(http.StatusBadRequest, "%s is %s, want a number", path(name, row, k), s.kind())
			}
			j := s.i
			for j < len(s.b) && s.b[j] != ',' && s.b[j] != ']' && s.b[j] != ' ' && s.b[j] != '\t' && s.b[j] != '\n' && s.b[j] != '\r' {
				j++
			}
			tok := s.b[s.i:j]
			s.i = j
			v, err := strconv.ParseFloat(string(tok), 64)
			// A finite float64 such as 1e300 is no float32 either.
			if g := float64(float32(v)); err != nil || math.IsInf(g, 0) || math.IsNaN(g) {
				return nil, errorf(http.StatusBadRequest, "%s = %s is outside the float32 range of the model", path(name, row, k), tok)
			}
			if k < dim {
				dst = append(dst, v)
			}
			c := s.peek()
			s.i++
			if c == ']' {
				k++
				break
			}
			if c != ',' {
				return nil, errorf(http.StatusBadRequest, "%s: malformed array", whole)
			}
		}
	}
	if k != dim {
		return nil, errorf(http.StatusBadRequest, "%s has %d values, the model expects %d", whole, k, dim)
	}
	return dst, nil
}

// required reports a missing or null field.
func (s *scanner) required(name, want string) error {
	if c := s.peek(); c == 0 || c == 'n' {
		return errorf(http.StatusBadRequest, "%s is required: %s", name, want)
	}
	return nil
}

// vector reads field name, an array of dim numbers.
func vector(raw []byte, name string, dim int) ([]float64, error) {
	s := &scanner{b: raw}
	if err := s.required(name, fmt.Sprintf("%d numbers", dim)); err != nil {
		return nil, err
	}
	return s.list(make([]float64, 0, dim), name, -1, dim)
}

// matrix reads field name, an array of arrays of dim numbers, into a
// matrix; with flat set, one array of dim numbers is also accepted, as a
// matrix of one row.
func matrix(raw []byte, name string, dim int, flat bool) (*mat.Dense, error) {
	s := &scanner{b: raw}
	want := fmt.Sprintf("an array of arrays of %d numbers", dim)
	if flat {
		want = fmt.Sprintf("%d numbers, or an array of such arrays", dim)
	}
	if err := s.required(name, want); err != nil {
		return nil, err
	}
	if s.peek() != '[' {
		return nil, errorf(http.StatusBadRequest, "%s is %s, want %s", name, s.kind(), want)
	}
	s.i++
	first := s.peek()
	if flat && first != '[' {
		s.i--
		x, err := s.list(make([]float64, 0, dim), name, -1, dim)
		if err != nil {
			return nil, err
		}
		return mat.NewDense(1, dim, x), nil
	}
	if first == ']' {
		return nil, errorf(http.StatusBadRequest, "%s is required: %s", name, want)
	}
	var data []float64
	rows := 0
	for {
		var err error
		if data, err = s.list(data, name, rows, dim); err != nil {
			return nil, err
		}
		rows++
		c := s.peek()
		s.i++
		if c == ']' {
			break
		}
		if c != ',' {
			return nil, errorf(http.StatusBadRequest, "%s: malformed array", name)
		}
	}
	return mat.NewDense(rows, dim, data), nil
}

func trimJSON(err error) string { return strings.TrimPrefix(err.Error(), "json: ") }
