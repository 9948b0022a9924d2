/* frontend_queue.c — the convenience layer's queues: rings in the shared memory,
 * the driver side on them, the messages that start and stop them on the
 * back-end, and the data path (submit, kick, wait, reap). vhost-user.rst, "Ring
 * states", VHOST_USER_SET_VRING_*, VHOST_USER_GET_VRING_BASE. */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vdev/virtq.h"
#include "vdev/virtq_driver.h"
#include "frontend_internal.h"

#define VUC_RING_ALIGN        64u     /* every ring area: a cache line */
#define VUC_DEFAULT_INDIRECT  16u
#define PACKED_WRAP           0x8000u /* bit 15 of each half of a packed base */

struct vuc_queue *vuc_queue(struct vdev_vuc *c, uint16_t index)
{
    return index < VDEV_VUC_MAX_QUEUES ? c->queues[index] : NULL;
}

static bool size_valid(uint16_t size, bool packed)
{
    if (size == 0 || size > VDEV_VQ_MAX_SIZE)
        return false;
    return packed || (size & (size - 1)) == 0;
}

static bool protocol_features_offered(const struct vdev_vuc *c)
{
    return c->have_offered && (c->offered & (1ull << VU_F_PROTOCOL_FEATURES));
}

/* ---- rings in guest memory ---- */

static int alloc_area(struct vdev_vuc *c, uint64_t len, uint64_t *gpa, uint64_t *kept)
{
    int ret = vuc_alloc_get(&c->alloc, len, VUC_RING_ALIGN, gpa);

    if (ret == 0)
        *kept = len;
    return ret;
}

static void free_area(struct vdev_vuc *c, uint64_t gpa, uint64_t *kept)
{
    if (*kept)
        vuc_alloc_put(&c->alloc, gpa, *kept);
    *kept = 0;
}

static int alloc_rings(struct vdev_vuc *c, struct vuc_queue *q)
{
    int ret;

    ret = alloc_area(c, vdev_vq_desc_bytes(q->size, q->packed), &q->desc_gpa, &q->desc_len);
    if (ret == 0)
        ret = alloc_area(c, vdev_vq_driver_bytes(q->size, q->packed), &q->driver_gpa,
                         &q->driver_len);
    if (ret == 0)
        ret = alloc_area(c, vdev_vq_device_bytes(q->size, q->packed), &q->device_gpa,
                         &q->device_len);
    if (ret == 0 && q->indirect)
        ret = alloc_area(c, (uint64_t)q->size * q->indirect_max * sizeof(struct vring_desc),
                         &q->indirect_gpa, &q->indirect_len);
    return ret;
}

static void queue_destroy(struct vdev_vuc *c, struct vuc_queue *q)
{
    vdev_vqd_free(q->vqd);
    if (q->kick_fd >= 0)
        close(q->kick_fd);
    if (q->call_fd >= 0)
        close(q->call_fd);
    free_area(c, q->desc_gpa, &q->desc_len);
    free_area(c, q->driver_gpa, &q->driver_len);
    free_area(c, q->device_gpa, &q->device_len);
    free_area(c, q->indirect_gpa, &q->indirect_len);
    free(q->chain_len);
    free(q);
}

/* Rings, eventfds and the driver side, in the layout the features say. */
static int queue_build(struct vdev_vuc *c, struct vuc_queue *q)
{
    struct vdev_vqd_config dc;
    int ret = alloc_rings(c, q);

    if (ret < 0)
        return ret;
    q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (q->kick_fd < 0 || q->call_fd < 0)
        return -errno;
    dc = (struct vdev_vqd_config){
        .size = q->size, .packed = q->packed, .event_idx = q->event_idx,
        .indirect = q->indirect, .desc_gpa = q->desc_gpa, .driver_gpa = q->driver_gpa,
        .device_gpa = q->device_gpa, .indirect_gpa = q->indirect_gpa,
        .indirect_max = q->indirect_max, .mem = c->mem, .kick_fd = q->kick_fd,
    };
    ret = vdev_vqd_new(&dc, &q->vqd);
    if (ret < 0)
        return ret;
    if (q->packed) {
        q->chain_len = calloc(q->size, sizeof(*q->chain_len));
        if (!q->chain_len)
            return -ENOMEM;
        /* A fresh packed ring: both sides at 0, wrap counters 1 (virtio 1.2,
         * "Driver and Device Ring Wrap Counters"). */
        q->used_pos = 0;
        q->used_wrap = true;
        q->base = PACKED_WRAP | (PACKED_WRAP << 16);
    } else {
        q->base = 0;
    }
    return 0;
}

