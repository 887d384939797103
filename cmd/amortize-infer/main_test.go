package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/amortize/amortize/api"
	"github.com/amortize/amortize/dataset"
	"github.com/amortize/amortize/export"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"github.com/amortize/amortize/serve"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// bin is the amortize-infer binary, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "amortize-infer-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "amortize-infer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is a model file and the onnxruntime library to run it with.
type fixture struct {
	dir, model, library string
}

// newFixture exports a small random MAF (θ of dimension 2, x of 3, prior
// box [-2, 2]²) as dir/small.onnx.
func newFixture(t *testing.T) fixture {
	t.Helper()
	runtimetest.RequireLibrary(t)
	lib, err := runtime.FindLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := runtimetest.RandomModel(t, "maf", 2, 3, 8, 3)
	runtimetest.SetBox(t, m, -2, 2)
	path := filepath.Join(dir, "small.onnx")
	if err := export.WriteFile(m, path); err != nil {
		t.Fatal(err)
	}
	return fixture{dir: dir, model: path, library: lib}
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the binary with the fixture's library.
func (f fixture) cli(t *testing.T, args ...string) result {
	t.Helper()
	if !slices.Contains(args, "--library") {
		args = append(args, "--library", f.library)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = f.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return result{code, out.String(), errb.String()}
}

// ok runs the binary and fails the test unless it succeeds.
func (f fixture) ok(t *testing.T, args ...string) result {
	t.Helper()
	r := f.cli(t, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
	}
	return r
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestInspect(t *testing.T) {
	f := newFixture(t)
	golden(t, "inspect.golden", f.ok(t, "inspect", "small.onnx").stdout)
	js := f.ok(t, "inspect", "small.onnx", "--json").stdout
	golden(t, "inspect_json.golden", js)
	var info api.ModelInfo
	if err := json.Unmarshal([]byte(js), &info); err != nil || info.Name != "small" || info.ThetaDim != 2 {
		t.Errorf("inspect --json: %+v, %v", info, err)
	}
}

// table parses CSV output: the header and the rows.
func table(t *testing.T, s string) ([]string, [][]float64) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	var rows [][]float64
	for _, l := range lines[1:] {
		var row []float64
		for _, v := range strings.Split(l, ",") {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			row = append(row, x)
		}
		rows = append(rows, row)
	}
	return strings.Split(lines[0], ","), rows
}

func TestSample(t *testing.T) {
	f := newFixture(t)
	r := f.ok(t, "sample", "small.onnx", "--x", "0.3,-0.1,0.5", "--n", "1000", "--seed", "7")
	header, rows := table(t, r.stdout)
	if strings.Join(header, ",") != "theta_1,theta_2" || len(rows) != 1000 {
		t.Fatalf("header %v, %d rows", header, len(rows))
	}
	for _, row := range rows {
		if len(row) != 2 || row[0] < -2 || row[0] > 2 || row[1] < -2 || row[1] > 2 {
			t.Fatalf("row %v outside the prior box", row)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr with --seed: %q", r.stderr)
	}

	// The server answers the same samples for the same seed, although it
	// batches its onnxruntime calls differently.
	s, err := serve.New(serve.Config{Dir: f.dir, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/v1/models/small/sample",
		strings.NewReader(`{"x":[0.3,-0.1,0.5],"n":1000,"seed":7}`)))
	var resp api.SampleResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	for i, row := range resp.Results[0].Samples {
		if row[0] != rows[i][0] || row[1] != rows[i][1] {
			t.Fatalf("sample %d: server %v, command line %v", i, row, rows[i])
		}
	}

	// JSON output is the server's response.
	js := f.ok(t, "sample", "small.onnx", "--x", "0.3,-0.1,0.5", "--n", "1000", "--seed", "7", "--format", "json").stdout
	var cliResp api.SampleResponse
	if err := json.Unmarshal([]byte(js), &cliResp); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cliResp.Results) != fmt.Sprint(resp.Results) || cliResp.Seed != 7 {
		t.Error("sample --format json differs from the server's answer")
	}

	// Several observations: an observation column, row 0 as alone.
	header, multi := table(t, f.ok(t, "sample", "small.onnx", "--x", "0.3,-0.1,0.5;1,1,1", "--n", "1000", "--seed", "7").stdout)
	if strings.Join(header, ",") != "observation,theta_1,theta_2" || len(multi) != 2000 {
		t.Fatalf("header %v, %d rows", header, len(multi))
	}
	for i, row := range multi {
		if want := float64(i / 1000); row[0] != want {
			t.Fatalf("row %d: observation %v, want %v", i, row[0], want)
		}
		if i < 1000 && (row[1] != rows[i][0] || row[2] != rows[i][1]) {
			t.Fatalf("row %d of observation 0: %v, alone %v", i, row[1:], rows[i])
		}
	}

	// .npy output holds the CSV's numbers.
	f.ok(t, "sample", "small.onnx", "--x-file", writeFile(t, f.dir, "obs.json", "[0.3,-0.1,0.5]"),
		"--n", "1000", "--seed", "7", "--out", "s.npy")
	fh, err := os.Open(filepath.Join(f.dir, "s.npy"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	m, err := dataset.ReadNPY(fh)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		// The CSV holds the float32 values in their shortest form.
		if float32(m.At(i, 0)) != float32(rows[i][0]) || float32(m.At(i, 1)) != float32(rows[i][1]) {
			t.Fatalf("npy row %d: %v, csv %v", i, m.RawRowView(i), rows[i])
		}
	}

	// Without --seed one is drawn, reported, and repeats the run.
	r = f.ok(t, "sample", "small.onnx", "--x", "0,0,0", "--n", "5")
	var seed uint64
	if _, err := fmt.Sscanf(r.stderr, "amortize-infer: seed %d", &seed); err != nil {
		t.Fatalf("stderr %q: %v", r.stderr, err)
	}
	if again := f.ok(t, "sample", "small.onnx", "--x", "0,0,0", "--n", "5", "--seed", fmt.Sprint(seed)); again.stdout != r.stdout {
		t.Error("the reported seed does not repeat the run")
	}
}

// sample --method mcmc: samples inside the prior box for each observation,
// the convergence summary on stderr, and the same samples for the same seed
// with another sampler setting that does not change them (none does, so
// two runs are compared).
func TestSampleMCMC(t *testing.T) {
	f := newFixture(t)
	for _, method := range []string{"slice", "ensemble"} {
		args := []string{"sample", "small.onnx", "--x", "0.3,-0.1,0.5;0,0,0", "--n", "200", "--seed", "7",
			"--method", "mcmc", "--mcmc-method", method, "--chains", "10", "--warmup", "20", "--thin", "2"}
		r := f.ok(t, args...)
		header, rows := table(t, r.stdout)
		if strings.Join(header, ",") != "observation,theta_1,theta_2" || len(rows) != 400 {
			t.Fatalf("%s: header %v, %d rows", method, header, len(rows))
		}
		for _, row := range rows {
			if row[1] < -2 || row[1] > 2 || row[2] < -2 || row[2] > 2 {
				t.Fatalf("%s: row %v outside the prior box", method, row)
			}
		}
		for _, want := range []string{"observation 1: " + method + ": 10 chains × 20 draws (warm-up 20, thin 2), R-hat max", "observation 2: "} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr %q lacks %q", method, r.stderr, want)
			}
		}
		if again := f.ok(t, args...); again.stdout != r.stdout {
			t.Errorf("%s: two runs with --seed 7 differ", method)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLogProb(t *testing.T) {
	f := newFixture(t)
	writeFile(t, f.dir, "theta.csv", "theta_1,theta_2\n0,0\n3,0\n1.5,-0.5\n")
	header, rows := table(t, f.ok(t, "logprob", "small.onnx", "--x", "0.3,-0.1,0.5", "--theta-file", "theta.csv").stdout)
	if strings.Join(header, ",") != "log_prob" || len(rows) != 3 {
		t.Fatalf("header %v, rows %v", header, rows)
	}
	if !(rows[1][0] < -1e308) {
		t.Errorf("θ (3, 0) is outside the prior: log_prob %v, want -Inf", rows[1][0])
	}
	inline := f.ok(t, "logprob", "small.onnx", "--x", "0.3,-0.1,0.5", "--theta", "0,0;3,0;1.5,-0.5", "--format", "json").stdout
	var resp api.LogProbResponse
	if err := json.Unmarshal([]byte(inline), &resp); err != nil {
		t.Fatal(err)
	}
	if *resp.LogProb[0] != rows[0][0] || resp.LogProb[1] != nil || *resp.LogProb[2] != rows[2][0] {
		t.Errorf("json %s, csv %v", inline, rows)
	}
	_, leak := table(t, f.ok(t, "logprob", "small.onnx", "--x", "0.3,-0.1,0.5", "--theta-file", "theta.csv", "--leakage", "--seed", "1").stdout)
	d0, d2 := leak[0][0]-rows[0][0], leak[2][0]-rows[2][0]
	if d0 <= 0 || d0-d2 > 1e-9 || d2-d0 > 1e-9 {
		t.Errorf("leakage shifts %v and %v, want one positive shift", d0, d2)
	}
}

func TestMAP(t *testing.T) {
	f := newFixture(t)
	header, rows := table(t, f.ok(t, "map", "small.onnx", "--x", "0.3,-0.1,0.5", "--seed", "2",
		"--candidates", "200", "--max-evaluations", "300").stdout)
	if strings.Join(header, ",") != "theta_1,theta_2,log_prob" || len(rows) != 1 {
		t.Fatalf("header %v, rows %v", header, rows)
	}
	th := rows[0][:2]
	_, lp := table(t, f.ok(t, "logprob", "small.onnx", "--x", "0.3,-0.1,0.5",
		"--theta", fmt.Sprintf("%v,%v", th[0], th[1])).stdout)
	if d := lp[0][0] - rows[0][2]; d > 1e-9 || d < -1e-9 {
		t.Errorf("map log_prob %v, logprob at its θ %v", rows[0][2], lp[0][0])
	}
}

func TestExitCodes(t *testing.T) {
	f := newFixture(t)
	writeFile(t, f.dir, "junk.onnx", "not a model")
	writeFile(t, f.dir, "obs.txt", "1 2 3")
	writeFile(t, f.dir, "obs.csv", "x_1,x_2,x_3\n1,2,3\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"sample"}, 2, "accepts 1 arg(s)"},
		{[]string{"sample", "small.onnx"}, 2, "--x or --x-file is required"},
		{[]string{"sample", "small.onnx", "--x", "1,2"}, 2, "has 2 values per row, the model expects 3"},
		{[]string{"sample", "small.onnx", "--x", "1,a,3"}, 2, `"a" is not a number`},
		{[]string{"sample", "small.onnx", "--x", "1,2,3;4,5"}, 2, "row 2 has 2 values"},
		{[]string{"sample", "small.onnx", "--x", "nan,0,0"}, 2, "not a finite float32"},
		{[]string{"sample", "small.onnx", "--x", "0,1e39,0"}, 2, "not a finite float32"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--n", "0"}, 2, "--n 0"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--n", "ten"}, 2, "invalid argument"},
		{[]string{"sample", "missing.onnx", "--x", "0,0,0"}, 2, "no such file"},
		{[]string{"sample", ".", "--x", "0,0,0"}, 2, "is a directory"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--out", "s.txt"}, 2, "cannot tell the format"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--format", "xml"}, 2, `--format "xml"`},
		{[]string{"sample", "small.onnx", "--x-file", "obs.txt"}, 2, "unknown file type"},
		{[]string{"sample", "small.onnx", "--x-file", "nothere.csv"}, 2, "no such file"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--x-file", "obs.csv"}, 2, "not both"},
		{[]string{"logprob", "small.onnx", "--x", "0,0,0;1,1,1", "--theta", "0,0"}, 2, "2 observations; this command takes one"},
		{[]string{"logprob", "small.onnx", "--x", "0,0,0"}, 2, "--theta or --theta-file is required"},
		{[]string{"logprob", "small.onnx", "--x", "0,0,0", "--theta", "0,0,0"}, 2, "theta has 3 values per row, the model expects 2"},
		{[]string{"map", "small.onnx", "--x", "0,0,0", "--starts", "-1"}, 2, "--starts -1"},
		{[]string{"map", "small.onnx", "--x", "0,0,0", "--candidates", "0"}, 2, "--candidates 0"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--batch-draws", "0"}, 2, "--batch-draws 0"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--method", "gibbs"}, 2, `--method "gibbs"`},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--chains", "5"}, 2, "--chains is for --method mcmc"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--method", "mcmc", "--thin", "0"}, 2, "--thin 0"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--method", "mcmc", "--mcmc-method", "hmc"}, 2, `--mcmc-method "hmc"`},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--method", "mcmc", "--mcmc-method", "ensemble", "--chains", "4"}, 2, "at least 2·dim+2"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--method", "mcmc", "--init", "map"}, 2, `--init "map"`},
		{[]string{"serve"}, 2, "--models is required"},
		{[]string{"serve", "--models", "nowhere"}, 2, "no such file"},
		{[]string{"serve", "--models", ".", "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"serve", "--models", ".", "--ui", "--ui-ort", "nowhere"}, 2, "run scripts/web-deps.sh"},
		{[]string{"inspect", "junk.onnx"}, 1, "breaks the amortize contract"},
		{[]string{"sample", "small.onnx", "--x", "0,0,0", "--library", "nowhere.so"}, 1, "onnxruntime shared library not found"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := f.cli(t, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, c.code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "amortize-infer: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, c.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q on failure", r.stdout)
			}
		})
	}
}

