/* driver_packed.c — the packed ring, driver side (virtio 1.2, 2.8.20 and 2.8.22):
 * descriptors written in ring order with the head's flags last, buffer ids from
 * a private stack, used descriptors read where the device writes them. */
#include <errno.h>
#include <stdlib.h>

#include "driver_internal.h"

#define DESC_F_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define DESC_F_USED  (1u << VRING_PACKED_DESC_F_USED)

static void advance(uint16_t *pos, bool *wrap, uint16_t n, uint16_t size)
{
    uint32_t next = (uint32_t)*pos + n;

    if (next >= size) {
        next -= size;
        *wrap = !*wrap;
    }
    *pos = (uint16_t)next;
}

int vqd_packed_init(struct vdev_vqd *d)
{
    struct vqd_packed *p = &d->p;
    uint16_t size = d->c.size;

    p->free_ids = malloc(size * sizeof(*p->free_ids));
    if (!p->free_ids)
        return -ENOMEM;
    for (uint32_t i = 0; i < size; i++)
        p->free_ids[i] = (uint16_t)(size - 1 - i);   /* id 0 on top */
    p->n_free_ids = size;
    p->avail_pos = 0;
    p->avail_wrap = true;      /* 2.8.1: both wrap counters start at 1 */
    p->used_pos = 0;
    p->used_wrap = true;
    p->since_kick = 0;
    d->num_free = size;
    return 0;
}

static uint16_t avail_bits(bool wrap)
{
    return (uint16_t)(wrap ? DESC_F_AVAIL : DESC_F_USED);
}

static void desc_fill(struct vring_packed_desc *desc, uint64_t addr, uint32_t len,
                      uint16_t id)
{
    desc->addr = htole64(addr);
    desc->len = htole32(len);
    desc->id = htole16(id);
}

/* Writes the buffers from avail_pos on; returns the head's flags, unwritten. */
static uint16_t write_chain(struct vdev_vqd *d, const struct vdev_vqd_buf *out,
                            unsigned n_out, const struct vdev_vqd_buf *in, unsigned n,
                            uint16_t id)
{
    struct vqd_packed *p = &d->p;
    uint16_t pos = p->avail_pos, head_flags = 0;
    bool wrap = p->avail_wrap;

    for (unsigned k = 0; k < n; k++) {
        bool w;
        const struct vdev_vqd_buf *b = vqd_buf(out, n_out, in, k, &w);
        uint16_t flags = (uint16_t)((w ? VRING_DESC_F_WRITE : 0) |
                                    (k + 1 < n ? VRING_DESC_F_NEXT : 0) |
                                    avail_bits(wrap));

        desc_fill(&p->desc[pos], b->gpa, b->len, id);
        if (k == 0)
            head_flags = flags;
        else
            vq_store16(&p->desc[pos].flags, flags);
        advance(&pos, &wrap, 1, d->c.size);
    }
    return head_flags;
}

/* One descriptor pointing to a table of n entries (2.8.19). */
static uint16_t write_indirect(struct vdev_vqd *d, const struct vdev_vqd_buf *out,
                               unsigned n_out, const struct vdev_vqd_buf *in,
                               unsigned n, uint16_t id)
{
    struct vqd_packed *p = &d->p;
    uint64_t gpa;
    struct vring_packed_desc *table = vqd_indirect_table(d, id, &gpa);

    for (unsigned i = 0; i < n; i++) {
        bool w;
        const struct vdev_vqd_buf *b = vqd_buf(out, n_out, in, i, &w);

        desc_fill(&table[i], b->gpa, b->len, 0);
        table[i].flags = htole16(w ? VRING_DESC_F_WRITE : 0);
    }
    desc_fill(&p->desc[p->avail_pos], gpa,
              n * (uint32_t)sizeof(struct vring_packed_desc), id);
    return (uint16_t)(VRING_DESC_F_INDIRECT | avail_bits(p->avail_wrap));
}

