# shoal: one hand-written Makefile (see ../shared/STYLE.md, "Build").
#
#   make          build build/shoal and the unit-test runner
#   make run      install missing dependencies, build, run an example
#   make test     install missing dependencies, build (warnings are errors), run every test
#   make asan     the same tests under AddressSanitizer and UBSan
#   make torture  the end-to-end suite under GC torture, migration torture, and both
#   make chaos    the chaos test at length: CHAOS_KILLS VM kills (default 1000)
#                 on 2 and on 4 VMs
#   make bench    the benchmarks, against the peers (installs erlang-nox, lua5.4,
#                 gnuplot-nox); QUICK=1 for smoke sizes (under 2 minutes)
#   make bench-plot  PNG plots of bench/results/latest.json (gnuplot)
#   make fuzz     the libFuzzer targets of tests/fuzz/, FUZZ_SECONDS each (clang)

CC      ?= gcc
BUILD   ?= build
WARN     = -std=c11 -Wall -Wextra -Wshadow -Wmissing-prototypes
OPT     ?= -O2 -g
EXTRA   ?=
CFLAGS   = $(WARN) $(OPT) $(DISPATCH) $(EXTRA) -D_GNU_SOURCE -I. -MMD -MP
# The interpreter's loop only (bench/README.md, "Interpreter steps"): GCC
# merges the computed-goto dispatch jumps into a few shared ones
# (cross-jumping, GCSE), which defeats the branch predictor, and its SLP
# vectorizer keeps pc paired with another register in an SSE register,
# two more instructions at every dispatch. Every build gets these, so the
# tests run the code that is measured.
DISPATCH =
ALLOC   ?= -ltcmalloc_minimal
LDLIBS   = -lhwloc -lck -linih -ljansson -lxxhash -lm $(ALLOC)

LIB_SRC  = $(wildcard shm/*.c) $(wildcard vmproc/*.c) $(wildcard policy/*.c) \
           $(filter-out supervisor/main.c,$(wildcard supervisor/*.c))
TEST_SRC = $(wildcard tests/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)

SHOAL    = $(BUILD)/shoal
UNIT     = $(BUILD)/unit_tests
EXAMPLE ?= examples/hello.shoal

.PHONY: all deps run test check check-torture asan torture chaos bench bench-plot fuzz fuzz-build clean
all: $(SHOAL) $(UNIT)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/vmproc/interp.o: DISPATCH = -fno-gcse -fno-crossjumping -fno-tree-slp-vectorize

$(BUILD)/libshoal.a: $(LIB_OBJ)
	ar rcs $@ $^

$(SHOAL): $(BUILD)/supervisor/main.o $(BUILD)/libshoal.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT): $(TEST_OBJ) $(BUILD)/libshoal.a
	$(CC) $(CFLAGS) -o $@ $^ -lcunit $(LDLIBS)

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory $(SHOAL)
	$(SHOAL) run $(EXAMPLE)

# The checks themselves, on an already-configured build.
check: all
	SHOAL=$(SHOAL) $(UNIT)
	tests/e2e.sh $(SHOAL)
	tests/chaos/chaos.sh $(SHOAL) 10 2 4
	tests/ctl.sh $(SHOAL)

# The end-to-end suite again with a collection at every allocation and a
# migration at every safe point, on 2 VMs. A collection per allocation
# makes the programs with 100,000-element lists slow (quadratic), hence the
# longer time limit.
check-torture: all
	SHOAL_GC_TORTURE=1 SHOAL_MIGRATE_TORTURE=1 SHOAL_E2E_VMS=2 SHOAL_E2E_TIMEOUT=900 \
	    tests/e2e.sh $(SHOAL)

test: deps
	@$(MAKE) --no-print-directory check check-torture EXTRA="-Werror $(EXTRA)"

asan: deps
	@$(MAKE) --no-print-directory check BUILD=build-asan ALLOC= \
	    EXTRA="-Werror -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DSHOAL_DEBUG"

torture: deps
	@$(MAKE) --no-print-directory all EXTRA="-Werror"
	SHOAL_GC_TORTURE=1 SHOAL_E2E_TIMEOUT=900 tests/e2e.sh $(SHOAL)
	SHOAL_MIGRATE_TORTURE=1 tests/e2e.sh $(SHOAL)
	SHOAL_GC_TORTURE=1 SHOAL_MIGRATE_TORTURE=1 SHOAL_E2E_TIMEOUT=900 tests/e2e.sh $(SHOAL)

CHAOS_KILLS ?= 1000
chaos: deps
	@$(MAKE) --no-print-directory all EXTRA="-Werror"
	tests/chaos/chaos.sh $(SHOAL) $(CHAOS_KILLS) 2 4

# In its own build folder, so that the flags below always apply. QUICK=1
# runs the smoke sizes (bench/README.md). bench-plot draws the last
# results (bench/results/latest.json) as PNG files beside them.
QUICK ?=
bench: deps
	@scripts/deps.sh --bench
	@$(MAKE) --no-print-directory BUILD=build-bench OPT="-O2 -DNDEBUG" build-bench/shoal
	BENCH_QUICK=$(QUICK) bench/run.sh build-bench/shoal

bench-plot:
	@scripts/deps.sh --bench
	python3 bench/plot.py bench/results/latest.json

# libFuzzer targets (tests/fuzz/fuzz_NAME.c), built by clang with the
# library in build-fuzz/ under AddressSanitizer and UBSan, and run one
# after another for FUZZ_SECONDS each on the corpus in
# tests/fuzz/corpus/NAME/ (scripts/fuzz.sh). Not part of `make test`.
# clang's -Wbitwise-instead-of-logical is off: interp.c's `is_fix(a) &
# is_fix(b)` is a deliberate branch-free test.
FUZZ_TARGETS ?= reader compile config ctl
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS   = -Werror -Wno-bitwise-instead-of-logical -DSHOAL_DEBUG -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

.PRECIOUS: $(BUILD)/tests/fuzz/%.o
$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/libshoal.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang ALLOC= EXTRA="$(FUZZ_CFLAGS)" \
	    $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

fuzz:
	@scripts/deps.sh --fuzz
	@$(MAKE) --no-print-directory fuzz-build
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/supervisor/main.d \
         $(wildcard $(BUILD)/tests/fuzz/*.d)
