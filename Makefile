# Rivulet: a thin Makefile over CMake.
#   make            build (Release, warnings are errors) into build/
#   make demo       install missing packages, build, run the cluster demo (rivulet demo --cluster)
#   make test       install missing packages, build, run the whole suite through ctest
#   make test-crash the long SIGKILL crash drill (make test runs a short one: see tests/integration/CMakeLists.txt)
#   make test-asan  the suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make test-tsan  the suite under ThreadSanitizer (build-tsan/)
#   make bench      build and run the benchmarks, writing bench/results/latest.json
#   make fuzz       the libFuzzer targets, FUZZ_SECONDS (600) each, with Clang (build-fuzz/)
#   make install    install binary, headers and CMake package (PREFIX=/usr/local)
JOBS    ?= $(shell nproc)
PREFIX  ?= /usr/local
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure --timeout 600

.PHONY: all build deps demo test test-crash unit test-asan test-tsan bench fuzz install format clean

all: build

deps:
	@scripts/install-deps.sh

build/CMakeCache.txt:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRIVULET_WERROR=ON -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: build/CMakeCache.txt
	cmake --build build -j $(JOBS)

demo: deps
	@$(MAKE) --no-print-directory build
	build/bin/rivulet demo --cluster

test: deps
	@$(MAKE) --no-print-directory build
	cd build && ctest $(CTEST_FLAGS) -j $(JOBS) -LE crash

test-crash: deps
	@$(MAKE) --no-print-directory build
	cd build && ctest $(CTEST_FLAGS) -L crash

unit: build
	cd build && ctest $(CTEST_FLAGS) -L unit

build-asan/CMakeCache.txt:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRIVULET_WERROR=ON -DRIVULET_SANITIZE=address $(CMAKE_FLAGS)

test-asan: deps build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)
	# ASan's frames are several times larger: give deep recursion (the SQL
	# parser's bounded nesting) the stack it has in a normal build.
	cd build-asan && ulimit -s 262144 && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/ubsan.supp ctest $(CTEST_FLAGS) -j $(JOBS)

build-tsan/CMakeCache.txt:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRIVULET_WERROR=ON -DRIVULET_SANITIZE=thread $(CMAKE_FLAGS)

test-tsan: deps build-tsan/CMakeCache.txt
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ulimit -s 262144 && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" ctest $(CTEST_FLAGS) -j $(JOBS)

bench: deps
	@$(MAKE) --no-print-directory build
	bench/run.sh build

fuzz:
	@scripts/install-deps.sh clang libclang-rt-14-dev
	scripts/fuzz.sh

install: build
	cmake --install build --prefix $(PREFIX)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-fuzz
