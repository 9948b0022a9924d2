#!/bin/sh
# bench-blk.sh — vdevd against qemu-storage-daemon, both serving a null disk over
# vhost-user-blk, and vdevd serving the same null disk over vfio-user (a
# virtio-pci function), driven by the same vdev-bench jobs in the same run: 4 KiB
# random reads at queue depth 1 and 32, one queue. The servers share one CPU,
# vdev-bench has the other (taskset), the same for every peer. Runs are
# interleaved (ABC order in odd rounds, CBA in even ones, over BENCH_ROUNDS
# rounds) so that a neighbour's load hits every peer alike; each row keeps the
# round with the most IOPS (the least disturbed).
#
# Extra rows: vdevd with poll=on (over both transports) against
# qemu-storage-daemon with an iothread (QEMU's adaptive polling, poll-max-ns),
# each peer's low-latency set-up. Two tables: vdevd / qemu-storage-daemon over
# vhost-user, and vdevd over vfio-user / vdevd over vhost-user.
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
start vdevdvfu "$VDEVD" --log-level warn \
    --device "virtio-blk,id=null0,null=$SIZE,transport=vfio-user,socket=$TMP/vdevdvfu.sock"
start vdevdvfupoll "$VDEVD" --log-level warn \
    --device "virtio-blk,id=null0,null=$SIZE,poll=on,transport=vfio-user,socket=$TMP/vdevdvfupoll.sock"
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
    case $1 in
    vdevdvfu*) transport=vfio-user ;;
    *) transport=vhost-user ;;
    esac
    c0=$(cpu_ns "$pid") w0=$(wait_ns "$pid")
    line=$(taskset -c "$CLIENT_CPU" "$BENCH" --transport $transport \
        --socket "$TMP/$1.sock" --rw randread \
        --bs 4k --iodepth "$2" --time "$SECONDS_PER" --quiet --json) ||
        die "vdev-bench against $1 at QD$2 failed: $line"
    c1=$(cpu_ns "$pid") w1=$(wait_ns "$pid")
    echo "$line" | sed "s/^{/{\"peer\":\"$1\",\"round\":$3,\"server_cpu_ns\":$((c1 - c0)),\"server_wait_ns\":$((w1 - w0)),/" \
        >>"$TMP/runs.json"
    printf '  %-12s QD%-3s %s, server %s us CPU a request\n' "$1" "$2" \
        "$(echo "$line" | sed 's/.*"iops":\([0-9.]*\).*"p99":\([0-9.]*\).*/\1 IOPS, p99 \2 us/')" \
        "$(echo "$line" | awk -v c=$((c1 - c0)) '{ match($0, /"ios":[0-9]+/);
            n = substr($0, RSTART + 6, RLENGTH - 6); printf("%.2f", (n > 0 ? c / n / 1000 : 0)) }')"
}

: >"$TMP/runs.json"
PEER_GROUPS="vdevd:vdevdvfu:qsd vdevdpoll:vdevdvfupoll:qsdio"
echo "bench-blk: 4k random reads, ${SECONDS_PER} s a run, $ROUNDS rounds;" \
     "servers on cpu $SERVER_CPU, vdev-bench on cpu $CLIENT_CPU"
r=1
while [ $r -le "$ROUNDS" ]; do
    for group in $PEER_GROUPS; do
        order=$(echo "$group" | tr ':' ' ')
        # ABC in odd rounds, CBA in even ones.
        [ $((r % 2)) -eq 1 ] || order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
        for depth in 1 32; do
            for peer in $order; do
                run "$peer" "$depth" "$r"
            done
        done
    done
    r=$((r + 1))
done

