package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/amortize/amortize/internal/atomicfile"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// TestWrite: the file holds what was written, with the permissions asked
// for, replaces an older one and leaves no temporary file behind.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	for _, c := range []struct {
		data string
		perm os.FileMode
	}{{"first", 0o644}, {"second", 0o600}} {
		if err := atomicfile.Write(path, c.perm, writeString(c.data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.data {
			t.Errorf("file holds %q, want %q", got, c.data)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != c.perm {
			t.Errorf("mode %v (%v), want %v", st.Mode().Perm(), err, c.perm)
		}
		onlyFile(t, dir, "out.json")
	}
}

// TestWriteFails: a failing write leaves the old file as it was and no
// temporary file, and its error comes back unchanged.
func TestWriteFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, "partial"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("file holds %q after a failed write, want the old content", got)
	}
	onlyFile(t, dir, "out.json")

	// A missing directory fails before anything is written.
	if err := atomicfile.Write(filepath.Join(dir, "no", "such"), 0o644, writeString("x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v, want ErrNotExist", err)
	}
}

// TestWriteConcurrent: writers of the same path use temporary files of
// their own, so each rename installs one writer's whole file.
func TestWriteConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- atomicfile.Write(path, 0o644, writeString(string(rune('a'+i))+"-whole")) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || len(got) != len("a-whole") || string(got[1:]) != "-whole" {
		t.Errorf("file holds %q (%v), want one writer's whole content", got, err)
	}
	onlyFile(t, dir, "out")
}

func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s", names, name)
	}
}
