package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/runtime"
)

// httpError is an answer to a client mistake (or a busy server): its
// message is safe and useful to show.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, a ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, a...)}
}

// statusClientClosed is nginx's code for a client that left before the
// answer; it only shows in logs and metrics.
const statusClientClosed = 499

// classify maps an error to its status and the message the client sees.
// Server faults show only the request id: their text may name files.
func (s *Server) classify(err error, id string) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code, he.msg
	case errors.Is(err, posterior.ErrInput), errors.Is(err, runtime.ErrInput):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, posterior.ErrLowAcceptance):
		return http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, posterior.ErrSamplerClosed), errors.Is(err, runtime.ErrClosed):
		return http.StatusServiceUnavailable, "the server is shutting down"
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, fmt.Sprintf("request took longer than the server's limit of %v", s.cfg.Timeout)
	case errors.Is(err, context.Canceled):
		return statusClientClosed, "client closed the request"
	}
	return http.StatusInternalServerError, "internal server error (request id " + id + ")"
}

// statusWriter records what a handler wrote, for the log and the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
	err  error // the handler's error, for the access log
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handlerFunc is a route's handler: it writes the answer, or returns an
// error that the endpoint turns into one.
type handlerFunc func(w *statusWriter, r *http.Request) error

// endpoint wraps a route's handler with panic recovery, the request id,
// the metrics and the access log; model routes (limited) also take a
// concurrency slot and get the request deadline.
func (s *Server) endpoint(route string, limited bool, h handlerFunc) http.Handler {
	lat := s.metrics.latency.WithLabelValues(route)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := s.requestID(r)
		rw.Header().Set("X-Request-Id", id)
		w := &statusWriter{ResponseWriter: rw}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // net/http's own way to drop a connection
				}
				s.metrics.panics.Inc()
				s.log.Error("handler panicked", "request_id", id, "route", route,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if w.code == 0 {
					s.writeError(w, fmt.Errorf("panic: %v", p), id)
				}
			}
			d := time.Since(start)
			s.metrics.observe(lat, route, w.code, d.Seconds())
			s.accessLog(r, id, route, w, d)
		}()
		if n := headerBytes(r); n > s.cfg.MaxHeaderBytes {
			s.writeError(w, errorf(http.StatusRequestHeaderFieldsTooLarge,
				"request header of %d bytes exceeds the limit of %d bytes", n, s.cfg.MaxHeaderBytes), id)
			return
		}
		// The body is read before the request takes a slot, so that
		// clients sending slowly cannot hold the slots.
		body, err := s.readBody(w, r)
		if err != nil {
			w.Header().Set("Connection", "close")
			s.writeError(w, err, id)
			return
		}
		defer putBuf(body)
		r.Body = io.NopCloser(bytes.NewReader(*body))
		if limited {
			select {
			case s.slots <- struct{}{}:
				defer func() { <-s.slots }()
			default:
				s.metrics.rejected.Inc()
				s.writeError(w, errorf(http.StatusServiceUnavailable,
					"server busy: %d requests in progress, retry shortly", cap(s.slots)), id)
				return
			}
			s.metrics.inFlight.Inc()
			defer s.metrics.inFlight.Dec()
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, err, id)
		}
	})
}

// readBody reads the request body, within MaxBodyBytes and BodyTimeout,
// into a pooled buffer (putBuf it when done).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, error) {
	limit := s.cfg.MaxBodyBytes
	tooLarge := errorf(http.StatusRequestEntityTooLarge, "request body exceeds the limit of %d bytes", limit)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	// A writer without a connection (httptest's) cannot take a deadline,
	// and needs none.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	buf := getBuf()
	b, err := (*buf)[:0], error(nil)
	lr := io.LimitReader(r.Body, limit+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		var n int
		n, err = lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	*buf = b
	switch {
	case err != io.EOF:
		putBuf(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errorf(http.StatusRequestTimeout, "request body not received within %v", s.cfg.BodyTimeout)
		}
		return nil, errorf(http.StatusBadRequest, "reading the request body: %v", err)
	case int64(len(b)) > limit:
		putBuf(buf)
		return nil, tooLarge
	}
	// Once the body is in, net/http reads ahead on the connection to see
	// the client leave; a deadline left set would cut that read and cancel
	// the request while it is being served. (After an error it stays:
	// net/http then discards what is left of the body, which must not
	// wait for a stalled client.)
	rc.SetReadDeadline(time.Time{})
	return buf, nil
}

// headerBytes is the size of the request line and header as sent, give or
// take the spaces.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host) + 12
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// writeError answers {"error": msg}; 503s carry Retry-After.
func (s *Server) writeError(w *statusWriter, err error, id string) {
	w.err = err
	code, msg := s.classify(err, id)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

func (s *Server) accessLog(r *http.Request, id, route string, w *statusWriter, d time.Duration) {
	level := slog.LevelInfo
	if w.code >= 500 {
		level = slog.LevelError
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", r.URL.Path),
		slog.Int("status", w.code),
		slog.Duration("duration", d),
	}
	if w.err != nil {
		attrs = append(attrs, slog.String("error", w.err.Error()))
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
}

// maxRequestID bounds a client-chosen request id in logs and headers.
const maxRequestID = 128

// requestID is the client's X-Request-Id when it is short and plain, so
// that a caller can follow its request through the logs; otherwise a new one.
func (s *Server) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= maxRequestID && plain(id) {
		return id
	}
	return s.reqTag + "-" + strconv.FormatUint(s.reqSeq.Add(1), 10)
}

func plain(s string) bool {
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}
