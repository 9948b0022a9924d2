#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_virtq.c into corpus/virtq/ (see its header for
the input layout). Seeds are well-formed rings: the fuzzer breaks them itself."""
import os
import struct

NEXT, WRITE, INDIRECT = 1, 2, 4
AVAIL, USED = 1 << 7, 1 << 15


INFLIGHT = 16          # flags bit 4: inflight records, a crash halfway


def header(flags, size_v, last_avail, pops, used_lag=0):
    """last_avail: the base's bits 0-15; used_lag (packed, 0..63): how many
    slots the used side starts behind (bits 10-15 of the pops field)."""
    return struct.pack("<BBHH", flags, size_v, last_avail, pops | used_lag << 10)


def split_desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def packed_desc(addr, length, bid, flags):
    return struct.pack("<QIHH", addr, length, bid, flags)


def image(parts):
    img = bytearray(0x3000)
    for off, data in parts:
        img[off:off + len(data)] = data
    return bytes(img)


def split_seed(indirect=False, event_idx=False, chains=1, inflight=False):
    desc = b""
    ring = b""
    for c in range(chains):
        if indirect:
            table = split_desc(0x4000 + c * 0x100, 16, NEXT, 1) + \
                split_desc(0x5000 + c * 0x200, 512, WRITE, 0)
            desc += split_desc(0x2800 + c * 32, 32, INDIRECT, 0) + split_desc(0, 0, 0, 0)
        else:
            desc += split_desc(0x4000 + c * 0x100, 16, NEXT, 2 * c + 1) + \
                split_desc(0x5000 + c * 0x200, 512, WRITE, 0)
        ring += struct.pack("<H", 2 * c)
    avail = struct.pack("<HH", 0, chains) + ring
    parts = [(0, desc), (0x1000, avail)]
    if indirect:
        tables = b"".join(split_desc(0x4000 + c * 0x100, 16, NEXT, 1) +
                          split_desc(0x5000 + c * 0x200, 512, WRITE, 0)
                          for c in range(chains))
        parts.append((0x2800, tables))
    flags = (2 if event_idx else 0) | (4 if indirect else 0) | 8 | \
        (INFLIGHT if inflight else 0)
    return header(flags, 4, 0, 32) + image(parts)


def packed_seed(indirect=False, event_idx=False, chains=1, inflight=False, used_lag=0):
    desc = b""
    parts = []
    for c in range(chains):
        if indirect:
            desc += packed_desc(0x2800 + c * 32, 32, c, AVAIL | INDIRECT)
            parts.append((0x2800 + c * 32, split_desc(0x4000, 16, 0, 0) +
                          split_desc(0x5000, 512, WRITE, 0)))
        else:
            desc += packed_desc(0x4000 + c * 0x100, 16, c, AVAIL | NEXT) + \
                packed_desc(0x5000 + c * 0x200, 512, c, AVAIL | WRITE)
    parts.append((0, desc))
    flags = 1 | (2 if event_idx else 0) | (4 if indirect else 0) | 8 | \
        (INFLIGHT if inflight else 0)
    return header(flags, 15, 0x8000, 32, used_lag) + image(parts)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "virtq")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "split-one": split_seed(),
        "split-three-event-idx": split_seed(event_idx=True, chains=3),
        "split-indirect": split_seed(indirect=True, chains=2),
        "packed-one": packed_seed(),
        "packed-three-event-idx": packed_seed(event_idx=True, chains=3),
        "packed-indirect": packed_seed(indirect=True, chains=2),
        "packed-used-behind": packed_seed(chains=3, used_lag=2),
        "split-inflight": split_seed(chains=3, inflight=True),
        "split-inflight-indirect": split_seed(indirect=True, chains=2, inflight=True),
        "packed-inflight": packed_seed(chains=3, inflight=True),
        "packed-inflight-indirect": packed_seed(indirect=True, chains=2, inflight=True),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
