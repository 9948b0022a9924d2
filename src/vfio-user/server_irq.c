/* server_irq.c — DEVICE_SET_IRQS ("VFIO_USER_DEVICE_SET_IRQS") and the device's
 * way to raise an interrupt.
 *
 * Per irq index and vector the server keeps three eventfds (trigger, and the
 * mask and unmask notifications) and a mask bit. The message's DATA flag says
 * what follows: nothing (act on the whole range), a bool per vector (act where
 * true), or eventfds in the ancillary data (assign them; none de-assigns the
 * range). count 0 with DATA_NONE disables the index: its eventfds of that
 * action are closed. A masked vector that fires is remembered and signalled
 * when it is unmasked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "vdev/log.h"
#include "server_internal.h"

static void close_span(int *fds, uint32_t start, uint32_t count)
{
    for (uint32_t i = start; i < start + count; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

static void index_free(struct vfu_irq_index *x)
{
    if (x->trigger) {
        close_span(x->trigger, 0, x->count);
        close_span(x->mask_ev, 0, x->count);
        close_span(x->unmask_ev, 0, x->count);
    }
    free(x->trigger);
    free(x->mask_ev);
    free(x->unmask_ev);
    free(x->masked);
    free(x->pending);
    memset(x, 0, sizeof(*x));
}

void vfu_irqs_release(struct vdev_vfu_server *s)
{
    for (uint32_t i = 0; i < s->nirqs; i++) {
        struct vfu_irq_index *x = &s->irqs[i];

        if (!x->trigger)
            continue;
        close_span(x->trigger, 0, x->count);
        close_span(x->mask_ev, 0, x->count);
        close_span(x->unmask_ev, 0, x->count);
    }
}

void vfu_irqs_free(struct vdev_vfu_server *s)
{
    for (uint32_t i = 0; i < s->nirqs; i++)
        index_free(&s->irqs[i]);
    free(s->irqs);
    s->irqs = NULL;
    s->nirqs = 0;
}

static int *fds_new(uint32_t n)
{
    int *fds = malloc(n * sizeof(int));

    for (uint32_t i = 0; fds && i < n; i++)
        fds[i] = -1;
    return fds;
}

/* The state of index, sized to count vectors (allocated on first use). */
static int index_get(struct vdev_vfu_server *s, uint32_t index, uint32_t nirqs,
                     uint32_t count, struct vfu_irq_index **out)
{
    struct vfu_irq_index *x;

    if (nirqs > s->nirqs) {
        struct vfu_irq_index *n = realloc(s->irqs, nirqs * sizeof(*n));

        if (!n)
            return -ENOMEM;
        memset(n + s->nirqs, 0, (nirqs - s->nirqs) * sizeof(*n));
        s->irqs = n;
        s->nirqs = nirqs;
    }
    x = &s->irqs[index];
    if (x->trigger && x->count != count)
        index_free(x);           /* the device changed its mind */
    if (!x->trigger && count) {
        x->count = count;
        x->trigger = fds_new(count);
        x->mask_ev = fds_new(count);
        x->unmask_ev = fds_new(count);
        x->masked = calloc(count, sizeof(bool));
        x->pending = calloc(count, sizeof(bool));
        if (!x->trigger || !x->mask_ev || !x->unmask_ev || !x->masked || !x->pending) {
            index_free(x);
            return -ENOMEM;
        }
    }
    *out = x;
    return 0;
}

static int signal_fd(int fd)
{
    return eventfd_write(fd, 1) < 0 ? -errno : 0;
}

/* Fires vector v: now, or when it is unmasked. */
static int fire(struct vfu_irq_index *x, uint32_t v)
{
    if (x->masked[v]) {
        x->pending[v] = true;
        return -EAGAIN;
    }
    if (x->trigger[v] < 0)
        return -ENOENT;
    return signal_fd(x->trigger[v]);
}

static void set_mask(struct vfu_irq_index *x, uint32_t v, bool masked)
{
    x->masked[v] = masked;
    if (!masked && x->pending[v]) {
        x->pending[v] = false;
        fire(x, v);
    }
}

/* DATA_NONE or DATA_BOOL: the action on every vector chosen. */
static void act(struct vfu_irq_index *x, uint32_t action, uint32_t start,
                uint32_t count, const uint8_t *bools)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = start + i;

        if (bools && !bools[i])
            continue;
        if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
            fire(x, v);
        else
            set_mask(x, v, action == VFIO_IRQ_SET_ACTION_MASK);
    }
}

static int *fds_of(struct vfu_irq_index *x, uint32_t action)
{
    if (action == VFIO_IRQ_SET_ACTION_TRIGGER)
        return x->trigger;
    return action == VFIO_IRQ_SET_ACTION_MASK ? x->mask_ev : x->unmask_ev;
}

/* Exactly one bit of mask set. */
static bool one_bit(uint32_t v)
{
    return v && !(v & (v - 1));
}

