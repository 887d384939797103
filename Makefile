# The README's commands: `make install`, `make demo` and `make test`.
SHELL := /bin/bash
# Expanded when a recipe runs: fetches the library the first time.
ORT = $(shell scripts/onnxruntime.sh)
export CGO_ENABLED := 1

.PHONY: install demo test check bench deps onnxruntime modules web-deps

deps:
	@scripts/deps.sh

onnxruntime: deps
	@echo "==> onnxruntime library (downloaded once into the cache)"
	@echo "    $$(scripts/onnxruntime.sh)"

# Node, Chromium and the pinned npm packages of examples/node and
# examples/browser (onnxruntime-web's files for `amortize serve --ui`).
web-deps:
	@scripts/web-deps.sh >/dev/null

# Go prints nothing while it downloads modules and compiles, which takes
# minutes on a fresh machine: say so first.
modules:
	@echo "==> downloading Go modules (go mod download; minutes the first time)"
	@go mod download

install: onnxruntime modules
	@echo "==> compiling and installing amortize (go install ./cmd/amortize; minutes the first time)"
	@go install ./cmd/amortize
	@echo "==> installed $$(go env GOPATH)/bin/amortize"

demo: onnxruntime modules
	@echo "==> compiling amortize (go build -o bin/amortize; minutes the first time)"
	@go build -o bin/amortize ./cmd/amortize
	@echo "==> running bin/amortize demo: simulate, train (about a minute), sample, score, plot"
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) bin/amortize demo

check:
	@test -z "$$(gofmt -l . | grep -v '^testdata/')" || { echo "gofmt needed:"; gofmt -l . | grep -v '^testdata/'; exit 1; }
	go vet ./...

test: onnxruntime modules check
	@echo "==> Node, Chromium and the examples' npm packages (scripts/web-deps.sh)"
	@scripts/web-deps.sh >/dev/null || echo "make test: Node or Chromium could not be installed (scripts/web-deps.sh above): the examples' Node and browser tests skip (and fail under CI)" >&2
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -count=1 -timeout 30m ./...

bench:
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -run '^$$' -bench . -benchmem ./...
