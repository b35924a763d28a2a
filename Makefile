# Entry points: `make run` (cxproxy + local Redis primary and two replicas),
# `make test` (ASan+UBSan build, whole suite through CTest), `make build` (Release).
SHELL := /bin/bash
DEPS_PREFIX := $(CURDIR)/build/deps
CMAKE_COMMON := -DCMAKE_PREFIX_PATH=$(DEPS_PREFIX)/usr
# ccache, when installed, makes rebuilds in several checkouts of the tree cheap.
CMAKE_COMMON += $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR := $(abspath $(CURDIR)/..)
JOBS ?= $(shell nproc)

.PHONY: deps build build-test test run run-sentinel stop bench bench-curves clean

deps:
	@bash scripts/install-deps.sh
	@bash scripts/fetch-prometheus-cpp.sh $(DEPS_PREFIX)
	@bash scripts/fetch-promtool.sh $(DEPS_PREFIX)

build: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_COMMON) >/dev/null
	@cmake --build build/release -j$(JOBS) --target cxproxy cxproxy-verify
	@echo "built build/release/cxproxy and build/release/cxproxy-verify"

build-test: deps
	@cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DCXPROXY_SANITIZE=ON -DCXPROXY_TESTS=ON $(CMAKE_COMMON) >/dev/null
	@cmake --build build/test -j$(JOBS)

test: build-test
	@cd build/test && CXPROXY_PROMTOOL=$(DEPS_PREFIX)/usr/bin/promtool ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 600

# SENTINEL=1: three local Sentinels too (deploy/local/sentinel-trio.sh).
run: build
	@SENTINEL=$(SENTINEL) bash deploy/local/run.sh

run-sentinel: build
	@SENTINEL=1 bash deploy/local/run.sh

stop:
	@bash deploy/local/sentinel-trio.sh stop build/local
	@bash deploy/local/redis-trio.sh stop build/local

bench: build
	@bash bench/compare.sh

# Curves (value size, connections, rules, replicas): tables and PNG plots in bench/plots/.
bench-curves: build
	@bash bench/curves.sh

clean:
	rm -rf build
