# distilbert-go: one static binary, no cgo.
GO      ?= go
BIN     ?= bin/distilbert
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" failure at the deadline on a
# loaded machine (golang/go#75804, fixed in Go 1.27). ~5-15 s per target.
FUZZTIME ?= 20000x

.PHONY: all build run predict test deps test-short vet fmt-check fuzz cross clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/distilbert

# Serve the embedded model on :8080 (no download, no flags).
run: build
	./$(BIN) serve

# Predict one text with the embedded model. Pass TEXT="..." to change it.
TEXT ?= a charming and often affecting journey
predict: build
	./$(BIN) predict "$(TEXT)"

# The whole test suite: formatting, vet, race-enabled tests, the plain run
# (the race build checks a subset of the large golden sets, too slow under
# the race detector on the generic kernels), cross builds, the NEON path
# under qemu-aarch64, the AVX-512 path under Bochs and a short fuzz of
# every parser.
test: deps fmt-check vet
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 ./...
	$(MAKE) cross
	$(MAKE) test-arm64
	$(MAKE) test-avx512
	$(MAKE) fuzz

# What the tests use beyond Go, from Debian: chromium (page test) and
# qemu-user-static (arm64 tests); idempotent.
deps:
	./scripts/install-test-deps.sh

test-short:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags noengine ./tools/loadtest

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fuzz:
	$(GO) test -run=NONE -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./weights
	$(GO) test -run=NONE -fuzz=FuzzEncode -fuzztime=$(FUZZTIME) ./distilbert/tokenize
	$(GO) test -run=NONE -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./server
	$(GO) test -run=NONE -fuzz=FuzzHTTP -fuzztime=2000x ./server

# Static builds for both architectures, and the generic-only build.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 $(GO) build -tags purego -o /dev/null ./...

# Static, stripped, xz-compressed binaries for tools/baseline/offline.sh and
# serve-load.sh on a machine with no Go (a lent device box: its copy of the
# tree is size-limited, hence nodefaultmodel, -s -w and the HTTP-only
# loadtest). OFFLINE_BIN=dir to put them elsewhere.
OFFLINE_BIN ?= bin/offline
.PHONY: offline-bins
offline-bins:
	@mkdir -p $(OFFLINE_BIN)
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -tags nodefaultmodel -o $(OFFLINE_BIN)/distilbert ./cmd/distilbert
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -tags noengine -o $(OFFLINE_BIN)/loadtest ./tools/loadtest
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -o $(OFFLINE_BIN)/genmodel ./tools/genmodel
	CGO_ENABLED=0 $(GO) test -c -ldflags='-s -w' -o $(OFFLINE_BIN)/kernels.test ./kernels
	CGO_ENABLED=0 $(GO) test -c -ldflags='-s -w' -tags nodefaultmodel -o $(OFFLINE_BIN)/distilbert.test ./distilbert
	xz -9 -f $(OFFLINE_BIN)/distilbert $(OFFLINE_BIN)/loadtest $(OFFLINE_BIN)/genmodel $(OFFLINE_BIN)/kernels.test $(OFFLINE_BIN)/distilbert.test
	@ls -l $(OFFLINE_BIN)

clean:
	rm -rf bin

# arm64 tests under user-mode emulation (qemu-aarch64-static, installed by
# scripts/install-test-deps.sh when missing): the kernels on every path
# this emulated CPU has (generic and neon), weights, the tokenizer (less its
# wall-clock limits, meaningless under emulation) and the model goldens
# that fit in a few minutes: tiny-odd, the per-layer goldens, the padded
# tiny-odd batch and the SST-2 edge cases on the neon kernels. Test binaries
# run from their package directory because tests read ../testdata.
QEMU_ARM64 ?= qemu-aarch64-static
ARM64_TESTBIN := $(CURDIR)/bin/test-arm64
ARM64_TESTFLAGS ?= -test.count=1 -test.timeout=15m