// TestServe runs the serve command, asks it for samples, and stops it with
// SIGTERM.
func TestServe(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port that was free a moment ago; good enough for a test
	cmd := exec.Command(bin, "serve", "--models", f.dir, "--addr", addr, "--library", f.library, "--log-format", "json")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	base := "http://" + addr
	ready := false
	for deadline := time.Now().Add(20 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == 200
		}
	}
	if !ready {
		t.Fatalf("server not ready; logs:\n%s", logs.String())
	}
	resp, err := http.Post(base+"/v1/models/small/sample", "application/json", strings.NewReader(`{"x":[0,0,0],"n":3,"seed":1}`))
	if err != nil {
		t.Fatal(err)
	}
	var sr api.SampleResponse
	err = json.NewDecoder(resp.Body).Decode(&sr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(sr.Results[0].Samples) != 3 {
		t.Fatalf("status %d, %+v, %v", resp.StatusCode, sr, err)
	}

	// SIGHUP reloads the directory: the server lives on and serves a file
	// added since it started.
	data, err := os.ReadFile(f.model)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "added.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	added := 0
	for deadline := time.Now().Add(20 * time.Second); added != 200 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/v1/models/added")
		if err != nil {
			t.Fatalf("after SIGHUP: %v; logs:\n%s", err, logs.String())
		}
		resp.Body.Close()
		added = resp.StatusCode
	}
	if added != 200 {
		t.Fatalf("the model added before SIGHUP: status %d; logs:\n%s", added, logs.String())
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("serve exited with %v; logs:\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if !strings.Contains(logs.String(), `"route":"POST /v1/models/{name}/sample"`) {
		t.Errorf("no request log line:\n%s", logs.String())
	}
}

