package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeSection is the README section whose shell blocks TestREADME runs.
const readmeSection = "## CLI quick start"

// codeBlocks returns the bodies of the ```lang blocks in the README section
// whose heading is section, up to the next heading of its level.
func codeBlocks(readme []byte, section, lang string) []string {
	var (
		blocks []string
		in     bool
		block  *strings.Builder
	)
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case block != nil:
			if strings.HasPrefix(line, "```") {
				blocks = append(blocks, block.String())
				block = nil
			} else {
				block.WriteString(line + "\n")
			}
		case strings.HasPrefix(line, "## "):
			in = line == section
		case in && line == "```"+lang:
			block = &strings.Builder{}
		}
	}
	return blocks
}

// TestREADME runs the README's CLI quick start as written, in an empty
// directory, with the amortize command built from this tree on the PATH:
// a README whose commands stop working fails the tests.
func TestREADME(t *testing.T) {
	needLibrary(t)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeBlocks(readme, readmeSection, "sh")
	if len(blocks) == 0 {
		t.Fatalf("README.md has no ```sh blocks under %q", readmeSection)
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "amortize"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	for i, b := range blocks {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", b)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README block %d failed: %v\n%s\noutput:\n%s", i+1, err, b, out)
		}
		t.Logf("block %d:\n%s%s", i+1, b, out)
	}
}

func TestCodeBlocks(t *testing.T) {
	md := "# t\n```sh\nno\n```\n## CLI quick start\ntext\n```sh\na\nb\n```\n```go\nno\n```\n### sub\n```sh\nc\n```\n## Next\n```sh\nno\n```\n"
	got := codeBlocks([]byte(md), readmeSection, "sh")
	if len(got) != 2 || got[0] != "a\nb\n" || got[1] != "c\n" {
		t.Errorf("codeBlocks = %q", got)
	}
	if got := codeBlocks([]byte(md), readmeSection, "go"); len(got) != 1 || got[0] != "no\n" {
		t.Errorf("codeBlocks(go) = %q", got)
	}
}
