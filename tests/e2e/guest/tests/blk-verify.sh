#!/bin/sh
# Random data written to /dev/vda with O_DIRECT reads back the same; the
# checksum is printed so the host can check the image holds the same bytes.
#   vdev_blk_mib=N  MiB to write (default 8), at 1 MiB into the disk
mib=$(sed -n 's/.*vdev_blk_mib=\([0-9]*\).*/\1/p' /proc/cmdline)
mib=${mib:-8}
[ -b /dev/vda ] || { echo "no /dev/vda"; exit 1; }
dd if=/dev/urandom of=/tmp/data bs=1M count="$mib" 2>/dev/null || exit 1
dd if=/tmp/data of=/dev/vda bs=1M seek=1 oflag=direct conv=fsync 2>/dev/null || { echo "write failed"; exit 1; }
dd if=/dev/vda of=/tmp/back bs=1M skip=1 count="$mib" iflag=direct 2>/dev/null || { echo "read failed"; exit 1; }
cmp /tmp/data /tmp/back || { echo "data differs"; exit 1; }
echo "VDEV-E2E-MD5: $(md5sum < /tmp/data | cut -d' ' -f1)"
