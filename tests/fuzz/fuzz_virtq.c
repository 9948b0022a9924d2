/* fuzz_virtq.c — the device side of a virtqueue against guest memory the fuzzer
 * writes, split and packed.
 *
 * Input:
 *   [0]      flags: bit 0 packed, bit 1 event index, bit 2 indirect, bit 3 dirty log
 *   [1]      queue size: split 2^(v % 9), packed v + 1
 *   [2..3]   last_avail_idx (SET_VRING_BASE)
 *   [4..5]   at most this many pops
 *   [6..]    up to RING_IMAGE bytes copied to guest address 0, where the rings are
 *            (descriptors at 0x0, driver area at 0x1000, device area at 0x2000),
 *            then 3-byte guest writes (u16 offset, u8 value) applied one per pop, as
 *            a guest that changes the rings while the device reads them.
 * Guest memory: 48 KiB read-write at 0x0 and 16 KiB read-only at 0x10000, so
 * buffers can be outside memory, in it, or in memory the device may not write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/dirty.h"
#include "vdev/mem.h"
#include "vdev/virtq.h"

#define GUEST_SIZE  0x10000u
#define RW_SIZE     0xc000u
#define RO_GPA      0x10000u
#define RING_IMAGE  0x3000u
#define MAX_IOV     64

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct harness *h = harness_get();
    struct vdev_vq_config c = { 0 };
    struct vdev_vq_req req = { .iov = h->iov, .iov_gpa = h->iov_gpa, .iov_cap = MAX_IOV };
    const uint8_t *script;
    size_t image, script_len;
    unsigned max_pops;

    if (size < 6)
        return 0;
    c.packed = data[0] & 1;
    c.event_idx = data[0] & 2;
    c.indirect = data[0] & 4;
    vdev_mem_set_dirty_log(h->mem, (data[0] & 8) ? h->dirty : NULL);
    c.size = c.packed ? (uint16_t)(data[1] + 1) : (uint16_t)(1u << (data[1] % 9));
    c.last_avail_idx = le16(data + 2);
    max_pops = le16(data + 4) % 1024;
    c.desc_gpa = 0x0;
    c.driver_gpa = 0x1000;
    c.device_gpa = 0x2000;
    c.used_log_gpa = 0x2000;
    c.mem = h->mem;
    c.call_fd = h->call_fd;

    image = size - 6 < RING_IMAGE ? size - 6 : RING_IMAGE;
    memset(h->guest, 0, GUEST_SIZE);
    memcpy(h->guest, data + 6, image);
    script = data + 6 + image;
    script_len = size - 6 - image;

    if (vdev_vq_start(h->vq, &c) < 0)
        return 0;
    for (unsigned i = 0; i < max_pops; i++) {
        int ret = vdev_vq_pop(h->vq, &req);

        if (script_len >= 3) {
            h->guest[le16(script) % GUEST_SIZE] = script[2];
            script += 3;
            script_len -= 3;
        }
        if (ret < 0 && ret != -ENOBUFS)
            break;
        if (ret == 1) {
            /* Complete with a length from the request itself, possibly too long. */
            vdev_vq_push(h->vq, &req, req.in_len + (i & 1));
            if (i % 8 == 7)
                vdev_vq_notify(h->vq);
        }
        if (ret == 0) {
            vdev_vq_set_notification(h->vq, true);
            if (script_len < 3)
                break;
        }
    }
    vdev_vq_notify(h->vq);
    vdev_vq_set_notification(h->vq, false);
    vdev_vq_stop(h->vq);
    return 0;
}
