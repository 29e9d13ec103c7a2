# A thin index of plain go commands; each target also runs by hand.
# Go 1.27 is required (ML-DSA in crypto/tls and crypto/x509); with this the
# go command fetches the toolchain through the module proxy by itself.
export GOTOOLCHAIN := go1.27.4

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# OpenSSL 3.5 or later, the independent peer of the integration tests and
# of make run's proof: QSP_OPENSSL if you set it, else this helper, which
# runs the system's openssl when it is recent enough and otherwise fetches
# Debian 13's once into ~/.cache/quantum-safe-proxy (see its header).
OPENSSL := integration/tools/openssl35

.PHONY: all build run certs test test-deps test-unit test-integration test-systemd soak package test-package bench bench-full vet fuzz fuzz-ci clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

certs/ca.crt:
	$(GO) run ./cmd/quantum-safe-proxy certs init --dir certs

certs: certs/ca.crt

# The demo: an echo backend on 127.0.0.1:6000 and the proxy on 127.0.0.1:8443.
run: build certs
	@$(OPENSSL) version >/dev/null || echo "(No OpenSSL 3.5 for the command below: see the error above, or set QSP_OPENSSL.)"
	@echo
	@echo "In another terminal, watch a post-quantum handshake and an echo:"
	@echo
	@echo "  $(OPENSSL) s_client -connect 127.0.0.1:8443 -CAfile certs/ca.crt -verify_return_error"
	@echo
	@echo "Look for 'Negotiated TLS1.3 group: X25519MLKEM768' and 'Peer signature type: mldsa65',"
	@echo "then type a line. (That command is OpenSSL 3.5: $$($(OPENSSL) --which).)"
	@echo "Or see what every kind of client gets (exit status 0: PQ-ready):"
	@echo
	@echo "  ./bin/quantum-safe-proxy probe 127.0.0.1:8443 --ca certs/ca.crt"
	@echo
	@echo "The proxy warns once that browsers would get the ML-DSA chain: they advertise ML-DSA"
	@echo "but trust no ML-DSA root. This demo's clients are OpenSSL and Go (README: What it does)."
	@echo
	@./bin/demo-backend --listen 127.0.0.1:6000 & backend=$$!; \
	trap 'kill $$backend 2>/dev/null' EXIT INT TERM; \
	./bin/quantum-safe-proxy --listen 127.0.0.1:8443 --target 127.0.0.1:6000 \
		--cert certs/server-mldsa.crt --key certs/server-mldsa.key \
		--cert certs/server-ecdsa.crt --key certs/server-ecdsa.key

STATICCHECK_VERSION := v0.8.2

vet:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@test -z "$$(gofmt -l cmd internal integration)" || { gofmt -l cmd internal integration; exit 1; }

# Everything, with a summary at the end: which suites ran, what each
# skipped and why, and the command that runs what did not. A failing suite
# does not stop the others (make -k), so the summary covers them all. With CI=true a
# skipped test fails its suite. Needs root for the systemd container and
# to install missing Debian packages (test-deps); without root, those
# tests skip and say so.
REPORT     := bin/test-report
TESTREPORT := $(GO) run ./integration/testreport -dir $(REPORT)
test:
	@rm -rf $(REPORT)
	@$(MAKE) -k --no-print-directory test-deps vet test-unit test-integration test-systemd test-package; \
	  status=$$?; $(TESTREPORT) -summary || status=1; exit $$status

test-deps:
	@integration/tools/test-deps

test-unit:
	$(TESTREPORT) -suite unit -- -race -count=1 ./cmd/... ./internal/... ./integration/testreport ./integration/loadgen

# Every fuzz target of the repository for FUZZTIME each: go test -fuzz
# takes one target per run, so each package that has one is asked for its
# list. New inputs that fail land in the package's testdata/fuzz/.
# Minimizing each new interesting input is cut to 5s (go help testflag:
# 60s by default): the key targets sign on every input they accept, and
# long minimizations would eat most of a short run.
FUZZTIME ?= 10m
FUZZFLAGS := -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
fuzz:
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' cmd internal | xargs -n1 dirname | sort -u); do \
	  for target in $$($(GO) test -list '^Fuzz' ./$$dir | grep '^Fuzz'); do \
	    echo "$(GO) test -run '^$$' -fuzz '^$$target\$$' $(FUZZFLAGS) ./$$dir"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" $(FUZZFLAGS) ./$$dir || exit 1; \
	  done; \
	done

