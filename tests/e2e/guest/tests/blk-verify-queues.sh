#!/bin/sh
# Every queue of /dev/vda carries verified O_DIRECT I/O, and the device has the
# layout the host asked for. One writer per CPU, pinned with taskset: blk-mq maps
# each CPU to a hardware queue, so with -smp N and N queues each queue gets its
# own writer. Each writes its slice of random data at 1 MiB into the disk and
# reads it back; every queue's interrupt count (/proc/interrupts, one MSI-X
# vector per queue) must grow, which shows the device completed requests on it.
# The whole region's checksum goes to the host.
#   vdev_blk_mib=N     MiB to write in all (default 8; a multiple of the CPUs)
#   vdev_blk_queues=N  the number of queues vda must have (unchecked if absent)
#   vdev_blk_packed=0|1  whether VIRTIO_F_RING_PACKED must be negotiated
arg() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" /proc/cmdline; }
mib=$(arg vdev_blk_mib)
mib=${mib:-8}
want_queues=$(arg vdev_blk_queues)
want_packed=$(arg vdev_blk_packed)
[ -b /dev/vda ] || { echo "no /dev/vda"; exit 1; }

queues=$(find /sys/block/vda/mq -mindepth 1 -maxdepth 1 -type d | wc -l)
if [ -n "$want_queues" ] && [ "$queues" -ne "$want_queues" ]; then
    echo "vda has $queues queues, want $want_queues"; exit 1
fi
# The features file has one character per feature bit, bit 0 first;
# VIRTIO_F_RING_PACKED is bit 34 (virtio 1.2, 6 "Reserved Feature Bits").
packed=$(cut -c 35 /sys/block/vda/device/features)
if [ -n "$want_packed" ] && [ "$packed" != "$want_packed" ]; then
    echo "vda packed ring is $packed, want $want_packed"; exit 1
fi

cpus=$(nproc)
slice=$((mib / cpus))
if [ "$slice" -eq 0 ] || [ $((slice * cpus)) -ne "$mib" ]; then
    echo "vdev_blk_mib=$mib is not a multiple of $cpus CPUs"; exit 1
fi
# Completions signalled on queue $1: the sum over CPUs of its vector's count.
dev=$(basename "$(readlink /sys/block/vda/device)")
irqs() {
    awk -v name="$dev-req.$1" '$NF == name { for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) n += $i }
        END { print n + 0 }' /proc/interrupts
}
q=0
before_all=""
while [ "$q" -lt "$queues" ]; do before_all="$before_all $(irqs $q)"; q=$((q + 1)); done

dd if=/dev/urandom of=/tmp/data bs=1M count="$mib" 2>/dev/null || exit 1
c=0
pids=""
while [ "$c" -lt "$cpus" ]; do
    off=$((c * slice))
    taskset "$(printf %x $((1 << c)))" sh -c "
        dd if=/tmp/data of=/dev/vda bs=1M skip=$off seek=$((1 + off)) count=$slice \
            oflag=direct conv=fsync,notrunc 2>/dev/null || { echo 'write failed on cpu $c'; exit 1; }
        dd if=/dev/vda of=/tmp/back.$c bs=1M skip=$((1 + off)) count=$slice \
            iflag=direct 2>/dev/null || { echo 'read failed on cpu $c'; exit 1; }" &
    pids="$pids $!"
    c=$((c + 1))
done
failed=0
for p in $pids; do wait "$p" || failed=1; done
[ "$failed" -eq 0 ] || exit 1

c=0
: > /tmp/back
while [ "$c" -lt "$cpus" ]; do cat "/tmp/back.$c" >> /tmp/back; c=$((c + 1)); done
cmp /tmp/data /tmp/back || { echo "data differs"; exit 1; }

q=0
while [ "$q" -lt "$queues" ]; do
    before=$(echo "$before_all" | cut -d' ' -f$((q + 2)))
    after=$(irqs $q)
    echo "queue $q: $((after - before)) interrupts"
    [ "$after" -gt "$before" ] || { echo "queue $q signalled no completion"; exit 1; }
    q=$((q + 1))
done
echo "VDEV-E2E-MD5: $(md5sum < /tmp/data | cut -d' ' -f1)"
