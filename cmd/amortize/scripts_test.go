package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBin is a directory of stand-in commands for scripts/deps.sh: every
// package is missing, apt-get logs its arguments, and id reports uid.
func fakeBin(t *testing.T, uid string, sudo bool) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(t.TempDir(), "apt.log")
	scripts := map[string]string{
		"id":         "echo " + uid,
		"dpkg-query": "exit 1",
		"apt-get":    `echo "apt-get $*" >> ` + log,
		"go":         "echo go",
	}
	if sudo {
		scripts["sudo"] = `echo "sudo" >> ` + log + `; "$@"`
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"grep", "bash", "sed"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skip(err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, log
}

func runDeps(t *testing.T, bin string) (string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(bash, filepath.Join("..", "..", "scripts", "deps.sh"))
	cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// scripts/deps.sh says what it installs, and without root or sudo says
// what to run instead of failing on a missing sudo.
func TestDepsScript(t *testing.T) {
	bin, log := fakeBin(t, "1000", false)
	out, err := runDeps(t, bin)
	if err == nil || !strings.Contains(out, "apt-get install -y --no-install-recommends make gcc libopenblas-dev") || !strings.Contains(out, "root") {
		t.Errorf("not root, no sudo: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(log); len(b) != 0 {
		t.Errorf("apt-get ran without root: %s", b)
	}

	bin, log = fakeBin(t, "1000", true)
	out, err = runDeps(t, bin)
	b, _ := os.ReadFile(log)
	if err != nil || !strings.Contains(out, "installing make gcc") || !strings.HasPrefix(string(b), "sudo\napt-get update") {
		t.Errorf("with sudo: %v\n%s\napt log:\n%s", err, out, b)
	}

	bin, log = fakeBin(t, "0", false)
	out, err = runDeps(t, bin)
	b, _ = os.ReadFile(log)
	if err != nil || !strings.Contains(out, "installed make gcc") || !strings.Contains(string(b), "install -y -qq --no-install-recommends make gcc") {
		t.Errorf("as root: %v\n%s\napt log:\n%s", err, out, b)
	}
}
