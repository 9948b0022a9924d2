/* backend_vring.c — the per-ring requests: SET_VRING_NUM, _ADDR, _BASE, _KICK,
 * _CALL, _ERR, _ENABLE, GET_VRING_BASE and the in-band VRING_KICK.
 *
 * A ring index is compared as the 32-bit value on the wire (or the 8 bits
 * KICK/CALL/ERR carry, with every other bit of their u64 checked to be 0), never
 * after a cast that could make a bad index a good one. */
#include <errno.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "vdev/log.h"
#include "backend_internal.h"

static struct vu_ring *ring_of_state(struct vdev_vu_backend *b,
                                     const struct vhost_vring_state *s)
{
    struct vu_ring *r = vu_ring_of(b, s->index);

    if (!r)
        vu_bad(b, -ERANGE, "ring index %u; the device has %u rings", s->index,
               b->nrings);
    return r;
}

/* SET_VRING_NUM: the ring stopped; 1..the device's largest ring, a power of two
 * for a split ring (virtio 1.2, 2.7: Queue Size). */
int vu_h_set_vring_num(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vhost_vring_state *s = &m->p.state;
    struct vu_ring *r = ring_of_state(b, s);

    if (!r)
        return -ERANGE;
    if (s->num == 0 || s->num > b->max_qsize)
        return vu_bad(b, -EINVAL, "ring %u: size %u, not 1..%u", s->index, s->num,
                      b->max_qsize);
    if (!vu_packed(b) && (s->num & (s->num - 1)) != 0)
        return vu_bad(b, -EINVAL, "ring %u: split ring size %u is not a power of two",
                      s->index, s->num);
    if (r->started)
        return vu_bad(b, -EBUSY, "ring %u: SET_VRING_NUM while started", s->index);
    r->num = s->num;
    return 0;
}

/* SET_VRING_ADDR: user addresses ("Memory access"), each area inside guest
 * memory; the only flag is VHOST_VRING_F_LOG. A running ring takes new addresses
 * (the front-end turns used-ring logging on and off this way). */
int vu_h_set_vring_addr(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vhost_vring_addr *a = &m->p.addr;
    struct vu_ring *r = vu_ring_of(b, a->index);
    uint64_t end, used_bytes = vdev_vq_device_bytes(b->max_qsize, false);
    int ret;

    if (!r)
        return vu_bad(b, -ERANGE, "ring index %u; the device has %u rings", a->index,
                      b->nrings);
    if (a->flags & ~(1u << VHOST_VRING_F_LOG))
        return vu_bad(b, -EINVAL, "ring %u: unknown address flags %#x", a->index,
                      a->flags);
    if ((a->flags & (1u << VHOST_VRING_F_LOG)) &&
        __builtin_add_overflow(a->log_guest_addr, used_bytes, &end))
        return vu_bad(b, -EOVERFLOW, "ring %u: log address %#llx wraps", a->index,
                      (unsigned long long)a->log_guest_addr);
    ret = vu_ring_check_addr(b, a, r->num);
    if (ret < 0)
        return ret;

    vu_ring_halt(b, r);
    r->addr = *a;
    r->addr_set = true;
    return vu_ring_sync(b, r);
}

/* SET_VRING_BASE: split, the next available index in bits 0-15, bits 16-31
 * reserved; packed, both positions ("Vring descriptor indices"). */
int vu_h_set_vring_base(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vhost_vring_state *s = &m->p.state;
    struct vu_ring *r = ring_of_state(b, s);

    if (!r)
        return -ERANGE;
    if (r->started)
        return vu_bad(b, -EBUSY, "ring %u: SET_VRING_BASE while started", s->index);
    if (!vu_packed(b) && s->num > UINT16_MAX)
        return vu_bad(b, -EINVAL, "ring %u: base %#x sets reserved bits 16-31",
                      s->index, s->num);
    r->base = s->num;
    r->base_set = true;
    return 0;
}

/* GET_VRING_BASE stops the ring and returns where it stopped. */
int vu_h_get_vring_base(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vhost_vring_state *s = &m->p.state;
    struct vu_ring *r = ring_of_state(b, s);

    if (!r)
        return -ERANGE;
    vu_ring_stop(b, r);
    m->r.state.index = s->index;
    m->r.state.num = r->base;
    m->reply_size = sizeof(m->r.state);
    return 0;
}

/* KICK/CALL/ERR: bits 0-7 the ring, bit 8 "no fd"; an fd exactly when bit 8 is
 * clear. Takes the fd (or -1). */
static int ring_fd_msg(struct vdev_vu_backend *b, struct vu_msg *m, const char *what,
                       struct vu_ring **r, int *fd)
{
    uint64_t v = m->p.u64;
    bool nofd = v & VU_VRING_NOFD;

