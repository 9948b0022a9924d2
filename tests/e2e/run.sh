#!/bin/bash
# End-to-end: a QEMU guest (Debian's kernel, busybox initramfs) uses a
# vhost-user-blk disk served by vdevd, writes random data with O_DIRECT, reads
# it back, and the host checks the image holds the same bytes.
#
#   run.sh [options] [CASE...]
#
# Cases (default: the first four):
#   one-queue   -smp 1, one queue, split ring
#   two-queues  -smp 2, two queues, each carrying I/O, split ring
#   packed      -smp 2, two queues, packed ring (packed=on, checked in the guest)
#   reconnect   the back-end is SIGKILLed amid the guest's writes and restarted;
#               QEMU reconnects (reconnect=1) and every round still verifies
#   control     QEMU's built-in virtio-blk-pci, no back-end: proves the guest
#
# Options:
#   --backend vdevd|qsd  serve with vdevd (default) or qemu-storage-daemon
#   --vdevd PATH         the vdevd to run (default: build/tools/vdevd/vdevd)
#   --cache DIR          where guest/prepare.sh put vmlinux and the initramfs
#                        (default: /var/tmp/vdev-e2e)
#   --timeout S          hard limit per case (default 120)
#   --rounds N           rounds of 4 MiB in the reconnect case (default 12)
#   --log-level L        vdevd's --log-level (default info; debug for bugs)
#   --accel A            QEMU's accelerator (default tcg)
#   --keep               keep the work folder (it is kept anyway on failure)
#
# Prints "e2e: PASS|FAIL CASE (N s)" per case and "e2e: N passed, M failed";
# exits 1 if any case failed. Every process it starts is killed on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

BACKEND=vdevd
VDEVD=$root/build/tools/vdevd/vdevd
CACHE=/var/tmp/vdev-e2e
TIMEOUT=120
ROUNDS=12
MIB=8
LOG_LEVEL=info
ACCEL=tcg
keep=0
cases=()

usage() {
    sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --backend) BACKEND=${2:?}; shift ;;
    --vdevd) VDEVD=${2:?}; shift ;;
    --cache) CACHE=${2:?}; shift ;;
    --timeout) TIMEOUT=${2:?}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --log-level) LOG_LEVEL=${2:?}; shift ;;
    --accel) ACCEL=${2:?}; shift ;;
    --keep) keep=1 ;;
    -h | --help) usage ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) cases+=("$1") ;;
    esac
    shift
done
[ ${#cases[@]} -gt 0 ] || cases=(one-queue two-queues packed reconnect)
case $BACKEND in vdevd | qsd) ;; *) echo "run.sh: --backend vdevd|qsd" >&2; exit 2 ;; esac
VDEVD=$(realpath -m "$VDEVD")
CACHE=$(realpath -m "$CACHE")

# shellcheck source=tests/e2e/backend.sh
. "$here/backend.sh"
# shellcheck source=tests/e2e/qemu.sh
. "$here/qemu.sh"
# shellcheck source=tests/e2e/cases.sh
. "$here/cases.sh"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/vdev-e2e-run.XXXXXX")
cleanup() {
    qemu_kill
    backend_kill
}
trap cleanup EXIT
trap 'cleanup; echo "e2e: interrupted; logs in $work" >&2; exit 130' INT TERM

# preflight: what every case needs; "" if all is there.
preflight() {
    local f
    for f in "$CACHE/vmlinux" "$CACHE/initramfs.cpio.gz"; do
        [ -s "$f" ] || { echo "no $f (run tests/e2e/guest/prepare.sh $CACHE)"; return; }
    done
    command -v qemu-system-x86_64 >/dev/null || { echo "no qemu-system-x86_64"; return; }
    case $BACKEND in
    vdevd) [ -x "$VDEVD" ] || echo "no vdevd at $VDEVD" ;;
    qsd) command -v qemu-storage-daemon >/dev/null || echo "no qemu-storage-daemon" ;;
    esac
}

# show_logs DIR: the tail of each log of a failed case, for CI's output.
show_logs() {
    local f
    for f in "$1"/console.log "$1"/qemu.log "$1"/backend.*.log; do
        [ -s "$f" ] || continue
        echo "    --- ${f##*/} (last 15 lines)"
        tr -d '\r' <"$f" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tail -n 15 | sed 's/^/    | /'
    done
}

passed=0
failed=0
missing=$(preflight)
for c in "${cases[@]}"; do
    dir=$work/$c
    mkdir -p "$dir"
    REASON=""
    NOTE=""
    start=$SECONDS
    fn=case_${c//-/_}
    if [ -n "$missing" ]; then
        fail "$missing"
    elif ! declare -F "$fn" >/dev/null; then
        fail "no case '$c'"
    else
        "$fn" "$dir"
    fi
    ok=$?
    cleanup
    if [ "$ok" -eq 0 ]; then
        passed=$((passed + 1))
        echo "e2e: PASS $c ($((SECONDS - start)) s)${NOTE:+ $NOTE}"
    else
        failed=$((failed + 1))
        echo "e2e: FAIL $c ($((SECONDS - start)) s) ${REASON:-failed}${NOTE:+; $NOTE}"
        [ -n "$missing" ] || show_logs "$dir"
    fi
done

if [ "$failed" -eq 0 ] && [ "$keep" -eq 0 ]; then
    rm -rf "$work"
else
    echo "e2e: logs and images in $work"
fi
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
