package dataset_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sbinet/npyio/npy"
	"gonum.org/v1/gonum/mat"

	"github.com/amortize/amortize/dataset"
)

// npyFile builds a version 1.0 .npy file the way numpy.save does.
func npyFile(descr string, fortran bool, shape string, payload []byte) []byte {
	order := "False"
	if fortran {
		order = "True"
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, order, shape)
	// numpy pads the header with spaces to end on a 64-byte boundary.
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(payload)
	return b.Bytes()
}

// encode returns the bytes of vs (float32 or float64 slices) in order.
func encode(order binary.ByteOrder, vs any) []byte {
	var b bytes.Buffer
	binary.Write(&b, order, vs)
	return b.Bytes()
}

// npyOf writes v with npyio, as a Go program producing .npy files would.
func npyOf(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := npy.Write(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestNPYRoundTrip(t *testing.T) {
	m := awkward().X
	m.Set(1, 1, math.Float64frombits(0x7ff8000000000123)) // a NaN with a payload
	var buf bytes.Buffer
	if err := dataset.WriteNPY(&buf, m); err != nil {
		t.Fatal(err)
	}
	got, err := dataset.ReadNPY(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !sameBits(got, m) {
		t.Errorf("got\n%v\nwant\n%v", mat.Formatted(got), mat.Formatted(m))
	}
}

func TestReadNPYLayouts(t *testing.T) {
	f32 := []float32{1.5, -2.25, 0.1, 3, 1e-3, 7}
	widened := make([]float64, len(f32))
	for i, v := range f32 {
		widened[i] = float64(v)
	}
	for _, tc := range []struct {
		name string
		file []byte
		want *mat.Dense
	}{
		{"float32", npyFile("<f4", false, "(2, 3)", encode(binary.LittleEndian, f32)), mat.NewDense(2, 3, widened)},
		{"big-endian", npyFile(">f8", false, "(2, 1)", encode(binary.BigEndian, []float64{0.1, -9})), mat.NewDense(2, 1, []float64{0.1, -9})},
		{"1-D", npyFile("<f8", false, "(3,)", encode(binary.LittleEndian, []float64{1, 2, 3})), mat.NewDense(3, 1, []float64{1, 2, 3})},
		{"fortran", npyFile("<f8", true, "(2, 3)", encode(binary.LittleEndian, []float64{1, 4, 2, 5, 3, 6})),
			mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6})},
		{"npyio float32", npyOf(t, f32), mat.NewDense(6, 1, widened)},
	} {
		got, err := dataset.ReadNPY(bytes.NewReader(tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !sameBits(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got.RawMatrix().Data, tc.want.RawMatrix().Data)
		}
	}
}

func TestReadNPYMalformed(t *testing.T) {
	valid := npyFile("<f8", false, "(2, 3)", encode(binary.LittleEndian, []float64{1, 2, 3, 4, 5, 6}))
	v2 := []byte("\x93NUMPY\x02\x00\xff\xff\xff\xff")
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not a .npy array"},
		{"bad magic", []byte("PK\x03\x04 this is a zip file, not npy"), "bad magic"},
		{"version 3", []byte("\x93NUMPY\x03\x00\x10\x00\x00\x00"), "version 3"},
		{"huge header", v2, "too long"},
		{"truncated header", valid[:20], "truncated .npy header"},
		{"truncated data", valid[:len(valid)-3], "truncated data"},
		{"lying shape", npyFile("<f8", false, "(1000000000,)", make([]byte, 16)), "truncated data"},
		{"overflowing shape", npyFile("<f8", false, "(100000000000, 100000000000)", nil), "unusable shape"},
		{"no rows", npyFile("<f8", false, "(0, 3)", nil), "unusable shape"},
		{"negative", npyFile("<f8", false, "(-2, 3)", nil), "unusable shape"},
		{"scalar", npyFile("<f8", false, "()", make([]byte, 8)), "0 dimensions"},
		{"rank 3", npyFile("<f8", false, "(1, 1, 2)", make([]byte, 16)), "3 dimensions"},
		{"int64", npyOf(t, []int64{1, 2}), `"<i8"`},
		{"complex", npyOf(t, []complex128{1, 2i}), `"<c16"`},
		{"bool", npyOf(t, []bool{true}), "want float32 or float64"},
		{"garbage header", append([]byte("\x93NUMPY\x01\x00\x08\x00"), "garbage!"...), "malformed .npy header"},
		{"shuffled keys", shuffledHeader(), "malformed .npy header"},
	} {
		_, err := dataset.ReadNPY(bytes.NewReader(tc.file))
		if !errors.Is(err, dataset.ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrFormat mentioning %q", tc.name, err, tc.want)
		}
	}
}

// shuffledHeader is a .npy header with numpy's keys in another order, which
// npyio's parser cannot slice.
func shuffledHeader() []byte {
	h := "{'shape': (2,), 'descr': '<f8', 'fortran_order': False, }\n"
	return append(fmt.Appendf(nil, "\x93NUMPY\x01\x00%c%c", len(h), 0), h...)
}

type entry struct {
	name string
	data []byte
}

// zipOf builds an archive of entries, as numpy.savez (zip.Store) or
// numpy.savez_compressed (zip.Deflate) would.
func zipOf(t *testing.T, method uint16, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method})
		if err == nil {
			_, err = w.Write(e.data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readNPZ(b []byte) (*dataset.Dataset, error) {
	return dataset.ReadNPZ(bytes.NewReader(b), int64(len(b)))
}

func TestNPZRoundTrip(t *testing.T) {
	for _, d := range []*dataset.Dataset{awkward(), {Theta: mat.NewDense(1, 1, []float64{2}), X: mat.NewDense(1, 2, []float64{3, 4})}} {
		var buf bytes.Buffer
		if err := dataset.WriteNPZ(&buf, d); err != nil {
			t.Fatal(err)
		}
		got, err := readNPZ(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(got.Theta, d.Theta) || !sameBits(got.X, d.X) {
			t.Errorf("values changed: %v %v", got.Theta.RawMatrix().Data, got.X.RawMatrix().Data)
		}
		// Absent names are written as the defaults.
		wantTheta, wantX := d.Names()
		if !slices.Equal(got.ThetaNames, wantTheta) || !slices.Equal(got.XNames, wantX) {
			t.Errorf("names %q %q, want %q %q", got.ThetaNames, got.XNames, wantTheta, wantX)
		}
	}
}

func TestReadNPZFromNumPy(t *testing.T) {
	// As numpy.savez_compressed(f, theta=float32 Fortran array, x=1-D array).
	file := zipOf(t, zip.Deflate,
		entry{"theta.npy", npyFile("<f4", true, "(2, 2)", encode(binary.LittleEndian, []float32{1, 3, 2, 4}))},
		entry{"x.npy", npyFile("<f8", false, "(2,)", encode(binary.LittleEndian, []float64{5, 6}))},
		entry{"theta_names.npy", npyFile("<U3", false, "(2,)", encode(binary.LittleEndian, []rune("a\x00\x00bcd")))},
	)
	d, err := readNPZ(file)
	if err != nil {
		t.Fatal(err)
	}
	if !mat.Equal(d.Theta, mat.NewDense(2, 2, []float64{1, 2, 3, 4})) || !mat.Equal(d.X, mat.NewDense(2, 1, []float64{5, 6})) {
		t.Errorf("got %v %v", d.Theta.RawMatrix().Data, d.X.RawMatrix().Data)
	}
	if !slices.Equal(d.ThetaNames, []string{"a", "bcd"}) || d.XNames != nil {
		t.Errorf("names %q %q, want [a bcd] and none", d.ThetaNames, d.XNames)
	}
}

func TestReadNPZMalformed(t *testing.T) {
	f8 := func(shape string, n int) []byte {
		return npyFile("<f8", false, shape, make([]byte, 8*n))
	}
	theta := entry{"theta.npy", f8("(2, 1)", 2)}
	var good bytes.Buffer
	if err := dataset.WriteNPZ(&good, awkward()); err != nil {
		t.Fatal(err)
	}
	// Changing a stored value leaves a well-formed array: only the zip
	// checksum can tell.
	corrupt := bytes.Clone(good.Bytes())
	at := bytes.Index(corrupt, encode(binary.LittleEndian, []float64{math.Pi}))
	corrupt[at] ^= 1

	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"not zip", []byte("theta,x\n1,2\n"), "zip"},
		{"truncated", good.Bytes()[:good.Len()/2], "zip"},
		{"corrupt", corrupt, "checksum"},
		{"missing x", zipOf(t, zip.Store, theta), `no array "x" (arrays: theta.npy)`},
		{"missing theta", zipOf(t, zip.Store, entry{"x.npy", f8("(2, 1)", 2)}), `no array "theta"`},
		{"rows", zipOf(t, zip.Store, theta, entry{"x.npy", f8("(3, 1)", 3)}), "theta has 2 rows but x has 3"},
		{"int64 x", zipOf(t, zip.Store, theta, entry{"x.npy", npyOf(t, []int64{1, 2})}), `npz array "x": ` + dataset.ErrFormat.Error() + `: dtype "<i8"`},
		{"complex x", zipOf(t, zip.Store, theta, entry{"x", npyOf(t, []complex64{1, 2})}), `dtype "<c8"`},
		{"truncated x", zipOf(t, zip.Store, theta, entry{"x.npy", f8("(2, 1)", 1)}), `npz array "x": ` + dataset.ErrFormat.Error() + ": truncated"},
		{"name count", zipOf(t, zip.Store, theta, entry{"x.npy", f8("(2, 1)", 2)}, entry{"x_names.npy", npyOf(t, []string{"a", "b"})}), "2 x names for 1 and 1 columns"},
		{"name dtype", zipOf(t, zip.Store, theta, entry{"x.npy", f8("(2, 1)", 2)}, entry{"theta_names.npy", f8("(1,)", 1)}), "want unicode strings"},
		{"name truncated", zipOf(t, zip.Store, theta, entry{"x.npy", f8("(2, 1)", 2)}, entry{"theta_names.npy", npyFile("<U4", false, "(1,)", []byte("ab"))}), "truncated string array"},
	} {
		_, err := readNPZ(tc.file)
		if !errors.Is(err, dataset.ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrFormat mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestWriteRejectsBadDatasets(t *testing.T) {
	bad := &dataset.Dataset{Theta: mat.NewDense(2, 1, nil), X: mat.NewDense(3, 1, nil)}
	var buf bytes.Buffer
	if err := dataset.WriteNPZ(&buf, bad); !errors.Is(err, dataset.ErrInvalid) {
		t.Errorf("WriteNPZ: got %v, want ErrInvalid", err)
	}
	if err := dataset.WriteCSV(&buf, bad); !errors.Is(err, dataset.ErrInvalid) {
		t.Errorf("WriteCSV: got %v, want ErrInvalid", err)
	}
	if err := dataset.WriteNPY(&buf, nil); err == nil {
		t.Error("WriteNPY(nil): no error")
	}
}
