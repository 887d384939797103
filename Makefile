# The README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
ORT = $(shell scripts/onnxruntime.sh)
export CGO_ENABLED := 1

.PHONY: demo test check bench deps onnxruntime

deps:
	scripts/deps.sh

onnxruntime:
	@scripts/onnxruntime.sh

demo: deps
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go run ./cmd/amortize demo

check:
	@test -z "$$(gofmt -l . | grep -v '^testdata/')" || { echo "gofmt needed:"; gofmt -l . | grep -v '^testdata/'; exit 1; }
	go vet ./...

test: deps check
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -count=1 -timeout 30m ./...

bench:
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -run '^$$' -bench . -benchmem ./...