for name in vdevd vdevdpoll vdevdvfu vdevdvfupoll qsd qsdio; do
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
function line(label, a, b, d) {
    printf "%-30s %8.0f %8.0f %5.2f  %8.1f %8.1f %5.2f  %6.1f %6.1f  %6.2f %6.2f %5.2f\n",
        label, best[a, d], best[b, d], ratio(best[a, d], best[b, d]),
        p99[a, d], p99[b, d], ratio(p99[a, d], p99[b, d]), p50[a, d], p50[b, d],
        cpu[a, d], cpu[b, d], ratio(cpu[a, d], cpu[b, d])
}
function header(a, b) {
    printf "%-30s %8s %8s %5s  %8s %8s %5s  %6s %6s  %6s %6s %5s\n", "", a,
        b, "", a, b, "", a, b, a, b, ""
    printf "%-30s %8s %8s %5s  %8s %8s %5s  %6s %6s  %6s %6s %5s\n", "row", "IOPS",
        "IOPS", "ratio", "p99 us", "p99 us", "ratio", "p50 us", "p50 us", "cpu us",
        "cpu us", "ratio"
}
# The plot data: vdevd over vhost-user, qsd, then vdevd over vfio-user (v).
function datrow(label, a, b, v, d) {
    printf "\"%s\" %.0f %.0f %.1f %.1f %.1f %.1f %.3f %.3f %.0f %.1f %.1f %.3f\n", label,
        best[a, d], best[b, d], p99[a, d], p99[b, d], p50[a, d], p50[b, d], cpu[a, d],
        cpu[b, d], best[v, d], p99[v, d], p50[v, d], cpu[v, d] >> dat
}
END {
    printf "virtio-blk, 4 KiB random reads, 1 queue, null disks of 1 GiB.\n"
    printf "vhost-user-blk: vdevd against qemu-storage-daemon.\n"
    printf "Servers on cpu %s, vdev-bench on cpu %s; best of %s runs of %s s per row.\n",
        scpu, ccpu, rounds, secs
    printf "ratio = vdevd / qemu-storage-daemon (IOPS: higher is better for vdevd;"
    printf " p99 and CPU: lower is).\n"
    printf "cpu us/req: the server'"'"'s CPU time (all threads) per request, lowest round.\n\n"
    header("vdevd", "qsd")
    line("QD1", "vdevd", "qsd", 1)
    line("QD32", "vdevd", "qsd", 32)
    line("QD1 poll=on / qsd iothread", "vdevdpoll", "qsdio", 1)
    line("QD32 poll=on / qsd iothread", "vdevdpoll", "qsdio", 32)
    printf "\nvdevd over vfio-user (virtio-pci function: ioeventfd kicks, MSI-X" \
        " eventfds) against vdevd over vhost-user,\nthe same device, null disk and jobs.\n"
    printf "ratio = vfio-user / vhost-user.\n\n"
    header("vfu", "vhost")
    line("QD1", "vdevdvfu", "vdevd", 1)
    line("QD32", "vdevdvfu", "vdevd", 32)
    line("QD1 poll=on", "vdevdvfupoll", "vdevdpoll", 1)
    line("QD32 poll=on", "vdevdvfupoll", "vdevdpoll", 32)
    print "# row vdevd_iops qsd_iops vdevd_p99_us qsd_p99_us vdevd_p50_us qsd_p50_us" \
        " vdevd_cpu_us_per_req qsd_cpu_us_per_req vdevd_vfu_iops vdevd_vfu_p99_us" \
        " vdevd_vfu_p50_us vdevd_vfu_cpu_us_per_req" > dat
    datrow("QD1", "vdevd", "qsd", "vdevdvfu", 1)
    datrow("QD32", "vdevd", "qsd", "vdevdvfu", 32)
    datrow("QD1 poll=on / qsd iothread", "vdevdpoll", "qsdio", "vdevdvfupoll", 1)
    datrow("QD32 poll=on / qsd iothread", "vdevdpoll", "qsdio", "vdevdvfupoll", 32)
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
    echo "vfu rows: vdevd --device virtio-blk,...,transport=vfio-user; vdev-bench --transport vfio-user."
} >>"$OUT/blk.txt"

if command -v gnuplot >/dev/null; then
    gnuplot <<EOF || echo "bench-blk: gnuplot failed; no blk.png" >&2
set terminal pngcairo size 1500,480 font ",10"
set output "$OUT/blk.png"
set multiplot layout 1,3 title "virtio-blk, 4 KiB random reads, null disk: vdevd over vhost-user and vfio-user, qemu-storage-daemon over vhost-user"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -20 font ",8"
set grid ytics
set key below horizontal
set logscale y
set title "IOPS, log scale (higher is better)"
plot "$OUT/blk.dat" using 2:xtic(1) title "vdevd vhost-user", "" using 10 title "vdevd vfio-user", "" using 3 title "qemu-storage-daemon"
set title "p99 latency in us, log scale (lower is better)"
plot "$OUT/blk.dat" using 4:xtic(1) title "vdevd vhost-user", "" using 11 title "vdevd vfio-user", "" using 5 title "qemu-storage-daemon"

set title "server CPU per request, us (lower is better)"
plot "$OUT/blk.dat" using 8:xtic(1) title "vdevd vhost-user", "" using 13 title "vdevd vfio-user", "" using 9 title "qemu-storage-daemon"
unset multiplot
EOF
else
    echo "bench-blk: gnuplot not found; no blk.png" >&2
fi

echo
cat "$OUT/blk.txt"
echo "bench-blk: wrote $OUT/blk.txt, blk.dat, blk.json, blk.png"
