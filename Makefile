# Writeback Agent — the two commands the README gives are `make run` and `make test`.
# Each installs what it is missing (scripts/deps.sh) and works offline once the Go modules
# are in the module cache.

GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Service-side packages run under the race detector.
AGENT_PKGS := ./agent/...

.PHONY: all deps build test ui-test vet run bench bench-queue bench-drain bench-tray bench-ui fuzz screenshots screenshots-tray screenshots-windows clean msi test-windows pkg

all: build

deps:
	@scripts/deps.sh

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

vet: deps
	$(GO) vet ./...

# make test: vet everything, test everything, the service side with -race; the queue's power
# cuts (a FUSE server in the test process) without it, which slows them several times over.
test: vet
	$(GO) test -race $(AGENT_PKGS)
	$(GO) test -count=1 -run '^TestPowerCuts$$' ./agent/queue/
	$(GO) test $$($(GO) list ./... | grep -v '/agent/')

# make ui-test: the tray's and the windows' tests alone, headless and without cgo (make test runs them too).
ui-test: deps
	CGO_ENABLED=0 $(GO) test ./ui/...

# make run: the local stack (scripts/dev-stack.sh: the simulated practice and the service) on a
# temporary folder with FEED (default 5) writebacks queued, the tray when there is a display,
# and the service's events (wbagent watch); Ctrl-C stops everything it started.
run: build
	@scripts/run.sh $(BIN)

# make bench: the queue benchmark against its peers (its own module under bench/), the drain
# benchmark (bench-drain), the tray's footprint (bench-tray) and wbagent-ui's start (bench-ui).
# QUICK=1 runs shorter versions (the queue's under 45 s; the drain's about a minute).
bench: bench-queue bench-drain bench-tray bench-ui

bench-queue:
	cd bench && $(GO) run . $(if $(QUICK),-quick,)

# make bench-tray: the tray's resident memory and idle CPU over 60 s (BENCH_SECONDS) under Xvfb
# with a tray host, following a quiet service; fails if idle CPU reaches 0.05 % of a core.
bench-tray: deps
	@scripts/deps.sh trayer
	$(GO) build -o $(BIN)/ ./cmd/wbagent-tray
	xvfb-run -a -s "-screen 0 1024x768x24" scripts/bench-tray.sh $(BIN)

# make bench-ui: wbagent-ui's time from start to the review window's first frame with its
# data, and its resident memory, with 1,000 writebacks waiting (QUICK=1: 200), under Xvfb.
bench-ui: build
	@scripts/deps.sh jq
	scripts/bench-ui.sh $(BIN) $(if $(QUICK),200,1000)

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

# make screenshots: every window rendered under Xvfb with real data (a simulated practice), and
# the tray (its icon in each state and two menus), into docs/screenshots/NAME.png, to look at.
screenshots: screenshots-windows screenshots-tray

screenshots-windows: build
	@scripts/deps.sh x11-apps imagemagick jq
	scripts/screenshots-windows.sh $(BIN) docs/screenshots

screenshots-tray: deps
	@scripts/deps.sh x11-apps x11-utils imagemagick trayer xdotool
	$(GO) build -o $(BIN)/ ./cmd/wbagent-tray
	xvfb-run -a -s "-screen 0 1024x768x24" scripts/screenshot-tray.sh $(BIN) docs/screenshots

# make msi: dist/WritebackAgent-$(VERSION)-x64.msi (scripts/msi.sh): the four Windows programs
# cross-compiled with the version stamped in, the MSI built with wixl from installer/windows.
# SIGN_CERT=cert.pem SIGN_KEY=key.pem sign every .exe and the MSI (Authenticode); MSI_VERSION
# sets the MSI's ProductVersion (default: from a vN.N.N tag, else 0.0.0).
msi:
	@scripts/msi.sh $(VERSION) $(MSI_VERSION)

# make test-windows: the Windows build under Wine (scripts/test-windows.sh): the agent
# packages' tests, then the real MSI installed, used, upgraded, downgraded and removed.
# Installs Wine, wixl and mingw if missing. Work folder: WINTEST_DIR (default /tmp/wbagent-wintest).
test-windows:
	@scripts/test-windows.sh

# make pkg: the macOS installer package (installer/macos/build-pkg.sh); runs on a Mac only.
pkg:
	@installer/macos/build-pkg.sh $(VERSION)

clean:
	rm -rf $(BIN)
