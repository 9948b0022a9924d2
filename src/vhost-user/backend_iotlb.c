/* backend_iotlb.c — VIRTIO_F_IOMMU_PLATFORM: the device IOTLB (vhost-user.rst,
 * "Memory access", "IOMMU support", VHOST_USER_IOTLB_MSG,
 * VHOST_USER_BACKEND_IOTLB_MSG).
 *
 * With the feature negotiated, ring addresses (SET_VRING_ADDR) and descriptor
 * addresses are I/O virtual addresses: the front-end's IOTLB UPDATE messages
 * map IOVA ranges to its user addresses, which the memory table maps to memory.
 * The IOTLB is an alias map (mem.h) by IOVA over the memory table's map, so the
 * rings and the device translate through it exactly as through guest memory,
 * and the dirty log still gets guest physical addresses.
 *
 * Every change of the IOTLB halts the rings that translate through it and runs
 * them again (the design's rule: no worker uses a map that changes). A ring
 * whose areas are not in the IOTLB when it is to run sends a MISS for the first
 * missing address on the back-end channel and waits, started but not running,
 * for the UPDATE; a descriptor that points where the IOTLB has nothing makes
 * the worker's pop report a miss (virtq.h), which the control loop sends, and
 * the request is served when the ring runs again after the UPDATE. Neither
 * breaks the ring.
 *
 * What the front-end sends is checked: a known type (UPDATE, INVALIDATE; MISS
 * and ACCESS_FAIL are the back-end's), a size that is not 0, ranges that do not
 * wrap, permissions RO, WO or RW, user addresses inside the memory table. An
 * UPDATE that overlaps a mapping is refused, unless it repeats it exactly (two
 * rings may miss on one page). An INVALIDATE removes whatever lies in its range,
 * cutting entries that straddle its ends. */
#include <errno.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>

#include "vdev/log.h"
#include "backend_internal.h"

/* The payload QEMU and DPDK send: the kernel's struct, padding included. */
_Static_assert(sizeof(struct vhost_iotlb_msg) == 32, "IOTLB message");

/* Entries (after merging neighbours) the IOTLB holds at most: a hostile
 * front-end cannot make it grow without bound. */
#define IOTLB_MAX_ENTRIES 65536u

bool vu_iommu(const struct vdev_vu_backend *b)
{
    return vu_has_f(b, VIRTIO_F_ACCESS_PLATFORM);
}

struct vdev_mem *vu_ring_mem(struct vdev_vu_backend *b)
{
    if (!vu_iommu(b))
        return b->c.mem;
    if (!b->c.iotlb && vdev_mem_new(&b->c.iotlb) < 0)
        return NULL;
    return b->c.iotlb;
}

static uint32_t perm_to_access(uint8_t perm)
{
    return ((perm & VHOST_ACCESS_RO) ? VDEV_MEM_READ : 0) |
           ((perm & VHOST_ACCESS_WO) ? VDEV_MEM_WRITE : 0);
}

static uint8_t access_to_perm(uint32_t access)
{
    return (uint8_t)(((access & VDEV_MEM_READ) ? VHOST_ACCESS_RO : 0) |
                     ((access & VDEV_MEM_WRITE) ? VHOST_ACCESS_WO : 0));
}

/* --- misses ------------------------------------------------------------------- */

static void send_miss(struct vdev_vu_backend *b, unsigned ring, uint64_t iova,
                      uint32_t access)
{
    struct vhost_iotlb_msg msg = {
        .iova = iova, .perm = access_to_perm(access), .type = VHOST_IOTLB_MISS,
    };
    int ret;

    vdev_info("vhost-user %s: ring %u: IOTLB miss at iova %#llx (%s)", b->c.peer, ring,
              (unsigned long long)iova, access & VDEV_MEM_WRITE ? "write" : "read");
    ret = vu_backend_send(b, VU_BACKEND_IOTLB_MSG, &msg, sizeof(msg));
    if (ret < 0)
        vu_bad(b, ret, "ring %u: cannot report the IOTLB miss: %s; the ring waits",
               ring, ret == -ENOTCONN ? "no back-end channel" : vdev_strerror(ret));
}

