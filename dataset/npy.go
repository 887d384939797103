package dataset

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sbinet/npyio/npy"
	"github.com/sbinet/npyio/npz"
	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/prior"
)

// Keys of the arrays in a dataset .npz archive. The name arrays are optional.
const (
	npzTheta      = "theta"
	npzX          = "x"
	npzThetaNames = "theta_names"
	npzXNames     = "x_names"
	npzPrior      = "prior" // a 1-element string array: the prior's JSON
)

// Limits that keep a corrupt header from requesting huge allocations.
const (
	maxNPYHeader  = 1 << 20
	maxNameRunes  = 1 << 24
	npyReadValues = 1 << 13 // values decoded per read
)

// WriteNPY writes m as a 2-D little-endian float64 NumPy array.
func WriteNPY(w io.Writer, m *mat.Dense) error {
	if m == nil || m.IsEmpty() {
		return fmt.Errorf("dataset: npy: nil or empty matrix")
	}
	if err := writeNPY(w, m); err != nil {
		return fmt.Errorf("dataset: npy: %w", err)
	}
	return nil
}

// writeNPY buffers w: npyio writes one value per call.
func writeNPY(w io.Writer, v any) error {
	bw := bufio.NewWriter(w)
	if err := npy.Write(bw, v); err != nil {
		return err
	}
	return bw.Flush()
}

// ReadNPY reads a 1-D or 2-D NumPy array of float32 or float64, in either
// byte order and in C or Fortran order. A 1-D array of length n reads as
// an n×1 matrix.
func ReadNPY(r io.Reader) (*mat.Dense, error) {
	m, err := readNPY(r)
	if err != nil {
		return nil, fmt.Errorf("dataset: npy: %w", err)
	}
	return m, nil
}

// WriteNPZ writes d as an uncompressed NumPy .npz archive, as numpy.savez
// does, holding the float64 arrays "theta" (n×θdim) and "x" (n×xdim), the
// string arrays "theta_names" and "x_names" and, when d has a prior,
// "prior": one string, the prior's JSON (see package prior).
func WriteNPZ(w io.Writer, d *Dataset) error {
	if err := d.checkShape(); err != nil {
		return err
	}
	tn, xn := d.Names()
	arrays := []struct {
		key string
		v   any
	}{{npzTheta, d.Theta}, {npzX, d.X}, {npzThetaNames, tn}, {npzXNames, xn}}
	if d.Prior != nil {
		b, err := prior.Marshal(d.Prior)
		if err != nil {
			return fmt.Errorf("dataset: npz: %w", err)
		}
		arrays = append(arrays, struct {
			key string
			v   any
		}{npzPrior, []string{string(b)}})
	}
	zw := zip.NewWriter(w)
	for _, e := range arrays {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: e.key + ".npy", Method: zip.Store})
		if err == nil {
			err = writeNPY(f, e.v)
		}
		if err != nil {
			return fmt.Errorf("dataset: npz array %q: %w", e.key, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("dataset: npz: %w", err)
	}
	return nil
}

// ReadNPZ reads a dataset from a NumPy .npz archive of size bytes holding
// "theta" and "x" arrays with one row per simulation (see ReadNPY for the
// accepted arrays) and, optionally, "theta_names" and "x_names" string
// arrays and a "prior" array of one string, the prior's JSON. Archives
// from numpy.savez and numpy.savez_compressed both work.
func ReadNPZ(r io.ReaderAt, size int64) (*Dataset, error) {
	zr, err := npz.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("dataset: npz: %w: %w", ErrFormat, err)
	}
	theta, err := readNPZEntry(zr, npzTheta, true, readNPY)
	if err != nil {
		return nil, err
	}
	x, err := readNPZEntry(zr, npzX, true, readNPY)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Theta: theta, X: x}
	if d.ThetaNames, err = readNPZEntry(zr, npzThetaNames, false, readNPYStrings); err != nil {
		return nil, err
	}
	if d.XNames, err = readNPZEntry(zr, npzXNames, false, readNPYStrings); err != nil {
		return nil, err
	}
	pj, err := readNPZEntry(zr, npzPrior, false, readNPYStrings)
	if err != nil {
		return nil, err
	}
	n, dt := theta.Dims()
	m, dx := x.Dims()
	if n != m {
		return nil, fmt.Errorf("dataset: npz: %w: theta has %d rows but x has %d", ErrFormat, n, m)
	}
	if pj != nil {
		if len(pj) != 1 {
			return nil, fmt.Errorf("dataset: npz array %q: %w: %d strings, want 1 (the prior's JSON)", npzPrior, ErrFormat, len(pj))
		}
		if d.Prior, err = prior.Unmarshal([]byte(pj[0])); err != nil {
			return nil, fmt.Errorf("dataset: npz array %q: %w: %w", npzPrior, ErrFormat, err)
		}
		if d.Prior.Dim() != dt {
			return nil, fmt.Errorf("dataset: npz array %q: %w: the prior has %d dimensions, theta has %d columns", npzPrior, ErrFormat, d.Prior.Dim(), dt)
		}
	}
	if d.ThetaNames != nil && len(d.ThetaNames) != dt || d.XNames != nil && len(d.XNames) != dx {
		return nil, fmt.Errorf("dataset: npz: %w: %d theta names and %d x names for %d and %d columns",
			ErrFormat, len(d.ThetaNames), len(d.XNames), dt, dx)
	}
	return d, nil
}

