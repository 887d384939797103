# The README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
ORT = $(shell scripts/onnxruntime.sh)
export CGO_ENABLED := 1

.PHONY: demo test check bench deps onnxruntime web-deps

deps:
	scripts/deps.sh

onnxruntime:
	@scripts/onnxruntime.sh

# Node, Chromium and the pinned npm packages of examples/node and
# examples/browser (onnxruntime-web's files for `amortize serve --ui`).
web-deps:
	@scripts/web-deps.sh >/dev/null

demo: deps
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go run ./cmd/amortize demo

check:
	@test -z "$$(gofmt -l . | grep -v '^testdata/')" || { echo "gofmt needed:"; gofmt -l . | grep -v '^testdata/'; exit 1; }
	go vet ./...

test: deps check
	@scripts/web-deps.sh >/dev/null || echo "make test: Node or Chromium could not be installed (scripts/web-deps.sh above): the examples' Node and browser tests skip (and fail under CI)" >&2
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -count=1 -timeout 30m ./...

bench:
	ONNXRUNTIME_SHARED_LIBRARY_PATH=$(ORT) go test -run '^$$' -bench . -benchmem ./...
