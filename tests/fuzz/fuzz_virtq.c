/* fuzz_virtq.c — the device side of a virtqueue against guest memory the fuzzer
 * writes, split and packed.
 *
 * Input:
 *   [0]      flags: bit 0 packed, bit 1 event index, bit 2 indirect, bit 3 dirty log,
 *            bit 4 inflight records
 *   [1]      queue size: split 2^(v % 9), packed v + 1
 *   [2..3]   the base (SET_VRING_BASE): split, the next available index; packed,
 *            the available position and wrap counter (bits 0-15 of the base)
 *   [4..5]   bits 0-9: at most this many pops; bits 10-15 (packed): how many
 *            slots the used side starts behind the available side (bits 16-31 of
 *            the base), at most a lap
 *   [6..]    up to RING_IMAGE bytes copied to guest address 0, where the rings are
 *            (descriptors at 0x0, driver area at 0x1000, device area at 0x2000),
 *            then 3-byte guest writes (u16 offset, u8 value) applied one per pop, as
 *            a guest that changes the rings while the device reads them.
 * Guest memory: 48 KiB read-write at 0x0 and 16 KiB read-only at 0x10000, so
 * buffers can be outside memory, in it, or in memory the device may not write.
 *
 * With inflight records, the region is in guest memory at INFLIGHT_GPA (so the
 * guest writes can corrupt it, as a frontend could), starts uninitialized, and
 * the device "crashes" halfway through the pops: its queue is dropped without a
 * stop, the records are attached again and a new queue started on them, which
 * hands out what was in flight and goes on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/dirty.h"
#include "vdev/inflight.h"
#include "vdev/mem.h"
#include "vdev/virtq.h"

#define GUEST_SIZE  0x10000u
#define RW_SIZE     0xc000u
#define RO_GPA      0x10000u
#define RING_IMAGE  0x3000u
#define MAX_IOV     64
#define INFLIGHT_GPA 0x8000u    /* up to 32 + 32 * 256 bytes, inside RW_SIZE */

struct harness {
    int fd;
    uint8_t *guest;             /* the whole memfd, as the guest sees it */
    struct vdev_mem *mem;
    struct vdev_dirty *dirty;
    struct vdev_vq *vq;
    int call_fd;
    struct iovec iov[MAX_IOV];
    uint64_t iov_gpa[MAX_IOV];
};

static struct harness *harness_get(void)
{
    static struct harness h;
    static bool ready;
    struct vdev_mem_region rw = { .gpa = 0, .size = RW_SIZE, .access = VDEV_MEM_RW };
    struct vdev_mem_region ro = { .gpa = RO_GPA, .size = GUEST_SIZE - RW_SIZE,
                                  .fd_offset = RW_SIZE, .access = VDEV_MEM_READ };
    struct vdev_dirty_range range = { 0, 2 * GUEST_SIZE };

    if (ready)
        return &h;
    h.fd = memfd_create("fuzz-virtq", MFD_CLOEXEC);
    if (h.fd < 0 || ftruncate(h.fd, GUEST_SIZE) < 0)
        abort();
    h.guest = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, h.fd, 0);
    if (h.guest == MAP_FAILED)
        abort();
    rw.fd = ro.fd = h.fd;
    if (vdev_mem_new(&h.mem) || vdev_mem_add(h.mem, &rw) || vdev_mem_add(h.mem, &ro) ||
        vdev_dirty_new(&range, 1, &h.dirty) || vdev_vq_new(&h.vq))
        abort();
    h.call_fd = -1;
    ready = true;
    return &h;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The packed base: the available position from the input, the used side lag
 * slots behind it (at most a lap). */
static uint32_t packed_base(uint16_t avail, unsigned lag, uint16_t size)
{
    uint16_t pos = (uint16_t)((avail & 0x7fff) % size), used;
    bool wrap = avail >> 15, used_wrap = wrap;

    lag %= (unsigned)size + 1;
    if (lag > pos) {
        used = (uint16_t)(pos + size - lag);
        used_wrap = !wrap;
    } else {
        used = (uint16_t)(pos - lag);
    }
    return (uint32_t)(avail & 0x8000) | pos | (uint32_t)used << 16 |
           (uint32_t)used_wrap << 31;
}

struct script {
    const uint8_t *p;
    size_t len;
};

/* Pops and pushes up to max_pops requests while the guest writes; with
 * leave_some, every fourth request (the second, the sixth, ...) stays with the
 * device. */
