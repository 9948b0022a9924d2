#!/bin/sh
# The shared library exports vdev_* and nothing else (-fvisibility=hidden), and
# carries a SONAME.
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^vdev_' || true)
if [ -n "$bad" ]; then
    echo "exported outside vdev_*:"; echo "$bad"; exit 1
fi
count=$(nm -D --defined-only "$lib" | grep -c ' vdev_')
[ "$count" -gt 0 ] || { echo "no vdev_* symbol exported"; exit 1; }
readelf -d "$lib" | grep -q 'SONAME.*libvdev\.so\.0' || { echo "no SONAME"; exit 1; }
echo "$count vdev_* symbols exported, SONAME libvdev.so.0"