// TestServeAddr: the server listens on the loopback interface unless told
// otherwise.
func TestServeAddr(t *testing.T) {
	f := newFixture(t)
	help := f.ok(t, "serve", "--help").stdout
	if !strings.Contains(help, `(default "127.0.0.1:8080")`) {
		t.Errorf("serve --help does not show the loopback default address:\n%s", help)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// --x-file takes the body of a server request as it is.
func TestXFileRequestJSON(t *testing.T) {
	f := newFixture(t)
	want := f.ok(t, "sample", "small.onnx", "--x", "0.3,-0.1,0.5;1,1,1", "--n", "20", "--seed", "7").stdout
	for _, body := range []string{
		`{"x":[[0.3,-0.1,0.5],[1,1,1]],"n":1000,"seed":7}`,
		`[[0.3,-0.1,0.5],[1,1,1]]`,
	} {
		got := f.ok(t, "sample", "small.onnx", "--x-file", writeFile(t, f.dir, "req.json", body), "--n", "20", "--seed", "7").stdout
		if got != want {
			t.Errorf("--x-file %s: samples differ from --x", body)
		}
	}
	for body, msg := range map[string]string{
		`{"theta":[1,2]}`:       `no field "x"`,
		`{"x":[0.3,null,0.5]}`:  "null",
		`[0.3,null,0.5]`:        "null",
		`{"x":[0.3,-0.1,0.5]`:   "json",
		`{"x":{"a":1}}`:         "want an array",
		`[[0.3,-0.1,0.5],[1]]`:  "row 2 has 1 values",
		`{"x":[[0.3,-0.1,0.5]]`: "json",
	} {
		r := f.cli(t, "sample", "small.onnx", "--x-file", writeFile(t, f.dir, "bad.json", body), "--n", "5", "--seed", "1")
		if r.code != 2 || !strings.Contains(r.stderr, msg) {
			t.Errorf("--x-file %s: exit %d, %q; want 2 and %q", body, r.code, r.stderr, msg)
		}
	}
}

// A model file without a prior gets advice a command-line user can follow.
func TestNoPriorMessage(t *testing.T) {
	f := newFixture(t)
	m := runtimetest.RandomModel(t, "maf", 2, 3, 8, 3)
	m.Prior = nil
	if err := export.WriteFile(m, filepath.Join(f.dir, "bare.onnx")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"sample", "bare.onnx", "--x", "0,0,0", "--seed", "1"},
		{"logprob", "bare.onnx", "--x", "0,0,0", "--theta", "0,0"},
		{"map", "bare.onnx", "--x", "0,0,0", "--seed", "1"},
	} {
		r := f.cli(t, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "--prior") || strings.Contains(r.stderr, "Options") {
			t.Errorf("%s: exit %d, %q; want 1 and advice naming --prior, no Go option", args[0], r.code, r.stderr)
		}
	}
}
