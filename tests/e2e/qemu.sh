# The e2e guest, sourced by run.sh: QEMU boots CACHE/vmlinux with the busybox
# initramfs of guest/prepare.sh, which runs the guest test named by vdev_test=
# and powers off. Reads CACHE, ACCEL. Sets QEMU_PID (the timeout(1) around QEMU).

QEMU_PID=""

# qemu_start DIR SECONDS "KERNEL ARGS" QEMU-ARGS...: boot in the background,
# the serial console to DIR/console.log, QEMU's own output to DIR/qemu.log,
# killed after SECONDS. Guest RAM is a shared memfd: a vhost-user back-end
# maps it (without share=on the back-end's writes never reach the guest).
qemu_start() {
    local dir=$1 seconds=$2 append=$3
    shift 3
    : >"$dir/console.log"
    timeout -k 5 "$seconds" qemu-system-x86_64 -accel "$ACCEL" -m 512 \
        -display none -monitor none -serial "file:$dir/console.log" -no-reboot \
        -kernel "$CACHE/vmlinux" -initrd "$CACHE/initramfs.cpio.gz" \
        -append "console=ttyS0 quiet panic=-1 $append" \
        -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
        "$@" </dev/null >"$dir/qemu.log" 2>&1 &
    QEMU_PID=$!
}

# qemu_wait: the guest's end; returns timeout(1)'s status (124: timed out).
qemu_wait() {
    [ -n "$QEMU_PID" ] || return 0
    local status
    wait "$QEMU_PID"
    status=$?
    QEMU_PID=""
    return "$status"
}

qemu_kill() {
    [ -n "$QEMU_PID" ] || return 0
    kill -TERM "$QEMU_PID" 2>/dev/null
    wait "$QEMU_PID" 2>/dev/null
    QEMU_PID=""
}

# console DIR: the guest's console so far, without the serial line's CRs.
# The guest's first line follows SeaBIOS's "Booting from ROM.." on the same
# line, so match the VDEV-E2E- markers anywhere in a line, never with ^.
console() {
    tr -d '\r' <"$1/console.log"
}

# console_wait DIR REGEX: returns 0 once a console line matches REGEX,
# 1 if QEMU ends first.
console_wait() {
    local dir=$1 regex=$2
    while :; do
        console "$dir" | grep -Eq "$regex" && return 0
        if ! kill -0 "$QEMU_PID" 2>/dev/null; then
            console "$dir" | grep -Eq "$regex"
            return
        fi
        sleep 0.05
    done
}

# guest_result DIR: 0 if the guest printed its PASS verdict.
guest_result() {
    console "$1" | grep -q 'VDEV-E2E-RESULT: PASS'
}
