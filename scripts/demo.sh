#!/bin/sh
# demo.sh — make demo: serve a disk image with vdevd and drive it from plain
# userspace with vdev's own front-end (vdev-bench --rw verify): a few seconds of
# random writes, each read back and compared, then a summary. Stops vdevd with
# SIGTERM and checks that it exits 0. Exit status 0 only if all of it worked.
#
#   scripts/demo.sh [BUILD]      DEMO_SECONDS (default 3), DEMO_SIZE (default 64M)
set -eu

BUILD=${1:-build}
SECS=${DEMO_SECONDS:-3}
SIZE=${DEMO_SIZE:-64M}
DIR=$BUILD/demo
IMG=$DIR/disk.img
SOCK=$DIR/vdevd.sock
VDEVD=$BUILD/tools/vdevd/vdevd
BENCH=$BUILD/tools/vdev-bench/vdev-bench

die() { echo "demo: $*" >&2; exit 1; }

[ -x "$VDEVD" ] && [ -x "$BENCH" ] || die "build first (make)"
mkdir -p "$DIR"
rm -f "$IMG" "$SOCK"            # a stale socket would look like a live vdevd
truncate -s "$SIZE" "$IMG"

VDEVD_PID=""
cleanup() {
    if [ -n "$VDEVD_PID" ]; then
        kill "$VDEVD_PID" 2>/dev/null || true
        wait "$VDEVD_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: $IMG, $SIZE, served by vdevd on $SOCK"
"$VDEVD" --device "virtio-blk,id=demo0,file=$IMG,socket=$SOCK" 2>"$DIR/vdevd.log" &
VDEVD_PID=$!
i=0
while [ ! -S "$SOCK" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$VDEVD_PID" 2>/dev/null; then
        cat "$DIR/vdevd.log" >&2
        die "vdevd did not come up"
    fi
    sleep 0.1
done

echo "demo: vdev-bench --rw verify for $SECS s (4 KiB random writes, each read back)"
status=0
"$BENCH" --socket "$SOCK" --rw verify --bs 4k --iodepth 16 --time "$SECS" --json \
    >"$DIR/result.json" || status=$?

kill -TERM "$VDEVD_PID"
vstatus=0
wait "$VDEVD_PID" || vstatus=$?
VDEVD_PID=""

# The result line: pick fields out of vdev-bench's own JSON.
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$DIR/result.json"; }
if [ -s "$DIR/result.json" ]; then
    awk -v iops="$(field iops)" -v secs="$(field seconds)" -v w="$(field bytes_written)" \
        -v v="$(field bytes_verified)" -v mm="$(field mismatches)" \
        -v p50="$(field p50)" -v p99="$(field p99)" 'BEGIN {
        printf "demo: %.1f s, %.0f IOPS (latency p50 %.0f us, p99 %.0f us)\n",
            secs, iops, p50, p99
        printf "demo: %.1f MiB written, %.1f MiB read back and verified, %d mismatches\n",
            w / 1048576, v / 1048576, mm
    }'
fi
if [ "$vstatus" -ne 0 ]; then
    cat "$DIR/vdevd.log" >&2
    die "vdevd exited with status $vstatus after SIGTERM"
fi
[ "$status" -eq 0 ] || die "vdev-bench failed (status $status): see above"
echo "demo: vdevd stopped cleanly; all good"
