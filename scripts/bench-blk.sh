#!/bin/sh
# bench-blk.sh — vdevd against qemu-storage-daemon, both serving a null disk over
# vhost-user-blk, driven by the same vdev-bench jobs in the same run: 4 KiB random
# reads at queue depth 1 and 32, one queue. The servers share one CPU, vdev-bench
# has the other (taskset), the same for every peer. Runs are interleaved (ABBA
# order over BENCH_ROUNDS rounds) so that a neighbour's load hits both peers
# alike; each row keeps the round with the most IOPS (the least disturbed).
#
# Extra rows: vdevd with poll=on against qemu-storage-daemon with an iothread
# (QEMU's adaptive polling, poll-max-ns), each peer's low-latency set-up.
#
#   scripts/bench-blk.sh [BUILD]         (make bench runs it)
# Environment: BENCH_SECONDS (per run, default 3), BENCH_ROUNDS (default 2),
# BENCH_SERVER_CPU (default 1), BENCH_CLIENT_CPU (default 0).
# Writes BUILD/bench/blk.txt (the table), blk.dat (gnuplot data), blk.png, and
# each run's JSON line in blk.json. Stops everything it started.
set -eu

BUILD=${1:-build}
SECONDS_PER=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-2}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
CLIENT_CPU=${BENCH_CLIENT_CPU:-0}
SIZE=1073741824                       # the null disks' size: 1 GiB

BENCH=$BUILD/tools/vdev-bench/vdev-bench
VDEVD=$BUILD/tools/vdevd/vdevd
OUT=$BUILD/bench
QSD=$(command -v qemu-storage-daemon || true)

die() { echo "bench-blk: $*" >&2; exit 1; }

[ -x "$BENCH" ] || die "no $BENCH: build first (make)"
[ -x "$VDEVD" ] || die "no $VDEVD: build first (make)"
[ -n "$QSD" ] || die "qemu-storage-daemon not found (apt-get install qemu-system-common)"
command -v taskset >/dev/null || die "taskset not found (util-linux)"
if [ "$(nproc)" -lt 2 ]; then
    SERVER_CPU=0 CLIENT_CPU=0
    echo "bench-blk: one CPU only: servers and vdev-bench share it" >&2
fi

mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/vdev-bench-blk.XXXXXX)
PIDS=""

# Everything started is stopped, whatever way the script ends.
cleanup() {
    for pid in $PIDS; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $PIDS; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: runs a server on the server CPU, its log in TMP/NAME.log,
# and waits for its socket TMP/NAME.sock.
start() {
    name=$1
    shift
    taskset -c "$SERVER_CPU" "$@" >"$TMP/$name.log" 2>&1 &
    eval "PID_$name=$!"
    PIDS="$PIDS $!"
    i=0
    while [ ! -S "$TMP/$name.sock" ]; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$(eval echo \$PID_"$name")" 2>/dev/null; then
            cat "$TMP/$name.log" >&2
            die "$name did not come up"
        fi
        sleep 0.1
    done
}

# stop NAME: SIGTERM, and the server must exit 0 (a clean shutdown).
stop() {
    pid=$(eval echo \$PID_"$1")
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    PIDS=$(echo "$PIDS" | sed "s/ $pid\b//")
    if [ "$status" -ne 0 ]; then
        cat "$TMP/$1.log" >&2
        die "$1 exited with status $status after SIGTERM"
    fi
}

start vdevd "$VDEVD" --log-level warn \
    --device "virtio-blk,id=null0,null=$SIZE,socket=$TMP/vdevd.sock"
start vdevdpoll "$VDEVD" --log-level warn \
    --device "virtio-blk,id=null0,null=$SIZE,poll=on,socket=$TMP/vdevdpoll.sock"
start qsd "$QSD" \
    --blockdev "driver=null-co,node-name=null0,size=$SIZE,read-zeroes=on" \
    --export "type=vhost-user-blk,id=exp0,node-name=null0,addr.type=unix,addr.path=$TMP/qsd.sock,writable=on,num-queues=1"
start qsdio "$QSD" --object iothread,id=iot0 \
    --blockdev "driver=null-co,node-name=null0,size=$SIZE,read-zeroes=on" \
    --export "type=vhost-user-blk,id=exp0,node-name=null0,addr.type=unix,addr.path=$TMP/qsdio.sock,writable=on,num-queues=1,iothread=iot0"

# The CPU time a server's threads have used, in ns: what it costs per request
# does not depend on how much of the CPU a neighbour left it.
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# The time its threads were runnable but waited for a CPU (a busy machine), ns.
wait_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.0f", s }'
}

