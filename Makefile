# dtbridge — see README.md. Everything here needs only Go (1.26+); the tests
# start their own in-process nats-server.
GO        ?= go
BIN       ?= bin/dtbridge
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X github.com/dtbridge/dtbridge/pkg/cli.version=$(VERSION) -X github.com/dtbridge/dtbridge/pkg/cli.commit=$(COMMIT)
# An execution count, not a duration: Go 1.26's fuzz coordinator can fail a
# duration-bounded run with a spurious "context deadline exceeded" when the
# machine is busy (golang/go#75804, fixed in Go 1.27). FUZZTIME=30s works too.
FUZZTIME  ?= 100000x
# Domain packages that must not import transports (house style G2).
DOMAIN    := ./pkg/envelope ./pkg/doubletick ./pkg/subject ./pkg/delivery

.PHONY: all build run test unit fuzz lint bench bench-go golden soak clean

all: build

## build: compile bin/dtbridge
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/dtbridge

## run: run the bridge with an embedded JetStream server (state in ./data)
run: build
	./$(BIN) serve $(ARGS)

## test: everything CI runs — lint, all tests with the race detector, a short fuzz pass
test: lint unit fuzz

unit:
	$(GO) test -race -count=1 ./...

## soak: the fault tests (pkg/faulttest) at soak size: 100,000 deliveries and 10 kills, more stepdowns and leader losses
soak:
	DTBRIDGE_SOAK=1 $(GO) test -race -count=1 -timeout 60m -v -run . ./pkg/faulttest

## fuzz: each fuzz target for FUZZTIME (executions) from its seed corpus (no panics, every input ends as an envelope, a quarantine or a typed error)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./pkg/payload
	$(GO) test -run '^$$' -fuzz '^FuzzSubjectToken$$' -fuzztime $(FUZZTIME) ./pkg/subject
	$(GO) test -run '^$$' -fuzz '^FuzzConvert$$' -fuzztime $(FUZZTIME) ./pkg/doubletick
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeObject$$' -fuzztime $(FUZZTIME) ./pkg/doubletick
	$(GO) test -run '^$$' -fuzz '^FuzzAppendString$$' -fuzztime $(FUZZTIME) ./pkg/envelope
	$(GO) test -run '^$$' -fuzz '^FuzzValid$$' -fuzztime $(FUZZTIME) ./pkg/internal/jsonscan

## golden: regenerate what is generated from the event table: JSON Schemas, the README event table, golden envelopes
golden:
	$(GO) test ./pkg/doubletick ./pkg/delivery -update
	$(GO) test ./pkg/doubletick ./pkg/delivery

## lint: go vet, gofmt, and the domain/transport import rule
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@bad=$$($(GO) list -deps $(DOMAIN) | grep -E 'labstack/echo|nats-io/' || true); \
		if [ -n "$$bad" ]; then echo "domain packages import transports:"; echo "$$bad"; exit 1; fi

## bench: the issue-6 targets T1–T5 in one run: ceilings H, J, J1 and the bridge side by side (see BENCHMARKS.md); BENCH_ARGS='-duration 10s -rounds 5' etc.
BENCH_ARGS ?=
bench: build
	$(GO) build -trimpath -o bin/dtbench ./cmd/dtbench
	./bin/dtbench $(BENCH_ARGS)

## bench-go: the Go benchmarks with allocations (the pure path per fixture, the in-process ingress)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./pkg/...

clean:
	rm -rf bin
