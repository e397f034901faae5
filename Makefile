# distilbert-go: one static binary, no cgo (-tags cuda adds the GPU engine, with cgo).
GO      ?= go
BIN     ?= bin/distilbert
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" failure at the deadline on a
# loaded machine (golang/go#75804, fixed in Go 1.27). ~5-15 s per target.
FUZZTIME ?= 20000x

.PHONY: all build run predict test deps test-short vet fmt-check check-comments check-docs fuzz cross clean

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

# The whole test suite: formatting, vet, staticcheck, race-enabled tests, the plain run
# (the race build checks a subset of the large golden sets, too slow under
# the race detector on the generic kernels), cross builds, the NEON path
# under qemu-aarch64, the AVX-512 path under Bochs, a short fuzz of every
# parser, the deploy checks, the cuda build tag (no GPU needed) and the
# release binaries. The release check
# builds all four platforms (the release is what ships, so all are
# checked), a couple of minutes with a warm build cache; it writes to
# TEST_DIST so that a real release in dist/ is left alone.
TEST_DIST ?= bin/release-test
test: deps fmt-check vet lint check-comments check-docs
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 ./...
	$(MAKE) cross
	$(MAKE) test-arm64
	$(MAKE) test-avx512
	$(MAKE) fuzz
	$(MAKE) test-deploy
	$(MAKE) check-cuda
	$(MAKE) check-avx2only
	$(MAKE) release release-check DIST=$(TEST_DIST)

# What the tests use beyond Go, from Debian: chromium (page test) and
# qemu-user-static (arm64 tests); idempotent.
deps:
	./scripts/install-test-deps.sh

test-short:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags noengine ./tools/loadtest
	CGO_ENABLED=1 $(GO) vet -tags cuda ./distilbert/cuda ./cmd/distilbert

# staticcheck over the default build, the cuda tag and the deploy module.
# It is pinned, with its checksums, in tools/lint/go.mod, a module of its
# own so that it is no dependency of the product. The NEON build is left
# out: helpers only the x86 kernel sets use read there as unused.
STATICCHECK ?= $(GO) tool -modfile=$(CURDIR)/tools/lint/go.mod staticcheck
.PHONY: lint
lint:
	$(STATICCHECK) ./...
	CGO_ENABLED=1 $(STATICCHECK) -tags cuda ./distilbert/cuda ./cmd/distilbert
	cd deploy && $(STATICCHECK) ./...

# The cuda build tag on a machine without a GPU (scripts/check-cuda.sh):
# the cgo builds, the no-driver errors and fallback, the default binary
# static and free of the GPU engine.
.PHONY: check-cuda
check-cuda:
	GO=$(GO) ./scripts/check-cuda.sh bin/cuda-check

# The preload behind tools/baseline/run.sh --isa avx2 (scripts/check-avx2only.sh).
.PHONY: check-avx2only
check-avx2only:
	./scripts/check-avx2only.sh bin/avx2only-check

# Comments say why, not what one machine measured one day.
check-comments:
	./scripts/check-comments.sh

# The README stays a user's page: the history goes to docs/.
check-docs:
	@n=$$(wc -l < README.md); if [ $$n -gt 250 ]; then echo "README.md has $$n lines (at most 250: move detail to docs/)"; exit 1; fi
	@test -f docs/ARCHITECTURE.md && test -f docs/PERFORMANCE.md

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# Static builds for both architectures, and the generic-only build.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 $(GO) build -tags purego -o /dev/null ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=riscv64 $(GO) build -o /dev/null ./cmd/distilbert
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/distilbert
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/distilbert
	$(MAKE) check-deps

# The shipped binary links only what it runs: gorgonia (and with it Arrow,
# protobuf, flatbuffers, gonum) stays behind weights/gorgonia.
.PHONY: check-deps
check-deps: build
	@if $(GO) version -m $(BIN) | grep -Ei 'gorgonia|arrow|protobuf|flatbuffers|gonum'; then \
		echo "check-deps: $(BIN) links modules it must not"; exit 1; fi

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
	@# ORT's AVX2 rows on an AVX-512 box (offline.sh): the preload, where a C compiler is at hand.
	if [ "$$($(GO) env GOARCH)" = amd64 ] && command -v cc >/dev/null; then cc -O2 -shared -fPIC -o $(OFFLINE_BIN)/avx2only.so tools/baseline/avx2only.c; fi
	@ls -l $(OFFLINE_BIN)

