# Static binary in a scratch image: no libc, no Python, no ONNX Runtime.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /distilbert ./cmd/distilbert

FROM scratch
COPY --from=build /distilbert /distilbert
EXPOSE 8080
ENTRYPOINT ["/distilbert"]
# The embedded sst2-mini model; mount a checkpoint and add --model /model for another.
CMD ["serve", "--addr", ":8080"]
