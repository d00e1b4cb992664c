# Writeback Agent — the two commands the README gives are `make run` and `make test`.
# Each installs what it is missing (scripts/deps.sh) and works offline once the Go modules
# are in the module cache.

GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Service-side packages run under the race detector.
AGENT_PKGS := ./agent/...

.PHONY: all deps build test vet run bench bench-queue fuzz screenshots clean msi test-windows pkg

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

# make bench: the queue benchmark against its peers (its own module under bench/).
# QUICK=1 runs a shorter version (under 45 s).
bench: bench-queue

bench-queue:
	cd bench && $(GO) run . $(if $(QUICK),-quick,)

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
