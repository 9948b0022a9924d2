# The vhost-user-blk back-end under test, sourced by run.sh: vdevd, or
# qemu-storage-daemon as a reference that proves the harness itself.
#
# Reads BACKEND (vdevd|qsd), VDEVD (path), LOG_LEVEL. Sets BACKEND_PID.
# Each start logs to DIR/backend.N.log, N counting the starts in DIR.

BACKEND_PID=""

# backend_start DIR SOCK IMAGE QUEUES: serve IMAGE on SOCK; returns once the
# socket is there (vdevd and qemu-storage-daemon both create it only when it
# already listens), 1 if the back-end exits first or takes over 10 s.
backend_start() {
    local dir=$1 sock=$2 img=$3 queues=$4 n log
    n=$(find "$dir" -maxdepth 1 -name 'backend.*.log' | wc -l)
    log="$dir/backend.$((n + 1)).log"
    # A killed back-end leaves its socket file behind; without this the
    # wait below would see the stale file and return at once.
    rm -f "$sock"
    case $BACKEND in
    vdevd)
        "$VDEVD" --log-level "$LOG_LEVEL" \
            --device "virtio-blk,socket=$sock,file=$img,num-queues=$queues" \
            </dev/null >"$log" 2>&1 &
        ;;
    qsd)
        qemu-storage-daemon \
            --blockdev "driver=file,node-name=f0,filename=$img" \
            --export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$sock,writable=on,num-queues=$queues" \
            </dev/null >"$log" 2>&1 &
        ;;
    *)
        echo "unknown back-end '$BACKEND'" >"$log"
        return 1
        ;;
    esac
    BACKEND_PID=$!
    local _
    for _ in $(seq 100); do
        [ -S "$sock" ] && return 0
        kill -0 "$BACKEND_PID" 2>/dev/null || break
        sleep 0.1
    done
    backend_kill
    return 1
}

# backend_stop: SIGTERM, which must end the back-end with status 0 within
# 10 s (vdevd's contract: a clean shutdown). Returns 1 otherwise.
backend_stop() {
    [ -n "$BACKEND_PID" ] || return 0
    local pid=$BACKEND_PID status _
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        backend_kill
        return 1
    fi
    wait "$pid"
    status=$?
    BACKEND_PID=""
    return $((status != 0))
}

# backend_kill: SIGKILL, as a crash would end it; returns when it is gone.
backend_kill() {
    [ -n "$BACKEND_PID" ] || return 0
    kill -KILL "$BACKEND_PID" 2>/dev/null
    wait "$BACKEND_PID" 2>/dev/null
    BACKEND_PID=""
    return 0
}
