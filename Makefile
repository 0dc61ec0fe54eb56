# The Telegraf version is the one go.mod pins.
TELEGRAF_VERSION := $(shell go list -m -f '{{.Version}}' github.com/influxdata/telegraf)
TELEGRAF_TAGS := custom,inputs.execd,outputs.execd,processors.starlark,outputs.file,outputs.influxdb,parsers.influx,serializers.influx
BIN := $(CURDIR)/bin
# A real Alertmanager for the tests; v0.32+ do not build from the module
# zip (their web UI bundle is not in it).
ALERTMANAGER_VERSION := v0.31.1
GO_TEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: all build telegraf alertmanager nfpm dist test bench demo fuzz chaos clean

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

## nfpm: the packager, itself a Go module
nfpm: $(BIN)/nfpm

$(BIN)/nfpm:
	CGO_ENABLED=0 GOBIN=$(BIN) go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
	@touch $@

## dist: reproducible linux/amd64 and linux/arm64 tarballs and .debs, and SHA256SUMS, in ./dist
dist: nfpm
	packaging/dist.sh

## test: every test, end-to-end ones included
test: build telegraf alertmanager nfpm
	go vet ./...
	go test $(GO_TEST_FLAGS) ./...

## bench: the benchmark table (about 6 minutes)
bench: build telegraf
	go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/... ./tests/... ./plugins/inputs/ckafka_lag/ | tee $(BIN)/bench.txt
	go test -run '^$$' -bench Chart -benchtime 20x ./plugins/outputs/wecom_sms_mail/render/ | tee -a $(BIN)/bench.txt
	@echo
	@go run ./tools/benchtable < $(BIN)/bench.txt

## fuzz: every fuzz target for FUZZTIME each (not in CI); crashers land in testdata/fuzz
FUZZTIME ?= 2m
FUZZ_TARGETS := \
	./internal/execd:FuzzRunOutput ./internal/execd:FuzzLoadPlugin \
	./plugins/outputs/wecom_sms_mail:FuzzConfig ./plugins/outputs/wecom_sms_mail/engine:FuzzReadState ./plugins/outputs/wecom_sms_mail/engine:FuzzReadJournal \
	./plugins/outputs/wecom_sms_mail/silence:FuzzLoadSilences ./plugins/outputs/wecom_sms_mail/render:FuzzHostileTags \
	./plugins/outputs/wecom_sms_mail/web:FuzzVerify \
	./plugins/inputs/ckafka_lag:FuzzGroupOffsetsAnswer ./plugins/inputs/ckafka_lag:FuzzConfig
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name ($$pkg)"; \
		go test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

clean:
	rm -rf $(BIN)

## demo: the whole pipeline in the real Telegraf on an embedded simulator (about 3 minutes)
demo: build telegraf
	go run ./cmd/ckafka_lag_demo -root .

## chaos: the fault-injection run and its ledger (about 5 minutes; CHAOS_SEED=N replays a run)
CHAOS_DURATION ?= 4m
chaos: build telegraf
	CHAOS_DURATION=$(CHAOS_DURATION) go test -count=1 -v -timeout 10m -run '^TestChaos$$' ./tests/chaos