# The GPU checks' binaries for tools/baseline/gpu.sh on a machine with no Go:
# the cuda build (cgo, dynamically linked to libc only: CUDA is dlopened).
GPU_BIN ?= bin/gpu
.PHONY: gpu-bins
gpu-bins:
	@mkdir -p $(GPU_BIN)
	CGO_ENABLED=1 $(GO) build -ldflags='-s -w' -tags 'cuda nodefaultmodel' -o $(GPU_BIN)/distilbert ./cmd/distilbert
	CGO_ENABLED=1 $(GO) test -c -ldflags='-s -w' -tags cuda -o $(GPU_BIN)/cuda.test ./distilbert/cuda
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -tags noengine -o $(GPU_BIN)/loadtest ./tools/loadtest
	CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -o $(GPU_BIN)/genmodel ./tools/genmodel
	xz -9 -f $(GPU_BIN)/distilbert $(GPU_BIN)/cuda.test $(GPU_BIN)/loadtest $(GPU_BIN)/genmodel
	@ls -l $(GPU_BIN)

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
	cd distilbert/tokenize && $(QEMU_ARM64) $(ARM64_TESTBIN)/tokenize.test $(ARM64_TESTFLAGS) -test.skip 'TestHugeInputs|TestHFEveryCodePoint'
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
	$(GO) test -run=NONE -fuzz=FuzzV2Decode -fuzztime=$(FUZZTIME) ./server
	$(GO) test -run=NONE -fuzz=FuzzTEIDecode -fuzztime=$(FUZZTIME) ./server
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

# --- Releases ---
# Static (CGO_ENABLED=0), trimmed, stripped, version-stamped binaries,
# distilbert-$(VERSION)-OS-ARCH[.exe], and their SHA256SUMS in $(DIST);
# release-check verifies them and runs the linux/arm64 one under
# qemu-aarch64-static (the amd64 one natively) to predict with the embedded
# model. VERSION defaults to `git describe`; make release VERSION=v1.2.3.
DIST              ?= dist
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64 windows/amd64
.PHONY: release release-check
release:
	rm -rf $(DIST)
	@mkdir -p $(DIST)
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=$(DIST)/distilbert-$(VERSION)-$$os-$$arch$$ext; echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/distilbert; \
	done
	cd $(DIST) && sha256sum distilbert-* > SHA256SUMS
	@cat $(DIST)/SHA256SUMS

release-check:
	./scripts/install-test-deps.sh qemu
	GO=$(GO) QEMU_ARM64=$(QEMU_ARM64) ./scripts/release-check.sh $(DIST) $(VERSION)

# --- Deploy: image, Prometheus, Grafana, Kubernetes, compose (deploy/) ---
# make image: make build's static binary for linux/$(IMAGE_ARCH) on an
# empty base with podman (no registry, no network; the Dockerfile's
# prebuilt path), saved as an OCI archive. IMAGE_ARCH=arm64 for arm64.
IMAGE         ?= localhost/distilbert:$(VERSION)
IMAGE_ARCH    ?= $(shell $(GO) env GOARCH)
IMAGE_ARCHIVE ?= bin/distilbert-image-linux-$(IMAGE_ARCH).oci.tar
PODMAN        ?= podman
PODMAN_ENV    := CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf

.PHONY: image test-deploy
image:
	./scripts/install-test-deps.sh podman
	GOOS=linux GOARCH=$(IMAGE_ARCH) $(MAKE) build BIN=bin/image/linux-$(IMAGE_ARCH)/distilbert
	$(PODMAN_ENV) $(PODMAN) build --network none --platform linux/$(IMAGE_ARCH) \
		--build-arg BINARY_FROM=prebuilt --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		-t $(IMAGE) -f Dockerfile .
	rm -f $(IMAGE_ARCHIVE)
	$(PODMAN_ENV) $(PODMAN) save --format oci-archive -o $(IMAGE_ARCHIVE) $(IMAGE)
	@ls -l $(IMAGE_ARCHIVE)

# The deploy module's checks (its own go.mod): the image smoke test, the
# Prometheus rules and a live scrape, nginx in front of two services, the
# manifests rendered and strictly decoded (the KServe ones against KServe's
# CRD schemas), and the drain timings of every manifest.
test-deploy: image
	./scripts/install-test-deps.sh prometheus nginx
	cd deploy && $(GO) vet ./...
	cd deploy && DISTILBERT_IMAGE=$(IMAGE) $(PODMAN_ENV) $(GO) test -count=1 ./...