/* The first address of [iova, iova + len) the IOTLB does not give with access
 * (0: mapped at all), or iova + len when all of it is there. */
static uint64_t first_missing(struct vdev_mem *tlb, uint64_t iova, uint64_t len,
                              uint32_t access, uint64_t *mapped)
{
    *mapped = 0;
    while (*mapped < len) {
        uint64_t got = len - *mapped;

        if (!vdev_mem_translate(tlb, iova + *mapped, &got, access))
            break;
        *mapped += got;
    }
    return iova + *mapped;
}

int vu_iotlb_ring_area(struct vdev_vu_backend *b, unsigned ring, uint64_t iova,
                       uint64_t len, uint32_t access)
{
    struct vdev_mem *tlb = vu_ring_mem(b);
    uint64_t got = len, mapped, miss, end;

    if (!tlb)
        return -ENOMEM;
    if (len == 0 || __builtin_add_overflow(iova, len - 1, &end))
        return -EFAULT;
    if (vdev_mem_translate(tlb, iova, &got, access) && got == len)
        return 0;
    miss = first_missing(tlb, iova, len, 0, &mapped);
    if (mapped < len) {
        send_miss(b, ring, miss, access);
        return -EAGAIN;
    }
    /* All there: without the access the ring needs (the driver's mistake, as a
     * buffer's would be), or not contiguous in memory. */
    first_missing(tlb, iova, len, access, &mapped);
    return mapped < len ? -EACCES : -EFAULT;
}

/* On the ring's worker: note the miss for the control loop. The vq reports one
 * miss per start, and the control loop has sent the last one before it starts
 * the ring again, so the fields are never written while read. */
void vu_iotlb_ring_miss(void *opaque, uint64_t iova, uint32_t access)
{
    struct vu_ring *r = opaque;
    struct vdev_vu_backend *b = r->owner;
    uint64_t one = 1;

    r->miss_iova = iova;
    r->miss_access = access;
    __atomic_store_n(&r->miss_pending, true, __ATOMIC_RELEASE);
    if (write(b->c.miss_fd, &one, sizeof(one)) < 0)
        return;                       /* a full eventfd is signalled already */
}

static void on_miss(void *opaque, uint32_t events)
{
    struct vdev_vu_backend *b = opaque;
    uint64_t n;

    if (read(b->c.miss_fd, &n, sizeof(n)) < 0)
        return;                       /* spurious: nothing to take */
    for (unsigned i = 0; i < b->nrings; i++) {
        struct vu_ring *r = &b->rings[i];

        if (__atomic_exchange_n(&r->miss_pending, false, __ATOMIC_ACQUIRE))
            send_miss(b, i, r->miss_iova, r->miss_access);
    }
}

int vu_iotlb_prepare(struct vdev_vu_backend *b)
{
    int fd, ret;

    if (!vu_ring_mem(b))
        return -ENOMEM;
    if (b->c.miss_watch)
        return 0;
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    ret = vdev_loop_add_fd(b->loop, fd, EPOLLIN, on_miss, b, &b->c.miss_watch);
    if (ret < 0) {
        close(fd);
        b->c.miss_watch = NULL;
        return ret;
    }
    b->c.miss_fd = fd;
    return 0;
}

/* --- the map -------------------------------------------------------------------- */

/* The rings are read and written through typed pointers, so the alignment
 * virtio asks of an IOVA (1.2, 2.7 and 2.8: up to 16 bytes) must hold at the
 * memory it maps to: an IOVA and the guest address it lands on must agree
 * modulo 16 (guest addresses keep their alignment in our mapping, backend_mem.c).
 * Otherwise an aligned ring lands on a misaligned host address. */
#define IOTLB_ALIGN 16u

/* Maps [iova, iova + size) to the memory the user addresses from uaddr name in
 * src, region by region of the memory table. -EINVAL for a piece that breaks
 * IOTLB_ALIGN. On failure what was added is taken back. */
