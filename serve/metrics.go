package serve

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type counter = prometheus.Counter

// metrics live in a registry of their own, so that several servers (tests,
// or one embedded in a larger program) never collide on the default one.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // route, code
	latency  *prometheus.HistogramVec // route
	samples  *prometheus.CounterVec   // model
	batch    *prometheus.HistogramVec // model
	inFlight prometheus.Gauge
	rejected prometheus.Counter // turned away by MaxConcurrent
	panics   prometheus.Counter
	models   prometheus.Gauge
	http     http.Handler // serves the registry
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "amortize_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "amortize_http_request_duration_seconds",
			Help:    "Time from routing a request to its last byte written, by route pattern.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10, 30},
		}, []string{"route"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "amortize_samples_served_total",
			Help: "Posterior samples returned, by model.",
		}, []string{"model"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "amortize_sample_batch_draws",
			Help:    "Draws per onnxruntime call of the sampler, which serves concurrent requests together.",
			Buckets: prometheus.ExponentialBuckets(16, 2, 10),
		}, []string{"model"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "amortize_http_requests_in_flight",
			Help: "Model requests being served.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amortize_http_requests_rejected_total",
			Help: "Model requests answered 503 because MaxConcurrent were in progress.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amortize_http_panics_total",
			Help: "Handler panics recovered into a 500.",
		}),
		models: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "amortize_models_loaded",
			Help: "Model files being served.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.samples, m.batch, m.inFlight, m.rejected, m.panics, m.models,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.http = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// observe records one finished request.
func (m *metrics) observe(lat prometheus.Observer, route string, code int, seconds float64) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	lat.Observe(seconds)
}