static int check_set(struct vdev_vfu_server *s, const struct vfu_msg *m,
                     const struct vfio_irq_set *set, uint32_t count_max,
                     uint32_t info_flags)
{
    uint32_t data = set->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    uint32_t action = set->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    uint32_t data_len = data == VFIO_IRQ_SET_DATA_BOOL ? set->count : 0;

    if (set->argsz != m->size)
        return vfu_bad(s, -EINVAL, "SET_IRQS argsz %u in a payload of %u", set->argsz,
                       m->size);
    if (set->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK) ||
        !one_bit(data) || !one_bit(action))
        return vfu_bad(s, -EINVAL, "SET_IRQS flags %#x", set->flags);
    if ((uint64_t)set->start + set->count > count_max)
        return vfu_bad(s, -EINVAL, "SET_IRQS %u+%u: index %u has %u vectors",
                       set->start, set->count, set->index, count_max);
    if (set->count == 0 && (data != VFIO_IRQ_SET_DATA_NONE || set->start))
        return vfu_bad(s, -EINVAL, "SET_IRQS of 0 vectors must be DATA_NONE at 0");
    if (m->size - sizeof(*set) != data_len)
        return vfu_bad(s, -EINVAL, "SET_IRQS with %zu bytes of data, not %u",
                       m->size - sizeof(*set), data_len);
    if (data != VFIO_IRQ_SET_DATA_EVENTFD && m->nfds)
        return vfu_bad(s, -EINVAL, "SET_IRQS: fds without DATA_EVENTFD");
    if (data == VFIO_IRQ_SET_DATA_EVENTFD && m->nfds && m->nfds != set->count)
        return vfu_bad(s, -EINVAL, "SET_IRQS of %u vectors with %zu fds", set->count,
                       m->nfds);
    if (action != VFIO_IRQ_SET_ACTION_TRIGGER && !(info_flags & VFIO_IRQ_INFO_MASKABLE))
        return vfu_bad(s, -EINVAL, "SET_IRQS: index %u is not maskable", set->index);
    if (data == VFIO_IRQ_SET_DATA_EVENTFD && action == VFIO_IRQ_SET_ACTION_TRIGGER &&
        !(info_flags & VFIO_IRQ_INFO_EVENTFD))
        return vfu_bad(s, -EINVAL, "SET_IRQS: index %u takes no eventfd", set->index);
    return 0;
}

VFU_HANDLER(vfu_h_set_irqs)
{
    struct vfio_irq_set set;
    struct vdev_vfu_device_info info = { 0 };
    struct vfu_irq_index *x;
    uint32_t count_max = 0, info_flags = 0, action;
    int *fds, ret;

    memcpy(&set, m->p, sizeof(set));
    ret = s->ops->get_info(s->opaque, &info);
    if (ret < 0)
        return ret;
    if (set.index >= info.num_irqs)
        return vfu_bad(s, -EINVAL, "SET_IRQS irq index %u of %u", set.index,
                       info.num_irqs);
    ret = s->ops->irq_info(s->opaque, set.index, &count_max, &info_flags);
    if (ret < 0)
        return ret;
    if (count_max > VFU_MAX_IRQ_VECTORS)
        count_max = VFU_MAX_IRQ_VECTORS;
    ret = check_set(s, m, &set, count_max, info_flags);
    if (ret < 0)
        return ret;
    ret = index_get(s, set.index, info.num_irqs, count_max, &x);
    if (ret < 0)
        return ret;
    if (!x->trigger)
        return 0;                /* an index without vectors: nothing to do */

    action = set.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    fds = fds_of(x, action);
    if (set.count == 0) {
        close_span(fds, 0, x->count);
    } else if (set.flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        close_span(fds, set.start, set.count);
        for (uint32_t i = 0; i < m->nfds; i++) {
            fds[set.start + i] = m->fds[i];
            m->fds[i] = -1;      /* kept */
        }
    } else {
        act(x, action, set.start, set.count,
            (set.flags & VFIO_IRQ_SET_DATA_BOOL) ? m->p + sizeof(set) : NULL);
    }
    if (s->ops->set_irqs)
        s->ops->set_irqs(s->opaque, set.index, set.start, set.count, set.flags);
    return 0;
}

VDEV_API int vdev_vfu_server_irq_fd(struct vdev_vfu_server *s, uint32_t index,
                                    uint32_t vector)
{
    struct vfu_irq_index *x;

    if (!s || s->c.fd < 0)
        return -ENOTCONN;
    if (index >= s->nirqs || !s->irqs[index].trigger)
        return -ENOENT;
    x = &s->irqs[index];
    if (vector >= x->count)
        return -ERANGE;
    return x->trigger[vector] >= 0 ? x->trigger[vector] : -ENOENT;
}

VDEV_API int vdev_vfu_server_irq_trigger(struct vdev_vfu_server *s, uint32_t index,
                                         uint32_t vector)
{
    struct vfu_irq_index *x;

    if (!s || s->c.fd < 0)
        return -ENOTCONN;
    if (index >= s->nirqs || !s->irqs[index].trigger)
        return -ENOENT;
    x = &s->irqs[index];
    if (vector >= x->count)
        return -ERANGE;
    return fire(x, vector);
}
