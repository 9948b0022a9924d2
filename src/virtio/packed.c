/* packed.c — the packed ring, device side (virtio 1.2, 2.8): descriptors are
 * taken in ring order while their AVAIL/USED bits say available for the
 * current wrap counter, and one used descriptor per buffer is written back in
 * completion order, skipping as many slots as the buffer took.
 *
 * The head's flags are read once, with acquire ordering, and decide; every other
 * field is read once into a copy. A chain that runs into a descriptor that is not
 * available, is longer than the ring, or would hold more slots than the ring has
 * marks the ring broken. */
#include <errno.h>
#include <stddef.h>

#include "vq_internal.h"

#define DESC_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define DESC_F_USED  (1u << VRING_PACKED_DESC_F_USED)

static bool desc_is_avail(uint16_t flags, bool wrap)
{
    return !!(flags & DESC_F_AVAIL) == wrap && !!(flags & DESC_F_USED) != wrap;
}

int vq_packed_start(struct vdev_vq *vq, const struct vdev_vq_config *c)
{
    struct vq_packed *p = &vq->p;

    p->desc = vq_map_area(vq, c->desc_gpa, vdev_vq_desc_bytes(c->size, true),
                          VDEV_MEM_RW);
    p->driver = vq_map_area(vq, c->driver_gpa, vdev_vq_driver_bytes(c->size, true),
                            VDEV_MEM_READ);
    p->device = vq_map_area(vq, c->device_gpa, vdev_vq_device_bytes(c->size, true),
                            VDEV_MEM_WRITE);
    if (!p->desc || !p->driver || !p->device)
        return -EFAULT;

    /* The base: checked by vdev_vq_start(). Between the used side and the
     * available side are the slots of requests the last backend took and did
     * not return: they count as outstanding. */
    p->avail_pos = c->base & 0x7fff;
    p->avail_wrap = (c->base >> 15) & 1;
    p->used_pos = (c->base >> 16) & 0x7fff;
    p->used_wrap = c->base >> 31;
    p->pending = false;
    p->since_signal = 0;
    p->inflight_desc = vq_packed_distance(p->used_pos, p->used_wrap, p->avail_pos,
                                          p->avail_wrap, vq->size);
    vq_packed_write_kick_state(vq);
    return 0;
}

bool vq_packed_avail(struct vdev_vq *vq)
{
    struct vq_packed *p = &vq->p;

    return desc_is_avail(vq_load16_acquire(&p->desc[p->avail_pos].flags), p->avail_wrap);
}

/* An indirect table (2.8.19): len / 16 descriptors in a row. WRITE is the only
 * flag that counts; NEXT is ignored, INDIRECT is refused (one table only). */
static int walk_indirect(struct vdev_vq *vq, struct vq_walk *w,
                         const struct vring_packed_desc *d, uint16_t flags)
{
    struct vq_table t;
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
    for (uint32_t i = 0; i < t.n; i++) {
        struct vring_packed_desc e;
        uint16_t f;

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
    }
    return 0;
}

/* The buffer at avail_pos, whose head flags were read as head_flags. Sets the
 * buffer id (from the last descriptor, 2.8.6) and the slots it takes. */
static int walk_chain(struct vdev_vq *vq, struct vq_walk *w, uint16_t head_flags,
                      uint16_t *id, uint16_t *ndesc)
{
    struct vq_packed *p = &vq->p;
    uint16_t pos = p->avail_pos;
    bool wrap = p->avail_wrap;
    int ret;

    for (uint32_t count = 1;; count++) {
        struct vring_packed_desc d;
        uint16_t flags;

        if (count > vq->size) {
            w->why = "chain longer than the ring";
            return -ELOOP;
        }
        vq_copy(&d, &p->desc[pos], sizeof(d));
        flags = count == 1 ? head_flags : le16toh(d.flags);
        if (count > 1 && !desc_is_avail(flags, wrap)) {
            w->why = "chain runs into a descriptor that is not available";
            return -EINVAL;
        }
        *id = le16toh(d.id);
        *ndesc = (uint16_t)count;
        if (flags & VRING_DESC_F_INDIRECT) {
            if (count > 1) {
                w->why = "indirect descriptor behind a chain";
                return -EINVAL;
            }
            return walk_indirect(vq, w, &d, flags);
        }
        ret = vq_walk_add(vq, w, le64toh(d.addr), le32toh(d.len),
                          flags & VRING_DESC_F_WRITE);
        if (ret < 0)
            return ret;
        if (!(flags & VRING_DESC_F_NEXT))
            return 0;
        vq_packed_advance(&pos, &wrap, 1, vq->size);
    }
}

