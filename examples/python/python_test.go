package python_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/amortize/amortize/format"
	"github.com/amortize/amortize/format/onnxpb"
	"github.com/amortize/amortize/prior"
	"google.golang.org/protobuf/proto"
)

// snippet is docs/FORMAT.md's Python example: the code block of the
// section "Using a file from Python".
func snippet(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "FORMAT.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "## Using a file from Python")
	if !ok {
		t.Fatal(`docs/FORMAT.md has no section "Using a file from Python"`)
	}
	_, code, ok := strings.Cut(sec, "```python\n")
	code, _, ok2 := strings.Cut(code, "```")
	if !ok || !ok2 {
		t.Fatal("the Python section of docs/FORMAT.md has no ```python block")
	}
	return code
}

// TestFormatPythonExample checks the names docs/FORMAT.md's Python example
// uses against the contract's (package format, and the JSON of the
// priors and the noise layout), and the order in which it unpacks
// sess.run(None, …) against the outputs' order in a model file. onnxruntime
// for Python is not packaged for the test machine, so the example is not
// run; its graph calls are those the Node example makes and compares with
// the Go runtime bit for bit.
func TestFormatPythonExample(t *testing.T) {
	code := snippet(t)

	// Metadata keys.
	keys := regexp.MustCompile(`meta\["([^"]+)"\]`).FindAllStringSubmatch(code, -1)
	if len(keys) == 0 {
		t.Error("the example reads no metadata key")
	}
	for _, k := range keys {
		name, ok := strings.CutPrefix(k[1], format.Prefix)
		if !ok || !slices.Contains(format.Keys, name) {
			t.Errorf("the example reads metadata key %q, not one of the contract's %s%v", k[1], format.Prefix, format.Keys)
		}
	}

	// Inputs: every run feeds exactly the contract's inputs.
	feeds := regexp.MustCompile(`sess\.run\(None, \{([^}]*)\}`).FindAllStringSubmatch(code, -1)
	if len(feeds) == 0 {
		t.Fatal("the example never calls sess.run(None, {…})")
	}
	for _, f := range feeds {
		var names []string
		for _, m := range regexp.MustCompile(`"([^"]+)":`).FindAllStringSubmatch(f[1], -1) {
			names = append(names, m[1])
		}
		sort.Strings(names)
		want := slices.Sorted(slices.Values(format.Inputs))
		if !slices.Equal(names, want) {
			t.Errorf("the example feeds %v, the contract's inputs are %v", names, want)
		}
	}

	// Outputs: sess.run(None, …) returns them in the file's order; the
	// example's variables must sit where their output does.
	role := map[string]string{"samples": format.OutputSample, "logq": format.OutputSampleLog, "logp": format.OutputLogProb}
	// The example reads an NPE file, which has every output but NRE's log_ratio.
	npe := slices.DeleteFunc(slices.Clone(format.Outputs), func(s string) bool { return s == format.OutputLogRatio })
	order := outputOrder(t)
	if !slices.Equal(order, npe) {
		t.Errorf("an NPE model file's outputs are in the order %v, the contract lists %v", order, npe)
	}
	unpacks := regexp.MustCompile(`(?m)^\s*([\w, ]+?)\s*=\s*sess\.run\(None`).FindAllStringSubmatch(code, -1)
	if len(unpacks) != len(feeds) {
		t.Fatalf("found %d unpackings of sess.run for %d calls", len(unpacks), len(feeds))
	}
	used := 0
	for _, u := range unpacks {
		vars := strings.Split(strings.ReplaceAll(u[1], " ", ""), ",")
		if len(vars) != len(order) {
			t.Errorf("the example unpacks %d outputs (%s), a model file has %d", len(vars), u[1], len(order))
			continue
		}
		for i, v := range vars {
			if v == "_" {
				continue
			}
			want, ok := role[v]
			if !ok {
				t.Errorf("output variable %q: this test does not know which output it is meant to be", v)
				continue
			}
			if order[i] != want {
				t.Errorf("the example takes %s from position %d, which is %s", v, i, order[i])
			}
			used++
		}
	}
	if used < 3 {
		t.Errorf("the example uses %d outputs, want log_prob, sample and sample_log_prob", used)
	}

	// JSON fields of the noise layout and of a box prior.
	noise, _ := json.Marshal(format.Noise{})
	box, err := prior.NewBoxUniform([]float64{0}, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	boxJSON, err := prior.Marshal(box)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pattern string
		json    []byte
	}{{`noise\["(\w+)"\]`, noise}, {`prior\["(\w+)"\]`, boxJSON}} {
		var fields map[string]any
		if err := json.Unmarshal(c.json, &fields); err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(c.pattern).FindAllStringSubmatch(code, -1) {
			if _, ok := fields[m[1]]; !ok {
				t.Errorf("the example reads field %q of %s", m[1], c.json)
			}
		}
	}

	// It is Python: the parser accepts it, where python3 exists.
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("no python3: the example's syntax is not checked")
		return
	}
	cmd := exec.Command(py, "-c", "import ast, sys; ast.parse(sys.stdin.read())")
	cmd.Stdin = strings.NewReader(code)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("python3 cannot parse the example: %v\n%s", err, out)
	}
}

// outputOrder is the order of the graph outputs in a golden model file.
func outputOrder(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "nsf.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range mp.GetGraph().GetOutput() {
		names = append(names, o.GetName())
	}
	return names
}
