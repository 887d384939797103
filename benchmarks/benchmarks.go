// Package benchmarks holds sbibm's reference data for five tasks
// (gaussian_linear, two_moons, slcp, gaussian_mixture, bernoulli_glm; ten
// observations each, 10,000 reference posterior samples per observation),
// compiled into the binary so that the demo, the accuracy benchmark and the
// tests need no file outside the repository. TASKS.md describes the files;
// the data is sbibm's (MIT License, see NOTICE).
//
// Every file is stored gzip-compressed as name.gz; Open reads either form,
// so a directory of plain CSV files works as well.
package benchmarks

import (
	"bufio"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

//go:embed */obs*/*.csv.gz bernoulli_glm/*.csv.gz
var files embed.FS

// FS is the embedded data: <task>/obsNN/{observation,true_parameters,
// reference_posterior_samples}.csv.gz and bernoulli_glm's extra files.
var FS fs.FS = files

// MaxFileSize bounds the decompressed size of one file Open reads; the
// largest embedded file is about 2 MB.
const MaxFileSize = 64 << 20

// ErrTooLarge is returned when a file decompresses to more than MaxFileSize.
var ErrTooLarge = errors.New("benchmarks: file too large")

// Open opens name (a slash-separated path such as
// "two_moons/obs01/observation.csv") in fsys, reading name.gz when it
// exists and name otherwise. The reader stops with ErrTooLarge after
// MaxFileSize bytes.
func Open(fsys fs.FS, name string) (io.ReadCloser, error) {
	f, err := fsys.Open(name + ".gz")
	if errors.Is(err, fs.ErrNotExist) {
		if f, err = fsys.Open(name); err != nil {
			return nil, err
		}
		return &limited{r: bufio.NewReader(f), c: f, n: MaxFileSize, name: name}, nil
	}
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("benchmarks: %s.gz: %w", name, err)
	}
	return &limited{r: zr, c: f, n: MaxFileSize, name: name}, nil
}

// Exists reports whether Open would find name in fsys.
func Exists(fsys fs.FS, name string) bool {
	for _, n := range []string{name + ".gz", name} {
		if fi, err := fs.Stat(fsys, n); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// Tasks lists the tasks with reference data, in TASKS.md's order.
func Tasks() []string {
	return strings.Fields("gaussian_linear two_moons slcp gaussian_mixture bernoulli_glm")
}

// limited reads at most n bytes of r, then fails.
type limited struct {
	r    io.Reader
	c    io.Closer
	n    int64
	name string
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// A file of exactly n bytes is fine: probe for one more.
		var b [1]byte
		if k, err := io.ReadFull(l.r, b[:]); k > 0 {
			return 0, fmt.Errorf("%w: %s holds more than %d bytes", ErrTooLarge, l.name, MaxFileSize)
		} else {
			return 0, err
		}
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

func (l *limited) Close() error { return l.c.Close() }
