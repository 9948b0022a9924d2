/* split.c — the split ring, device side (virtio 1.2, 2.7): chains are taken
 * from the available ring and returned in the used ring.
 *
 * Each descriptor is copied out of the table once and checked in the copy; the
 * walk counts descriptors, so a loop ends at the queue size (2.7.5.3.1: no chain
 * is longer than the queue size) and an indirect loop at its table's size. */
#include <errno.h>
#include <stddef.h>

#include "vq_internal.h"

int vq_split_start(struct vdev_vq *vq, const struct vdev_vq_config *c)
{
    struct vq_split *s = &vq->s;

    s->desc = vq_map_area(vq, c->desc_gpa, vdev_vq_desc_bytes(c->size, false),
                          VDEV_MEM_READ);
    s->avail = vq_map_area(vq, c->driver_gpa, vdev_vq_driver_bytes(c->size, false),
                           VDEV_MEM_READ);
    s->used = vq_map_area(vq, c->device_gpa, vdev_vq_device_bytes(c->size, false),
                          VDEV_MEM_WRITE);
    if (!s->desc || !s->avail || !s->used)
        return -EFAULT;

    s->last_avail = (uint16_t)c->base;
    s->shadow_avail = s->last_avail;
    s->used_idx = vq_load16(&s->used->idx);
    s->published = s->used_idx;
    s->signalled = s->used_idx;
    vq_split_write_kick_state(vq);
    return 0;
}

int vq_split_avail(struct vdev_vq *vq)
{
    struct vq_split *s = &vq->s;
    uint16_t idx = vq_load16_acquire(&s->avail->idx);   /* then the ring entries */

    if ((uint16_t)(idx - s->last_avail) > vq->size)
        return vq_break(vq, -ERANGE, "available index ran more than the ring ahead");
    s->shadow_avail = idx;
    return idx != s->last_avail;
}

/* An indirect table (2.7.5.3): its own chain, linked by next inside the table. */
static int walk_indirect(struct vdev_vq *vq, struct vq_walk *w,
                         const struct vring_desc *d, uint16_t flags)
{
    struct vq_table t;
    uint32_t i = 0;
    int ret;

    if (!vq->indirect) {
        w->why = "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
        return -EINVAL;
    }
    if (flags & VRING_DESC_F_NEXT) {
        w->why = "indirect descriptor with NEXT";
        return -EINVAL;
    }
    ret = vq_table_open(vq, le64toh(d->addr), le32toh(d->len), &t);
    if (ret < 0) {
        w->why = "indirect table length 0, not a multiple of 16, or past the ring size";
        return ret;
    }
    for (uint32_t count = 1;; count++) {
        struct vring_desc e;
        uint16_t f;

        if (count > t.n) {
            w->why = "indirect chain longer than its table";
            return -ELOOP;
        }
        ret = vq_table_read(vq, &t, i, &e);
        if (ret < 0) {
            w->why = "indirect table outside memory";
            return ret;
        }
        f = le16toh(e.flags);
        if (f & VRING_DESC_F_INDIRECT) {
            w->why = "indirect table inside an indirect table";
            return -EINVAL;
        }
        ret = vq_walk_add(vq, w, le64toh(e.addr), le32toh(e.len), f & VRING_DESC_F_WRITE);
        if (ret < 0)
            return ret;
        if (!(f & VRING_DESC_F_NEXT))
            return 0;
        i = le16toh(e.next);
        if (i >= t.n) {
            w->why = "indirect next past the table";
            return -ERANGE;
        }
    }
}

/* A chain in the descriptor table, which may end in one indirect descriptor
 * (2.7.5.3.2: zero or more direct descriptors, then an indirect one). Inlined in
 * pop, the hot path; vq_split_walk() is the copy the inflight path calls. */
static inline __attribute__((always_inline))
int walk_chain(struct vdev_vq *vq, struct vq_walk *w, uint16_t head, uint16_t *ndesc)
{
    uint16_t i = head;
    int ret;

    for (uint32_t count = 1;; count++) {
        struct vring_desc d;
        uint16_t flags;

        if (count > vq->size) {
            w->why = "chain longer than the ring";
            return -ELOOP;
        }
        vq_copy(&d, &vq->s.desc[i], sizeof(d));
        *ndesc = (uint16_t)count;
        flags = le16toh(d.flags);
        if (flags & VRING_DESC_F_INDIRECT)
            return walk_indirect(vq, w, &d, flags);
        ret = vq_walk_add(vq, w, le64toh(d.addr), le32toh(d.len),
                          flags & VRING_DESC_F_WRITE);
        if (ret < 0)
            return ret;
        if (!(flags & VRING_DESC_F_NEXT))
            return 0;
        i = le16toh(d.next);
        if (i >= vq->size) {
            w->why = "next past the ring";
            return -ERANGE;
        }
    }
}

/* The ring is empty. With the event index and kicks wanted, ask for a kick at
 * the next entry, then look once more: the driver may have added one before it
 * saw the request (2.7.10). */
static int split_empty(struct vdev_vq *vq)
{
    if (!vq->event_idx || !vq->kicks_on)
        return 0;
    vq_split_write_kick_state(vq);
    vq_mb();
    return vq_split_avail(vq);
}

int vq_split_pop(struct vdev_vq *vq, struct vdev_vq_req *r)
{
    struct vq_split *s = &vq->s;
    struct vq_walk w;
    uint16_t head, ndesc = 0;
    int ret;

    if (s->last_avail == s->shadow_avail) {
        ret = vq_split_avail(vq);
        if (ret == 0)
            ret = split_empty(vq);
        if (ret <= 0)
            return ret;
    }
    if (vq->inflight >= vq->size)
        return vq_break(vq, -ERANGE, "more requests outstanding than the ring holds");

    head = vq_load16(&s->avail->ring[s->last_avail & (vq->size - 1)]);
    if (head >= vq->size)
        return vq_break(vq, -ERANGE, "head past the ring");

    vq_walk_init(&w, r);
    ret = walk_chain(vq, &w, head, &ndesc);
    if (ret == -ENOBUFS)
        return ret;                /* the caller's limit, not the guest's fault */
    if (ret < 0)
        return vq_break(vq, ret, w.why);

    r->id = head;
    r->ndesc = ndesc;
    s->last_avail++;
    vq->inflight++;
    return 1;
}

void vq_split_push(struct vdev_vq *vq, const struct vdev_vq_req *r, uint32_t written)
{
    struct vq_split *s = &vq->s;
    uint16_t slot = s->used_idx & (vq->size - 1);
    vring_used_elem_t *e = &s->used->ring[slot];

    vq_store32(&e->id, r->id);
    vq_store32(&e->len, written);
    s->used_idx++;
    if (vq_logging(vq)) {
        vq_log_written(vq, r, written);
        vq_log_device_area(vq, offsetof(struct vring_used, ring) +
                               (uint64_t)slot * sizeof(*e), sizeof(*e));
    }
}

void vq_split_flush(struct vdev_vq *vq)
{
    struct vq_split *s = &vq->s;

    if (s->published == s->used_idx)
        return;
    vq_store16_release(&s->used->idx, s->used_idx);   /* after the elements */
    s->published = s->used_idx;
    if (vq_logging(vq))
        vq_log_device_area(vq, offsetof(struct vring_used, idx), sizeof(uint16_t));
}

/* Last in the file: the functions above keep their places (pop's branches sit
 * where they sat, which this CPU family's branch alignment is sensitive to). */
int vq_split_walk(struct vdev_vq *vq, struct vq_walk *w, uint16_t head, uint16_t *ndesc)
{
    return walk_chain(vq, w, head, ndesc);
}
