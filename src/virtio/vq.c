/* vq.c — a queue's life: start with checked ring addresses and base, stop, base,
 * broken; pop and push pick the ring layout, or the long way (one branch). */
#include <errno.h>
#include <stdlib.h>

#include "vdev/log.h"
#include "vq_internal.h"

VDEV_API uint64_t vdev_vq_desc_bytes(uint16_t size, bool packed)
{
    (void)packed;
    return 16ull * size;
}

VDEV_API uint64_t vdev_vq_driver_bytes(uint16_t size, bool packed)
{
    return packed ? 4 : 6 + 2ull * size;
}

VDEV_API uint64_t vdev_vq_device_bytes(uint16_t size, bool packed)
{
    return packed ? 4 : 6 + 8ull * size;
}

VDEV_API int vdev_vq_new(struct vdev_vq **out)
{
    struct vdev_vq *vq = calloc(1, sizeof(*vq));

    if (!vq)
        return -ENOMEM;
    vq->call_fd = -1;
    vq->detour = true;             /* not started */
    *out = vq;
    return 0;
}

/* Without a stop: nothing is published, the records are left as they are (what
 * a crash leaves). */
VDEV_API void vdev_vq_free(struct vdev_vq *vq)
{
    if (!vq)
        return;
    vq_inflight_free(vq);
    free(vq);
}

/* The first address of [addr, addr + len) the map does not give with access. */
static uint64_t first_unmapped(struct vdev_mem *mem, uint64_t addr, uint64_t len,
                               uint32_t access)
{
    while (len) {
        uint64_t got = len;

        if (!vdev_mem_translate(mem, addr, &got, access) || got == 0)
            return addr;
        addr += got;
        len -= got;
    }
    return addr;                   /* mapped after all: the start is as good */
}

/* A miss (vdev_vq_config.miss): reported once per start; the ring stays as it
 * was, and the pop is tried again when the transport restarts the queue. */
static int vq_miss(struct vdev_vq *vq)
{
    uint64_t addr = first_unmapped(vq->mem, vq->fault_addr, vq->fault_len,
                                   vq->fault_access);

    vq->fault_len = 0;
    if (!vq->miss_reported) {
        vq->miss_reported = true;
        vq->miss(vq->miss_opaque, addr, vq->fault_access);
    }
    return -EAGAIN;
}

int vq_break(struct vdev_vq *vq, int err, const char *what)
{
    if (err == -EFAULT && vq->fault_len && vq->error == 0)
        return vq_miss(vq);
    vq->fault_len = 0;
    if (vq->error == 0) {
        vq->error = err;
        vq->detour = true;
        vdev_log(VDEV_LOG_WARN, "virtq: ring broken by the driver: %s (%s)", what,
                 vdev_strerror(err));
        if (vq->broken)
            vq->broken(vq->broken_opaque, err);
    }
    return vq->error;
}

void *vq_map_area(struct vdev_vq *vq, uint64_t gpa, uint64_t bytes, uint32_t access)
{
    uint64_t got = bytes;
    void *host = vdev_mem_translate(vq->mem, gpa, &got, access);

    return host && got == bytes ? host : NULL;
}

/* The packed base (vhost-user.rst, "Vring descriptor indices for packed
 * virtqueues"): both positions in the ring, the available side not behind the
 * used side and at most a lap ahead of it. */
static bool packed_base_ok(uint32_t base, uint16_t size)
{
    uint16_t avail = base & 0x7fff, used = (base >> 16) & 0x7fff;
    bool avail_wrap = (base >> 15) & 1, used_wrap = base >> 31;

    if (avail >= size || used >= size)
        return false;
    return avail_wrap == used_wrap ? avail >= used : avail <= used;
}

/* 2.7 and 2.8: sizes and alignments of the three areas; the base. */
static int config_check(const struct vdev_vq_config *c)
{
    uint64_t driver_align = c->packed ? 4 : VRING_AVAIL_ALIGN_SIZE;

    if (!c->mem)
        return -EINVAL;
    if (c->size == 0 || c->size > VDEV_VQ_MAX_SIZE)
        return -EINVAL;
    if (!c->packed && (c->size & (c->size - 1)) != 0)
        return -EINVAL;
    if (c->desc_gpa % VRING_DESC_ALIGN_SIZE || c->driver_gpa % driver_align ||
        c->device_gpa % VRING_USED_ALIGN_SIZE)
        return -EINVAL;
    if (c->packed ? !packed_base_ok(c->base, c->size) : c->base > UINT16_MAX)
        return -EINVAL;
    return 0;
}

