# The e2e cases, sourced by run.sh after backend.sh and qemu.sh. case_NAME DIR
# runs one case in its own folder DIR and returns 0, or sets REASON and returns
# 1. Reads TIMEOUT (s), MIB (data per verify case), ROUNDS (reconnect case).
#
# Every case checks three things: the guest's own verdict (it compares what it
# read back with what it wrote, O_DIRECT both ways), that QEMU ended by itself
# within TIMEOUT, and that the image holds the bytes the guest wrote (the md5
# the guest printed against the host's md5 of the same region of the file).

# REASON and NOTE are for run.sh's result line.
# shellcheck disable=SC2034
REASON=""
NOTE=""
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() {
    # shellcheck disable=SC2034
    REASON=$*
    return 1
}

# image_md5 IMAGE OFFSET_MIB LEN_MIB: that region's md5 as the host reads it.
image_md5() {
    dd if="$1" bs=1M skip="$2" count="$3" 2>/dev/null | md5sum | cut -d' ' -f1
}

# console_value DIR REGEX: the first group of the last console line matching.
console_value() {
    console "$1" | sed -n "s/.*$2.*/\\1/p" | tail -n 1
}

# check_guest DIR STATUS: QEMU's STATUS from qemu_wait; the guest passed and
# powered off by itself.
check_guest() {
    local dir=$1 status=$2 last
    case $status in
    124 | 137) fail "guest timed out after $TIMEOUT s"; return ;;
    esac
    if [ "$status" -ne 0 ] && ! console "$dir" | grep -q 'VDEV-E2E-RESULT'; then
        fail "QEMU exited with status $status before the guest's verdict"
        return
    fi
    if ! guest_result "$dir"; then
        # The guest test's own complaint is the line before the verdict.
        last=$(console "$dir" | grep -v '^\[' | grep -B1 'VDEV-E2E-RESULT' | head -n 1)
        fail "guest check failed${last:+: $last}"
        return
    fi
    [ "$status" -eq 0 ] || fail "QEMU exited with status $status"
}

# check_region DIR IMAGE OFFSET_MIB LEN_MIB GUEST_MD5 WHAT
check_region() {
    local host
    [ -n "$5" ] || { fail "the guest printed no checksum for $6"; return; }
    host=$(image_md5 "$2" "$3" "$4")
    [ "$host" = "$5" ] || fail "$6: image md5 $host, guest md5 $5"
}

# vhost_blk_args SOCK QUEUES PACKED [RECONNECT]: QEMU's vhost-user-blk device,
# into the array DEV.
DEV=()
vhost_blk_args() {
    DEV=(-chardev "socket,id=c,path=$1${4:+,reconnect=$4}"
         -device "vhost-user-blk-pci,chardev=c,num-queues=$2,packed=$3")
}

# verify_case DIR SMP QUEUES PACKED(on|off) [builtin]: blk-verify-queues.sh
# writes MIB MiB of random data over all queues and reads it back; the guest
# also checks that it has QUEUES queues and the ring layout asked for. With
# "builtin" QEMU's own virtio-blk-pci serves the image (the control).
verify_case() {
    local dir=$1 smp=$2 queues=$3 packed=$4 kind=${5:-vhost} status stopped=0
    local img=$dir/disk.img sock=$dir/vhost.sock
    truncate -s "$((MIB + 2))M" "$img"
    if [ "$kind" = builtin ]; then
        DEV=(-drive "file=$img,format=raw,if=none,id=d0,cache=none"
             -device "virtio-blk-pci,drive=d0,num-queues=$queues,packed=$packed")
    else
        backend_start "$dir" "$sock" "$img" "$queues" || { fail "back-end did not start"; return; }
        vhost_blk_args "$sock" "$queues" "$packed"
    fi
    qemu_start "$dir" "$TIMEOUT" \
        "vdev_test=blk-verify-queues vdev_blk_mib=$MIB vdev_blk_queues=$queues vdev_blk_packed=$([ "$packed" = on ] && echo 1 || echo 0)" \
        -smp "$smp" "${DEV[@]}"
    qemu_wait
    status=$?
    [ "$kind" = builtin ] || backend_stop || stopped=1
    check_guest "$dir" "$status" || return
    check_region "$dir" "$img" 1 "$MIB" "$(console_value "$dir" 'VDEV-E2E-MD5: \([0-9a-f]*\)')" "the data" || return
    [ "$stopped" -eq 0 ] || fail "back-end did not exit with status 0 on SIGTERM"
}

