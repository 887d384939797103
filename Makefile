# The README's commands: `make install`, `make demo` and `make test`.
SHELL := /bin/bash
# Expanded when a recipe runs: fetches the library the first time.
ORT = $(shell scripts/onnxruntime.sh)
export CGO_ENABLED := 1

.PHONY: install demo test check bench deps onnxruntime modules

deps:
	@scripts/deps.sh

onnxruntime: deps
	@echo "==> onnxruntime library (downloaded once into the cache)"
	@echo "    $$(scripts/onnxruntime.sh)"

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
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -count=1 -timeout 30m ./...

bench:
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -run '^$$' -bench . -benchmem ./...
