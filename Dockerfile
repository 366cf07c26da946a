# syntax=docker/dockerfile:1
# One image with the three binaries: ingest, aggregator and loadgen.
# Static (CGO off), stripped, and run as distroless's non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t cspwatch .
#
# VERSION and COMMIT are what `ingest --version` and `aggregator --version`
# print; docker-compose.yml passes CSPWATCH_VERSION and CSPWATCH_COMMIT.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not refetch them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/cspwatch/cspwatch/internal/cli.Version=${VERSION} -X github.com/cspwatch/cspwatch/internal/cli.Commit=${COMMIT}" \
      -o /out/ ./cmd/ingest ./cmd/aggregator ./cmd/loadgen

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="cspwatch" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
# ingest webhooks, aggregator metrics and health.
EXPOSE 8080 8081
# The image runs `ingest serve` unless told otherwise; every binary needs its
# subcommand (`aggregator run`), as docker-compose.yml gives it.
ENTRYPOINT ["/usr/local/bin/ingest"]
CMD ["serve"]