VDEV_API int vdev_vq_start(struct vdev_vq *vq, const struct vdev_vq_config *c)
{
    int ret;

    if (vq->started)
        return -EBUSY;
    ret = config_check(c);
    if (ret < 0)
        return ret;

    vq->packed = c->packed;
    vq->event_idx = c->event_idx;
    vq->indirect = c->indirect;
    vq->size = c->size;
    vq->call_fd = c->call_fd;
    vq->notify = c->notify;
    vq->notify_opaque = c->notify_opaque;
    vq->broken = c->broken;
    vq->broken_opaque = c->broken_opaque;
    vq->mem = c->mem;
    vq->desc_gpa = c->desc_gpa;
    vq->driver_gpa = c->driver_gpa;
    vq->device_gpa = c->device_gpa;
    vq->device_log_gpa = c->log_used ? c->used_log_gpa : c->device_gpa;
    vq->error = 0;
    vq->inflight = 0;
    vq->kicks_on = true;
    vq->miss = c->miss;
    vq->miss_opaque = c->miss_opaque;
    vq->miss_reported = false;
    vq->fault_len = 0;
    vq_inflight_free(vq);

    ret = c->packed ? vq_packed_start(vq, c) : vq_split_start(vq, c);
    if (ret == 0 && c->inflight)
        ret = vq_inflight_start(vq, c);
    if (ret < 0)
        return ret;
    vq->started = true;
    vq->detour = vq->ifl != NULL;
    return 0;
}

VDEV_API void vdev_vq_stop(struct vdev_vq *vq)
{
    if (!vq->started)
        return;
    if (!vq->error)
        vdev_vq_flush(vq);
    vq_inflight_free(vq);
    vq->started = false;
    vq->detour = true;
}

VDEV_API bool vdev_vq_started(const struct vdev_vq *vq)
{
    return vq->started;
}

VDEV_API uint32_t vdev_vq_get_base(const struct vdev_vq *vq)
{
    const struct vq_packed *p = &vq->p;

    if (!vq->packed)
        return vq->s.last_avail;
    return (uint32_t)p->avail_pos | (uint32_t)p->avail_wrap << 15 |
           (uint32_t)p->used_pos << 16 | (uint32_t)p->used_wrap << 31;
}

VDEV_API bool vdev_vq_broken(const struct vdev_vq *vq)
{
    return vq->error != 0;
}

VDEV_API int vdev_vq_error(const struct vdev_vq *vq)
{
    return vq->error;
}

/* Pop, push and flush test one flag, vq->detour, and take the long way below
 * when the queue is not started, is broken, or keeps inflight records. */
static __attribute__((noinline))
int pop_detour(struct vdev_vq *vq, struct vdev_vq_req *r)
{
    if (vq->error)
        return vq->error;
    if (!vq->started || !r->iov || !r->iov_gpa)
        return -EINVAL;
    return vq_inflight_pop(vq, r);
}

VDEV_API int vdev_vq_pop(struct vdev_vq *vq, struct vdev_vq_req *r)
{
    if (__builtin_expect(vq->detour, 0))
        return pop_detour(vq, r);
    if (!r->iov || !r->iov_gpa)
        return -EINVAL;
    return vq->packed ? vq_packed_pop(vq, r) : vq_split_pop(vq, r);
}

/* Is r a request the started queue can take back? */
static inline bool push_ok(const struct vdev_vq *vq, const struct vdev_vq_req *r)
{
    if (vq->inflight == 0 || r->id >= vq->size)
        return false;
    return !vq->packed || (r->ndesc != 0 && r->ndesc <= vq->p.inflight_desc);
}

static inline void push_ring(struct vdev_vq *vq, const struct vdev_vq_req *r,
                             uint32_t written)
{
    if (written > r->in_len)
        written = r->in_len;
    if (vq->packed)
        vq_packed_push(vq, r, written);
    else
        vq_split_push(vq, r, written);
    vq->inflight--;
}

static __attribute__((noinline))
int push_detour(struct vdev_vq *vq, const struct vdev_vq_req *r, uint32_t written)
{
    int ret;

    if (vq->error)
        return vq->error;
    if (!vq->started || !push_ok(vq, r))
        return -EINVAL;
    ret = vq_inflight_push(vq, r);
    if (ret < 0)
        return ret;
    push_ring(vq, r, written);
    return 0;
}

VDEV_API int vdev_vq_push(struct vdev_vq *vq, const struct vdev_vq_req *r,
                          uint32_t written)
{
    if (__builtin_expect(vq->detour, 0))
        return push_detour(vq, r, written);
    if (!push_ok(vq, r))
        return -EINVAL;
    push_ring(vq, r, written);
    return 0;
}

VDEV_API void vdev_vq_flush(struct vdev_vq *vq)
{
    if (__builtin_expect(vq->detour, 0)) {
        if (vq->started && !vq->error)
            vq_inflight_flush(vq);
    } else if (vq->packed)
        vq_packed_flush(vq);
    else
        vq_split_flush(vq);
}