static int map_range(struct vdev_mem *tlb, struct vdev_mem *src, uint64_t iova,
                     uint64_t uaddr, uint64_t size, uint32_t access)
{
    uint64_t off = 0;
    int ret = 0;

    while (off < size) {
        uint64_t gpa, n = size - off;

        if (vdev_mem_uva_to_gpa(src, uaddr + off, &gpa) < 0) {
            ret = -EFAULT;
            break;
        }
        if (!vdev_mem_translate(src, gpa, &n, access)) {
            ret = -EACCES;
            break;
        }
        if ((iova + off - gpa) % IOTLB_ALIGN) {
            ret = -EINVAL;
            break;
        }
        ret = vdev_mem_add_alias(tlb, iova + off, n, access, src, gpa);
        if (ret < 0)
            break;
        off += n;
    }
    /* Take back exactly what was added. Only a piece that joined two entries
     * needs memory to cut them apart again; without it that piece stays. */
    if (ret < 0 && off > 0 && vdev_mem_punch(tlb, iova, off) < 0)
        vdev_warn("vhost-user: IOTLB: out of memory taking back a refused UPDATE");
    return ret;
}

/* Whether [iova, iova + size) already maps, whole, to the memory uaddr names,
 * with exactly access. */
static bool maps_exactly(struct vdev_mem *tlb, struct vdev_mem *src, uint64_t iova,
                         uint64_t uaddr, uint64_t size, uint32_t access)
{
    uint64_t off = 0;

    while (off < size) {
        uint64_t gpa, n = size - off, other = 1;
        void *want, *have;

        if (vdev_mem_uva_to_gpa(src, uaddr + off, &gpa) < 0)
            return false;
        want = vdev_mem_translate(src, gpa, &n, 0);
        have = vdev_mem_translate(tlb, iova + off, &n, access);
        if (!want || have != want)
            return false;
        if (access != VDEV_MEM_RW &&
            vdev_mem_translate(tlb, iova + off, &other, VDEV_MEM_RW))
            return false;             /* mapped with more access */
        off += n;
    }
    return true;
}

static int iotlb_update(struct vdev_vu_backend *b, const struct vhost_iotlb_msg *t)
{
    struct vdev_mem *tlb = vu_ring_mem(b);
    uint32_t access = perm_to_access(t->perm);
    uint64_t end;
    int ret;

    if (!tlb)
        return -ENOMEM;
    if (t->size == 0)
        return vu_bad(b, -EINVAL, "IOTLB UPDATE of size 0 at iova %#llx",
                      (unsigned long long)t->iova);
    if (__builtin_add_overflow(t->iova, t->size - 1, &end) ||
        __builtin_add_overflow(t->uaddr, t->size - 1, &end))
        return vu_bad(b, -EOVERFLOW, "IOTLB UPDATE iova %#llx uaddr %#llx size %#llx "
                      "wraps", (unsigned long long)t->iova,
                      (unsigned long long)t->uaddr, (unsigned long long)t->size);
    if (t->perm == 0 || (t->perm & ~VHOST_ACCESS_RW))
        return vu_bad(b, -EINVAL, "IOTLB UPDATE with permissions %#x (not RO, WO, RW)",
                      t->perm);
    if (vdev_mem_count(tlb) >= IOTLB_MAX_ENTRIES)
        return vu_bad(b, -ENOSPC, "IOTLB UPDATE: the IOTLB holds %u entries already",
                      IOTLB_MAX_ENTRIES);
    if (maps_exactly(tlb, b->c.mem, t->iova, t->uaddr, t->size, access))
        return 0;                     /* a repeat: nothing changes, nothing halts */

    vu_rings_halt(b);
    ret = map_range(tlb, b->c.mem, t->iova, t->uaddr, t->size, access);
    vu_rings_sync(b);
    if (ret == -EFAULT || ret == -EACCES)
        return vu_bad(b, -EFAULT, "IOTLB UPDATE iova %#llx: user addresses %#llx + "
                      "%#llx are not in the memory table", (unsigned long long)t->iova,
                      (unsigned long long)t->uaddr, (unsigned long long)t->size);
    if (ret == -EINVAL)
        return vu_bad(b, -EINVAL, "IOTLB UPDATE iova %#llx: the guest address of user "
                      "address %#llx differs from it modulo %u",
                      (unsigned long long)t->iova, (unsigned long long)t->uaddr,
                      IOTLB_ALIGN);
    if (ret == -EEXIST)
        return vu_bad(b, -EEXIST, "IOTLB UPDATE iova %#llx size %#llx overlaps an "
                      "entry", (unsigned long long)t->iova, (unsigned long long)t->size);
    if (ret < 0)
        return vu_bad(b, ret, "IOTLB UPDATE iova %#llx: %s", (unsigned long long)t->iova,
                      vdev_strerror(ret));
    return 0;
}