.PHONY: test-arm64
test-arm64:
	./scripts/install-test-deps.sh qemu
	@mkdir -p $(ARM64_TESTBIN)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) vet ./kernels
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -c -o $(ARM64_TESTBIN)/kernels.test ./kernels
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -c -o $(ARM64_TESTBIN)/weights.test ./weights
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -c -o $(ARM64_TESTBIN)/tokenize.test ./distilbert/tokenize
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -c -o $(ARM64_TESTBIN)/distilbert.test ./distilbert
	cd kernels && $(QEMU_ARM64) $(ARM64_TESTBIN)/kernels.test $(ARM64_TESTFLAGS)
	cd weights && $(QEMU_ARM64) $(ARM64_TESTBIN)/weights.test $(ARM64_TESTFLAGS)
	cd distilbert/tokenize && $(QEMU_ARM64) $(ARM64_TESTBIN)/tokenize.test $(ARM64_TESTFLAGS) -test.skip 'TestHugeInputs'
	cd distilbert && $(QEMU_ARM64) $(ARM64_TESTBIN)/distilbert.test $(ARM64_TESTFLAGS) \
		-test.run 'TinyOdd|Layers|PaddedBatch|Unprefixed|HalfPrecision|LoadErrors|LoadCorrupt|RejectsBadInput' \
		-test.skip 'TestPaddedBatchGolden/sst2-mini-batch.json'
	cd distilbert && $(QEMU_ARM64) $(ARM64_TESTBIN)/distilbert.test $(ARM64_TESTFLAGS) -test.run 'TestSST2EdgeGolden/neon'

# The avx512 path on an emulated AVX-512 CPU (Bochs, Tiger Lake model, via
# scripts/bochs-run.sh; the host needs no AVX-512): every kernel test's
# avx512 subtest, then the model goldens (edge cases up to 512 tokens,
# tiny-odd, per-layer states, the 872 SST-2 dev sentences) on avx512.
# Emulation is ~50x slower than the host and boots take ~20 s, so this
# takes several minutes. RUN narrows the kernels tests, e.g.
# make test-avx512 RUN=TestDot; BOCHS_* settings pass through (see the script).
RUN ?= /avx512
AVX512_TESTBIN := $(CURDIR)/bin/test-avx512
AVX512_GOLDENS := TestSST2EdgeGolden/avx512|TestTinyOddGolden/avx512|TestLayersGolden/avx512|TestSST2DevGolden/avx512|TestInt8SST2Dev/avx512|TestInt8TinyOdd/avx512

.PHONY: test-avx512
test-avx512:
	./scripts/install-test-deps.sh bochs
	@mkdir -p $(AVX512_TESTBIN)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) test -c -o $(AVX512_TESTBIN)/kernels.test ./kernels
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) test -c -o $(AVX512_TESTBIN)/distilbert.test ./distilbert
	GO=$(GO) ./scripts/bochs-run.sh $(AVX512_TESTBIN)/kernels.test -test.v -test.short -test.run '$(RUN)'
	GO=$(GO) BOCHS_TREES=testdata=/testdata BOCHS_DIR=/distilbert ./scripts/bochs-run.sh \
		$(AVX512_TESTBIN)/distilbert.test -test.v -test.short -test.run '$(AVX512_GOLDENS)'

# --- HTTP service (distilbert serve, server/) ---
.PHONY: serve test-server test-browser fuzz-server loadtest
SERVE_FLAGS ?=
# Run the service on :8080 with the embedded model (SERVE_FLAGS="--cache-size 1000" etc.).
serve: build
	./$(BIN) serve $(SERVE_FLAGS)

# The service's tests (they build and start the real binary), race-enabled.
test-server:
	$(GO) test -race -count=1 ./server/...

# Install Debian's chromium if needed, then the headless-browser test of /.
test-browser:
	./scripts/install-test-deps.sh chromium
	$(GO) test -count=1 -run 'TestBrowserPage' -v ./server/

fuzz-server:
	$(GO) test -run=NONE -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./server
	$(GO) test -run=NONE -fuzz=FuzzHTTP -fuzztime=2000x ./server

# Load test against a local service on 127.0.0.1:$(LOAD_PORT): concurrency
# $(LOAD_C), $(LOAD_D) per level, then the engine alone at batch $(LOAD_BATCH).
LOAD_PORT  ?= 18080
LOAD_C     ?= 1,8,64
LOAD_D     ?= 10s
LOAD_BATCH ?= 32
LOAD_LOG   ?= /dev/null
loadtest: build
	$(GO) build -o bin/loadtest ./tools/loadtest
	@./$(BIN) serve --addr 127.0.0.1:$(LOAD_PORT) $(SERVE_FLAGS) 2>$(LOAD_LOG) & pid=$$!; \
	./bin/loadtest -url http://127.0.0.1:$(LOAD_PORT) -wait 60s -c $(LOAD_C) -d $(LOAD_D); rc=$$?; \
	kill -TERM $$pid; wait $$pid; \
	[ $$rc -eq 0 ] && ./bin/loadtest -engine -batch-size $(LOAD_BATCH) -d $(LOAD_D)