// readNPZEntry reads the array key (stored as key.npy, or plain key) with
// read. A missing optional array gives the zero T.
func readNPZEntry[T any](zr *npz.Reader, key string, required bool, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	name := ""
	for _, k := range zr.Keys() {
		if k == key+".npy" || k == key {
			name = k
			break
		}
	}
	if name == "" {
		if !required {
			return zero, nil
		}
		return zero, fmt.Errorf("dataset: npz: %w: no array %q (arrays: %s)", ErrFormat, key, strings.Join(zr.Keys(), ", "))
	}
	rc, err := zr.Open(name)
	if err != nil {
		return zero, fmt.Errorf("dataset: npz array %q: %w: %w", key, ErrFormat, err)
	}
	defer rc.Close()
	v, err := read(rc)
	if err == nil {
		// Reading to the end makes archive/zip verify the entry's checksum.
		if _, err = io.Copy(io.Discard, rc); err != nil {
			err = fmt.Errorf("%w: %w", ErrFormat, err)
		}
	}
	if err != nil {
		return zero, fmt.Errorf("dataset: npz array %q: %w", key, err)
	}
	return v, nil
}

// readNPY reads a float array; see ReadNPY.
func readNPY(r io.Reader) (*mat.Dense, error) {
	h, err := readNPYHeader(r)
	if err != nil {
		return nil, err
	}
	size, order, err := floatDType(h.Descr.Type)
	if err != nil {
		return nil, err
	}
	shape := h.Descr.Shape
	if len(shape) == 0 || len(shape) > 2 {
		return nil, fmt.Errorf("%w: array has %d dimensions, want 1 or 2", ErrFormat, len(shape))
	}
	rows, cols := shape[0], 1
	if len(shape) == 2 {
		cols = shape[1]
	}
	if rows <= 0 || cols <= 0 || rows > math.MaxInt/size/cols {
		return nil, fmt.Errorf("%w: unusable shape %v", ErrFormat, shape)
	}
	total := rows * cols
	// Grow with the data actually read, so a lying shape in a short file
	// fails before allocating for it.
	data := make([]float64, 0, min(total, 1<<16))
	buf := make([]byte, min(total, npyReadValues)*size)
	for len(data) < total {
		b := buf[:min(total-len(data), npyReadValues)*size]
		if _, err := io.ReadFull(r, b); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("%w: truncated data: shape %v needs %d values, the file ends within the first %d",
					ErrFormat, shape, total, len(data)+len(b)/size)
			}
			return nil, err
		}
		for i := 0; i < len(b); i += size {
			if size == 4 {
				data = append(data, float64(math.Float32frombits(order.Uint32(b[i:]))))
			} else {
				data = append(data, math.Float64frombits(order.Uint64(b[i:])))
			}
		}
	}
	if h.Descr.Fortran && cols > 1 {
		var m mat.Dense
		m.CloneFrom(mat.NewDense(cols, rows, data).T())
		return &m, nil
	}
	return mat.NewDense(rows, cols, data), nil
}