static void run(struct harness *h, struct script *sc, unsigned max_pops, bool leave_some)
{
    struct vdev_vq_req req = { .iov = h->iov, .iov_gpa = h->iov_gpa, .iov_cap = MAX_IOV };

    for (unsigned i = 0; i < max_pops; i++) {
        int ret = vdev_vq_pop(h->vq, &req);

        if (sc->len >= 3) {
            h->guest[le16(sc->p) % GUEST_SIZE] = sc->p[2];
            sc->p += 3;
            sc->len -= 3;
        }
        if (ret < 0 && ret != -ENOBUFS)
            break;
        if (ret == 1) {
            /* Complete with a length from the request itself, possibly too long. */
            if (!leave_some || i % 4 != 1)
                vdev_vq_push(h->vq, &req, req.in_len + (i & 1));
            if (i % 8 == 7)
                vdev_vq_notify(h->vq);
        }
        if (ret == 0) {
            vdev_vq_set_notification(h->vq, true);
            if (sc->len < 3)
                break;
        }
    }
}

/* The records of the one queue, in guest memory: a fresh region, or the region
 * as it is (NULL if attach refuses it). */
static struct vdev_inflight *attach(struct harness *h, const struct vdev_vq_config *c,
                                    bool fresh)
{
    struct vdev_inflight_layout l = { 1, c->size, c->packed };
    struct vdev_inflight *rec = NULL;
    uint8_t *base = h->guest + INFLIGHT_GPA;
    uint64_t size = 0;

    if (vdev_inflight_mmap_size(&l, &size) < 0 || INFLIGHT_GPA + size > RW_SIZE)
        abort();
    if (fresh ? vdev_inflight_init(&rec, base, size, &l, 0)
              : vdev_inflight_attach(&rec, base, size, &l, 0))
        return NULL;
    return rec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct harness *h = harness_get();
    struct vdev_vq_config c = { 0 };
    struct vdev_inflight *rec = NULL;
    struct script sc;
    size_t image;
    unsigned max_pops, lag;
    bool inflight;

    if (size < 6)
        return 0;
    c.packed = data[0] & 1;
    c.event_idx = data[0] & 2;
    c.indirect = data[0] & 4;
    inflight = data[0] & 16;
    vdev_mem_set_dirty_log(h->mem, (data[0] & 8) ? h->dirty : NULL);
    c.size = c.packed ? (uint16_t)(data[1] + 1) : (uint16_t)(1u << (data[1] % 9));
    max_pops = le16(data + 4) % 1024;
    lag = le16(data + 4) >> 10;
    c.base = c.packed ? packed_base(le16(data + 2), lag, c.size) : le16(data + 2);
    c.desc_gpa = 0x0;
    c.driver_gpa = 0x1000;
    c.device_gpa = 0x2000;
    c.used_log_gpa = 0x2000;
    c.mem = h->mem;
    c.call_fd = h->call_fd;

    image = size - 6 < RING_IMAGE ? size - 6 : RING_IMAGE;
    memset(h->guest, 0, GUEST_SIZE);
    memcpy(h->guest, data + 6, image);
    sc.p = data + 6 + image;
    sc.len = size - 6 - image;

    if (inflight) {
        c.inflight = rec = attach(h, &c, true);
        if (!rec)
            abort();                   /* a zeroed region is always taken */
    }
    if (vdev_vq_start(h->vq, &c) < 0) {
        vdev_inflight_free(rec);
        return 0;
    }
    if (inflight) {
        /* Half, then a crash: the queue dropped without a stop, a new one on the
         * records as the memory has them. */
        run(h, &sc, max_pops / 2, true);
        vdev_vq_free(h->vq);
        vdev_inflight_free(rec);
        if (vdev_vq_new(&h->vq))
            abort();
        c.base = c.packed ? 0x80008000u : 0;   /* stale, as QEMU's can be */
        c.inflight = rec = attach(h, &c, false);
        if (!rec || vdev_vq_start(h->vq, &c) < 0) {
            vdev_inflight_free(rec);
            return 0;
        }
        max_pops -= max_pops / 2;
    }
    run(h, &sc, max_pops, inflight);
    vdev_vq_notify(h->vq);
    vdev_vq_set_notification(h->vq, false);
    vdev_vq_stop(h->vq);
    vdev_inflight_free(rec);
    return 0;
}
