# cspwatch: the two commands a new user needs are `make demo` and `make test`.
# Both do their own set-up on a fresh machine (Go, apt and the Go module proxy).

GO       ?= go
FUZZTIME ?= 20s
export CGO_ENABLED ?= 1

.PHONY: all build test unit lint fuzz bench demo deps clean

all: build

build:
	$(GO) build -o bin/ ./cmd/...

# deps installs what the tests and the demo need: Debian's clickhouse-server.
deps:
	@command -v clickhouse-server >/dev/null 2>&1 || { \
		echo "installing clickhouse-server from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null; }

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

# unit runs every test that needs no server other than an embedded NATS.
unit:
	$(GO) test -race -count=1 ./...

# test runs everything: lint, all tests with the race detector against a real
# ClickHouse (a missing server is then a failure, not a skip), and short
# bounded fuzz runs of every parser.
test: deps lint
	CSPWATCH_TEST_CLICKHOUSE=1 $(GO) test -race -count=1 -timeout 12m ./...
	$(MAKE) fuzz

fuzz:
	$(GO) test ./internal/syncml -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/codes -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s

bench: deps
	$(GO) test ./internal/syncml ./internal/event ./internal/codes -run '^$$' -bench . -benchmem -cpu 1

demo: deps build
	@echo "demo: parsing the bundled sample corpus with 'ingest parse' (the full pipeline demo lands with issue 6)"
	./bin/ingest parse --tenant demo internal/event/testdata/*.xml

clean:
	rm -rf bin