static int iotlb_invalidate(struct vdev_vu_backend *b, const struct vhost_iotlb_msg *t)
{
    struct vdev_mem *tlb = vu_ring_mem(b);
    uint64_t end;
    int ret;

    if (!tlb)
        return -ENOMEM;
    if (t->size == 0)
        return vu_bad(b, -EINVAL, "IOTLB INVALIDATE of size 0 at iova %#llx",
                      (unsigned long long)t->iova);
    if (__builtin_add_overflow(t->iova, t->size - 1, &end))
        return vu_bad(b, -EOVERFLOW, "IOTLB INVALIDATE iova %#llx size %#llx wraps",
                      (unsigned long long)t->iova, (unsigned long long)t->size);
    vu_rings_halt(b);
    ret = vdev_mem_punch(tlb, t->iova, t->size);
    vu_rings_sync(b);
    if (ret < 0)
        return vu_bad(b, ret, "IOTLB INVALIDATE iova %#llx: %s",
                      (unsigned long long)t->iova, vdev_strerror(ret));
    return 0;
}

/* IOTLB_MSG: only with IOMMU_PLATFORM ("This request should be send only when
 * VIRTIO_F_IOMMU_PLATFORM feature has been successfully negotiated"); a u64
 * reply, zero for success. */
int vu_h_iotlb_msg(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vhost_iotlb_msg *t = &m->p.iotlb;
    int ret;

    if (!vu_iommu(b))
        return vu_bad(b, -EPERM, "IOTLB_MSG without VIRTIO_F_IOMMU_PLATFORM");
    ret = vu_iotlb_prepare(b);
    if (ret < 0)
        return ret;
    switch (t->type) {
    case VHOST_IOTLB_UPDATE:
        ret = iotlb_update(b, t);
        break;
    case VHOST_IOTLB_INVALIDATE:
        ret = iotlb_invalidate(b, t);
        break;
    default:
        return vu_bad(b, -EINVAL, "IOTLB_MSG of type %u (the front-end sends UPDATE "
                      "and INVALIDATE)", t->type);
    }
    if (ret == 0)
        m->status = 0;
    return ret;
}

/* --- the memory table changes ----------------------------------------------------- */

struct rebuild {
    struct vdev_vu_backend *b;
    struct vdev_mem *tlb, *mem;
    unsigned dropped;
};

static int rebuild_entry(void *opaque, uint64_t iova, uint64_t size, uint64_t uaddr,
                         uint32_t access)
{
    struct rebuild *rb = opaque;

    if (map_range(rb->tlb, rb->mem, iova, uaddr, size, access) < 0)
        rb->dropped++;
    return 0;
}

void vu_iotlb_rebuild(struct vdev_vu_backend *b, struct vdev_mem *mem)
{
    struct rebuild rb = { .b = b, .mem = mem };
    struct vdev_mem *old = b->c.iotlb;

    if (!old)
        return;
    if (vdev_mem_new(&rb.tlb) == 0) {
        vdev_mem_foreach(old, rebuild_entry, &rb);
    } else {
        rb.tlb = NULL;                /* the front-end refills it on misses */
        rb.dropped = (unsigned)vdev_mem_count(old);
    }
    if (rb.dropped)
        vu_bad(b, 0, "the memory table changed: %u IOTLB entries dropped", rb.dropped);
    b->c.iotlb = rb.tlb;
    vdev_mem_free(old);
}

void vu_iotlb_release(struct vdev_vu_backend *b)
{
    vdev_mem_free(b->c.iotlb);
    b->c.iotlb = NULL;
    if (b->c.miss_watch) {
        vdev_loop_remove(b->c.miss_watch);
        close(b->c.miss_fd);
    }
    b->c.miss_watch = NULL;
    for (unsigned i = 0; i < b->nrings; i++)
        __atomic_store_n(&b->rings[i].miss_pending, false, __ATOMIC_RELAXED);
}