    if (v & ~(uint64_t)(VU_VRING_INDEX_MASK | VU_VRING_NOFD))
        return vu_bad(b, -EINVAL, "%s %#llx: bits past 8 set", what,
                      (unsigned long long)v);
    *r = vu_ring_of(b, (uint32_t)(v & VU_VRING_INDEX_MASK));
    if (!*r)
        return vu_bad(b, -ERANGE, "%s: ring index %llu; the device has %u rings", what,
                      (unsigned long long)(v & VU_VRING_INDEX_MASK), b->nrings);
    if (nofd && m->nfds != 0)
        return vu_bad(b, -EBADMSG, "%s: no-fd flag with %zu fds", what, m->nfds);
    if (!nofd && m->nfds != 1)
        return vu_bad(b, -EBADMSG, "%s takes one fd, %zu came", what, m->nfds);
    *fd = nofd ? -1 : vu_take_fd(m, 0);
    return 0;
}

int vu_h_set_vring_kick(struct vdev_vu_backend *b, struct vu_msg *m)
{
    struct vu_ring *r;
    int fd, ret = ring_fd_msg(b, m, "SET_VRING_KICK", &r, &fd);

    if (ret < 0)
        return ret;
    vu_ring_halt(b, r);                /* its worker watches the old fd */
    vu_close(&r->kick_fd);
    r->kick_fd = fd;
    r->kick_poll = fd < 0;
    if (r->started)
        return vu_ring_sync(b, r);
    if (r->kick_poll)
        return vu_ring_start(b, r);    /* no kick will come */
    return vu_ring_watch_kick(b, r);
}

/* In-band VRING_CALL: the queue signals an eventfd of ours, forwarded here. */
static void on_inband_call(void *opaque, uint32_t events)
{
    struct vu_ring *r = opaque;
    uint64_t n;

    if (read(r->inband_fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
        return;                        /* nothing there (EAGAIN) */
    /* "Suspended device state": nothing is sent for a ring that is not running. */
    if (vu_ring_running(r))
        vu_inband_call(r->owner, r->index);
}

static void inband_off(struct vu_ring *r)
{
    if (r->inband_watch)
        vdev_loop_remove(r->inband_watch);
    r->inband_watch = NULL;
    vu_close(&r->inband_fd);
}

static int inband_on(struct vdev_vu_backend *b, struct vu_ring *r)
{
    int ret;

    if (r->inband_fd >= 0)
        return 0;
    r->inband_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->inband_fd < 0)
        return -errno;
    ret = vdev_loop_add_fd(b->loop, r->inband_fd, EPOLLIN, on_inband_call, r,
                           &r->inband_watch);
    if (ret < 0)
        vu_close(&r->inband_fd);
    return ret;
}

int vu_h_set_vring_call(struct vdev_vu_backend *b, struct vu_msg *m)
{
    struct vu_ring *r;
    int fd, ret = ring_fd_msg(b, m, "SET_VRING_CALL", &r, &fd);

    if (ret < 0)
        return ret;
    vu_ring_halt(b, r);                /* its vq signals the old fd */
    vu_close(&r->call_fd);
    r->call_fd = fd;
    if (fd < 0 && vu_has_pf(b, VU_PF_INBAND_NOTIFICATIONS)) {
        ret = inband_on(b, r);
        if (ret < 0)
            vu_bad(b, ret, "ring %u: no eventfd for in-band calls", r->index);
    } else {
        inband_off(r);
    }
    return vu_ring_sync(b, r);
}

/* The error fd is written by the control thread only (a ring that cannot run). */
int vu_h_set_vring_err(struct vdev_vu_backend *b, struct vu_msg *m)
{
    struct vu_ring *r;
    int fd, ret = ring_fd_msg(b, m, "SET_VRING_ERR", &r, &fd);

    if (ret < 0)
        return ret;
    vu_close(&r->err_fd);
    r->err_fd = fd;
    return 0;
}

int vu_h_set_vring_enable(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vhost_vring_state *s = &m->p.state;
    struct vu_ring *r = ring_of_state(b, s);

    if (!r)
        return -ERANGE;
    if (s->num > 1)
        return vu_bad(b, -EINVAL, "ring %u: SET_VRING_ENABLE %u, not 0 or 1", s->index,
                      s->num);
    r->enabled = s->num == 1;
    return vu_ring_sync(b, r);
}

/* VRING_KICK starts the ring if it is stopped, then kicks it ("Ring states"). */
int vu_h_vring_kick(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vhost_vring_state *s = &m->p.state;
    struct vu_ring *r = ring_of_state(b, s);
    int ret;

    if (!r)
        return -ERANGE;
    ret = vu_ring_start(b, r);
    if (ret < 0)
        return ret;
    if (!vu_ring_running(r))
        return 0;                      /* disabled: not processed */
    return vdev_workers_kick(b->workers, r->wq);
}
