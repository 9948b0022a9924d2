#!/bin/sh
# Write, read back and compare rounds for vdev_blk_rounds rounds (default 20),
# each 4 MiB at its own offset, so the backend can be killed and restarted while
# the guest does I/O. The last round's checksum and offset go to the host.
rounds=$(sed -n 's/.*vdev_blk_rounds=\([0-9]*\).*/\1/p' /proc/cmdline)
rounds=${rounds:-20}
[ -b /dev/vda ] || { echo "no /dev/vda"; exit 1; }
i=0
while [ "$i" -lt "$rounds" ]; do
    dd if=/dev/urandom of=/tmp/data bs=1M count=4 2>/dev/null || exit 1
    dd if=/tmp/data of=/dev/vda bs=1M seek=$((1 + i * 4)) oflag=direct conv=fsync 2>/dev/null ||
        { echo "write failed in round $i"; exit 1; }
    dd if=/dev/vda of=/tmp/back bs=1M skip=$((1 + i * 4)) count=4 iflag=direct 2>/dev/null ||
        { echo "read failed in round $i"; exit 1; }
    cmp /tmp/data /tmp/back || { echo "data differs in round $i"; exit 1; }
    echo "VDEV-E2E-ROUND: $i $(md5sum < /tmp/data | cut -d' ' -f1)"
    i=$((i + 1))
done
