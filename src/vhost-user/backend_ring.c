/* backend_ring.c — a ring's life ("Ring states").
 *
 * A ring is started or stopped, and enabled or disabled; both start false. It
 * runs — its vq started on guest memory and served by a worker — exactly while
 * it is started and enabled: a disabled ring is not processed at all.
 *
 * When a ring starts: on the first kick. While a ring is stopped its kick fd is
 * watched on the control loop; when it becomes readable the ring starts, and the
 * kick is left in the eventfd for the worker, whose first wake-up serves it.
 * That is the spec's rule as written, and it is why starting on SET_VRING_KICK is
 * not needed: QEMU creates the kick eventfd already signalled, and sends
 * SET_VRING_KICK after the ring's size, base and addresses. A front-end's
 * further set-up (SET_VRING_CALL, SET_VRING_ENABLE) may come after KICK and
 * before the guest's first kick. Without a kick fd (bit 8: poll) there will be
 * no kick, so the ring starts when SET_VRING_KICK says so; an in-band
 * VRING_KICK starts it too. GET_VRING_BASE stops it.
 *
 * Whatever a running ring's worker uses (memory map, dirty log, addresses, call
 * fd, features) changes only with the ring halted: the worker stopped, the vq
 * stopped with its base kept (both positions, for a packed ring), then run
 * again from that base, ring addresses translated anew. The device's queue_stop
 * finishes or abandons what it holds; with an inflight area, what it abandoned
 * stays recorded there and the vq hands it out again when the ring runs.
 *
 * A ring that cannot run (its addresses left guest memory, the device refused
 * it) or that the guest broke signals its error fd and sets NEEDS_RESET in the
 * status; it stays started, and runs again when what was missing comes back.
 *
 * With VIRTIO_F_IOMMU_PLATFORM the ring addresses are IOVAs and the ring runs on
 * the IOTLB (backend_iotlb.c). An area the IOTLB does not hold yet is a miss,
 * not an error: the MISS is sent and the ring waits, started, for the UPDATE
 * that makes it run. */
#include <errno.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdev/inflight.h"
#include "vdev/log.h"
#include "backend_internal.h"

/* A fresh packed ring: both wrap counters 1 (virtio 1.2, 2.8.1). */
#define PACKED_FRESH_BASE 0x80008000u

struct vu_ring *vu_ring_of(struct vdev_vu_backend *b, uint32_t index)
{
    return index < b->nrings ? &b->rings[index] : NULL;
}

bool vu_ring_running(const struct vu_ring *r)
{
    return r->wq != NULL;
}

bool vu_suspended(const struct vdev_vu_backend *b)
{
    for (unsigned i = 0; i < b->nrings; i++)
        if (b->rings[i].started)
            return false;
    return true;
}

/* "Memory access": a ring address is a user address of the front-end, mapped to
 * the region that holds it; the whole area must lie in that one region. */
static int ring_gpa(struct vdev_vu_backend *b, uint64_t uva, uint64_t len,
                    uint32_t access, uint64_t *gpa)
{
    uint64_t got = len;

    if (!b->c.mem || vdev_mem_uva_to_gpa(b->c.mem, uva, gpa) < 0)
        return -EFAULT;
    if (!vdev_mem_translate(b->c.mem, *gpa, &got, access) || got != len)
        return -EFAULT;
    return 0;
}

struct ring_gpas {
    uint64_t desc, driver, device;
};

/* An area's address in the map the ring runs on: the guest address of a user
 * address, or with IOMMU_PLATFORM the IOVA itself once the IOTLB holds it
 * (-EAGAIN: a miss, reported). */
static int ring_area(struct vdev_vu_backend *b, unsigned ring, uint64_t addr,
                     uint64_t len, uint32_t access, uint64_t *out)
{
    int ret;

    if (!vu_iommu(b))
        return ring_gpa(b, addr, len, access, out);
    ret = vu_iotlb_ring_area(b, ring, addr, len, access);
    *out = addr;
    return ret;
}

/* The log line of an area outside guest memory (tests match these words). */
static int area_fault(struct vdev_vu_backend *b, unsigned ring, unsigned area,
                      uint64_t addr)
{
    unsigned long long a = (unsigned long long)addr;

    if (area == 0)
        return vu_bad(b, -EFAULT, "ring %u: descriptors at %#llx are not in guest "
                      "memory", ring, a);
    if (area == 1)
        return vu_bad(b, -EFAULT, "ring %u: driver area at %#llx is not in guest "
                      "memory", ring, a);
    return vu_bad(b, -EFAULT, "ring %u: device area at %#llx is not in guest memory",
                  ring, a);
}