/* ---- the messages ---- */

static uint64_t user_addr(struct vdev_vuc *c, uint64_t gpa, uint64_t len)
{
    return (uint64_t)(uintptr_t)vdev_vuc_host(c, gpa, len);
}

/* Ring addresses are user addresses: VIRTIO_F_IOMMU_PLATFORM is not used by this
 * layer ("A vring address description"). The log address is the used ring's
 * guest address ("Migration"). */
static int send_addr(struct vdev_vuc *c, const struct vuc_queue *q)
{
    struct vhost_vring_addr a = {
        .index = q->index,
        .flags = vuc_has_feature(c, VHOST_F_LOG_ALL) ? 1u << VHOST_VRING_F_LOG : 0,
        .desc_user_addr = user_addr(c, q->desc_gpa, q->desc_len),
        .used_user_addr = user_addr(c, q->device_gpa, q->device_len),
        .avail_user_addr = user_addr(c, q->driver_gpa, q->driver_len),
        .log_guest_addr = q->device_gpa,
    };

    return vdev_vuc_set_vring_addr(c, &a);
}

/* NUM, ADDR, BASE, CALL, then KICK, which starts the ring ("Each ring is
 * initialized in a stopped and disabled state. The back-end must start a ring
 * upon receiving a kick"), then ENABLE when rings start disabled. */
int vuc_queue_send(struct vdev_vuc *c, struct vuc_queue *q)
{
    int ret = vdev_vuc_set_vring_num(c, q->index, q->size);

    if (ret == 0)
        ret = send_addr(c, q);
    if (ret == 0)
        ret = vdev_vuc_set_vring_base(c, q->index, q->base);
    if (ret == 0)
        ret = vdev_vuc_set_vring_call(c, q->index, q->call_fd);
    if (ret == 0)
        ret = vdev_vuc_set_vring_kick(c, q->index, q->kick_fd);
    if (ret == 0 && protocol_features_offered(c))
        ret = vdev_vuc_set_vring_enable(c, q->index, true);
    return ret;
}

/* Packed: the position after the last used descriptor the device wrote, reaped
 * or not: from where the driver has reaped, on over the descriptors marked used
 * for the current wrap counter (virtio 1.2, "Packed Virtqueues": used means
 * AVAIL and USED both equal to the device's wrap counter). The ids are the
 * device's: one that is not outstanding ends the walk. */
static uint16_t packed_used_half(struct vdev_vuc *c, const struct vuc_queue *q)
{
    const struct vring_packed_desc *ring = vdev_vuc_host(c, q->desc_gpa, q->desc_len);
    uint16_t pos = q->used_pos;
    bool wrap = q->used_wrap;
    uint32_t walked = 0;

    while (ring && walked < q->size) {
        const struct vring_packed_desc *d = &ring[pos];
        uint16_t flags = le16toh(__atomic_load_n(&d->flags, __ATOMIC_ACQUIRE));
        bool avail = flags & (1u << VRING_PACKED_DESC_F_AVAIL);
        bool used = flags & (1u << VRING_PACKED_DESC_F_USED);
        uint16_t id = le16toh(d->id), n;

        if (avail != wrap || used != wrap || id >= q->size || q->chain_len[id] == 0)
            break;
        n = q->chain_len[id];
        walked += n;
        pos = (uint16_t)(pos + n);
        if (pos >= q->size) {
            pos = (uint16_t)(pos - q->size);
            wrap = !wrap;
        }
    }
    return (uint16_t)(pos | (wrap ? PACKED_WRAP : 0));
}

