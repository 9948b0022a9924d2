/* backend_events.c — what a ring's worker reports to the control loop: a ring
 * the driver broke. The worker sets the ring's flag and writes an eventfd; the
 * control loop takes the flags and tells the front-end at once, without
 * waiting for the ring to be stopped: DEVICE_NEEDS_RESET for GET_STATUS, and
 * the ring's error eventfd (SET_VRING_ERR), or BACKEND_VRING_ERR on the
 * back-end channel when the front-end gave no eventfd and negotiated in-band
 * notifications ("Back-end message types"). */
#include <errno.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "vdev/log.h"
#include "vdev/loop.h"
#include "vdev/virtq.h"
#include "backend_internal.h"

void vu_ring_report_broken(struct vdev_vu_backend *b, struct vu_ring *r)
{
    struct vhost_vring_state s = { .index = r->index, .num = 0 };
    uint64_t one = 1;

    if (r->err_reported)
        return;
    r->err_reported = true;
    b->c.needs_reset = true;
    vu_bad(b, 0, "ring %u was broken by the driver: %s", r->index,
           vdev_strerror(vdev_vq_error(r->vq)));
    if (r->err_fd >= 0) {
        if (write(r->err_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            vdev_warn("vhost-user %s: ring %u: error eventfd: %s", b->c.peer,
                      r->index, vdev_strerror(-errno));
        return;
    }
    if (vu_has_pf(b, VU_PF_INBAND_NOTIFICATIONS) && b->c.backend_fd >= 0)
        vu_backend_send(b, VU_BACKEND_VRING_ERR, &s, sizeof(s));
}

void vu_ring_broken(void *opaque, int err)
{
    struct vu_ring *r = opaque;
    uint64_t one = 1;

    __atomic_store_n(&r->broken_pending, true, __ATOMIC_RELEASE);
    if (write(r->owner->c.event_fd, &one, sizeof(one)) < 0)
        return;                       /* a full eventfd is signalled already */
}

static void on_event(void *opaque, uint32_t events)
{
    struct vdev_vu_backend *b = opaque;
    uint64_t n;

    if (read(b->c.event_fd, &n, sizeof(n)) < 0)
        return;                       /* spurious: nothing to take */
    for (unsigned i = 0; i < b->nrings; i++) {
        struct vu_ring *r = &b->rings[i];

        if (__atomic_exchange_n(&r->broken_pending, false, __ATOMIC_ACQUIRE) &&
            vu_ring_running(r) && vdev_vq_broken(r->vq))
            vu_ring_report_broken(b, r);
    }
}

int vu_events_prepare(struct vdev_vu_backend *b)
{
    int fd, ret;

    if (b->c.event_watch)
        return 0;
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    ret = vdev_loop_add_fd(b->loop, fd, EPOLLIN, on_event, b, &b->c.event_watch);
    if (ret < 0) {
        close(fd);
        b->c.event_watch = NULL;
        return ret;
    }
    b->c.event_fd = fd;
    return 0;
}

/* After every ring stopped: no worker writes the eventfd any more. */
void vu_events_release(struct vdev_vu_backend *b)
{
    if (b->c.event_watch) {
        vdev_loop_remove(b->c.event_watch);
        close(b->c.event_fd);
    }
    b->c.event_watch = NULL;
    for (unsigned i = 0; i < b->nrings; i++)
        __atomic_store_n(&b->rings[i].broken_pending, false, __ATOMIC_RELAXED);
}
