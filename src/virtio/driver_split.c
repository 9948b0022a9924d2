/* driver_split.c — the split ring, driver side (virtio 1.2, 2.7.13 and 2.7.14):
 * chains from a private free list, heads into the available ring, used
 * elements back to the free list. */
#include <errno.h>
#include <stdlib.h>

#include "driver_internal.h"

int vqd_split_init(struct vdev_vqd *d)
{
    struct vqd_split *s = &d->s;
    uint16_t size = d->c.size;

    s->next = malloc(size * sizeof(*s->next));
    if (!s->next)
        return -ENOMEM;
    for (uint32_t i = 0; i < size; i++)
        s->next[i] = (uint16_t)((i + 1) % size);
    s->free_head = 0;
    s->avail_idx = 0;
    s->kicked_idx = 0;
    s->last_used = 0;
    d->num_free = size;
    return 0;
}

static void desc_fill(struct vring_desc *desc, uint64_t addr, uint32_t len,
                      uint16_t flags, uint16_t next)
{
    desc->addr = htole64(addr);
    desc->len = htole32(len);
    desc->flags = htole16(flags);
    desc->next = htole16(next);
}

/* One descriptor pointing to a table of n entries (2.7.5.3). */
static void add_indirect(struct vdev_vqd *d, uint16_t head,
                         const struct vdev_vqd_buf *out, unsigned n_out,
                         const struct vdev_vqd_buf *in, unsigned n)
{
    uint64_t gpa;
    struct vring_desc *table = vqd_indirect_table(d, head, &gpa);

    for (unsigned i = 0; i < n; i++) {
        bool w;
        const struct vdev_vqd_buf *b = vqd_buf(out, n_out, in, i, &w);
        uint16_t flags = (uint16_t)((w ? VRING_DESC_F_WRITE : 0) |
                                    (i + 1 < n ? VRING_DESC_F_NEXT : 0));

        desc_fill(&table[i], b->gpa, b->len, flags, (uint16_t)(i + 1 < n ? i + 1 : 0));
    }
    desc_fill(&d->s.desc[head], gpa, n * (uint32_t)sizeof(struct vring_desc),
              VRING_DESC_F_INDIRECT, 0);
}

/* n descriptors taken from the free list, linked as it links them. */
static uint16_t add_direct(struct vdev_vqd *d, uint16_t head,
                           const struct vdev_vqd_buf *out, unsigned n_out,
                           const struct vdev_vqd_buf *in, unsigned n)
{
    struct vqd_split *s = &d->s;
    uint16_t i = head, last = head;

    for (unsigned k = 0; k < n; k++) {
        bool w;
        const struct vdev_vqd_buf *b = vqd_buf(out, n_out, in, k, &w);
        uint16_t flags = (uint16_t)((w ? VRING_DESC_F_WRITE : 0) |
                                    (k + 1 < n ? VRING_DESC_F_NEXT : 0));

        desc_fill(&s->desc[i], b->gpa, b->len, flags, s->next[i]);
        last = i;
        i = s->next[i];
    }
    return last;
}

int vqd_split_add(struct vdev_vqd *d, const struct vdev_vqd_buf *out, unsigned n_out,
                  const struct vdev_vqd_buf *in, unsigned n_in, bool indirect,
                  uint16_t *id)
{
    struct vqd_split *s = &d->s;
    unsigned n = n_out + n_in;
    unsigned need = indirect ? 1 : n;
    uint16_t head = s->free_head, last = head;

    if (need > d->num_free)
        return -ENOSPC;
    if (indirect)
        add_indirect(d, head, out, n_out, in, n);
    else
        last = add_direct(d, head, out, n_out, in, n);
    s->free_head = s->next[last];
    d->num_free -= need;
    d->state[head] = (struct vqd_state){ .in_use = true, .ndesc = (uint16_t)need,
                                         .last = last };

    vq_store16(&s->avail->ring[s->avail_idx & (d->c.size - 1)], head);
    s->avail_idx++;
    vq_store16_release(&s->avail->idx, s->avail_idx);   /* after the descriptors */
    *id = head;
    return 0;
}

bool vqd_split_kick_prepare(struct vdev_vqd *d)
{
    struct vqd_split *s = &d->s;
    uint16_t old = s->kicked_idx, new = s->avail_idx;

    s->kicked_idx = new;
    vq_mb();
    if (d->c.event_idx)
        return vring_need_event(vq_load16(vq_avail_event(s->used, d->c.size)), new, old);
    return new != old && !(vq_load16(&s->used->flags) & VRING_USED_F_NO_NOTIFY);
}

/* With the event index, ask for a notification at the next used element. */
static void ask_next_interrupt(struct vdev_vqd *d)
{
    if (d->c.event_idx && d->intr_on)
        vq_store16(vq_used_event(d->s.avail, d->c.size), d->s.last_used);
}

int vqd_split_get_used(struct vdev_vqd *d, uint16_t *id, uint32_t *len)
{
    struct vqd_split *s = &d->s;
    uint16_t idx = vq_load16_acquire(&s->used->idx);   /* then the elements */
    vring_used_elem_t *e;
    struct vqd_state *st;
    uint32_t head;

    if (idx == s->last_used)
        return 0;
    if ((uint16_t)(idx - s->last_used) > d->c.size)
        return -EPROTO;
    e = &s->used->ring[s->last_used & (d->c.size - 1)];
    head = vq_load32(&e->id);
    if (head >= d->c.size || !d->state[head].in_use)
        return -EPROTO;
    st = &d->state[head];
    *id = (uint16_t)head;
    *len = vq_load32(&e->len);

    s->next[st->last] = s->free_head;
    s->free_head = (uint16_t)head;
    d->num_free += st->ndesc;
    st->in_use = false;
    s->last_used++;
    ask_next_interrupt(d);
    return 1;
}

bool vqd_split_set_interrupts(struct vdev_vqd *d, bool enable)
{
    struct vqd_split *s = &d->s;

    if (d->c.event_idx)
        ask_next_interrupt(d);     /* disabling: used_event stays behind */
    else
        vq_store16(&s->avail->flags, enable ? 0 : VRING_AVAIL_F_NO_INTERRUPT);
    if (!enable)
        return false;
    vq_mb();
    return vq_load16_acquire(&s->used->idx) != s->last_used;
}
