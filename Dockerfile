# distilbert-go image: the static binary on an empty (scratch) base, no
# libc, no shell, non-root. Two ways to get the binary, one final stage:
#   docker buildx build --platform linux/amd64,linux/arm64 -t distilbert .
#       compiles it here, in the golang stage (needs the Go module proxy);
#   make image
#       builds it on the host with make build and copies it in
#       (BINARY_FROM=prebuilt; podman, no registry, no network), then
#       writes an OCI archive.
# The default is the compiling path.
ARG BINARY_FROM=build

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
	-ldflags "-s -w -X main.version=$VERSION" -o /out/distilbert ./cmd/distilbert

# make image puts make build's output for each architecture under
# bin/image/linux-<arch>/.
FROM scratch AS prebuilt
ARG TARGETARCH
COPY bin/image/linux-${TARGETARCH}/distilbert /out/distilbert

FROM ${BINARY_FROM} AS binary

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="distilbert-go" \
	org.opencontainers.image.description="DistilBERT sentiment inference service: one static Go binary" \
	org.opencontainers.image.source="https://github.com/distilbert-go/distilbert" \
	org.opencontainers.image.version="$VERSION" \
	org.opencontainers.image.revision="$REVISION"
COPY --from=binary /out/distilbert /distilbert
# The nonroot uid/gid of distroless images; no /etc/passwd needed.
USER 65532:65532
ENV DISTILBERT_ADDR=:8080
EXPOSE 8080
# Docker's own health check (the OCI format drops it; Kubernetes uses the
# probes in deploy/k8s). The subcommand reads DISTILBERT_ADDR too.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
	CMD ["/distilbert", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/distilbert"]
# The embedded sst2-mini model; mount a checkpoint read-only and add
# --model /models/NAME for another.
CMD ["serve"]
