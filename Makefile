# distilbert-go: one static binary, no cgo.
GO      ?= go
BIN     ?= bin/distilbert
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: all build run test test-short vet fmt-check fuzz cross clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/distilbert

# Predict with the embedded model (no download, no flags). Pass TEXT="..." to change the input.
TEXT ?= a charming and often affecting journey
run: build
	./$(BIN) predict "$(TEXT)"

# The whole test suite: formatting, vet, race-enabled tests, the plain run
# (the race build checks a subset of the large golden sets, too slow under
# the race detector on the generic kernels), cross builds and a short fuzz
# of every parser.
test: fmt-check vet
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 ./...
	$(MAKE) cross
	$(MAKE) fuzz

test-short:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fuzz:
	$(GO) test -run=NONE -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./weights
	$(GO) test -run=NONE -fuzz=FuzzEncode -fuzztime=$(FUZZTIME) ./distilbert/tokenize

# Static builds for both architectures, and the generic-only build.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 $(GO) build -tags purego -o /dev/null ./...

clean:
	rm -rf bin