// readNPYStrings reads a 1-D NumPy array of unicode strings (dtype <Un).
func readNPYStrings(r io.Reader) ([]string, error) {
	h, err := readNPYHeader(r)
	if err != nil {
		return nil, err
	}
	t := h.Descr.Type
	kind := strings.TrimLeft(t, "<>=|")
	width, err := strconv.Atoi(strings.TrimPrefix(kind, "U"))
	if !strings.HasPrefix(kind, "U") || err != nil || width < 0 {
		return nil, fmt.Errorf("%w: dtype %q, want unicode strings (<Un)", ErrFormat, t)
	}
	if len(h.Descr.Shape) != 1 || h.Descr.Shape[0] < 0 {
		return nil, fmt.Errorf("%w: string array of shape %v, want 1 dimension", ErrFormat, h.Descr.Shape)
	}
	n := h.Descr.Shape[0]
	if n > maxNameRunes || width > maxNameRunes || n*width > maxNameRunes {
		return nil, fmt.Errorf("%w: string array of %d×%d characters is too large", ErrFormat, n, width)
	}
	order := byteOrder(t)
	buf := make([]byte, n*width*4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: truncated string array: %w", ErrFormat, err)
	}
	out := make([]string, n)
	rs := make([]rune, width)
	for i := range out {
		for k := range rs {
			c := order.Uint32(buf[(i*width+k)*4:])
			if c > utf8.MaxRune {
				return nil, fmt.Errorf("%w: string %d holds an invalid character", ErrFormat, i)
			}
			rs[k] = rune(c)
		}
		out[i] = strings.TrimRight(string(rs), "\x00") // numpy pads with NULs
	}
	return out, nil
}

// readNPYHeader reads the header of a .npy array. The header's length is
// checked here and the text parsed by npyio, whose parser indexes without
// bounds checks: a panic there means a malformed header.
func readNPYHeader(r io.Reader) (h npy.Header, err error) {
	pre := make([]byte, len(npy.Magic)+4, len(npy.Magic)+6)
	if _, err := io.ReadFull(r, pre); err != nil {
		return h, fmt.Errorf("%w: not a .npy array: %w", ErrFormat, err)
	}
	if !bytes.Equal(pre[:len(npy.Magic)], npy.Magic[:]) {
		return h, fmt.Errorf("%w: not a .npy array (bad magic bytes)", ErrFormat)
	}
	var hlen int
	switch major := pre[len(npy.Magic)]; major {
	case 1:
		hlen = int(binary.LittleEndian.Uint16(pre[len(pre)-2:]))
	case 2:
		pre = pre[:len(pre)+2]
		if _, err := io.ReadFull(r, pre[len(pre)-2:]); err != nil {
			return h, fmt.Errorf("%w: truncated .npy header: %w", ErrFormat, err)
		}
		hlen = int(binary.LittleEndian.Uint32(pre[len(pre)-4:]))
	default:
		return h, fmt.Errorf("%w: unsupported .npy format version %d", ErrFormat, major)
	}
	if hlen > maxNPYHeader {
		return h, fmt.Errorf("%w: .npy header of %d bytes is too long", ErrFormat, hlen)
	}
	raw := make([]byte, len(pre)+hlen)
	copy(raw, pre)
	if _, err := io.ReadFull(r, raw[len(pre):]); err != nil {
		return h, fmt.Errorf("%w: truncated .npy header: %w", ErrFormat, err)
	}
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("%w: malformed .npy header %q", ErrFormat, raw[len(pre):])
		}
	}()
	nr, err := npy.NewReader(bytes.NewReader(raw))
	if err != nil {
		return h, fmt.Errorf("%w: malformed .npy header %q: %w", ErrFormat, raw[len(pre):], err)
	}
	return nr.Header, nil
}

// floatDType parses a float32 or float64 dtype such as "<f8".
func floatDType(t string) (size int, order binary.ByteOrder, err error) {
	switch strings.TrimLeft(t, "<>=|") {
	case "f4":
		size = 4
	case "f8":
		size = 8
	default:
		return 0, nil, fmt.Errorf("%w: dtype %q, want float32 or float64", ErrFormat, t)
	}
	return size, byteOrder(t), nil
}

// byteOrder returns the byte order of a dtype: '>' is big-endian, '<'
// little-endian, and '=' or '|' (or none) native.
func byteOrder(t string) binary.ByteOrder {
	switch {
	case strings.HasPrefix(t, "<"):
		return binary.LittleEndian
	case strings.HasPrefix(t, ">"):
		return binary.BigEndian
	}
	return binary.NativeEndian
}