/* Split: the back-end reads where the used ring stands from memory, and takes
 * up the available ring there ("the device is supposed to read the next index
 * in the Used Ring from the respective vring structure in guest memory").
 * Packed: both halves at the position after the last used descriptor. */
uint32_t vuc_queue_resume_base(struct vdev_vuc *c, const struct vuc_queue *q)
{
    uint32_t half;

    if (!q->packed) {
        const struct vring_used *used = vdev_vuc_host(c, q->device_gpa, q->device_len);

        return used ? le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE)) : q->base;
    }
    half = packed_used_half(c, q);
    return half | (half << 16);
}

/* ---- set-up, stop, start, free ---- */

static int queue_check(struct vdev_vuc *c, uint16_t index, uint16_t size, bool packed)
{
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!c->negotiated || c->nregions == 0 || !size_valid(size, packed))
        return -EINVAL;
    if (index >= VDEV_VUC_MAX_QUEUES || (vuc_has_pf(c, VU_PF_MQ) && index >= c->queue_num))
        return -ERANGE;
    if (c->queues[index])
        return -EBUSY;
    return 0;
}

VDEV_API int vdev_vuc_queue_setup(struct vdev_vuc *c, uint16_t index, uint16_t size,
                                  uint16_t indirect_max)
{
    bool packed = vuc_has_feature(c, VIRTIO_F_RING_PACKED);
    struct vuc_queue *q;
    uint32_t ignored;
    int ret = queue_check(c, index, size, packed);

    if (ret < 0)
        return ret;
    q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    *q = (struct vuc_queue){
        .state = VUC_Q_RUNNING, .index = index, .size = size, .packed = packed,
        .event_idx = vuc_has_feature(c, VIRTIO_RING_F_EVENT_IDX),
        .indirect = vuc_has_feature(c, VIRTIO_RING_F_INDIRECT_DESC),
        .kick_fd = -1, .call_fd = -1,
    };
    if (q->indirect) {
        if (indirect_max == 0)
            indirect_max = size < VUC_DEFAULT_INDIRECT ? size : VUC_DEFAULT_INDIRECT;
        q->indirect_max = indirect_max > size ? size : indirect_max;
    }
    ret = queue_build(c, q);
    if (ret < 0)
        goto fail;
    ret = vuc_queue_send(c, q);
    if (ret < 0) {
        /* The ring may have started: stop it before its memory is reused. */
        if (c->sock >= 0)
            vdev_vuc_get_vring_base(c, index, &ignored);
        goto fail;
    }
    c->queues[index] = q;
    return 0;
fail:
    queue_destroy(c, q);
    return ret;
}

VDEV_API int vdev_vuc_queue_stop(struct vdev_vuc *c, uint16_t index, uint32_t *base)
{
    struct vuc_queue *q = vuc_queue(c, index);
    uint32_t b;
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!q || q->state != VUC_Q_RUNNING)
        return -EINVAL;
    if (protocol_features_offered(c)) {
        ret = vdev_vuc_set_vring_enable(c, index, false);
        if (ret < 0)
            return ret;
    }
    ret = vdev_vuc_get_vring_base(c, index, &b);
    if (ret < 0)
        return ret;
    if (!q->packed && (b >> 16)) {
        /* "Bits 16-31: Reserved (set to zero)" for a split ring. */
        vdev_warn(VUC_LOG "GET_VRING_BASE of split ring %u set reserved bits: 0x%x",
                  index, b);
        b &= 0xffff;
    }
    q->base = b;
    q->state = VUC_Q_STOPPED;
    if (base)
        *base = b;
    return 0;
}

