# mitra-exporter — see README.md. Every target installs what it needs (Debian, as root).
SHELL := /bin/bash
.DEFAULT_GOAL := build

SWIFT ?= swift
# Release builds link the Swift runtime and FoundationEssentials statically: about 5 MiB less
# resident memory than mapping the shared libraries (README, Performance). The linker drops
# the debug info (-S, about 45 MB); scripts/minidebuginfo.sh then swaps the 15 MB symbol table
# for 1.7 MB of compressed function symbols, so backtraces keep function names.
# --no-export-dynamic undoes the static runtime's -export-dynamic: nothing looks the
# exporter's own symbols up at run time, and exporting all 29,000 of them cost 3 MB of file
# and 2 MiB of resident memory (the dynamic linker reads their tables at every start).
# Every release build uses the same flags, or SwiftPM rebuilds everything when they change.
RELEASE := -c release --static-swift-stdlib -Xlinker -S -Xlinker --no-export-dynamic
RELEASE_BIN := .build/release/mitra-exporter
DEBUG_BIN := .build/debug/mitra-exporter
# Debian packages the build, the tests and the demo need.
APT_PACKAGES := pkg-config libpq-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libyaml-dev libpcre2-dev postgresql postgresql-contrib \
	prometheus prometheus-alertmanager prometheus-postgres-exporter prometheus-blackbox-exporter \
	curl openssl ca-certificates python3-yaml python3-pip wrk

.PHONY: deps build debug test demo bench reliability clean revision release-flags

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Records the git revision for mitra_exporter_build_info; rewritten only when it changes
# so unchanged trees do not rebuild.
revision:
	@mkdir -p Sources/CBuildInfo/generated
	@rev=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	line="#define MITRA_GIT_REVISION \"$$rev\""; \
	[ "$$(cat Sources/CBuildInfo/generated/revision.h 2>/dev/null)" = "$$line" ] || echo "$$line" > Sources/CBuildInfo/generated/revision.h

build: deps revision
	$(SWIFT) build $(RELEASE) --product mitra-exporter
	@bash scripts/minidebuginfo.sh $(RELEASE_BIN)
	@bash scripts/no-icu-test.sh $(RELEASE_BIN)
	@echo "built $(RELEASE_BIN)"

debug: deps revision
	$(SWIFT) build --product mitra-exporter

# Unit and integration tests (real PostgreSQL, real HTTP servers on loopback), promtool on
# live output, then the rule, dashboard and deployment checks.
test: deps revision
	bash scripts/test.sh

demo: deps revision
	$(SWIFT) build $(RELEASE)
	@bash scripts/minidebuginfo.sh $(RELEASE_BIN)
	bash scripts/demo.sh

# Side by side with postgres_exporter and blackbox_exporter, plus scale and incremental-query
# figures; prints tables and writes bench/results/.
bench: deps revision
	$(SWIFT) build $(RELEASE) --product mitra-exporter
	@bash scripts/minidebuginfo.sh $(RELEASE_BIN)
	bash bench/run.sh

# Load, faults, restarts, malformed input, signal storms, log destinations, secrets and a
# soak against a running exporter (a quick subset runs in `make test`), then every test and
# the exporter on the demo world under AddressSanitizer/LeakSanitizer (reliability/leaks.sh).
reliability: deps revision
	$(SWIFT) build $(RELEASE) --product mitra-exporter
	@bash scripts/minidebuginfo.sh $(RELEASE_BIN)
	bash reliability/test.sh
	bash reliability/leaks.sh

# The release flags, for scripts that build on their own (one set, or SwiftPM rebuilds all).
release-flags:
	@echo $(RELEASE)

clean:
	rm -rf .build .build-* Sources/CBuildInfo/generated run