# run PEER DEPTH ROUND: one vdev-bench job, its JSON line kept with the server's
# CPU time during it.
run() {
    pid=$(eval echo \$PID_"$1")
    c0=$(cpu_ns "$pid") w0=$(wait_ns "$pid")
    line=$(taskset -c "$CLIENT_CPU" "$BENCH" --socket "$TMP/$1.sock" --rw randread \
        --bs 4k --iodepth "$2" --time "$SECONDS_PER" --quiet --json) ||
        die "vdev-bench against $1 at QD$2 failed: $line"
    c1=$(cpu_ns "$pid") w1=$(wait_ns "$pid")
    echo "$line" | sed "s/^{/{\"peer\":\"$1\",\"round\":$3,\"server_cpu_ns\":$((c1 - c0)),\"server_wait_ns\":$((w1 - w0)),/" \
        >>"$TMP/runs.json"
    printf '  %-10s QD%-3s %s, server %s us CPU a request\n' "$1" "$2" \
        "$(echo "$line" | sed 's/.*"iops":\([0-9.]*\).*"p99":\([0-9.]*\).*/\1 IOPS, p99 \2 us/')" \
        "$(echo "$line" | awk -v c=$((c1 - c0)) '{ match($0, /"ios":[0-9]+/);
            n = substr($0, RSTART + 6, RLENGTH - 6); printf("%.2f", (n > 0 ? c / n / 1000 : 0)) }')"
}

: >"$TMP/runs.json"
PAIRS="vdevd:qsd vdevdpoll:qsdio"
echo "bench-blk: 4k random reads, ${SECONDS_PER} s a run, $ROUNDS rounds;" \
     "servers on cpu $SERVER_CPU, vdev-bench on cpu $CLIENT_CPU"