static int ring_translate(struct vdev_vu_backend *b, const struct vhost_vring_addr *a,
                          uint32_t num, struct ring_gpas *g)
{
    bool packed = vu_packed(b);
    uint16_t n = (uint16_t)(num ? num : 1);
    const uint64_t addr[3] = { a->desc_user_addr, a->avail_user_addr,
                               a->used_user_addr };
    const uint64_t len[3] = { vdev_vq_desc_bytes(n, packed),
                              vdev_vq_driver_bytes(n, packed),
                              vdev_vq_device_bytes(n, packed) };
    const uint32_t access[3] = { packed ? VDEV_MEM_RW : VDEV_MEM_READ, VDEV_MEM_READ,
                                 VDEV_MEM_WRITE };
    uint64_t *out[3] = { &g->desc, &g->driver, &g->device };

    for (unsigned i = 0; i < 3; i++) {
        int ret = ring_area(b, a->index, addr[i], len[i], access[i], out[i]);

        if (ret == -EAGAIN)
            return ret;               /* the IOTLB has it not yet: MISS sent */
        if (ret < 0)
            return area_fault(b, a->index, i, addr[i]);
    }
    /* virtio 1.2, 2.7 and 2.8: alignment of the three areas. */
    if (g->desc % 16 || g->driver % (packed ? 4 : 2) || g->device % 4)
        return vu_bad(b, -EINVAL, "ring %u: a ring area is not aligned", a->index);
    return 0;
}

/* With IOMMU_PLATFORM the IOTLB is filled on demand, after the addresses
 * come: they are checked when the ring is to run; here only their alignment. */
int vu_ring_check_addr(struct vdev_vu_backend *b, const struct vhost_vring_addr *a,
                       uint32_t num)
{
    struct ring_gpas g;

    if (vu_iommu(b)) {
        if (a->desc_user_addr % 16 || a->avail_user_addr % (vu_packed(b) ? 4 : 2) ||
            a->used_user_addr % 4)
            return vu_bad(b, -EINVAL, "ring %u: a ring area is not aligned", a->index);
        return 0;
    }
    return ring_translate(b, a, num, &g);
}

static int ring_config(struct vdev_vu_backend *b, struct vu_ring *r,
                       struct vdev_vq_config *c)
{
    struct ring_gpas g;
    int ret;

    if (r->num == 0 || !r->addr_set)
        return vu_bad(b, -EINVAL, "ring %u started before its size and addresses",
                      r->index);
    if (vu_iommu(b)) {
        ret = vu_iotlb_prepare(b);
        if (ret < 0)
            return vu_bad(b, ret, "ring %u: no IOTLB: %s", r->index, vdev_strerror(ret));
    }
    ret = ring_translate(b, &r->addr, r->num, &g);
    if (ret < 0)
        return ret;
    *c = (struct vdev_vq_config){
        .size = (uint16_t)r->num,
        .packed = vu_packed(b),
        .event_idx = vu_has_f(b, VIRTIO_RING_F_EVENT_IDX),
        .indirect = vu_has_f(b, VIRTIO_RING_F_INDIRECT_DESC),
        .desc_gpa = g.desc,
        .driver_gpa = g.driver,
        .device_gpa = g.device,
        /* "Migration": used ring writes are logged at log_guest_addr. */
        .used_log_gpa = r->addr.log_guest_addr,
        .log_used = !!(r->addr.flags & (1u << VHOST_VRING_F_LOG)),
        .mem = vu_ring_mem(b),
        .miss = vu_iommu(b) ? vu_iotlb_ring_miss : NULL,
        .miss_opaque = r,
        .broken = vu_ring_broken,
        .broken_opaque = r,
        .call_fd = r->call_fd >= 0 ? r->call_fd : r->inband_fd,
        .base = r->base_set ? r->base : vu_packed(b) ? PACKED_FRESH_BASE : 0,
    };
    c->inflight = vu_inflight_of(b, r, c);
    return 0;
}

