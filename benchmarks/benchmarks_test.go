package benchmarks_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/amortize/amortize/benchmarks"
)

// Every task has its ten observations, each with its three files, and the
// sample files hold sbibm's 10,000 rows.
func TestEmbeddedComplete(t *testing.T) {
	for _, task := range benchmarks.Tasks() {
		for obs := 1; obs <= 10; obs++ {
			for _, f := range []string{"observation.csv", "true_parameters.csv", "reference_posterior_samples.csv"} {
				name := fmt.Sprintf("%s/obs%02d/%s", task, obs, f)
				rc, err := benchmarks.Open(benchmarks.FS, name)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := 2
				if strings.HasPrefix(f, "reference") {
					want = 10001
				}
				if lines := bytes.Count(b, []byte("\n")); lines != want {
					t.Errorf("%s: %d lines, want %d", name, lines, want)
				}
			}
		}
	}
	for _, f := range []string{"design_matrix.csv", "prior_precision.csv", "stimulus.csv", "obs01/observation_raw.csv"} {
		if !benchmarks.Exists(benchmarks.FS, "bernoulli_glm/"+f) {
			t.Errorf("bernoulli_glm/%s missing", f)
		}
	}
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A directory may hold plain or compressed files; .gz wins; a file that
// inflates beyond MaxFileSize fails instead of filling memory.
func TestOpen(t *testing.T) {
	big := make([]byte, benchmarks.MaxFileSize+1)
	exact := make([]byte, benchmarks.MaxFileSize)
	fsys := fstest.MapFS{
		"plain.csv":   {Data: []byte("a\n1\n")},
		"both.csv":    {Data: []byte("plain")},
		"both.csv.gz": {Data: gz(t, []byte("gzip"))},
		"bomb.csv.gz": {Data: gz(t, big)},
		"full.csv.gz": {Data: gz(t, exact)},
		"bad.csv.gz":  {Data: []byte("not gzip")},
	}
	read := func(name string) (string, error) {
		rc, err := benchmarks.Open(fsys, name)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if s, err := read("plain.csv"); err != nil || s != "a\n1\n" {
		t.Errorf("plain: %q, %v", s, err)
	}
	if s, err := read("both.csv"); err != nil || s != "gzip" {
		t.Errorf("both: %q, %v", s, err)
	}
	if _, err := read("bomb.csv"); !errors.Is(err, benchmarks.ErrTooLarge) {
		t.Errorf("bomb: %v, want ErrTooLarge", err)
	}
	if s, err := read("full.csv"); err != nil || len(s) != benchmarks.MaxFileSize {
		t.Errorf("exactly MaxFileSize: %d bytes, %v", len(s), err)
	}
	if _, err := read("bad.csv"); err == nil {
		t.Error("bad gzip: no error")
	}
	if _, err := read("none.csv"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want ErrNotExist", err)
	}
	if !benchmarks.Exists(fsys, "plain.csv") || !benchmarks.Exists(fsys, "both.csv") || benchmarks.Exists(fsys, "none.csv") {
		t.Error("Exists disagrees with Open")
	}
}