r=1
while [ $r -le "$ROUNDS" ]; do
    for pair in $PAIRS; do
        a=${pair%:*} b=${pair#*:}
        # ABBA: odd rounds start with vdevd, even rounds with qsd.
        if [ $((r % 2)) -eq 1 ]; then first=$a second=$b; else first=$b second=$a; fi
        for depth in 1 32; do
            run "$first" "$depth" "$r"
            run "$second" "$depth" "$r"
        done
    done
    r=$((r + 1))
done

for name in vdevd vdevdpoll qsd qsdio; do
    stop "$name"
done
cp "$TMP/runs.json" "$OUT/blk.json"

# The table and the plot data: per row, the best round of each peer.
awk -v secs="$SECONDS_PER" -v rounds="$ROUNDS" -v scpu="$SERVER_CPU" \
    -v ccpu="$CLIENT_CPU" -v dat="$OUT/blk.dat" '
function field(s, name,   m) {
    if (match(s, "\"" name "\":[0-9.]+")) {
        m = substr(s, RSTART, RLENGTH)
        sub(/.*:/, "", m)
        return m + 0
    }
    return -1
}
{
    peer = $0; sub(/^\{"peer":"/, "", peer); sub(/".*/, "", peer)
    d = field($0, "iodepth"); iops = field($0, "iops")
    if (!((peer, d) in best) || iops > best[peer, d]) {
        best[peer, d] = iops
        p50[peer, d] = field($0, "p50"); p99[peer, d] = field($0, "p99")
    }
    # CPU per request: the lowest of the rounds (the least disturbed).
    ios = field($0, "ios"); c = ios > 0 ? field($0, "server_cpu_ns") / ios / 1000 : 0
    if (!((peer, d) in cpu) || c < cpu[peer, d])
        cpu[peer, d] = c
    waited += field($0, "server_wait_ns") / 1e9; ran += field($0, "seconds")
}
function ratio(a, b) { return b > 0 ? a / b : 0 }
function row(label, a, b, d) {
    printf "%-30s %8.0f %8.0f %5.2f  %8.1f %8.1f %5.2f  %6.1f %6.1f  %6.2f %6.2f %5.2f\n",
        label, best[a, d], best[b, d], ratio(best[a, d], best[b, d]),
        p99[a, d], p99[b, d], ratio(p99[a, d], p99[b, d]), p50[a, d], p50[b, d],
        cpu[a, d], cpu[b, d], ratio(cpu[a, d], cpu[b, d])
    printf "\"%s\" %.0f %.0f %.1f %.1f %.1f %.1f %.3f %.3f\n", label, best[a, d],
        best[b, d], p99[a, d], p99[b, d], p50[a, d], p50[b, d], cpu[a, d], cpu[b, d] >> dat
}
END {
    printf "vhost-user-blk, 4 KiB random reads, 1 queue, null disks of 1 GiB.\n"
    printf "Servers on cpu %s, vdev-bench on cpu %s; best of %s runs of %s s per row.\n",
        scpu, ccpu, rounds, secs
    printf "ratio = vdevd / qemu-storage-daemon (IOPS: higher is better for vdevd;"
    printf " p99 and CPU: lower is).\n"
    printf "cpu us/req: the server'"'"'s CPU time (all threads) per request, lowest round.\n\n"
    printf "%-30s %8s %8s %5s  %8s %8s %5s  %6s %6s  %6s %6s %5s\n", "", "vdevd",
        "qsd", "", "vdevd", "qsd", "", "vdevd", "qsd", "vdevd", "qsd", ""
    printf "%-30s %8s %8s %5s  %8s %8s %5s  %6s %6s  %6s %6s %5s\n", "row", "IOPS",
        "IOPS", "ratio", "p99 us", "p99 us", "ratio", "p50 us", "p50 us", "cpu us",
        "cpu us", "ratio"
    print "# row vdevd_iops qsd_iops vdevd_p99_us qsd_p99_us vdevd_p50_us qsd_p50_us" \
        " vdevd_cpu_us_per_req qsd_cpu_us_per_req" > dat
    row("QD1", "vdevd", "qsd", 1)
    row("QD32", "vdevd", "qsd", 32)
    row("QD1 poll=on / qsd iothread", "vdevdpoll", "qsdio", 1)
    row("QD32 poll=on / qsd iothread", "vdevdpoll", "qsdio", 32)
    printf "\nThe servers were runnable but waiting for a CPU %.0f%% of the measured time" \
        " (other load on the machine).\n", (ran > 0 ? 100 * waited / ran : 0)
    if (ran > 0 && waited / ran > 0.1)
        printf "That much: IOPS and latency measure the scheduler as much as the" \
            " servers; cpu us/req does not.\n"
}' "$OUT/blk.json" >"$OUT/blk.txt.new"
mv "$OUT/blk.txt.new" "$OUT/blk.txt"
{
    echo
    echo "qemu-storage-daemon: $("$QSD" --version | head -n 1)"
    echo "qsd rows: the main loop (--export ... without iothread); poll rows: an iothread."
} >>"$OUT/blk.txt"

if command -v gnuplot >/dev/null; then
    gnuplot <<EOF || echo "bench-blk: gnuplot failed; no blk.png" >&2
set terminal pngcairo size 1500,480 font ",10"
set output "$OUT/blk.png"
set multiplot layout 1,3 title "vhost-user-blk, 4 KiB random reads, null disk: vdevd vs qemu-storage-daemon"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -20 font ",8"
set grid ytics
set key below horizontal
set logscale y
set title "IOPS, log scale (higher is better)"
plot "$OUT/blk.dat" using 2:xtic(1) title "vdevd", "" using 3 title "qemu-storage-daemon"
set title "p99 latency in us, log scale (lower is better)"
plot "$OUT/blk.dat" using 4:xtic(1) title "vdevd", "" using 5 title "qemu-storage-daemon"

set title "server CPU per request, us (lower is better)"
plot "$OUT/blk.dat" using 8:xtic(1) title "vdevd", "" using 9 title "qemu-storage-daemon"
unset multiplot
EOF
else
    echo "bench-blk: gnuplot not found; no blk.png" >&2
fi

echo
cat "$OUT/blk.txt"
echo "bench-blk: wrote $OUT/blk.txt, blk.dat, blk.json, blk.png"