static int ring_run(struct vdev_vu_backend *b, struct vu_ring *r)
{
    struct vdev_vq_config c;
    int ret = ring_config(b, r, &c);

    if (ret == 0)
        ret = vu_events_prepare(b);
    if (ret < 0)
        return ret;
    r->err_reported = false;
    if (c.inflight && (ret = vdev_inflight_count(c.inflight)) > 0)
        vdev_info("vhost-user %s: ring %u: %d requests in flight before it stopped "
                  "are resubmitted first", b->c.peer, r->index, ret);
    ret = vdev_vq_start(r->vq, &c);
    if (ret < 0)
        return vu_bad(b, ret, "ring %u: the rings do not start: %s", r->index,
                      vdev_strerror(ret));
    r->q = (struct vdev_virtio_queue){ .index = r->index, .vq = r->vq, .mem = c.mem };
    ret = vdev_workers_start(b->workers, r->index, b->dev, &r->q, r->kick_fd, &r->wq);
    if (ret < 0) {
        r->wq = NULL;
        vdev_vq_stop(r->vq);
        return vu_bad(b, ret, "ring %u: the device does not start it: %s", r->index,
                      vdev_strerror(ret));
    }
    return 0;
}

static void signal_err(struct vu_ring *r)
{
    uint64_t one = 1;

    if (r->err_fd >= 0 && write(r->err_fd, &one, sizeof(one)) < 0)
        return;                    /* a full eventfd is signalled already */
}

static void ring_halt(struct vdev_vu_backend *b, struct vu_ring *r)
{
    vdev_workers_stop(b->workers, r->wq);
    r->wq = NULL;
    if (vdev_vq_broken(r->vq))
        vu_ring_report_broken(b, r);  /* if the worker's report is still on its way */
    vdev_vq_stop(r->vq);
    r->base = vdev_vq_get_base(r->vq);
    r->base_set = true;
}

int vu_ring_sync(struct vdev_vu_backend *b, struct vu_ring *r)
{
    bool want = r->started && r->enabled && b->c.fd >= 0;
    int ret;

    if (want == vu_ring_running(r))
        return 0;
    if (!want) {
        ring_halt(b, r);
        return 0;
    }
    ret = ring_run(b, r);
    if (ret == -EAGAIN)
        return 0;                     /* an IOTLB miss: waits for the UPDATE */
    if (ret < 0) {
        b->c.needs_reset = true;
        signal_err(r);
    }
    return ret;
}

void vu_ring_halt(struct vdev_vu_backend *b, struct vu_ring *r)
{
    if (vu_ring_running(r))
        ring_halt(b, r);
}

void vu_rings_halt(struct vdev_vu_backend *b)
{
    for (unsigned i = 0; i < b->nrings; i++)
        if (vu_ring_running(&b->rings[i]))
            ring_halt(b, &b->rings[i]);
}

void vu_rings_sync(struct vdev_vu_backend *b)
{
    for (unsigned i = 0; i < b->nrings; i++)
        vu_ring_sync(b, &b->rings[i]);
}

static void unwatch_kick(struct vu_ring *r)
{
    if (r->kick_watch)
        vdev_loop_remove(r->kick_watch);
    r->kick_watch = NULL;
}

int vu_ring_start(struct vdev_vu_backend *b, struct vu_ring *r)
{
    unwatch_kick(r);
    if (r->started)
        return 0;
    r->started = true;
    return vu_ring_sync(b, r);
}

/* The kick that starts a stopped ring. The eventfd is not read: its count is
 * the worker's first wake-up. */
static void on_first_kick(void *opaque, uint32_t events)
{
    struct vu_ring *r = opaque;
    struct vdev_vu_backend *b = r->owner;

    if (!(events & EPOLLIN)) {
        vu_bad(b, 0, "ring %u: kick fd error; no longer watched", r->index);
        unwatch_kick(r);
        return;
    }
    vu_ring_start(b, r);
}

int vu_ring_watch_kick(struct vdev_vu_backend *b, struct vu_ring *r)
{
    unwatch_kick(r);
    if (r->started || r->kick_fd < 0)
        return 0;
    return vdev_loop_add_fd(b->loop, r->kick_fd, EPOLLIN, on_first_kick, r,
                            &r->kick_watch);
}

void vu_ring_stop(struct vdev_vu_backend *b, struct vu_ring *r)
{
    unwatch_kick(r);
    if (vu_ring_running(r))
        ring_halt(b, r);
    r->started = false;
    /* A stopped ring starts again on a new SET_VRING_KICK's kick, not on a
     * leftover kick of the old fd. */
    vu_close(&r->kick_fd);
    r->kick_poll = false;
}

void vu_ring_reset(struct vdev_vu_backend *b, struct vu_ring *r)
{
    vu_ring_stop(b, r);
    if (r->inband_watch)
        vdev_loop_remove(r->inband_watch);
    r->inband_watch = NULL;
    vu_close(&r->inband_fd);
    vu_close(&r->call_fd);
    vu_close(&r->err_fd);
    r->num = 0;
    r->addr_set = false;
    r->base = 0;
    r->base_set = false;
    r->enabled = false;
}
