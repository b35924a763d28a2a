# Entry points: `make run` (cxproxy + local Redis primary and two replicas),
# `make test` (ASan+UBSan build, whole suite through CTest, then every fuzz harness for
# FUZZ_CI_SECONDS), `make fuzz FUZZ_SECONDS=N` (each harness for N s), `make build` (Release).
SHELL := /bin/bash
DEPS_PREFIX := $(CURDIR)/build/deps
CMAKE_COMMON := -DCMAKE_PREFIX_PATH=$(DEPS_PREFIX)/usr
# ccache, when installed, makes rebuilds in several checkouts of the tree cheap.
CMAKE_COMMON += $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_BASEDIR := $(abspath $(CURDIR)/..)
JOBS ?= $(shell nproc)
# libFuzzer harnesses (tests/fuzz/): clang in their own build dir.
FUZZ_CXX ?= clang++-14
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 15

.PHONY: deps build build-test build-fuzz test fuzz run run-sentinel stop bench bench-curves format clean

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

build-fuzz: deps
	@cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
	  -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DCXPROXY_FUZZ=ON $(CMAKE_COMMON) >/dev/null
	@cmake --build build/fuzz -j$(JOBS) --target fuzzers

test: build-test build-fuzz
	@cd build/test && CXPROXY_PROMTOOL=$(DEPS_PREFIX)/usr/bin/promtool ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) --timeout 600
	@bash tests/fuzz/run.sh build/fuzz $(FUZZ_CI_SECONDS)

fuzz: build-fuzz
	@bash tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

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

# clang-format (.clang-format) over every C++ source but the fuzz corpora.
format:
	@git ls-files '*.cpp' '*.h' | grep -v '^tests/fuzz/corpus/' | xargs clang-format-14 -i

clean:
	rm -rf build