int vqd_packed_add(struct vdev_vqd *d, const struct vdev_vqd_buf *out, unsigned n_out,
                   const struct vdev_vqd_buf *in, unsigned n_in, bool indirect,
                   uint16_t *id)
{
    struct vqd_packed *p = &d->p;
    unsigned n = n_out + n_in;
    uint16_t need = (uint16_t)(indirect ? 1 : n);
    uint16_t head = p->avail_pos, head_flags, bid;

    if (need > d->num_free || p->n_free_ids == 0)
        return -ENOSPC;
    bid = p->free_ids[--p->n_free_ids];
    if (indirect)
        head_flags = write_indirect(d, out, n_out, in, n, bid);
    else
        head_flags = write_chain(d, out, n_out, in, n, bid);
    d->state[bid] = (struct vqd_state){ .in_use = true, .ndesc = need };
    d->num_free -= need;
    p->since_kick += need;
    advance(&p->avail_pos, &p->avail_wrap, need, d->c.size);
    vq_store16_release(&p->desc[head].flags, head_flags);   /* exposes the chain */
    *id = bid;
    return 0;
}

bool vqd_packed_kick_prepare(struct vdev_vqd *d)
{
    struct vqd_packed *p = &d->p;
    uint32_t n = p->since_kick;
    uint16_t flags, off_wrap;

    p->since_kick = 0;
    if (n == 0)
        return false;
    vq_mb();
    flags = vq_load16_acquire(&p->device->flags) & 0x3;
    off_wrap = vq_load16(&p->device->off_wrap);
    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
        return false;
    if (flags == VRING_PACKED_EVENT_FLAG_DESC && d->c.event_idx)
        return vq_packed_event_passed(p->avail_pos, p->avail_wrap, d->c.size, off_wrap, n);
    return true;
}

static bool desc_is_used(uint16_t flags, bool wrap)
{
    return !!(flags & DESC_F_AVAIL) == wrap && !!(flags & DESC_F_USED) == wrap;
}

/* With the event index, ask for a notification at the next used descriptor. */
static void ask_next_interrupt(struct vdev_vqd *d)
{
    struct vqd_packed *p = &d->p;

    vq_store16(&p->driver->off_wrap,
               (uint16_t)(p->used_pos | (p->used_wrap ? 1u << VRING_PACKED_EVENT_F_WRAP_CTR : 0)));
    vq_store16_release(&p->driver->flags, VRING_PACKED_EVENT_FLAG_DESC);
}

int vqd_packed_get_used(struct vdev_vqd *d, uint16_t *id, uint32_t *len)
{
    struct vqd_packed *p = &d->p;
    struct vring_packed_desc *desc = &p->desc[p->used_pos];
    uint16_t flags = vq_load16_acquire(&desc->flags);   /* then id and len */
    uint16_t bid;
    struct vqd_state *st;

    if (!desc_is_used(flags, p->used_wrap))
        return 0;
    bid = vq_load16(&desc->id);
    if (bid >= d->c.size || !d->state[bid].in_use)
        return -EPROTO;
    st = &d->state[bid];
    *id = bid;
    *len = (flags & VRING_DESC_F_WRITE) ? vq_load32(&desc->len) : 0;   /* 2.8.4 */

    advance(&p->used_pos, &p->used_wrap, st->ndesc, d->c.size);
    d->num_free += st->ndesc;
    st->in_use = false;
    p->free_ids[p->n_free_ids++] = bid;
    if (d->c.event_idx && d->intr_on)
        ask_next_interrupt(d);
    return 1;
}

bool vqd_packed_set_interrupts(struct vdev_vqd *d, bool enable)
{
    struct vqd_packed *p = &d->p;

    if (!enable) {
        vq_store16(&p->driver->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
        return false;
    }
    if (d->c.event_idx)
        ask_next_interrupt(d);
    else
        vq_store16(&p->driver->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
    vq_mb();
    return desc_is_used(vq_load16_acquire(&p->desc[p->used_pos].flags), p->used_wrap);
}