# What CI runs: each fuzz target for 30 seconds.
fuzz-ci:
	$(MAKE) fuzz FUZZTIME=30s

# End-to-end tests of the built binary against OpenSSL 3.5, Chromium,
# testssl.sh and Go clients; the systemd and package tests have their own.
test-integration:
	$(TESTREPORT) -suite integration -- -count=1 -timeout 15m -skip '^(TestSystemdBox|TestPackage)' ./integration/

# The soak for longer than the short run in test-integration: 1,000
# clients checking every byte by SHA-256 while SIGHUP lands every 100 ms
# and the certificate is rotated on disk; then 10,000 stalled handshakes.
SOAK_TIME  ?= 2m
SOAK_CONNS ?= 1000
soak:
	QSP_SOAK_TIME=$(SOAK_TIME) QSP_SOAK_CONNS=$(SOAK_CONNS) $(GO) test -count=1 -timeout 60m -run 'TestSoak|TestStalledHandshakes' -v ./integration/

# The units under a real systemd (PID 1) in a container on this machine,
# which integration/tools/systemd-box builds once and caches (needs root).
QSP_SYSTEMD_BOX ?= $(abspath integration/tools/systemd-box)
test-systemd:
	QSP_SYSTEMD_BOX=$(QSP_SYSTEMD_BOX) $(TESTREPORT) -suite systemd -v -- -count=1 -timeout 10m -run '^TestSystemdBox' ./integration/

# Packages: .deb and .rpm for each architecture, into dist/. nfpm is
# pinned: v2.46.0 and later need modules the module proxy here refuses.
NFPM_VERSION := v2.45.0
PKG_VERSION  ?= $(shell sed -n '1s/.*(\(.*\)).*/\1/p' packaging/changelog)
ARCHES       ?= amd64 arm64
DIST         ?= dist
NFPM         := bin/nfpm

$(NFPM):
	GOBIN=$(abspath bin) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)

package: $(NFPM)
	rm -rf $(DIST) && mkdir -p dist/stage $(DIST)
	$(GO) run -ldflags '-X main.version=$(PKG_VERSION)' ./cmd/quantum-safe-proxy man | gzip -n -9 > dist/stage/quantum-safe-proxy.8.gz
	gzip -n -9 < packaging/changelog > dist/stage/changelog.Debian.gz
	for arch in $(ARCHES); do \
	  CGO_ENABLED=0 GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w -X main.version=$(PKG_VERSION)' \
	    -o dist/stage/quantum-safe-proxy ./cmd/quantum-safe-proxy || exit 1; \
	  for format in deb rpm; do \
	    ARCH=$$arch VERSION=$(PKG_VERSION) $(NFPM) package -f nfpm.yaml -p $$format -t $(DIST)/ || exit 1; \
	  done; \
	done
	rm -rf dist/stage
	ls -l $(DIST)

# Inspects the packages, then installs, upgrades and purges the .deb (and
# smoke-installs the .rpm) under a real systemd.
test-package: package
	QSP_DIST=$(abspath $(DIST)) QSP_PKG_VERSION=$(PKG_VERSION) QSP_SYSTEMD_BOX=$(QSP_SYSTEMD_BOX) \
	  $(TESTREPORT) -suite package -v -- -count=1 -timeout 20m -run '^TestPackage' ./integration/

# In-process benchmarks (testing.B), then the built binary under load
# beside a naive Go proxy and HAProxy 3.0 + OpenSSL 3.5 (when
# integration/tools/haproxy30 can run it): integration/loadgen pins the
# proxy to CPU 1 and itself to CPU 0, interleaves rounds and prints a
# markdown table of medians and ratios. make bench is the quick run (about
# two minutes of load), make bench-full the one for the README's table.
LOADGEN_FLAGS ?= -rounds 3 -duration 500ms
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	$(GO) run ./integration/loadgen $(LOADGEN_FLAGS)

bench-full:
	$(MAKE) bench LOADGEN_FLAGS='-rounds 5 -duration 3s'

clean:
	rm -rf bin dist
