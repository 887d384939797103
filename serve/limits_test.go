package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
	"github.com/amortize/amortize/runtime/runtimetest"
	"gonum.org/v1/gonum/mat"
)

// rawRequest is a POST on a connection of its own whose handler has asked
// for the body (Expect: 100-continue), which the test sends when it wants.
type rawRequest struct {
	conn net.Conn
	r    *bufio.Reader
	body string
}

// startRequest sends the header of a POST of body to path and waits until
// the handler asks for the body.
func startRequest(t *testing.T, addr, path, body string) *rawRequest {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, len(body))
	rr := &rawRequest{conn: c, r: bufio.NewReader(c), body: body}
	resp, err := http.ReadResponse(rr.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("status %s, want 100 Continue", resp.Status)
	}
	return rr
}

// response reads the answer.
func (rr *rawRequest) response(t *testing.T) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(rr.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// finish sends the body and reads the answer.
func (rr *rawRequest) finish(t *testing.T) *http.Response {
	t.Helper()
	if _, err := io.WriteString(rr.conn, rr.body); err != nil {
		t.Fatal(err)
	}
	resp, _ := rr.response(t)
	return resp
}

// TestSlowBody: clients that send their bodies slowly hold no concurrency
// slot, and are answered 408 once BodyTimeout has passed.
func TestSlowBody(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	const timeout = 2 * time.Second
	s, err := New(Config{Dir: dir, Logger: quietLogger(), MaxConcurrent: 4, BodyTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	lb := serveLoopback(t, s)
	defer func() {
		lb.stop()
		<-lb.served
	}()
	body := `{"x":[0,0,0],"n":3}`
	start := time.Now()
	var slow []*rawRequest
	for range 4 {
		rr := startRequest(t, lb.addr, "/v1/models/small/sample", body)
		io.WriteString(rr.conn, body[:8]) // and no more
		slow = append(slow, rr)
	}
	resp, err := http.Post(lb.base+"/v1/models/small/sample", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a prompt request beside 4 slow ones with 4 slots: status %d, want 200", resp.StatusCode)
	}
	for i, rr := range slow {
		resp, b := rr.response(t)
		if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("Content-Type") != "application/json" ||
			!strings.Contains(b, "request body not received within 2s") {
			t.Errorf("slow request %d: %s %q %s", i, resp.Status, resp.Header.Get("Content-Type"), b)
		}
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("slow requests answered after %v, before the body timeout of %v", d, timeout)
	}
}

// TestWork: a request is bounded by its work, not only by its samples.
func TestWork(t *testing.T) {
	s := newServer(t, Config{})
	h := s.Handler()
	// 20,000 observations at n = 1 are within MaxSamples and the body
	// limit, but 20,000 × 65 × 5 = 6,500,000 values of work.
	many := `{"x":[` + strings.TrimSuffix(strings.Repeat("[0,0,0],", 20_000), ",") + `],"n":1}`
	start := time.Now()
	w := do(h, "POST", "/v1/models/small/sample", many)
	if w.Code != 413 {
		t.Fatalf("20,000 observations × n = 1: status %d after %v, want 413", w.Code, time.Since(start))
	}
	if msg := errorBody(t, w); !strings.Contains(msg, "20000 observations × (n = 1 + 64 per observation), 1300000 model evaluations × 5 dimensions, over the server's limit of 4000000") {
		t.Errorf("error %q", msg)
	}

	// At the edge: 3 observations × (10 + 64) evaluations × 5 dimensions.
	edge := newServer(t, Config{MaxWork: 3 * 74 * 5})
	h = edge.Handler()
	if w := do(h, "POST", "/v1/models/small/sample", `{"x":[[0,0,0],[0,0,0],[0,0,0]],"n":10}`); w.Code != 200 {
		t.Errorf("work at the limit: status %d %s", w.Code, w.Body)
	}
	if w := do(h, "POST", "/v1/models/small/sample", `{"x":[[0,0,0],[0,0,0],[0,0,0]],"n":11}`); w.Code != 413 {
		t.Errorf("work over the limit: status %d %s", w.Code, w.Body)
	}
	theta := func(rows int) string { return strings.TrimSuffix(strings.Repeat("[0,0],", rows), ",") }
	if w := do(h, "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[`+theta(3*74-64)+`]}`); w.Code != 200 {
		t.Errorf("log_prob at the limit: status %d %s", w.Code, w.Body)
	}
	if w := do(h, "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[`+theta(3*74-63)+`]}`); w.Code != 413 {
		t.Errorf("log_prob over the limit: status %d %s", w.Code, w.Body)
	}
	w = do(h, "POST", "/v1/models/small/log_prob", `{"x":[0,0,0],"theta":[[0,0]],"leakage":true}`)
	if msg := errorBody(t, w); w.Code != 413 || !strings.Contains(msg, "10000 leakage draws") {
		t.Errorf("log_prob with leakage: status %d %q", w.Code, msg)
	}
	w = do(h, "POST", "/v1/models/small/map", `{"x":[0,0,0]}`)
	if msg := errorBody(t, w); w.Code != 413 || !strings.Contains(msg, "1000 candidates") {
		t.Errorf("map: status %d %q", w.Code, msg)
	}
}

// TestNull: JSON null is no number, wherever it stands.
func TestNull(t *testing.T) {
	h := newServer(t, Config{}).Handler()
	for _, c := range []struct{ path, body, want string }{
		{"sample", `{"x":[0,null,0],"n":1}`, "x[1] is null, want a number"},
		{"sample", `{"x":[[0,0,0],[0,0,null]],"n":1}`, "x[1][2] is null, want a number"},
		{"sample", `{"x":[[0,0,0],null],"n":1}`, "x[1] is null, want an array of 3 numbers"},
		{"log_prob", `{"x":[null,0,0],"theta":[[0,0]]}`, "x[0] is null"},
		{"log_prob", `{"x":[0,0,0],"theta":[[0,0],[0,null]]}`, "theta[1][1] is null"},
		{"log_prob", `{"x":[0,0,0],"theta":[null]}`, "theta[0] is null"},
		{"log_prob", `{"x":[0,0,0],"theta":null}`, "theta is required"},
		{"map", `{"x":[0,0,null]}`, "x[2] is null"},
	} {
		w := do(h, "POST", "/v1/models/small/"+c.path, c.body)
		if w.Code != 400 {
			t.Errorf("%s %s: status %d, want 400", c.path, c.body, w.Code)
			continue
		}
		if msg := errorBody(t, w); !strings.Contains(msg, c.want) {
			t.Errorf("%s %s: error %q, want %q", c.path, c.body, msg, c.want)
		}
	}
}

// TestHeaderTooLarge: a header over MaxHeaderBytes gets a JSON 431, not
// net/http's plain text.
func TestHeaderTooLarge(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	s, err := New(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	lb := serveLoopback(t, s)
	defer func() {
		lb.stop()
		<-lb.served
	}()
	req, _ := http.NewRequest("GET", lb.base+"/v1/models", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct{ Error string }
	if resp.StatusCode != 431 || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, "exceeds the limit of 65536 bytes") {
		t.Errorf("100 KiB header: %s %s", resp.Status, b)
	}
}

// TestReload: new, changed and removed files, and the requests holding the
// old models.
func TestReload(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "same", small)
	writeModel(t, dir, "changed", small)
	writeModel(t, dir, "removed", small)
	s := newServer(t, Config{Dir: dir})
	h := s.Handler()
	before := s.loaded()

	// A request in progress on the model about to change.
	r := httptest.NewRequest("POST", "/v1/models/changed/sample", nil)
	r.SetPathValue("name", "changed")
	held, err := s.model(r)
	if err != nil {
		t.Fatal(err)
	}

	os.Remove(filepath.Join(dir, "removed.onnx"))
	writeModel(t, dir, "changed", modelSpec{kind: "gaussian", d: 1, xd: 2, hidden: 4, thetaStd: 1, bound: 3, seed: 1})
	writeModel(t, dir, "added", small)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	after := s.loaded()
	if after["same"] != before["same"] {
		t.Error("an unchanged file was opened again")
	}
	if w := do(h, "GET", "/v1/models/removed", ""); w.Code != 404 {
		t.Errorf("removed model: status %d", w.Code)
	}
	if w := do(h, "POST", "/v1/models/added/sample", `{"x":[0,0,0],"n":2}`); w.Code != 200 {
		t.Errorf("added model: status %d %s", w.Code, w.Body)
	}
	if w := do(h, "POST", "/v1/models/changed/sample", `{"x":[0,0],"n":2}`); w.Code != 200 {
		t.Errorf("changed model, new dimensions: status %d %s", w.Code, w.Body)
	}
	if w := do(h, "GET", "/metrics", ""); strings.Contains(w.Body.String(), `model="removed"`) {
		t.Error("the metrics still show the removed model")
	}

	// The request holding the old version finishes on it.
	res, err := held.sampler.SampleBatched(context.Background(), mat.NewDense(1, 3, []float64{0, 0, 0}), 5, posterior.Source(1))
	if err != nil || len(res) != 1 {
		t.Fatalf("the old model failed its request in progress: %v", err)
	}
	select {
	case <-held.idle:
		t.Fatal("the old model retired with a request holding it")
	default:
	}
	held.release()
	<-held.idle
	s.retiring.Wait()
	if _, err := held.rt.LogProb([]float32{0, 0, 0}, 1, []float32{0, 0}, 1); err == nil || !strings.Contains(err.Error(), runtime.ErrClosed.Error()) {
		t.Errorf("the old model after its last request: %v, want closed", err)
	}
	if w := do(h, "GET", "/metrics", ""); !strings.Contains(w.Body.String(), "amortize_models_loaded 3") {
		t.Error("models_loaded is not 3")
	}

	// An empty directory changes nothing.
	for _, name := range []string{"same", "changed", "added"} {
		os.Rename(filepath.Join(dir, name+".onnx"), filepath.Join(dir, name+".bak"))
	}
	if err := s.Reload(); err == nil || len(s.loaded()) != 3 {
		t.Errorf("reload of an empty directory: %v, %d models", err, len(s.loaded()))
	}
}

// TestReloadUnderLoad: requests running while the models are reloaded
// again and again all succeed (run it with -race).
func TestReloadUnderLoad(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	s := newServer(t, Config{Dir: dir})
	h := s.Handler()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := do(h, "POST", "/v1/models/small/sample", `{"x":[0,0,0],"n":20}`)
				mu.Lock()
				codes[w.Code]++
				mu.Unlock()
			}
		}()
	}
	for i := range 6 {
		spec := small
		spec.seed = uint64(10 + i)
		writeModel(t, dir, "small", spec)
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(codes) != 1 || codes[200] == 0 {
		t.Errorf("status codes during reloads: %v", codes)
	}
	s.retiring.Wait() // every replaced model closed
}

// TestShutdownStuck: a request stuck in a model call cannot keep Serve
// from returning after ShutdownTimeout.
func TestShutdownStuck(t *testing.T) {
	runtimetest.RequireLibrary(t)
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	s, err := New(Config{Dir: dir, Logger: quietLogger(), ShutdownTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lb := serveLoopback(t, s)
	r := httptest.NewRequest("POST", "/v1/models/small/sample", nil)
	r.SetPathValue("name", "small")
	m, err := s.model(r) // held, as by a call that never returns
	if err != nil {
		t.Fatal(err)
	}
	lb.stop()
	select {
	case err := <-lb.served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10 s after the stop, with a grace period of 200 ms")
	}
	// The call returns at last: the model closes then.
	m.release()
	if err := s.closeModels(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestDefaults: serve.New applies the measured worker counts, and Serve
// runs one spare Go processor, given back when it returns.
func TestDefaults(t *testing.T) {
	runtimetest.RequireLibrary(t)
	procs := goruntime.GOMAXPROCS(0)
	dir := t.TempDir()
	writeModel(t, dir, "small", small)
	s, err := New(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Workers != procs || s.cfg.Runtime.Workers != procs {
		t.Errorf("workers %d, runtime workers %d, want GOMAXPROCS = %d", s.cfg.Workers, s.cfg.Runtime.Workers, procs)
	}
	lb := serveLoopback(t, s)
	if got := goruntime.GOMAXPROCS(0); got != procs+1 {
		t.Errorf("GOMAXPROCS %d while serving, want %d", got, procs+1)
	}
	lb.stop()
	if err := <-lb.served; err != nil {
		t.Fatal(err)
	}
	if got := goruntime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after serving, want %d", got, procs)
	}
}
