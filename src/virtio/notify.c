/* notify.c — notifications both ways (virtio 1.2, 2.7.7, 2.7.10, 2.8.10, 2.8.21):
 * whether the driver wants a used buffer notification for what was pushed, and
 * whether the device wants kicks.
 *
 * Each decision stores our side, issues a full barrier, then reads the guest's
 * side: with the driver doing the mirror image, one of the two always sees the
 * other's store, so no notification is lost. */
#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#include "vq_internal.h"

/* --- kicks: the device's side -------------------------------------------- */

void vq_split_write_kick_state(struct vdev_vq *vq)
{
    struct vq_split *s = &vq->s;

    if (vq->event_idx) {
        /* avail_event sits after the used ring. Disabling leaves it behind: the
         * driver kicks again only when it passes it (2.7.10). */
        if (!vq->kicks_on)
            return;
        vq_store16(vq_avail_event(s->used, vq->size), s->shadow_avail);
        if (vq_logging(vq))
            vq_log_device_area(vq, offsetof(struct vring_used, ring) +
                                   (uint64_t)vq->size * sizeof(struct vring_used_elem),
                               sizeof(uint16_t));
        return;
    }
    vq_store16(&s->used->flags, vq->kicks_on ? 0 : VRING_USED_F_NO_NOTIFY);
    if (vq_logging(vq))
        vq_log_device_area(vq, offsetof(struct vring_used, flags), sizeof(uint16_t));
}

/* Packed kicks are asked for with ENABLE and DISABLE only: DESC would have to be
 * moved on at every pop to keep kicks coming (2.8.10 allows either). */
void vq_packed_write_kick_state(struct vdev_vq *vq)
{
    struct vq_packed *p = &vq->p;

    vq_store16(&p->device->flags, vq->kicks_on ? VRING_PACKED_EVENT_FLAG_ENABLE
                                               : VRING_PACKED_EVENT_FLAG_DISABLE);
    if (vq_logging(vq))
        vq_log_device_area(vq, offsetof(struct vring_packed_desc_event, flags),
                           sizeof(uint16_t));
}

VDEV_API bool vdev_vq_set_notification(struct vdev_vq *vq, bool enable)
{
    if (!vq->started || vq->error)
        return false;
    vq->kicks_on = enable;
    if (vq->packed)
        vq_packed_write_kick_state(vq);
    else
        vq_split_write_kick_state(vq);
    if (!enable)
        return false;
    vq_mb();
    if (vq->packed)
        return vq_packed_avail(vq);
    return vq_split_avail(vq) != 0;     /* a broken ring too: pop reports it */
}

/* --- used buffer notifications: the driver's side ------------------------- */

static bool split_should_notify(struct vdev_vq *vq)
{
    struct vq_split *s = &vq->s;
    uint16_t old = s->signalled;
    uint16_t new = s->used_idx;

    vdev_vq_flush(vq);
    s->signalled = new;
    vq_mb();
    if (vq->event_idx)
        return vring_need_event(vq_load16(vq_used_event(s->avail, vq->size)), new, old);
    return new != old && !(vq_load16(&s->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

static bool packed_should_notify(struct vdev_vq *vq)
{
    struct vq_packed *p = &vq->p;
    uint32_t n = p->since_signal;
    uint16_t off_wrap, flags;

    vdev_vq_flush(vq);
    if (n == 0)
        return false;
    p->since_signal = 0;
    vq_mb();
    /* The driver writes off_wrap before flags: read them the other way round. */
    flags = vq_load16_acquire(&p->driver->flags) & 0x3;
    off_wrap = vq_load16(&p->driver->off_wrap);
    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
        return false;
    if (flags == VRING_PACKED_EVENT_FLAG_DESC && vq->event_idx)
        return vq_packed_event_passed(p->used_pos, p->used_wrap, vq->size, off_wrap, n);
    return true;                   /* ENABLE, or a value we may not act on */
}

VDEV_API bool vdev_vq_should_notify(struct vdev_vq *vq)
{
    if (!vq->started || vq->error)
        return false;
    return vq->packed ? packed_should_notify(vq) : split_should_notify(vq);
}

VDEV_API int vdev_vq_notify(struct vdev_vq *vq)
{
    uint64_t one = 1;
    ssize_t n;

    if (!vdev_vq_should_notify(vq))
        return 0;
    if (vq->notify) {
        vq->notify(vq->notify_opaque);
        return 1;
    }
    if (vq->call_fd < 0)
        return 1;
    do {
        n = write(vq->call_fd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN)  /* EAGAIN: the counter is full, already pending */
        return -errno;
    return 1;
}
