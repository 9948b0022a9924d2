#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_vfu_server.c into corpus/vfu_server/ (see its
header for the input layout). Each seed is a session as a VMM runs it against
the sample PCI device: VERSION with capabilities, DMA_MAP of a memfd,
DEVICE_GET_INFO, REGION_INFO and IRQ_INFO of each index, config space reads,
memory decoding and MSI-X on, SET_IRQS with an eventfd, BAR 0 register
accesses (a copy between two DMA buffers), posted writes, WRITE_MULTI,
DMA_UNMAP, RESET; variations add migration (feature, states, data out and
back), several messages in one receive, and fds sent where none belong. No seed
negotiates the twin socket. The seeds are well-formed: the fuzzer breaks them
itself."""
import json
import os
import struct

# fd kinds and record flags (fuzz_vfu_server.c)
FD_NONE, FD_MEMFD, FD_EVENTFD, FD_MIXED, FD_DEVNULL, FD_SOCKET = 0, 1, 2, 3, 4, 5
HOLD = 0x8

# commands (src/vfio-user/proto.h)
(VERSION, DMA_MAP, DMA_UNMAP, GET_INFO, REGION_INFO, REGION_IO_FDS, IRQ_INFO,
 SET_IRQS, REGION_READ, REGION_WRITE) = range(1, 11)
RESET, WRITE_MULTI, FEATURE, MIG_READ, MIG_WRITE = 13, 15, 16, 17, 18
NO_REPLY = 1 << 4

# <linux/vfio.h>
BAR0, CONFIG = 0, 7
IRQ_INTX, IRQ_MSI, IRQ_MSIX, IRQ_ERR, IRQ_REQ = 0, 1, 2, 3, 4
SET_DATA_NONE, SET_DATA_BOOL, SET_DATA_EVENTFD = 1, 2, 4
SET_ACTION_MASK, SET_ACTION_UNMASK, SET_ACTION_TRIGGER = 8, 16, 32
F_GET, F_SET, F_PROBE = 1 << 16, 1 << 17, 1 << 18
FEAT_MIGRATION, FEAT_MIG_STATE = 1, 2
ST_ERROR, ST_STOP, ST_RUNNING, ST_STOP_COPY, ST_RESUMING = 0, 1, 2, 3, 4

# the sample device (include/vdev/dev_sample.h); MSI-X is its only capability
REG_ID, REG_SRC, REG_DST, REG_LEN, REG_CMD, REG_STATUS = 0x0, 0x8, 0x10, 0x18, 0x1c, 0x20
MSIX_OFF, MSIX_CAP = 0x800, 0x40
PCI_COMMAND, CMD_MEMORY, CMD_MASTER = 0x4, 0x2, 0x4
MSIX_FLAGS, MSIX_ENABLE = 2, 0x8000
IOVA, PAGES = 0x40000000, 16


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


class Session:
    """Builds the records of one input."""

    def __init__(self):
        self.out = b""
        self.msg_id = 0

    def raw(self, data, fd=FD_NONE, nfds=1, arg=0, hold=False):
        d = fd | (nfds - 1) << 4 | (HOLD if hold else 0)
        self.out += bytes([d, arg]) + u16(len(data)) + data

    def msg(self, cmd, payload=b"", flags=0, **kw):
        self.msg_id = (self.msg_id + 1) & 0xffff
        hdr = struct.pack("<HHIII", self.msg_id, cmd, 16 + len(payload), flags, 0)
        self.raw(hdr + payload, **kw)

    def version(self, caps=None, minor=0):
        data = b""
        if caps is not None:
            data = json.dumps({"capabilities": caps}).encode() + b"\0"
        self.msg(VERSION, u16(0) + u16(minor) + data)

    def dma_map(self, iova, size, prot=3, offset=0, fd=True, pages=PAGES):
        p = struct.pack("<IIQQQ", 32, prot, offset, iova, size)
        if fd:
            self.msg(DMA_MAP, p, fd=FD_MEMFD, arg=pages)
        else:
            self.msg(DMA_MAP, p)

    def dma_unmap(self, iova, size, flags=0):
        self.msg(DMA_UNMAP, struct.pack("<IIQQ", 24, flags, iova, size))

    def get_info(self):
        self.msg(GET_INFO, u32(16) + u32(0) + u32(0) + u32(0))

    def region_info(self, index, argsz=32):
        self.msg(REGION_INFO, struct.pack("<IIIIQQ", argsz, 0, index, 0, 0, 0))

    def io_fds(self, index):
        self.msg(REGION_IO_FDS, struct.pack("<IIII", 16 + 40 * 4, 0, index, 0))

    def irq_info(self, index):
        self.msg(IRQ_INFO, struct.pack("<IIII", 16, 0, index, 0))

    def set_irqs(self, index, flags, start, count, data=b"", **kw):
        p = struct.pack("<IIIII", 20 + len(data), flags, index, start, count) + data
        self.msg(SET_IRQS, p, **kw)

    def read(self, region, off, count):
        self.msg(REGION_READ, struct.pack("<QII", off, region, count))

    def write(self, region, off, data, posted=False, **kw):
        self.msg(REGION_WRITE, struct.pack("<QII", off, region, len(data)) + data,
                 flags=NO_REPLY if posted else 0, **kw)

    def write_multi(self, writes):
        p = u64(len(writes))
        for region, off, data in writes:
            p += struct.pack("<QII", off, region, len(data)) + data.ljust(8, b"\0")
        self.msg(WRITE_MULTI, p)

    def reset(self):
        self.msg(RESET)

    def feature(self, flags, data=b""):
        self.msg(FEATURE, u32(8 + len(data)) + u32(flags) + data)

    def mig_state(self, st):
        # struct vfio_device_feature_mig_state: device_state, data_fd
        self.feature(F_SET | FEAT_MIG_STATE, struct.pack("<Ii", st, -1))

    def mig_read(self, size):
        self.msg(MIG_READ, struct.pack("<II", 8 + size, size))

    def mig_write(self, data):
        self.msg(MIG_WRITE, struct.pack("<II", 8 + len(data), len(data)) + data)


CAPS = {"max_msg_fds": 16, "max_data_xfer_size": 1 << 20, "pgsizes": 4096,
        "max_dma_maps": 64}


def probe(s):
    """What a VMM does first: the device, its regions and irqs."""
    s.get_info()
    for i in range(9):
        s.region_info(i)
    s.region_info(BAR0, argsz=16 + 32 * 4)
    for i in range(5):
        s.irq_info(i)
    s.read(CONFIG, 0, 64)


def driver_on(s):
    """Memory decoding and MSI-X on, vector 0 to an eventfd and unmasked."""
    s.write(CONFIG, PCI_COMMAND, u16(CMD_MEMORY | CMD_MASTER))
    s.write(CONFIG, MSIX_CAP + MSIX_FLAGS, u16(MSIX_ENABLE | 0))
    s.set_irqs(IRQ_MSIX, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, 0, 1, fd=FD_EVENTFD)
    s.write(BAR0, MSIX_OFF + 12, u32(0))


def copy(s, src, dst, n, posted=False):
    s.write(BAR0, REG_SRC, u64(src), posted)
    s.write(BAR0, REG_DST, u64(dst), posted)
    s.write(BAR0, REG_LEN, u32(n), posted)
    s.write(BAR0, REG_CMD, u32(1), posted)
    s.read(BAR0, REG_STATUS, 4)


def seed_basic():
    s = Session()
    s.version(CAPS)
    s.dma_map(IOVA, PAGES * 4096)
    probe(s)
    driver_on(s)
    s.read(BAR0, REG_ID, 4)
    copy(s, IOVA + 0x1000, IOVA + 0x8000, 256)
    s.write(BAR0, REG_STATUS, u32(2))
    s.dma_unmap(IOVA, PAGES * 4096)
    s.reset()
    return s.out


def seed_posted_and_multi():
    s = Session()
    s.version(dict(CAPS, write_multiple=True), minor=1)
    s.dma_map(IOVA, PAGES * 4096)
    driver_on(s)
    copy(s, IOVA, IOVA + 0x4000, 4096, posted=True)
    s.write_multi([(BAR0, REG_SRC, u64(IOVA + 0x2000)), (BAR0, REG_DST, u64(IOVA)),
                   (BAR0, REG_LEN, u32(16)), (BAR0, REG_CMD, u32(1))])
    s.read(BAR0, REG_STATUS, 4)
    s.read(BAR0, MSIX_OFF, 4)
    s.read(BAR0, 0xc00, 8)
    s.set_irqs(IRQ_MSIX, SET_DATA_NONE | SET_ACTION_MASK, 0, 1)
    s.set_irqs(IRQ_MSIX, SET_DATA_BOOL | SET_ACTION_UNMASK, 0, 1, data=b"\1")
    s.set_irqs(IRQ_MSIX, SET_DATA_NONE | SET_ACTION_TRIGGER, 0, 0)
    s.dma_unmap(0, 0, flags=2)     # VFIO_DMA_UNMAP_FLAG_ALL
    return s.out


def seed_migration():
    s = Session()
    s.version(dict(CAPS, migration={"pgsize": 4096, "max_bitmap_size": 1 << 20}))
    s.dma_map(IOVA, PAGES * 4096)
    s.write(BAR0, REG_SRC, u64(IOVA + 0x10))
    s.feature(F_PROBE | F_GET | FEAT_MIGRATION)
    # GET: argsz is the room for the reply's data; no data comes
    s.msg(FEATURE, u32(16) + u32(F_GET | FEAT_MIGRATION))
    s.msg(FEATURE, u32(16) + u32(F_GET | FEAT_MIG_STATE))
    s.mig_state(ST_STOP)
    s.mig_state(ST_STOP_COPY)
    for _ in range(3):
        s.mig_read(16)
    s.mig_state(ST_STOP)
    s.mig_state(ST_RESUMING)
    state = sample_state(IOVA + 0x10, 0, 0)
    s.mig_write(state[:16])
    s.mig_write(state[16:])
    s.mig_state(ST_RUNNING)
    s.feature(F_PROBE | F_SET | 6)  # DMA logging: not supported
    s.reset()
    return s.out


def sample_state(src, dst, n, status=0, err=0):
    """The sample device's saved state (src/devices/sample_state.c): "SMPS",
    version 1, payload length 28, SRC, DST, LEN, STATUS, ERRNO."""
    payload = u64(src) + u64(dst) + u32(n) + u32(status) + u32(err)
    return u32(0x53504d53) + u32(1) + u32(len(payload)) + payload


def seed_resume_real_state():
    """A stream the device takes, loaded with nothing else before it."""
    s = Session()
    s.version(CAPS)
    s.mig_state(ST_RESUMING)
    s.mig_write(sample_state(IOVA, IOVA + 0x100, 64, status=2))
    s.mig_state(ST_STOP)
    s.mig_state(ST_RUNNING)
    s.read(BAR0, REG_SRC, 8)
    return s.out


def seed_pipelined():
    """Several messages in one receive, fds on some of them."""
    s = Session()
    s.version(CAPS)
    s.msg(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, IOVA, 0x4000), fd=FD_MEMFD, arg=4,
          hold=True)
    s.msg(DMA_MAP, struct.pack("<IIQQQ", 32, 1, 0x1000, IOVA + 0x10000, 0x1000),
          fd=FD_MEMFD, arg=2, hold=True)
    s.msg(GET_INFO, u32(16) + b"\0" * 12, hold=True)
    s.msg(REGION_READ, struct.pack("<QII", 0, CONFIG, 4), hold=True)
    s.msg(REGION_WRITE, struct.pack("<QII", PCI_COMMAND, CONFIG, 2) + u16(2),
          flags=NO_REPLY, hold=True)
    s.msg(SET_IRQS, struct.pack("<IIIII", 20, SET_DATA_EVENTFD | SET_ACTION_TRIGGER,
                                IRQ_MSIX, 0, 1), fd=FD_EVENTFD, hold=True)
    s.msg(REGION_READ, struct.pack("<QII", REG_ID, BAR0, 4), hold=True)
    s.msg(DMA_UNMAP, struct.pack("<IIQQ", 24, 0, IOVA, 0x4000))
    return s.out


def seed_hostile_fds():
    """Fds where none belong, too many, the wrong kind; a map without an fd."""
    s = Session()
    s.version(CAPS)
    s.msg(GET_INFO, u32(16) + b"\0" * 12, fd=FD_EVENTFD, nfds=2)
    s.dma_map(IOVA, 0x1000, fd=False)
    s.msg(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, IOVA + 0x100000, 0x1000),
          fd=FD_DEVNULL)
    s.msg(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, IOVA + 0x200000, 0x1000),
          fd=FD_SOCKET)
    s.set_irqs(IRQ_MSIX, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, 0, 1, fd=FD_MIXED,
               nfds=3)
    s.set_irqs(IRQ_MSIX, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, 0, 1, fd=FD_EVENTFD,
               nfds=16)
    s.set_irqs(IRQ_INTX, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, 0, 1, fd=FD_EVENTFD)
    s.set_irqs(IRQ_ERR, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, 0, 1, fd=FD_EVENTFD)
    s.io_fds(BAR0)
    s.write(BAR0, REG_CMD, u32(1))
    s.dma_unmap(IOVA, 0x1000)
    return s.out


def seed_cut_short():
    """A message whose header promises more than comes, then the end."""
    s = Session()
    s.version(CAPS)
    hdr = struct.pack("<HHIII", 9, REGION_READ, 32, 0, 0)
    s.raw(hdr + b"\0" * 8)
    return s.out


def seed_no_caps():
    s = Session()
    s.version(None)
    probe(s)
    s.read(CONFIG, 0x100, 4)
    s.write(CONFIG, 0x10, u32(0xffffffff))
    s.read(CONFIG, 0x10, 4)
    return s.out


SEEDS = {
    "basic": seed_basic,
    "posted_and_multi": seed_posted_and_multi,
    "migration": seed_migration,
    "resume_real_state": seed_resume_real_state,
    "pipelined": seed_pipelined,
    "hostile_fds": seed_hostile_fds,
    "cut_short": seed_cut_short,
    "no_caps": seed_no_caps,
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "vfu_server")
    os.makedirs(out, exist_ok=True)
    for name, fn in SEEDS.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(fn())


if __name__ == "__main__":
    main()
