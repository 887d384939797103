package cli

import (
	"log/slog"
	"os"

	"github.com/amortize/amortize/examples/browser"
	"github.com/amortize/amortize/posterior"
	"github.com/amortize/amortize/serve"
	"github.com/spf13/cobra"
)

func serveCmd(g *globals) *cobra.Command {
	var (
		cfg       serve.Config
		addr      string
		logFormat string
		logLevel  string
		ui        bool
		uiORT     string
	)
	cmd := &cobra.Command{
		Use:   "serve --models DIR",
		Short: "Serve the model files of a directory over HTTP (JSON API)",
		Long: `serve answers HTTP JSON requests for every *.onnx file in --models, under
the file name without ".onnx":

  GET  /v1/models                  models served, with their dimensions
  GET  /v1/models/{name}           contract and metadata (as inspect --json)
  POST /v1/models/{name}/sample    {"x": [...] or [[...],...], "n": 1000, "seed": 1}
  POST /v1/models/{name}/log_prob  {"x": [...], "theta": [[...],...], "leakage": false}
  POST /v1/models/{name}/map       {"x": [...], "seed": 1}
  GET  /healthz, /readyz           liveness; readiness once the models are loaded
  GET  /metrics                    Prometheus metrics

Errors are {"error": "..."}: 4xx for mistakes in the request, 503 (with
Retry-After) when --max-concurrent requests are already running or a request
exceeds --timeout, 500 for server faults. Requests without a seed get one,
returned in the response. SIGINT or SIGTERM stops accepting connections and
lets in-flight requests finish and closes the models within
--shutdown-timeout, then exits even if a request is stuck. SIGHUP reloads
--models: new and changed files are opened, removed ones dropped, and
requests in progress finish on the model they started with. One log line
per request goes to stderr.

The server listens on 127.0.0.1:8080 unless --addr says otherwise: serving
other machines takes --addr :8080 (every interface) or a chosen address.`,
		Example: `  amortize-infer serve --models ./models
  curl -s localhost:8080/v1/models/two_moons/sample -d '{"x":[0.1,0.2],"n":100,"seed":1}'
  amortize-infer serve --models ./models --addr 127.0.0.1:9000 --max-samples 1000000 --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Dir == "" {
				return usagef("--models is required")
			}
			if err := checkServeFlags(&cfg, addr); err != nil {
				return err
			}
			if st, err := os.Stat(cfg.Dir); err != nil {
				return UsageError{err}
			} else if !st.IsDir() {
				return usagef("--models %s is not a directory", cfg.Dir)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: want debug, info, warn or error", logLevel)
			}
			opts := &slog.HandlerOptions{Level: level}
			switch logFormat {
			case "text":
				cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts))
			case "json":
				cfg.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts))
			default:
				return usagef("--log-format %q: want text or json", logFormat)
			}
			var err error
			if cfg.Runtime, err = g.options(); err != nil {
				return err
			}
			s, err := serve.New(cfg)
			if err != nil {
				return UsageError{err}
			}
			if ui {
				h, err := serve.UI(serve.UIConfig{Page: browser.Page, ORTWeb: uiORT, Models: cfg.Dir})
				if err != nil {
					return UsageError{err}
				}
				s.MountUI(h)
			}
			stop := reloadOnHangup(s, cfg.Logger)
			defer stop()
			return s.ListenAndServe(cmd.Context(), addr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "models", "", "directory of *.onnx model files (required)")
	f.StringVar(&addr, "addr", serve.DefaultAddr, "listen address (:8080 listens on every interface)")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body", serve.DefaultMaxBodyBytes, "largest request body in bytes (413 beyond)")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", serve.DefaultBodyTimeout, "time to receive a request body (408 beyond)")
	f.IntVar(&cfg.MaxWork, "max-work", serve.DefaultMaxWork, "most work per request: model evaluations × (θ + x dimensions); see the serve package docs (413 beyond)")
	f.IntVar(&cfg.MaxSamples, "max-samples", serve.DefaultMaxSamples, "most samples per request (n × observations) and θ rows per log_prob request")
	f.IntVar(&cfg.MaxConcurrent, "max-concurrent", serve.DefaultMaxConcurrent, "model requests in progress at once (503 beyond)")
	f.IntVar(&cfg.MaxMCMC, "max-mcmc", 0, "sample requests running MCMC at once (503 beyond; 0: one per core)")
	f.DurationVar(&cfg.Timeout, "timeout", serve.DefaultTimeout, "time limit of one request")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", serve.DefaultShutdownTimeout, "grace period for in-flight requests and closing the models on SIGINT/SIGTERM")
	f.IntVar(&cfg.BatchDraws, "batch-draws", posterior.DefaultBatchDraws, "most draws per round of onnxruntime calls shared by concurrent sample requests")
	f.IntVar(&cfg.Workers, "workers", 0, "sampling goroutines per model (0: one per core)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.BoolVar(&ui, "ui", false, "also serve, under /ui/, a page that loads these model files and samples them in the browser")
	f.StringVar(&uiORT, "ui-ort", serve.DefaultORTWebDir(), "directory of onnxruntime-web's files for --ui (scripts/web-deps.sh fetches them)")
	return cmd
}