int vq_packed_pop(struct vdev_vq *vq, struct vdev_vq_req *r)
{
    struct vq_packed *p = &vq->p;
    uint16_t flags = vq_load16_acquire(&p->desc[p->avail_pos].flags);
    uint16_t id = 0, ndesc = 0;
    struct vq_walk w;
    int ret;

    if (!desc_is_avail(flags, p->avail_wrap))
        return 0;

    vq_walk_init(&w, r);
    ret = walk_chain(vq, &w, flags, &id, &ndesc);
    if (ret == -ENOBUFS)
        return ret;                /* the caller's limit, not the guest's fault */
    if (ret < 0)
        return vq_break(vq, ret, w.why);
    if (id >= vq->size)
        return vq_break(vq, -ERANGE, "buffer id past the ring");
    if (p->inflight_desc + ndesc > vq->size)
        return vq_break(vq, -ERANGE, "more descriptors outstanding than the ring holds");

    r->id = id;
    r->ndesc = ndesc;
    vq_packed_advance(&p->avail_pos, &p->avail_wrap, ndesc, vq->size);
    p->inflight_desc += ndesc;
    vq->inflight++;
    return 1;
}

void vq_packed_push(struct vdev_vq *vq, const struct vdev_vq_req *r, uint32_t written)
{
    struct vq_packed *p = &vq->p;
    uint16_t pos = p->used_pos;
    struct vring_packed_desc *d = &p->desc[pos];
    uint16_t flags = p->used_wrap ? (DESC_F_AVAIL | DESC_F_USED) : 0;
    bool logging = vq_logging(vq);

    if (written)
        flags |= VRING_DESC_F_WRITE;   /* 2.8.3: the device wrote to the buffer */
    vq_store16(&d->id, r->id);
    vq_store32(&d->len, written);
    if (!p->pending) {
        p->pending = true;
        p->pending_pos = pos;
        p->pending_flags = flags;
    } else {
        vq_store16(&d->flags, flags);
        if (logging)
            vdev_mem_mark_dirty(vq->mem, vq->desc_gpa + (uint64_t)pos * sizeof(*d),
                                sizeof(*d));
    }
    vq_packed_advance(&p->used_pos, &p->used_wrap, r->ndesc, vq->size);
    p->inflight_desc -= r->ndesc;
    p->since_signal += r->ndesc;
    if (logging)
        vq_log_written(vq, r, written);
}

void vq_packed_flush(struct vdev_vq *vq)
{
    struct vq_packed *p = &vq->p;

    if (!p->pending)
        return;
    /* Release: every used descriptor of the batch before the first one's flags. */
    vq_store16_release(&p->desc[p->pending_pos].flags, p->pending_flags);
    p->pending = false;
    if (vq_logging(vq))
        vdev_mem_mark_dirty(vq->mem, vq->desc_gpa +
                            (uint64_t)p->pending_pos * sizeof(struct vring_packed_desc),
                            sizeof(struct vring_packed_desc));
}

/* Last in the file: the functions above keep their places (the hot paths'
 * branches sit where they sat, which this CPU family's branch alignment is
 * sensitive to). */
int vq_packed_walk_indirect(struct vdev_vq *vq, struct vq_walk *w,
                            const struct vring_packed_desc *d, uint16_t flags)
{
    return walk_indirect(vq, w, d, flags);
}
