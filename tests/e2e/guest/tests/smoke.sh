#!/bin/sh
# The guest boots and its virtio drivers load.
grep -q virtio_pci /proc/modules
