# cspwatch: the two commands a new user needs are `make demo` and `make test`.
# Both do their own set-up on a fresh machine (Go, apt and the Go module proxy).

GO       ?= go
# Fuzz runs are bounded by executions, not time: Go 1.26's fuzz coordinator
# can fail a time-bounded run at its deadline with "context deadline
# exceeded" and no failing input (golang/go#75804, fixed in Go 1.27), which
# a loaded CI machine hits. Each count is about 10-20 s on two cores.
FUZZTIME ?= 500000x
export CGO_ENABLED ?= 1

.PHONY: all build test unit lint fuzz bench demo deps test-deps clean

all: build

# build stamps every binary's --version: the version from the nearest tag,
# the commit, and (added by the binary) the Go version.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/cspwatch/cspwatch/internal/cli.Version=$(VERSION) -X github.com/cspwatch/cspwatch/internal/cli.Commit=$(COMMIT)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

# APT waits up to 5 minutes for the apt and dpkg locks (unattended-upgrades,
# another make deps) instead of failing at once.
APT_GET ?= DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300
# DPkg::Lock::Timeout covers dpkg's lock only; apt-get update takes the
# package lists' lock, for which apt has no timeout, so it is retried (every
# 5 s for up to 5 minutes) while another update (apt-daily, a second make
# deps) holds it.
APT_UPDATE = for i in $$(seq 60); do $(APT_GET) update -qq && break; [ $$i -lt 60 ] || exit 1; echo "apt-get update failed (another holds the lists lock?); retrying in 5 s"; sleep 5; done

# deps installs what the demo needs from Debian's packages: clickhouse-server
# and its client. Nothing is installed when they are there.
deps:
	@missing=""; \
	command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || [ -n "$$CSPWATCH_CLICKHOUSE_ADDR" ] || missing="$$missing clickhouse-server"; \
	command -v clickhouse-client >/dev/null 2>&1 || missing="$$missing clickhouse-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing from Debian's packages:$$missing"; \
		{ $(APT_UPDATE); } && $(APT_GET) install -y -qq $$missing >/dev/null; \
	fi

# test-deps adds what the tests drive: prometheus for promtool, which tests
# the alerting rules of deploy/prometheus; prometheus-alertmanager, which the
# Alertmanager sink is tested against; chromium, in which the dashboard is
# tested; zookeeper, which the ClickHouse cluster tests start (it installs
# no running service: the tests run it in the foreground on a temp dir).
test-deps: deps
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	[ -f /usr/share/java/zookeeper.jar ] || missing="$$missing zookeeper"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing from Debian's packages:$$missing"; \
		{ $(APT_UPDATE); } && $(APT_GET) install -y -qq $$missing >/dev/null; \
	fi

# lint is gofmt, go vet and staticcheck (its default checks: SA bugs, S
# simplifications, ST style, U1000 unused code), pinned as a tool in go.mod.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# unit runs every test that needs no server other than an embedded NATS.
unit:
	$(GO) test -race -count=1 ./...

# test runs everything: lint, all tests with the race detector against a real
# ClickHouse, promtool, Alertmanager and Chromium (a missing one is then a failure, not a skip), and short
# bounded fuzz runs of every parser.
test: test-deps lint
	CSPWATCH_TEST_CLICKHOUSE=1 CSPWATCH_TEST_EXTERNAL=1 $(GO) test -race -count=1 -timeout 12m ./...
	# Built !race: five demo fleets through the spike detector (see its file).
	CSPWATCH_TEST_CLICKHOUSE=1 $(GO) test -count=1 -timeout 8m -run '^TestFleetAlertsOnlyTheInjectedSpike$$' ./internal/alerts
	$(MAKE) fuzz

fuzz:
	$(GO) test ./internal/syncml -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/codes -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 250000x
	$(GO) test ./internal/eventjson -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 150000x -fuzzminimizetime 5000x
	$(GO) test ./internal/normalize -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime 150000x -fuzzminimizetime 5000x
	$(GO) test ./internal/normalize -run '^$$' -fuzz '^FuzzBuildCommands$$' -fuzztime 100000x -fuzzminimizetime 5000x
	$(GO) test ./internal/normalize -run '^$$' -fuzz '^FuzzPathReference$$' -fuzztime 150000x -fuzzminimizetime 5000x
	$(GO) test ./internal/installjob -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60000x -fuzzminimizetime 5000x
	$(GO) test ./schema -run '^$$' -fuzz '^FuzzParseQueries$$' -fuzztime 120000x -fuzzminimizetime 5000x
	$(GO) test ./internal/event -run '^$$' -fuzz '^FuzzTargetID$$' -fuzztime 120000x -fuzzminimizetime 5000x
	$(GO) test ./internal/webhooksig -run '^$$' -fuzz '^FuzzMatch$$' -fuzztime 120000x -fuzzminimizetime 5000x

# bench prints the benchmarks of every issue, each with its baseline
# measured in the same run: scanner vs encoding/xml and etree, event
# decoding vs encoding/json, ingest vs raw JetStream publish (loadgen
# bench), aggregator vs raw clickhouse-go insert at 1k/10k/50k batches.
bench: deps build
	$(GO) test ./internal/syncml ./internal/normalize ./internal/eventjson ./internal/codes ./internal/sim/fleet -run '^$$' -bench . -benchmem -cpu 1
	CSPWATCH_TEST_CLICKHOUSE=1 $(GO) test ./internal/aggregator -run '^$$' -bench 'Throughput|NATSSide|BareConsumer|Lag' -benchtime 3x
	# Rows/s into a 1 shard x 2 replica ClickHouse cluster (Distributed, sync
	# insert, with and without quorum 2) against the single server, one run.
	CSPWATCH_TEST_CLICKHOUSE=1 $(GO) test ./internal/store -run '^$$' -bench ClusterInsert -benchtime 20x -v
	# Ingest vs raw JetStream publish, on a 1-replica stream and then on a
	# 3-replica stream of a 3-node cluster (events/s of both, one run).
	./bin/loadgen bench --phase 5s --stream-replicas 3

# demo runs the real pipeline on one machine: ClickHouse (Debian's, on a temp
# dir, unless CSPWATCH_CLICKHOUSE_ADDR is set), ingest with embedded NATS
# (unless CSPWATCH_NATS_URL), the aggregator with spike alerts, and a
# synthetic fleet of 5,000 devices with an injected 1603 spike; then the
# fleet report and the alert. Flags: ./bin/demo -h.
demo: deps build
	./bin/demo $(DEMOFLAGS)

clean:
	rm -rf bin
