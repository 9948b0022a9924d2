# The commands a person types. Everything real happens in meson; this file only
# picks a build folder and makes sure the build dependencies are there.
#
#   make                  build (build/)
#   make check            build and run every test
#   make check SANITIZE=1 the same, built with AddressSanitizer and UBSan (build-san/)
#   make e2e              a QEMU guest uses disks served by vdevd
#   make WERROR=1         warnings are errors (CI)

SANITIZE ?= 0
WERROR   ?= 0

ifeq ($(SANITIZE),1)
BUILD      ?= build-san
MESON_OPTS += -Db_sanitize=address,undefined -Db_lundef=false \
              -Dc_args=-fno-sanitize-recover=undefined \
              -Dc_link_args=-fno-sanitize-recover=undefined
else
BUILD      ?= build
endif
ifeq ($(WERROR),1)
MESON_OPTS += -Dwerror=true
endif

export ASAN_OPTIONS  ?= detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: all deps check clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	@scripts/install-deps
	meson setup $(BUILD) $(MESON_OPTS)

check: all
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

# End-to-end: a QEMU guest uses disks that vdevd serves (tests/e2e/run.sh, 1-2
# minutes). The guest's kernel and initramfs are kept in E2E_CACHE; E2E_ARGS go
# to run.sh, e.g. E2E_ARGS="--backend qsd" or E2E_ARGS=control.
E2E_CACHE ?= /var/tmp/vdev-e2e
E2E_ARGS  ?=
.PHONY: e2e
e2e: all
	@VDEV_DEPS_EXTRA="qemu-system-x86 qemu-system-common busybox-static cpio xz-utils" scripts/install-deps
	@tests/e2e/guest/prepare.sh $(E2E_CACHE) || \
	    { apt-get update >/dev/null && tests/e2e/guest/prepare.sh $(E2E_CACHE); }
	tests/e2e/run.sh --cache $(E2E_CACHE) --vdevd $(BUILD)/tools/vdevd/vdevd $(E2E_ARGS)

clean:
	rm -rf build build-san build-fuzz

# Fuzzing: clang + libFuzzer, every target for FUZZ_SECONDS each; new inputs that
# add coverage are merged into the committed corpus under tests/fuzz/corpus/.
FUZZ_SECONDS ?= 60
.PHONY: fuzz demo bench
# Benchmarks: figures and ratios against a peer measured in the same run: a
# virtqueue against a bare ring (VIRTQ_SECONDS per case); vfio-user REGION_READ
# round trips and posted REGION_WRITEs against a bare echo over the same socket;
# then vdevd against qemu-storage-daemon and vdevd over vfio-user against vdevd
# over vhost-user (BENCH_SECONDS per run, BENCH_ROUNDS rounds; the table and plot
# land in $(BUILD)/bench/blk.txt and blk.png).
VIRTQ_SECONDS ?= 1
BENCH_SECONDS ?= 3
BENCH_ROUNDS  ?= 2
bench: all
	@VDEV_DEPS_EXTRA="qemu-system-common gnuplot-nox util-linux" scripts/install-deps
	$(BUILD)/bench/vdev-bench-virtq $(VIRTQ_SECONDS)
	$(BUILD)/bench/vdev-bench-vfu $(BENCH_SECONDS) $(BENCH_ROUNDS)
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_ROUNDS=$(BENCH_ROUNDS) scripts/bench-blk.sh $(BUILD)

fuzz:
	@VDEV_DEPS_EXTRA="clang libclang-rt-dev" scripts/install-deps
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true \
	    -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-fuzz
	@for t in build-fuzz/tests/fuzz/fuzz-*; do \
	    [ -f $$t ] && [ -x $$t ] || continue; \
	    name=$${t##*/fuzz-}; work=build-fuzz/corpus/$$name; \
	    mkdir -p $$work tests/fuzz/corpus/$$name; \
	    echo "== fuzzing $$name for $(FUZZ_SECONDS) s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $$work tests/fuzz/corpus/$$name || exit 1; \
	    echo "== merging what adds coverage into tests/fuzz/corpus/$$name"; \
	    $$t -merge=1 tests/fuzz/corpus/$$name $$work 2>&1 | tail -n 1; \
	done

# A disk image in $(BUILD)/demo served by vdevd, written and verified for a few
# seconds by vdev-bench; vdevd is stopped at the end.
DEMO_SECONDS ?= 3
demo: all
	DEMO_SECONDS=$(DEMO_SECONDS) scripts/demo.sh $(BUILD)
