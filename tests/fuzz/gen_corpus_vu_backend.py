#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_vu_backend.c into corpus/vu_backend/ (see its
header for the input layout). Each seed is a session as QEMU runs it: features,
protocol features, queue count, owner, config, memory table, each ring's size,
base, addresses, kick, call and enable, requests in guest memory and kicks, then
GET_VRING_BASE; variations add the inflight area, the dirty log, memory slots,
in-band notifications, device state, resets, packed rings and virtio-blk. The
seeds are well-formed: the fuzzer breaks them itself."""
import os
import struct

# fd kinds (fuzz_vu_backend.c, enum fd_kind)
FD_NONE, FD_GUEST, FD_MEMFD, FD_SEALED, FD_EVENTFD, FD_SOCKET = 0, 1, 2, 3, 4, 5
FD_PIPE_READ, FD_PIPE_WRITE, FD_LAST, FD_DEVNULL, FD_ACTION = 6, 7, 8, 9, 15
ACT_WRITE, ACT_KICK, ACT_HANGUP, ACT_NOTIFY, ACT_WRITE16 = 0, 1, 2, 3, 4

# vhost-user requests (proto.h)
(GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE, SET_LOG_BASE,
 SET_LOG_FD, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE,
 SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR, GET_PROTOCOL_FEATURES,
 SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE) = range(1, 19)
SET_BACKEND_REQ_FD, GET_CONFIG, SET_CONFIG = 21, 24, 25
GET_INFLIGHT_FD, SET_INFLIGHT_FD, RESET_DEVICE, VRING_KICK = 31, 32, 34, 35
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG, SET_STATUS, GET_STATUS = 36, 37, 38, 39, 40
SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE = 42, 43
IOTLB_MSG = 22

# protocol features
PF_MQ, PF_LOG_SHMFD, PF_REPLY_ACK, PF_BACKEND_REQ, PF_CONFIG = 0, 1, 3, 5, 9
PF_INFLIGHT, PF_RESET_DEVICE, PF_INBAND, PF_MEM_SLOTS, PF_STATUS = 12, 13, 14, 15, 16
PF_DEVICE_STATE = 19
PF_DEFAULT = sum(1 << b for b in (PF_MQ, PF_LOG_SHMFD, PF_REPLY_ACK, PF_CONFIG,
                                  PF_INFLIGHT, PF_RESET_DEVICE, PF_MEM_SLOTS,
                                  PF_STATUS, PF_DEVICE_STATE))
PF_INBAND_SET = PF_DEFAULT | (1 << PF_BACKEND_REQ) | (1 << PF_INBAND)

# virtio features
F_LOG_ALL, F_INDIRECT, F_EVENT_IDX, F_PROTOCOL = 26, 28, 29, 30
F_VERSION_1, F_ACCESS_PLATFORM, F_PACKED = 32, 33, 34

NEED_REPLY = 0x8
UVA = 0x7f0000000000            # the front-end's address of guest address 0
GUEST_SIZE = 0x10000
# Ring i: descriptors, driver area, device area; buffers from BUF.
RING = [(0x0000, 0x1000, 0x2000), (0x4000, 0x5000, 0x6000)]
BUF = 0x8000
NEXT, WRITE, INDIRECT = 1, 2, 4
P_AVAIL, P_USED = 1 << 7, 1 << 15


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def msg(req, payload=b"", fd=FD_NONE, nfds=1, arg=0, flags=0):
    return bytes([fd | (nfds - 1) << 4, req, flags, arg]) + u16(len(payload)) + payload


def state(index, num):
    return struct.pack("<II", index, num)


def write(off, data):
    return bytes([FD_ACTION, ACT_WRITE]) + u16(off) + u16(len(data)) + data


def write16(off, v):
    return bytes([FD_ACTION, ACT_WRITE16]) + u16(off) + u16(v)


def kick(ring):
    return bytes([FD_ACTION, ACT_KICK, ring])


def notify(ring):
    return bytes([FD_ACTION, ACT_NOTIFY, ring])


def hangup():
    return bytes([FD_ACTION, ACT_HANGUP])


def region(gpa, size, uva, off):
    return struct.pack("<QQQQ", gpa, size, uva, off)


def mem_table(regions):
    body = struct.pack("<II", len(regions), 0) + b"".join(region(*r) for r in regions)
    return msg(SET_MEM_TABLE, body, FD_GUEST, nfds=len(regions))


def vring_addr(i, flags=0, log=0, base=UVA):
    """base: what the ring addresses are relative to, the front-end's user
    address of guest 0, or an IOVA with IOMMU_PLATFORM."""
    desc, avail, used = RING[i]
    return msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", i, flags, base + desc,
                                           base + used, base + avail, log))


def negotiate(features, pf=PF_DEFAULT, backend_chan=False):
    """QEMU's order: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
    SET_OWNER, (SET_BACKEND_REQ_FD), GET_CONFIG, GET_MAX_MEM_SLOTS, SET_FEATURES."""
    out = msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES)
    out += msg(SET_PROTOCOL_FEATURES, u64(pf))
    out += msg(GET_QUEUE_NUM) + msg(SET_OWNER)
    if backend_chan:
        out += msg(SET_BACKEND_REQ_FD, fd=FD_SOCKET, flags=NEED_REPLY)
    if pf & (1 << PF_CONFIG):
        out += msg(GET_CONFIG, struct.pack("<III", 0, 16, 0) + bytes(16))
    if pf & (1 << PF_MEM_SLOTS):
        out += msg(GET_MAX_MEM_SLOTS)
    out += msg(SET_FEATURES, u64(features | (1 << F_VERSION_1) |
                                 ((1 << F_PROTOCOL) if pf else 0)))
    return out


def ring_setup(i, size, base=0, kick_fd=True, call=True, err=True, enable=True,
               addr_flags=0, log=0, kick_count=1, need_reply=0, addr_base=UVA):
    out = msg(SET_VRING_NUM, state(i, size), flags=need_reply)
    out += msg(SET_VRING_BASE, state(i, base), flags=need_reply)
    out += vring_addr(i, addr_flags, log, addr_base)
    if kick_fd:
        out += msg(SET_VRING_KICK, u64(i), FD_EVENTFD, arg=kick_count)
    else:
        out += msg(SET_VRING_KICK, u64(i | 0x100))
    if call:
        out += msg(SET_VRING_CALL, u64(i), FD_EVENTFD)
    else:
        out += msg(SET_VRING_CALL, u64(i | 0x100), flags=need_reply)
    if err:
        out += msg(SET_VRING_ERR, u64(i), FD_EVENTFD)
    if enable:
        out += msg(SET_VRING_ENABLE, state(i, 1), flags=need_reply)
    return out


def split_desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def packed_desc(addr, length, bid, flags):
    return struct.pack("<QIHH", addr, length, bid, flags)


def echo_chain(c, base=0):
    """Readable 16 bytes, writable 64: the echo's request; base is added to the
    guest addresses (an IOVA base with IOMMU_PLATFORM)."""
    out_buf, in_buf = BUF + c * 0x200, BUF + c * 0x200 + 0x100
    return [(base + out_buf, 16, 0), (base + in_buf, 64, WRITE)]


def blk_chain(c, typ=0, sector=0):
    """A virtio-blk request: header, 512 data bytes, status."""
    hdr, data, status = BUF + c * 0x400, BUF + c * 0x400 + 0x100, BUF + c * 0x400 + 0x3ff
    dflag = WRITE if typ == 0 else 0
    return [(hdr, 16, 0), (data, 512, dflag), (status, 1, WRITE)], \
        struct.pack("<IIQ", typ, 0, sector), hdr


def split_requests(i, chains, start=0, indirect=False):
    """Writes split descriptors and publishes them in the avail ring."""
    desc, avail, _ = RING[i]
    out = b""
    slot = start * 4
    for c, chain in enumerate(chains):
        head = slot
        if indirect:
            table = BUF + 0x3000 + c * 0x100
            body = b"".join(split_desc(a, n, f | (NEXT if k + 1 < len(chain) else 0),
                                       k + 1)
                            for k, (a, n, f) in enumerate(chain))
            out += write(table, body)
            out += write(desc + 16 * head, split_desc(table, len(body), INDIRECT, 0))
        else:
            body = b"".join(split_desc(a, n, f | (NEXT if k + 1 < len(chain) else 0),
                                       head + k + 1)
                            for k, (a, n, f) in enumerate(chain))
            out += write(desc + 16 * head, body)
        out += write16(avail + 4 + 2 * (start + c), head)
        slot += 4
    out += write16(avail + 2, start + len(chains))
    return out


def packed_requests(i, chains, start=0):
    """Packed descriptors, wrap counter 1: AVAIL set, USED clear; the head's
    flags are written last, as a driver makes a chain available."""
    desc = RING[i][0]
    out = b""
    pos = start
    for c, chain in enumerate(chains):
        body = b""
        for k, (a, n, f) in enumerate(chain):
            flags = f | P_AVAIL | (NEXT if k + 1 < len(chain) else 0)
            body += packed_desc(a, n, start + c, flags)
        out += write(desc + 16 * pos, body)
        pos += len(chain)
    return out


def echo_session(packed=False, event_idx=False, indirect=False, size=16):
    feats = (1 << F_PACKED if packed else 0) | (1 << F_EVENT_IDX if event_idx else 0) | \
        (1 << F_INDIRECT if indirect else 0)
    out = bytes([0]) + negotiate(feats)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    chains = [echo_chain(c) for c in range(3)]
    reqs = packed_requests(0, chains) if packed else \
        split_requests(0, chains, indirect=indirect)
    out += ring_setup(0, size, base=0x80008000 if packed else 0)
    out += write(BUF, b"hello, vhost-usr")
    out += reqs + kick(0)
    out += ring_setup(1, size, base=0x80008000 if packed else 0)
    more = [echo_chain(c) for c in range(3, 5)]
    out += (packed_requests(1, more) if packed else split_requests(1, more)) + kick(1)
    out += msg(GET_CONFIG, struct.pack("<III", 8, 8, 0) + bytes(8))
    out += msg(GET_VRING_BASE, state(0, 0)) + msg(GET_VRING_BASE, state(1, 0))
    out += msg(GET_STATUS)
    return out


def blk_session(packed=False):
    feats = 1 << F_PACKED if packed else 0
    out = bytes([1]) + negotiate(feats)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    out += ring_setup(0, 16, base=0x80008000 if packed else 0)
    chains, writes = [], b""
    for c, (typ, sector) in enumerate([(0, 0), (1, 8), (4, 0), (8, 0)]):
        chain, hdr_bytes, hdr_gpa = blk_chain(c, typ, sector)
        if typ in (4, 8):                 # FLUSH, GET_ID: no 512-byte data part
            chain = [chain[0], (chain[1][0], 20 if typ == 8 else 0, WRITE), chain[2]]
            chain = [x for x in chain if x[1]]
        chains.append(chain)
        writes += write(hdr_gpa, hdr_bytes)
    out += writes
    out += packed_requests(0, chains) if packed else split_requests(0, chains)
    out += kick(0)
    out += msg(GET_CONFIG, struct.pack("<III", 0, 60, 0) + bytes(60))
    out += msg(GET_VRING_BASE, state(0, 0))
    return out


def inflight_session(packed=False):
    out = bytes([0]) + negotiate(1 << F_PACKED if packed else 0)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    out += msg(GET_INFLIGHT_FD, struct.pack("<QQHHxxxx", 0, 0, 2, 16))
    # The size GET_INFLIGHT_FD's reply gives for 2 queues of 16.
    size = 1152 if packed else 640
    out += msg(SET_INFLIGHT_FD, struct.pack("<QQHHxxxx", size, 0, 2, 16), FD_LAST)
    out += ring_setup(0, 16, base=0x80008000 if packed else 0)
    chains = [echo_chain(c) for c in range(3)]
    out += (packed_requests(0, chains) if packed else split_requests(0, chains)) + kick(0)
    out += msg(GET_VRING_BASE, state(0, 0))
    # A reconnect of the same ring: the area is handed back.
    out += msg(SET_INFLIGHT_FD, struct.pack("<QQHHxxxx", size, 0, 2, 16), FD_LAST)
    out += ring_setup(0, 16, base=0x80008000 if packed else 0) + kick(0)
    out += msg(GET_VRING_BASE, state(0, 0))
    return out


def log_session():
    out = bytes([0]) + negotiate(0)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    out += ring_setup(0, 16)
    out += split_requests(0, [echo_chain(0)]) + kick(0)
    out += msg(SET_LOG_BASE, struct.pack("<QQ", 2, 0), FD_SEALED, arg=1)
    out += msg(SET_LOG_FD, fd=FD_EVENTFD)
    out += msg(SET_FEATURES, u64((1 << F_VERSION_1) | (1 << F_PROTOCOL) | (1 << F_LOG_ALL)))
    out += vring_addr(0, flags=1, log=0x2000)
    out += split_requests(0, [echo_chain(1)], start=1) + kick(0)
    out += msg(SET_LOG_BASE, struct.pack("<QQ", 2, 100), FD_SEALED, arg=1)
    out += msg(SET_FEATURES, u64((1 << F_VERSION_1) | (1 << F_PROTOCOL)))
    out += msg(GET_VRING_BASE, state(0, 0))
    return out


def mem_slots_session(slots2=False):
    out = bytes([2 if slots2 else 0]) + negotiate(0)
    # Two regions: rings in the first, buffers in the second; ADD then REM.
    out += msg(ADD_MEM_REG, u64(0) + region(0, 0x8000, UVA, 0), FD_GUEST)
    out += msg(ADD_MEM_REG, u64(0) + region(0x8000, 0x8000, UVA + 0x8000, 0x8000),
               FD_GUEST)
    out += msg(ADD_MEM_REG, u64(0) + region(0x100000, 0x1000, UVA + 0x100000, 0),
               FD_MEMFD, arg=1)
    out += ring_setup(0, 16)
    out += split_requests(0, [echo_chain(c) for c in range(2)]) + kick(0)
    out += msg(REM_MEM_REG, u64(0) + region(0x8000, 0x8000, UVA + 0x8000, 0),
               flags=NEED_REPLY)
    out += split_requests(0, [echo_chain(2)], start=2) + kick(0)
    out += msg(ADD_MEM_REG, u64(0) + region(0x8000, 0x8000, UVA + 0x8000, 0x8000),
               FD_GUEST, flags=NEED_REPLY)
    out += mem_table([(0, 0x4000, UVA, 0), (0x4000, 0xc000, UVA + 0x4000, 0x4000)])
    out += kick(0) + msg(GET_VRING_BASE, state(0, 0))
    return out


def inband_session():
    out = bytes([0]) + negotiate(1 << F_EVENT_IDX, PF_INBAND_SET, backend_chan=True)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    out += ring_setup(0, 16, kick_fd=False, call=False, need_reply=NEED_REPLY)
    out += split_requests(0, [echo_chain(c) for c in range(2)])
    out += msg(VRING_KICK, state(0, 0), flags=NEED_REPLY)
    out += notify(0)
    out += msg(GET_VRING_BASE, state(0, 0))
    return out


def device_state_session():
    out = bytes([0]) + negotiate(0)
    out += msg(SET_CONFIG, struct.pack("<III", 4, 4, 0) + u32(0x1234))
    out += msg(SET_DEVICE_STATE_FD, struct.pack("<II", 0, 0), FD_PIPE_WRITE)
    out += msg(CHECK_DEVICE_STATE)
    out += msg(SET_DEVICE_STATE_FD, struct.pack("<II", 1, 0), FD_PIPE_READ, arg=0)
    out += msg(CHECK_DEVICE_STATE)
    out += msg(SET_DEVICE_STATE_FD, struct.pack("<II", 1, 0), FD_PIPE_READ, arg=3)
    out += msg(CHECK_DEVICE_STATE)
    return out


def reset_session():
    out = bytes([0]) + negotiate(0)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    out += msg(SET_STATUS, u64(0x0f)) + msg(GET_STATUS)
    out += ring_setup(0, 16) + split_requests(0, [echo_chain(0)]) + kick(0)
    out += msg(RESET_OWNER)
    out += msg(RESET_DEVICE, flags=NEED_REPLY)
    out += negotiate(1 << F_PACKED)
    out += ring_setup(0, 16, base=0x80008000)
    out += packed_requests(0, [echo_chain(1)]) + kick(0)
    out += msg(GET_VRING_BASE, state(0, 0))
    return out


def legacy_session():
    """No protocol features: every ring enabled at SET_FEATURES."""
    out = bytes([0]) + msg(GET_FEATURES) + msg(SET_OWNER)
    out += msg(SET_FEATURES, u64(1 << F_VERSION_1))
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    out += ring_setup(0, 8, enable=False)
    out += split_requests(0, [echo_chain(0)]) + kick(0)
    out += msg(GET_VRING_BASE, state(0, 0))
    return out


def hostile_session():
    out = bytes([0]) + negotiate(0)
    out += msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, GUEST_SIZE, UVA, 0),
               FD_GUEST, nfds=9)                         # too many fds
    out += msg(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 0x20000, UVA, 0),
               FD_MEMFD, arg=4)                          # past the file's end
    out += msg(SET_LOG_BASE, struct.pack("<QQ", 2, 0), FD_MEMFD, arg=1)  # not sealed
    out += msg(SET_BACKEND_REQ_FD, fd=FD_DEVNULL)
    out += msg(99, b"x" * 8, flags=NEED_REPLY)           # not a request
    out += msg(GET_FEATURES, flags=0x4)                  # the reply flag
    out += msg(SET_VRING_NUM, state(7, 16))              # no such ring
    out += bytes([0, SET_VRING_NUM, 0, 0]) + u16(400)    # larger than any request
    return out


def kick_poll_session():
    out = bytes([0]) + negotiate(1 << F_EVENT_IDX | 1 << F_INDIRECT)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    out += split_requests(0, [echo_chain(0), echo_chain(1)], indirect=True)
    out += ring_setup(0, 16, kick_fd=False)
    out += msg(SET_VRING_CALL, u64(0), FD_EVENTFD)       # a running ring's new call fd
    out += mem_table([(0, GUEST_SIZE, UVA + 0x100000, 0)])  # addresses leave memory
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])          # and come back
    out += msg(GET_VRING_BASE, state(0, 0)) + hangup()
    return out


IOVA = 0x40000000          # where the IOTLB seeds map guest memory
VHOST_IOTLB_UPDATE, VHOST_IOTLB_INVALIDATE, VHOST_ACCESS_RW = 2, 3, 3


def iotlb(iova, size, uaddr, typ=VHOST_IOTLB_UPDATE, perm=VHOST_ACCESS_RW):
    """struct vhost_iotlb_msg, 32 bytes with its padding."""
    body = struct.pack("<QQQBB", iova, size, uaddr, perm, typ) + bytes(6)
    return msg(IOTLB_MSG, body, flags=NEED_REPLY)


def iotlb_session(miss_first=False, packed=False):
    """IOMMU_PLATFORM: ring and buffer addresses are IOVAs the IOTLB maps to the
    front-end's user addresses. miss_first: the ring runs before the UPDATE (a
    MISS on the back-end channel), and an INVALIDATE takes the buffers away."""
    pf = PF_DEFAULT | (1 << PF_BACKEND_REQ)
    feats = (1 << F_ACCESS_PLATFORM) | ((1 << F_PACKED) if packed else 0)
    out = bytes([0]) + negotiate(feats, pf, backend_chan=True)
    out += mem_table([(0, GUEST_SIZE, UVA, 0)])
    chains = [echo_chain(c, IOVA) for c in range(2)]
    out += packed_requests(0, chains) if packed else split_requests(0, chains)
    if not miss_first:
        out += iotlb(IOVA, GUEST_SIZE, UVA)
    out += ring_setup(0, 16, base=0x80008000 if packed else 0, addr_base=IOVA)
    out += kick(0)
    if miss_first:
        out += iotlb(IOVA, 0x8000, UVA)                 # the rings, not the buffers
        out += iotlb(IOVA + 0x8000, 0x8000, UVA + 0x8000)
        out += iotlb(IOVA + 0x8000, 0x1000, 0, typ=VHOST_IOTLB_INVALIDATE)
        out += iotlb(IOVA + 0x8000, 0x1000, UVA + 0x8000)
    out += msg(GET_VRING_BASE, state(0, 0))
    return out


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                       "vu_backend")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "echo-split": echo_session(),
        "echo-split-event-idx-indirect": echo_session(event_idx=True, indirect=True),
        "echo-packed": echo_session(packed=True),
        "echo-packed-event-idx": echo_session(packed=True, event_idx=True, size=8),
        "blk-split": blk_session(),
        "blk-packed": blk_session(packed=True),
        "inflight-split": inflight_session(),
        "inflight-packed": inflight_session(packed=True),
        "log": log_session(),
        "mem-slots": mem_slots_session(),
        "mem-slots-two": mem_slots_session(slots2=True),
        "inband": inband_session(),
        "device-state": device_state_session(),
        "reset": reset_session(),
        "legacy": legacy_session(),
        "hostile": hostile_session(),
        "kick-poll": kick_poll_session(),
        "iotlb": iotlb_session(),
        "iotlb-miss": iotlb_session(miss_first=True),
        "iotlb-packed": iotlb_session(packed=True),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
