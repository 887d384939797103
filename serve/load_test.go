package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amortize/amortize/runtime/runtimetest"
)

// twoMoons is shaped like sbi's default NSF on two_moons: θ and x of
// dimension 2, 50 hidden units, 5 transforms, 10 bins, the prior box
// [-1, 1]², and a posterior narrow enough that most draws are accepted.
var twoMoons = modelSpec{kind: "nsf", d: 2, xd: 2, thetaStd: 0.3, bound: 1, seed: 11}

const sampleBody = `{"x":[0.1,-0.2],"n":100}`

// TestLoad drives a loopback server with 64 concurrent clients posting
// n = 100 sample requests, and reports throughput and latency. It runs only
// when AMORTIZE_LOAD names a duration (AMORTIZE_LOAD=20s go test -run
// TestLoad ./serve); every request goes to the 127.0.0.1 listener it opens.
// AMORTIZE_LOAD_KIND=gaussian serves a Gaussian estimator of the same
// dimensions instead of the NSF, to see the server's own ceiling;
// AMORTIZE_LOAD_MODEL=FILE serves that model file (a trained two_moons
// model, such as the demo's demo-out/model.onnx) instead of random weights.
func TestLoad(t *testing.T) {
	spec := os.Getenv("AMORTIZE_LOAD")
	if spec == "" || testing.Short() {
		t.Skip("set AMORTIZE_LOAD=20s to run the load test")
	}
	dur, err := time.ParseDuration(spec)
	if err != nil || dur <= 0 || dur > 5*time.Minute {
		t.Fatalf("AMORTIZE_LOAD=%q: want a duration up to 5m", spec)
	}
	runtimetest.RequireLibrary(t)
	model := twoMoons
	if k := os.Getenv("AMORTIZE_LOAD_KIND"); k != "" {
		model.kind = k
	}
	dir := t.TempDir()
	if file := os.Getenv("AMORTIZE_LOAD_MODEL"); file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "two_moons.onnx"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		model.kind = file
	} else {
		writeModel(t, dir, "two_moons", model)
	}
	srv, err := New(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	lb := serveLoopback(t, srv)
	defer func() {
		lb.stop()
		if err := <-lb.served; err != nil {
			t.Error(err)
		}
	}()
	base := lb.base

	const clients = 64
	const maxRequests = 50_000_000 // a bound independent of the clock
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	url := base + "/v1/models/two_moons/sample"

	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
		firstErr  error
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(dur)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			bad := 0
			var errOne error
			for i := 0; i < maxRequests/clients && time.Now().Before(deadline); i++ {
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(sampleBody)))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				if err != nil {
					bad++
					if errOne == nil {
						errOne = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			failures += bad
			if firstErr == nil {
				firstErr = errOne
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	q := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(int(p*float64(len(latencies))), len(latencies)-1)]
	}
	t.Logf("%s, %d clients × %v: %d ok, %d errors; %.0f requests/s, %.0f samples/s; latency p50 %v, p99 %v, max %v",
		model.kind, clients, elapsed.Round(time.Millisecond), len(latencies), failures,
		float64(len(latencies))/elapsed.Seconds(), 100*float64(len(latencies))/elapsed.Seconds(),
		q(0.5), q(0.99), q(1))
	if failures > 0 {
		t.Errorf("%d requests failed; first: %v", failures, firstErr)
	}
}

// loopback is a Server serving on a free loopback port.
type loopback struct {
	base   string // http://127.0.0.1:port
	addr   string
	stop   context.CancelFunc // starts the graceful shutdown
	served chan error         // Serve's result
}

// serveLoopback serves s on a free loopback port and waits until its
// models are loaded.
func serveLoopback(t testing.TB, s *Server) *loopback {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	lb := &loopback{base: "http://" + ln.Addr().String(), addr: ln.Addr().String(), stop: stop, served: make(chan error, 1)}
	go func() { lb.served <- s.Serve(ctx, ln) }()
	waitReady(t, lb.base)
	return lb
}

// waitReady polls /readyz until the models are in.
func waitReady(t testing.TB, base string) {
	t.Helper()
	for range 500 {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("server not ready after 5 s")
}

// BenchmarkSample measures sample requests through the handler from 64
// concurrent callers, without the network: the server's own cost per
// request, batching included.
func BenchmarkSample(b *testing.B) {
	dir := b.TempDir()
	writeModel(b, dir, "two_moons", twoMoons)
	h := newServer(b, Config{Dir: dir}).Handler()
	body := []byte(sampleBody)
	b.ReportAllocs()
	b.SetParallelism(max(64/goruntime.GOMAXPROCS(0), 1))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/models/two_moons/sample", bytes.NewReader(body)))
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