VDEV_API int vdev_vuc_queue_start(struct vdev_vuc *c, uint16_t index)
{
    struct vuc_queue *q = vuc_queue(c, index);
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!q || q->state != VUC_Q_STOPPED)
        return -EINVAL;
    ret = vuc_queue_send(c, q);
    if (ret == 0) {
        q->state = VUC_Q_RUNNING;
        q->replay = false;
    }
    return ret;
}

VDEV_API void vdev_vuc_queue_free(struct vdev_vuc *c, uint16_t index)
{
    struct vuc_queue *q = vuc_queue(c, index);

    if (!q)
        return;
    if (q->state == VUC_Q_RUNNING && c->sock >= 0)
        vdev_vuc_queue_stop(c, index, NULL);
    c->queues[index] = NULL;
    queue_destroy(c, q);
}

VDEV_API int vdev_vuc_queue_fds(struct vdev_vuc *c, uint16_t index, int *kick_fd,
                                int *call_fd)
{
    struct vuc_queue *q = vuc_queue(c, index);

    if (!q)
        return -EINVAL;
    if (kick_fd)
        *kick_fd = q->kick_fd;
    if (call_fd)
        *call_fd = q->call_fd;
    return 0;
}

/* ---- the data path ---- */

VDEV_API int vdev_vuc_submit(struct vdev_vuc *c, uint16_t index,
                             const struct vdev_vqd_buf *out, unsigned n_out,
                             const struct vdev_vqd_buf *in, unsigned n_in,
                             bool indirect, uint16_t *id)
{
    struct vuc_queue *q = vuc_queue(c, index);
    uint16_t got;
    int ret;

    if (!q || !id)
        return -EINVAL;
    ret = vdev_vqd_add(q->vqd, out, n_out, in, n_in, indirect, &got);
    if (ret < 0)
        return ret;
    /* A packed buffer takes one ring slot per descriptor, one for a table. */
    if (q->packed)
        q->chain_len[got] = (uint16_t)(indirect ? 1 : n_out + n_in);
    *id = got;
    return 0;
}

VDEV_API int vdev_vuc_kick(struct vdev_vuc *c, uint16_t index)
{
    struct vuc_queue *q = vuc_queue(c, index);

    return q ? vdev_vqd_kick(q->vqd) : -EINVAL;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    int64_t left;

    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

VDEV_API int vdev_vuc_wait(struct vdev_vuc *c, uint16_t index, int timeout_ms)
{
    struct vuc_queue *q = vuc_queue(c, index);
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

    if (!q)
        return -EINVAL;
    /* Ask for a call first, then look: a buffer used in between is not missed. */
    if (vdev_vqd_set_interrupts(q->vqd, true))
        return 1;
    for (;;) {
        struct pollfd p[2] = {
            { .fd = q->call_fd, .events = POLLIN },
            { .fd = c->backend_fd, .events = POLLIN },
        };
        nfds_t n = c->backend_fd >= 0 ? 2 : 1;
        int r = poll(p, n, left_ms(deadline));
        uint64_t v;

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return 0;
        if (p[0].revents) {
            if (read(q->call_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                return -errno;
            return 1;
        }
        if (n == 2 && p[1].revents)
            vuc_backend_serve(c, c->timeout_ms);   /* in-band calls land on call_fd */
    }
}

VDEV_API int vdev_vuc_reap(struct vdev_vuc *c, uint16_t index, uint16_t *id,
                           uint32_t *len)
{
    struct vuc_queue *q = vuc_queue(c, index);
    int ret;

    if (!q || !id || !len)
        return -EINVAL;
    ret = vdev_vqd_get_used(q->vqd, id, len);
    if (ret == 1 && q->packed) {
        /* The device writes its next used descriptor as many slots on as the
         * buffer took (virtio 1.2, "Packed Virtqueues"). */
        q->used_pos = (uint16_t)(q->used_pos + q->chain_len[*id]);
        q->chain_len[*id] = 0;              /* no longer outstanding */
        if (q->used_pos >= q->size) {
            q->used_pos = (uint16_t)(q->used_pos - q->size);
            q->used_wrap = !q->used_wrap;
        }
    }
    return ret;
}
