# lemma: the two commands a new machine needs are `make demo` and `make test`.
# Both install what is missing (Debian packages), build with CMake + Ninja
# (+ ccache) into build/, and run.

BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 30
ONNX_FUZZ_SECONDS ?= 20
LEMMA      := $(BUILD)/bin/lemma
DEMO_OUT   := $(BUILD)/demo

.PHONY: all deps configure build test unit-test fuzz demo bench bench-cpu clean

all: build

deps:
	@scripts/install-deps.sh
	@scripts/install-python-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

unit-test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The fuzz targets (text parser, ONNX importer), built with clang's libFuzzer
# and each run for a bounded time.
fuzz:
	@test -f $(FUZZ_BUILD)/build.ninja || CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD) -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEMMA_FUZZ=ON -DLEMMA_BUILD_TESTS=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target text_format_fuzz onnx_import_fuzz
	scripts/run-fuzz.sh $(FUZZ_BUILD)/bin/text_format_fuzz tests/fuzz/corpus $(FUZZ_SECONDS)
	FUZZ_MAX_LEN=16384 scripts/run-fuzz.sh $(FUZZ_BUILD)/bin/onnx_import_fuzz tests/fuzz/onnx_corpus \
	  $(ONNX_FUZZ_SECONDS)

test: deps
	$(MAKE) unit-test
	$(MAKE) fuzz

demo: deps
	$(MAKE) build
	scripts/demo.sh $(LEMMA) $(DEMO_OUT)

# The optimizer on every model of the zoo (a table: costs, rules, time, memory).
bench: deps
	$(MAKE) build
	$(BUILD)/bin/optimize_bench

# The CPU backend on every model of the zoo, as built and as optimized with
# rules/default.rules, against ONNX Runtime and PyTorch (Debian's
# python3-torch, from scripts/install-bench-deps.sh) (bench/README.md).
bench-cpu: deps
	@scripts/install-bench-deps.sh
	$(MAKE) build
	$(BUILD)/bin/lemma_cpu_bench --sections models --log bench/tuning

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
