# SPDX-License-Identifier: MIT
# weft — the quick start.
#   make demo    build, then run the tour: the guides' programs in C
#   make test    install missing packages (as root, with apt), build, run the
#                whole suite: plain, portable-wait, ASan+UBSan, then TSan
#   make bench   install the peers (as root), build, and run weft against
#                them side by side under one rule (same repetitions, order
#                alternated between rounds, CPU time per operation and a
#                core-to-core probe beside every figure); BENCH_ARGS=--quick
#                for a short run (or "--scale N --reps R --rounds K
#                --threads N"); "--sweep" for 1..4x the CPUs' threads
#                (results-sweep.png), "--busy" or "--busy-too" for a machine
#                kept busy by one CPU-bound process per CPU; the net part
#                (W12, HTTP servers under wrk and h2load) runs after the
#                rest: BENCH_ARGS=--net for it alone, --no-net without it;
#                writes results.csv, .md and .png under build/release/bench
#   make docs    the reference manual (man pages, HTML) in build/docs, with
#                Doxygen (installed as root if missing)
#   make install PREFIX=/usr/local   library, headers, pkg-config and CMake
#                files, man pages (so: the docs too)
#   make package .deb packages libweft0 and libweft-dev in build/package
#   make test-package  (root) install those packages, run the install check
#                against /usr, remove them

BUILD   ?= build
JOBS    ?= 2
PREFIX  ?= /usr/local
CTEST   := ctest --output-on-failure -j $(JOBS)
# cmake --build runs make: no "Entering/Leaving directory" lines from it.
MAKEFLAGS += --no-print-directory

# Debian packages the build and the tests need (g++ and clang: the headers are
# checked as C++ by both; valgrind: programs exit valgrind-clean; python3:
# the check that the layers hold; Open MPI: weft-mpi and its tests); the
# benchmarks' peers.
PACKAGES := cmake make gcc g++ clang pkg-config libcmocka-dev libcurl4-openssl-dev valgrind \
            python3 openmpi-bin libopenmpi-dev
BENCH_PACKAGES := g++ golang-go libglib2.0-dev libtbb-dev libuv1-dev libconcurrentqueue-dev \
                  libck-dev libboost-context-dev python3 python3-greenlet gnuplot-nox \
                  wrk nghttp2-client nginx python3-uvloop python3-mpi4py
# The reference manual; the .deb packages (dpkg-shlibdeps, and file for CPack).
DOCS_PACKAGES := doxygen python3
PACKAGE_PACKAGES := dpkg-dev file
BENCH_ARGS ?=

.PHONY: all demo test test-plain test-portable test-ucontext test-asan test-tsan test-install \
        test-package bench bench-deps deps docs-deps package-deps build docs package \
        install clean

all: build

deps: WANT = $(PACKAGES)
bench-deps: WANT = $(BENCH_PACKAGES)
docs-deps: WANT = $(DOCS_PACKAGES)
package-deps: WANT = $(PACKAGE_PACKAGES)
deps bench-deps docs-deps package-deps:
	@missing=""; \
	for p in $(WANT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	        echo "installing:$$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	    else \
	        echo "missing packages:$$missing (install them, or run make as root)"; exit 1; \
	    fi; \
	fi

# configure DIR [cmake options...]; every build has the examples, whose
# smoke tests then run under each sanitizer too
define configure
	cmake -S . -B $(BUILD)/$(1) -DWEFT_BUILD_EXAMPLES=ON $(2) >/dev/null
	cmake --build $(BUILD)/$(1) -j $(JOBS)
endef

RELEASE := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_DOCS_DIR=$(CURDIR)/$(BUILD)/docs

build: deps
	$(call configure,release,$(RELEASE))

# The release build with the manual on: once on, `make build` keeps it.
docs: deps docs-deps
	$(call configure,release,$(RELEASE) -DWEFT_BUILD_DOCS=ON)
	@echo "reference manual: $(BUILD)/docs/man/man3 (man -l ...), $(BUILD)/docs/html/index.html"

demo: build
	sh examples/tour.sh $(BUILD)/release

test-plain: build
	cd $(BUILD)/release && $(CTEST)

test-portable: deps
	$(call configure,portable,-DWEFT_PORTABLE_WAIT=ON -DWEFT_BUILD_BENCH=OFF)
	cd $(BUILD)/portable && $(CTEST)

# The coroutines' ucontext switch, forced on (its tests only: the rest of
# the library does not depend on the switch's backend).
test-ucontext: deps
	$(call configure,ucontext,-DWEFT_UCONTEXT_SWITCH=ON -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_EXAMPLES=OFF)
	cd $(BUILD)/ucontext && $(CTEST) -R 'switch|shared_stack|coro'

test-asan: deps
	$(call configure,asan,-DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=address$(,)undefined -DWEFT_BUILD_BENCH=OFF)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(CTEST)

test-tsan: deps
	$(call configure,tsan,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=thread -DWEFT_BUILD_BENCH=OFF)
	cd $(BUILD)/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(CTEST)

# An installed weft is found by pkg-config and by CMake's find_package.
test-install: build
	@rm -rf $(BUILD)/stage
	cmake --install $(BUILD)/release --prefix $(CURDIR)/$(BUILD)/stage >/dev/null
	sh tests/install/check.sh $(CURDIR)/$(BUILD)/stage $(CURDIR)/$(BUILD)/install-check

# Packages are built for /usr in a build of their own, manual included.
package: deps docs-deps package-deps
	$(call configure,package,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
	    -DWEFT_BUILD_DOCS=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF)
	@rm -f $(BUILD)/package/*.deb
	cd $(BUILD)/package && cpack -G DEB >/dev/null
	@ls $(BUILD)/package/*.deb

# The install check once more, against the packages installed in /usr.
test-package:
	@if [ "$$(id -u)" != 0 ]; then \
	    echo "test-package: skipped: installing the .deb packages needs root"; \
	else \
	    $(MAKE) package && \
	    sh tests/install/packages.sh $(CURDIR)/$(BUILD)/package $(CURDIR)/$(BUILD)/package-check; \
	fi

test: test-plain test-install test-portable test-ucontext test-asan test-tsan
	@echo "weft: all test builds passed (plain, install, portable, ucontext, asan+ubsan, tsan)"

# Each Go peer is built together with bench/peers/gobench.go, the harness
# (command line, warm-up, rows with CPU time) every Go peer shares.
bench: deps bench-deps
	$(call configure,release,-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	for g in w12_go w3_go w45_go w67_go coro_go; do \
	    GOCACHE=$(CURDIR)/$(BUILD)/gocache GOPATH=$(CURDIR)/$(BUILD)/gopath \
	    GO111MODULE=off GOTOOLCHAIN=local \
	        go build -o $(BUILD)/release/bench/$$g bench/peers/$$g.go bench/peers/gobench.go \
	        || exit 1; \
	done
	GOCACHE=$(CURDIR)/$(BUILD)/gocache GOPATH=$(CURDIR)/$(BUILD)/gopath \
	GO111MODULE=off GOTOOLCHAIN=local \
	    go build -o $(BUILD)/release/bench/http_go bench/peers/http_go.go
	python3 bench/compare.py --build $(BUILD)/release $(BENCH_ARGS) \
	    --csv $(BUILD)/release/bench/results.csv \
	    --markdown $(BUILD)/release/bench/results.md \
	    --png $(BUILD)/release/bench/results.png

install: docs
	cmake --install $(BUILD)/release --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)

, := ,
