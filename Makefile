# weft — the quick start.
#   make demo    build, then run the tour: the guides' programs in C
#   make test    install missing packages (as root, with apt), build, run the
#                whole suite: plain, portable-wait, ASan+UBSan, then TSan
#   make bench   install the peers (as root), build, and run weft against
#                them side by side; BENCH_ARGS=--quick for a short run (or
#                BENCH_ARGS="--scale N --reps R --rounds K"); ~5.5 min in
#                full (three rounds); writes results.csv, .md
#                and .png under build/release/bench
#   make install PREFIX=/usr/local

BUILD   ?= build
JOBS    ?= 2
PREFIX  ?= /usr/local
CTEST   := ctest --output-on-failure -j $(JOBS)

# Debian packages the build and the tests need; the benchmarks' peers.
PACKAGES := cmake make gcc pkg-config libcmocka-dev libcurl4-openssl-dev
BENCH_PACKAGES := g++ golang-go libglib2.0-dev libtbb-dev libuv1-dev python3 gnuplot-nox
BENCH_ARGS ?=

.PHONY: all demo test test-plain test-portable test-asan test-tsan test-install \
        bench bench-deps deps build install clean

all: build

deps bench-deps: WANT = $(if $(filter bench-deps,$@),$(BENCH_PACKAGES),$(PACKAGES))
deps bench-deps:
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

build: deps
	$(call configure,release,-DCMAKE_BUILD_TYPE=RelWithDebInfo)

demo: build
	sh examples/tour.sh $(BUILD)/release

test-plain: build
	cd $(BUILD)/release && $(CTEST)

test-portable: deps
	$(call configure,portable,-DWEFT_PORTABLE_WAIT=ON -DWEFT_BUILD_BENCH=OFF)
	cd $(BUILD)/portable && $(CTEST)

test-asan: deps
	$(call configure,asan,-DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=address$(,)undefined -DWEFT_BUILD_BENCH=OFF)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(CTEST)

test-tsan: deps
	$(call configure,tsan,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=thread -DWEFT_BUILD_BENCH=OFF)
	cd $(BUILD)/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(CTEST)

# An installed weft is found by pkg-config and by CMake's find_package.
test-install: build
	rm -rf $(BUILD)/stage
	cmake --install $(BUILD)/release --prefix $(CURDIR)/$(BUILD)/stage >/dev/null
	sh tests/install/check.sh $(CURDIR)/$(BUILD)/stage $(CURDIR)/$(BUILD)/install-check

test: test-plain test-install test-portable test-asan test-tsan
	@echo "weft: all test builds passed (plain, install, portable, asan+ubsan, tsan)"

bench: deps bench-deps
	$(call configure,release,-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	for g in w2_go w3_go w45_go w67_go; do \
	    GOCACHE=$(CURDIR)/$(BUILD)/gocache GOPATH=$(CURDIR)/$(BUILD)/gopath \
	    GO111MODULE=off GOTOOLCHAIN=local \
	        go build -o $(BUILD)/release/bench/$$g bench/peers/$$g.go || exit 1; \
	done
	python3 bench/compare.py --build $(BUILD)/release $(BENCH_ARGS) \
	    --csv $(BUILD)/release/bench/results.csv \
	    --markdown $(BUILD)/release/bench/results.md \
	    --png $(BUILD)/release/bench/results.png

install: build
	cmake --install $(BUILD)/release --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)

, := ,
