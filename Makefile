# The Telegraf version is the one go.mod pins.
TELEGRAF_VERSION := $(shell go list -m -f '{{.Version}}' github.com/influxdata/telegraf)
TELEGRAF_TAGS := custom,inputs.execd,outputs.execd,processors.starlark,outputs.file,outputs.influxdb,parsers.influx,serializers.influx
BIN := $(CURDIR)/bin
# A real Alertmanager for the tests; v0.32+ do not build from the module
# zip (their web UI bundle is not in it).
ALERTMANAGER_VERSION := v0.31.1
GO_TEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: all build telegraf alertmanager test bench demo clean

all: build

## build: the plugin binaries into ./bin
build:
	go build -o $(BIN)/ ./cmd/...

## telegraf: the real Telegraf at the pinned version, with only the plugins we use
telegraf: $(BIN)/telegraf

$(BIN)/telegraf: go.mod
	CGO_ENABLED=0 GOBIN=$(BIN) go install \
		-ldflags "-X github.com/influxdata/telegraf/internal.Version=$(TELEGRAF_VERSION:v%=%)" \
		-tags "$(TELEGRAF_TAGS)" \
		github.com/influxdata/telegraf/cmd/telegraf@$(TELEGRAF_VERSION)
	@touch $@

## alertmanager: a real Prometheus Alertmanager for the tests
alertmanager: $(BIN)/alertmanager

$(BIN)/alertmanager:
	CGO_ENABLED=0 GOBIN=$(BIN) go install github.com/prometheus/alertmanager/cmd/alertmanager@$(ALERTMANAGER_VERSION)
	@touch $@

## test: every test, end-to-end ones included
test: build telegraf alertmanager
	go vet ./...
	go test $(GO_TEST_FLAGS) ./...

## bench: the benchmark table (about 4 minutes)
bench: build telegraf
	go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/... ./tests/... ./plugins/inputs/ckafka_lag/ | tee $(BIN)/bench.txt
	@echo
	@go run ./tools/benchtable < $(BIN)/bench.txt

clean:
	rm -rf $(BIN)

## demo: the whole pipeline in the real Telegraf on an embedded simulator (about 3 minutes)
demo: build telegraf
	go run ./cmd/ckafka_lag_demo -root .
