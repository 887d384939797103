package cli

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzMatrixFlags feeds --x/--theta values, and the same text as a .json
// and a .csv file, to the flags' reader: the result is rows of dim finite
// float32 values or a usage error, never a panic.
func FuzzMatrixFlags(f *testing.F) {
	for _, s := range []string{"0.1,0.2", "0.1,0.2;0.3,0.4", " 1 , 2 ", "1,2;3", "1e300,0", "nan,1", ";", ",", "",
		"[1,2]", "[[1,2],[3,4]]", "[]", "[[]]", "null", "x,y\n1,2\n", "x,y\n1\n", "0x1p-2,inf"} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, dim uint8) {
		d := int(dim%8) + 1
		dir := t.TempDir()
		flags := []matrixFlags{{name: "x", inline: s}}
		for _, ext := range []string{".json", ".csv"} {
			path := filepath.Join(dir, "x"+ext)
			if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			flags = append(flags, matrixFlags{name: "x", file: path})
		}
		for _, fl := range flags {
			m, err := fl.read(d)
			if err != nil {
				if !errors.As(err, new(UsageError)) {
					t.Fatalf("%+v: error %v is not a usage error", fl, err)
				}
				continue
			}
			r, c := m.Dims()
			if r < 1 || c != d {
				t.Fatalf("%+v: %d×%d rows for dim %d", fl, r, c, d)
			}
			for _, v := range m.RawMatrix().Data {
				if g := float64(float32(v)); math.IsNaN(g) || math.IsInf(g, 0) {
					t.Fatalf("%+v: value %v", fl, v)
				}
			}
			if fl.inline != "" && strings.Count(s, ";")+1 != r {
				t.Fatalf("%q: %d rows", s, r)
			}
		}
	})
}