case_one_queue() { verify_case "$1" 1 1 off; }
case_two_queues() { verify_case "$1" 2 2 off; }
case_packed() { verify_case "$1" 2 2 on; }
case_control() { verify_case "$1" 2 2 off builtin; }

# inflight_fd: QEMU's fd of the inflight area (vhost-user.rst, "Inflight I/O
# tracking"), the memfd the back-end handed over with GET_INFLIGHT_FD and QEMU
# keeps while the back-end is gone; "" if there is none (yet).
inflight_fd() {
    local qpid fd
    qpid=$(pgrep -P "$QEMU_PID" | head -n 1)
    for fd in /proc/"$qpid"/fd/*; do
        case $(readlink "$fd" 2>/dev/null) in
        */memfd:*inflight*) echo "$fd"; return ;;
        esac
    done
}

# stop_amid_io SECONDS: freezes the back-end (SIGSTOP) at a moment its inflight
# area shows requests fetched and not completed, and sets INFLIGHT to their
# count (stop_amid_io.pl). Returns 1, the back-end running, if it caught none
# within SECONDS or there is no inflight area.
INFLIGHT=0
stop_amid_io() {
    local fd
    INFLIGHT=0
    fd=$(inflight_fd)
    [ -n "$fd" ] || return 1
    INFLIGHT=$(perl "$E2E_DIR/stop_amid_io.pl" "$fd" "$BACKEND_PID" "$QEMU_PID" "$1") ||
        INFLIGHT=0
    [ "$INFLIGHT" -gt 0 ]
}

# The back-end dies by SIGKILL while the guest writes and verifies rounds of
# 4 MiB (blk-verify-long.sh), and a new one starts on the same socket and image.
# QEMU (reconnect=1) connects again and hands the new back-end the inflight
# area it shared with the dead one, which resubmits what was in flight; the
# guest sees no error. Every round must verify in the guest and its md5 must
# match the image, the rounds before the kill included. After the first round
# the kill waits (up to 30 s) for a moment with requests in flight, read from
# QEMU's copy of the inflight area, so the resubmission path runs; the result
# line says how many there were, or that none was caught (a back-end without
# INFLIGHT_SHMFD, such as qemu-storage-daemon 7.2, has no area: QEMU then
# restarts the rings from the used index).
case_reconnect() {
    local dir=$1 status stopped=0 killed_in caught i
    local img=$dir/disk.img sock=$dir/vhost.sock
    truncate -s "$((1 + 4 * ROUNDS + 1))M" "$img"
    backend_start "$dir" "$sock" "$img" 1 || { fail "back-end did not start"; return; }
    vhost_blk_args "$sock" 1 off 1
    qemu_start "$dir" "$TIMEOUT" "vdev_test=blk-verify-long vdev_blk_rounds=$ROUNDS" \
        -smp 1 "${DEV[@]}"

    if ! console_wait "$dir" 'VDEV-E2E-ROUND: 0 '; then
        qemu_wait
        status=$?
        backend_stop
        check_guest "$dir" "$status" || return
        fail "the guest passed without printing round 0"
        return
    fi
    if stop_amid_io 30; then
        caught="requests in flight: $INFLIGHT"
    elif [ -z "$(inflight_fd)" ]; then
        caught="no inflight area"
    else
        caught="no request caught in flight"
    fi
    backend_kill
    killed_in=$(console "$dir" | grep -c 'VDEV-E2E-ROUND:')
    NOTE="killed in round $killed_in of $ROUNDS, $caught"
    backend_start "$dir" "$sock" "$img" 1 || { qemu_kill; fail "back-end did not restart"; return; }

    qemu_wait
    status=$?
    backend_stop || stopped=1
    check_guest "$dir" "$status" || return
    [ "$killed_in" -lt "$ROUNDS" ] || { fail "the guest finished before the kill: raise --rounds"; return; }
    for i in $(seq 0 $((ROUNDS - 1))); do
        check_region "$dir" "$img" $((1 + 4 * i)) 4 \
            "$(console_value "$dir" "VDEV-E2E-ROUND: $i \\([0-9a-f]*\\)")" "round $i" || return
    done
    [ "$stopped" -eq 0 ] || fail "back-end did not exit with status 0 on SIGTERM"
}
