# Writeback Agent — the two commands the README gives are `make run` and `make test`.
# Each installs what it is missing (scripts/deps.sh) and works offline once the Go modules
# are in the module cache.

GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Service-side packages run under the race detector.
AGENT_PKGS := ./agent/...

.PHONY: all deps build test vet run bench bench-queue bench-drain fuzz screenshots clean

all: build

deps:
	@scripts/deps.sh

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

vet: deps
	$(GO) vet ./...

# make test: vet everything, test everything, the service side with -race.
test: vet
	$(GO) test -race $(AGENT_PKGS)
	$(GO) test $$($(GO) list ./... | grep -v '/agent/')

# make run: the local stack (scripts/dev-stack.sh: the simulated practice and the service) on a
# temporary folder with FEED (default 5) writebacks queued, the tray when there is a display,
# and the service's events (wbagent watch); Ctrl-C stops everything it started.
run: build
	@scripts/run.sh $(BIN)

# make bench: the queue benchmark against its peers (its own module under bench/) and the
# drain benchmark (bench-drain).
# QUICK=1 runs shorter versions (the queue's under 45 s; the drain's about a minute).
bench: bench-queue bench-drain

bench-queue:
	cd bench && $(GO) run . $(if $(QUICK),-quick,)

# make bench-drain: writebacks through the real service and the simulator (agent/filing's
# BenchmarkDrain): 60 with the clinical system's faults beside 60 without, then 5,000 (500
# with QUICK=1) after an outage. It prints the times, their ratio and the agent's CPU per
# writeback.
bench-drain:
	$(if $(QUICK),WBDRAIN_OUTAGE=500,) $(GO) test -run '^$$' -bench Drain -benchtime 1x -timeout 30m ./agent/filing/

# make fuzz: run the writeback decoder's fuzzer for FUZZTIME (default 60s).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./agent/writeback/

# make screenshots: every window rendered under Xvfb to screenshots/NAME.png, to look at.
screenshots: deps
	@scripts/deps.sh x11-apps imagemagick
	$(GO) build -o $(BIN)/ ./cmd/wbagent-ui
	mkdir -p screenshots
	xvfb-run -a -s "-screen 0 1024x768x24" $(BIN)/wbagent-ui -screenshot scripts/screenshot.sh
	@ls screenshots/*.png

clean:
	rm -rf $(BIN)
