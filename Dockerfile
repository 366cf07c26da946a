# syntax=docker/dockerfile:1
# One image with the three binaries: ingest, aggregator and loadgen.
# Static (CGO off), stripped, and run as distroless's non-root user.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not refetch them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/ingest ./cmd/aggregator ./cmd/loadgen

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
# ingest webhooks, aggregator metrics and health.
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/ingest"]
CMD ["serve"]
