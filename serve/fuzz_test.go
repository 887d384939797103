package serve

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzRequest posts fuzzed bodies to the model routes of a server with
// small limits: every answer is JSON with a status the API documents, a
// client error for a bad body, never a 500 or a panic.
func FuzzRequest(f *testing.F) {
	for _, c := range []struct {
		route uint8
		body  string
	}{
		{0, `{"x":[0,0,0],"n":3,"seed":1}`}, {0, `{"x":[[0,0,0],[1,1,1]],"n":2}`}, {0, `{"x":[0,0],"n":1}`},
		{0, `{"x":null,"n":1}`}, {0, `{"x":[0,0,0],"n":1e9}`}, {0, `{"x":[[]],"n":1}`}, {0, `{"x":[1e39,0,0],"n":1}`},
		{1, `{"x":[0,0,0],"theta":[[0,0],[1,1]]}`}, {1, `{"x":[0,0,0],"theta":[[0,0]],"leakage":true,"seed":2}`},
		{1, `{"x":[0,0,0],"theta":[]}`}, {1, `{"x":[0,0,0],"theta":[[0,0,0]]}`},
		{2, `{"x":[0,0,0],"seed":3}`}, {2, `{"x":[0,0,0,0]}`}, {2, `{}`}, {2, ``}, {2, `[]`}, {2, `{"x":[0,0,0]}{}`},
	} {
		f.Add(c.route, []byte(c.body))
	}
	s := newServer(f, Config{MaxSamples: 200, Timeout: 5 * time.Second, MaxBodyBytes: 1 << 16})
	h := s.Handler()
	routes := []string{"/v1/models/small/sample", "/v1/models/small/log_prob", "/v1/models/small/map"}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := routes[int(route)%len(routes)]
		w := do(h, "POST", path, string(body))
		switch w.Code {
		case 200, 400, 413, 422:
		default:
			t.Fatalf("%s %q: status %d: %s", path, body, w.Code, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %q: body %q is not JSON", path, body, w.Body)
		}
	})
}
