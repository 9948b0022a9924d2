/* vq_inflight.c — a virtqueue that keeps vhost-user inflight records
 * (inflight.h; vhost-user.rst, "Inflight I/O tracking").
 *
 *   pop     a request is recorded as fetched before the device sees it
 *   push    checked against what is out, remembered for the flush
 *   flush   the batch is recorded complete, the ring's single publishing store
 *           is made, the batch is committed: the spec's order, so a crash at any
 *           point leaves records that resume repairs
 *   start   resume repairs the records against the ring; what they hold in
 *           flight is handed out again by pop, oldest fetch first, before any
 *           new buffer
 *
 * Completions are recorded at the flush, not at each push: the packed records
 * allow no fetch while a completion batch is open, and a queue that breaks
 * between a push and the flush leaves no batch open in the records (what was
 * pushed was never published, so it is still in flight, and is).
 *
 * The records are the frontend's and the rings the guest's: every head, buffer
 * id and count that comes back from them is checked against the ring before use,
 * and every request handed out again is walked like a new one. */
#include <errno.h>
#include <stdlib.h>

#include "vdev/inflight.h"
#include "vdev/log.h"
#include "vq_internal.h"

/* Where each head (split) or buffer id (packed) is. */
enum {
    ST_FREE = 0,
    ST_WAIT,                       /* in flight at start, not handed out again yet */
    ST_OUT,                        /* with the device */
    ST_PUSHED,                     /* pushed, waiting for the flush */
};

struct vq_ifl {
    struct vdev_inflight *rec;
    uint8_t *state;                /* size: ST_* */
    uint16_t *num;                 /* packed, size: ring descriptors of each buffer */
    uint16_t *batch;               /* size: pushed since the last flush, in order */
    uint32_t batch_len;
    uint16_t *again;               /* size: to hand out again, oldest fetch first */
    uint32_t again_n, again_next;
    struct vring_packed_desc *keep;   /* packed, size: the chain just popped */
};

static void ifl_free(struct vq_ifl *f)
{
    if (!f)
        return;
    free(f->state);
    free(f->num);
    free(f->batch);
    free(f->again);
    free(f->keep);
    free(f);
}

static struct vq_ifl *ifl_new(uint16_t size, bool packed)
{
    struct vq_ifl *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->state = calloc(size, sizeof(*f->state));
    f->batch = calloc(size, sizeof(*f->batch));
    f->again = calloc(size, sizeof(*f->again));
    if (packed) {
        f->num = calloc(size, sizeof(*f->num));
        f->keep = calloc(size, sizeof(*f->keep));
    }
    if (!f->state || !f->batch || !f->again || (packed && (!f->num || !f->keep))) {
        ifl_free(f);
        return NULL;
    }
    return f;
}

void vq_inflight_free(struct vdev_vq *vq)
{
    if (!vq->ifl)
        return;
    ifl_free(vq->ifl);
    vq->ifl = NULL;
}

/* --- start -------------------------------------------------------------------- */

/* Takes the records' list of requests in flight: each must fit the ring; they
 * become ST_WAIT, to be handed out in list order (lowest counter first). Sets
 * *descs to the ring descriptors they hold (packed). */
static int take_list(struct vdev_vq *vq, struct vq_ifl *f, uint32_t *descs)
{
    struct vdev_inflight_req *list;
    int n = vdev_inflight_count(f->rec), ret = 0;

    *descs = 0;
    if (n <= 0)
        return n;
    if ((uint32_t)n > vq->size) {
        vdev_warn("virtq: inflight: %d requests in flight, ring of %u", n, vq->size);
        return -EINVAL;
    }
    list = calloc((size_t)n, sizeof(*list));
    if (!list)
        return -ENOMEM;
    n = vdev_inflight_list(f->rec, list, (uint32_t)n);
    for (int i = 0; i < n && ret == 0; i++) {
        uint16_t id = list[i].id, num = list[i].num;

        if (id >= vq->size || f->state[id] != ST_FREE ||
            (vq->packed && (num == 0 || *descs + num > vq->size))) {
            vdev_warn("virtq: inflight: request %u of %u descriptors does not fit a "
                      "ring of %u", id, num, vq->size);
            ret = -EINVAL;
            break;
        }
        f->state[id] = ST_WAIT;
        f->again[f->again_n++] = id;
        if (vq->packed) {
            f->num[id] = num;
            *descs += num;
        }
    }
    free(list);
    return n < 0 ? n : ret;
}

/* Split: resume with the guest's used->idx; the next head to fetch is the one
 * after every head used or in flight. */
static int start_split(struct vdev_vq *vq, struct vq_ifl *f, uint32_t base)
{
    struct vq_split *s = &vq->s;
    uint32_t descs;
    int ret = vdev_inflight_split_resume(f->rec, s->used_idx);

    if (ret == 0)
        ret = take_list(vq, f, &descs);
    if (ret < 0)
        return ret;
    s->last_avail = (uint16_t)(s->used_idx + f->again_n);
    s->shadow_avail = s->last_avail;
    vq_split_write_kick_state(vq);             /* avail_event follows */
    if ((uint16_t)(base - s->used_idx) > f->again_n)
        vdev_warn("virtq: inflight: base %u outside used->idx %u + %u in flight; "
                  "the records win: next available %u", base, s->used_idx,
                  f->again_n, s->last_avail);
    return 0;
}

/* Packed: the records say where the used side resumes (a region still
 * uninitialized takes the base's); the available side is as many descriptors
 * further as are in flight. Resume may need the flags of one ring descriptor. */
static int start_packed(struct vdev_vq *vq, struct vq_ifl *f, uint32_t base)
{
    struct vq_packed *p = &vq->p;
    uint16_t slot = 0, slot_flags = 0, used = p->used_pos;
    bool used_wrap = p->used_wrap;
    uint32_t descs, now;
    int ret = vdev_inflight_packed_recover_slot(f->rec, &slot);

    if (ret == 1) {
        if (slot >= vq->size)
            return -EINVAL;
        slot_flags = vq_load16_acquire(&p->desc[slot].flags);
    }
    if (ret >= 0)
        ret = vdev_inflight_packed_resume(f->rec, slot_flags, &used, &used_wrap);
    if (ret == 0 && used >= vq->size)
        ret = -EINVAL;
    if (ret == 0)
        ret = take_list(vq, f, &descs);
    if (ret < 0)
        return ret;
    p->used_pos = p->avail_pos = used;
    p->used_wrap = p->avail_wrap = used_wrap;
    vq_packed_advance(&p->avail_pos, &p->avail_wrap, descs, vq->size);
    p->inflight_desc = descs;
    now = vdev_vq_get_base(vq);
    if (now != base)
        vdev_info("virtq: inflight: base 0x%08x, the records say 0x%08x and win",
                  base, now);
    return 0;
}

int vq_inflight_start(struct vdev_vq *vq, const struct vdev_vq_config *c)
{
    struct vq_ifl *f = ifl_new(vq->size, vq->packed);
    int ret;

    if (!f)
        return -ENOMEM;
    f->rec = c->inflight;
    ret = vq->packed ? start_packed(vq, f, c->base) : start_split(vq, f, c->base);
    if (ret < 0) {
        vdev_warn("virtq: inflight records refused at start (%s)", vdev_strerror(ret));
        ifl_free(f);
        return ret;
    }
    vq->ifl = f;
    vq->inflight = f->again_n;
    return 0;
}

/* --- pop ---------------------------------------------------------------------- */

/* A packed buffer as recorded at its fetch: n ring descriptors, checked as the
 * ring's would be (the ring's copy may be overwritten by used descriptors). */
static int walk_recorded(struct vdev_vq *vq, struct vq_walk *w, uint16_t id, uint16_t n)
{
    for (uint16_t i = 0; i < n; i++) {
        struct vring_packed_desc d;
        bool last = i + 1 == n;
        uint16_t flags;
        int ret = vdev_inflight_packed_desc(vq->ifl->rec, id, i, &d);

        if (ret < 0) {
            w->why = "inflight record without its descriptors";
            return -EINVAL;
        }
        flags = le16toh(d.flags);
        if (!!(flags & VRING_DESC_F_NEXT) == last) {
            w->why = "inflight record whose NEXT flags do not match its length";
            return -EINVAL;
        }
        if (last && le16toh(d.id) != id) {
            w->why = "inflight record with another buffer id";
            return -EINVAL;
        }
        if (flags & VRING_DESC_F_INDIRECT) {
            if (n > 1) {
                w->why = "indirect descriptor behind a chain";
                return -EINVAL;
            }
            return vq_packed_walk_indirect(vq, w, &d, flags);
        }
        ret = vq_walk_add(vq, w, le64toh(d.addr), le32toh(d.len),
                          flags & VRING_DESC_F_WRITE);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* The next request in flight at start, walked again into r. */
static int pop_again(struct vdev_vq *vq, struct vq_ifl *f, struct vdev_vq_req *r)
{
    uint16_t id = f->again[f->again_next], ndesc = 0;
    struct vq_walk w;
    int ret;

    vq_walk_init(&w, r);
    if (vq->packed) {
        ndesc = f->num[id];
        ret = walk_recorded(vq, &w, id, ndesc);
    } else {
        ret = vq_split_walk(vq, &w, id, &ndesc);
    }
    if (ret == -ENOBUFS)
        return ret;                /* the caller's limit: nothing is consumed */
    if (ret < 0)
        return vq_break(vq, ret, w.why);
    r->id = id;
    r->ndesc = ndesc;
    f->state[id] = ST_OUT;
    f->again_next++;
    return 1;
}

/* The ring descriptors of the packed buffer just popped from pos: copied for the
 * fetch record right after the walk, in the same pop. Before the buffer is used
 * nothing of ours writes those slots, and a driver may not change an available
 * descriptor, so the copy is what the walk saw; one that differs is the guest's
 * own doing, and is checked again, like any chain, if it is ever handed out
 * again (as a split chain is walked again in the descriptor table). Its buffer
 * id must still be the one the device was given. */
static int copy_chain(struct vdev_vq *vq, struct vq_ifl *f, const struct vdev_vq_req *r,
                      uint16_t pos)
{
    for (uint16_t i = 0; i < r->ndesc; i++) {
        vq_copy(&f->keep[i], &vq->p.desc[pos], sizeof(f->keep[i]));
        pos = pos + 1 == vq->size ? 0 : pos + 1;
    }
    if (le16toh(f->keep[r->ndesc - 1].id) != r->id)
        return vq_break(vq, -EINVAL, "buffer id changed while the device took it");
    return 0;
}

/* A request just taken from the ring (packed: from pos): recorded before the
 * device sees it. */
static int record_fetch(struct vdev_vq *vq, struct vq_ifl *f, const struct vdev_vq_req *r,
                        uint16_t pos)
{
    int ret;

    if (f->state[r->id] != ST_FREE)
        return vq_break(vq, -EEXIST, vq->packed ? "buffer id already in flight"
                                                : "head already in flight");
    if (vq->packed) {
        ret = copy_chain(vq, f, r, pos);
        if (ret == 0)
            ret = vdev_inflight_packed_fetch(f->rec, f->keep, r->ndesc);
    } else {
        ret = vdev_inflight_split_fetch(f->rec, r->id);
    }
    if (ret < 0)
        return vq_break(vq, ret, "the inflight records refused a fetch");
    f->state[r->id] = ST_OUT;
    if (vq->packed)
        f->num[r->id] = r->ndesc;
    return 1;
}

int vq_inflight_pop(struct vdev_vq *vq, struct vdev_vq_req *r)
{
    struct vq_ifl *f = vq->ifl;
    uint16_t pos = vq->packed ? vq->p.avail_pos : 0;
    int ret;

    if (f->again_next < f->again_n)
        return pop_again(vq, f, r);
    ret = vq->packed ? vq_packed_pop(vq, r) : vq_split_pop(vq, r);
    if (ret != 1)
        return ret;
    return record_fetch(vq, f, r, pos);
}

/* --- push and flush ------------------------------------------------------------- */

int vq_inflight_push(struct vdev_vq *vq, const struct vdev_vq_req *r)
{
    struct vq_ifl *f = vq->ifl;

    if (f->state[r->id] != ST_OUT)
        return -EINVAL;
    if (vq->packed && r->ndesc != f->num[r->id])
        return -EINVAL;
    f->state[r->id] = ST_PUSHED;
    f->batch[f->batch_len++] = r->id;
    return 0;
}

/* Before the publishing store: the batch recorded complete (split: the batch
 * list; packed: back on the free list, and the used position after it). */
static int record_complete(struct vdev_vq *vq, struct vq_ifl *f)
{
    int ret = 0;

    for (uint32_t k = 0; k < f->batch_len && ret == 0; k++)
        ret = vq->packed ? vdev_inflight_packed_complete(f->rec, f->batch[k])
                         : vdev_inflight_split_complete(f->rec, f->batch[k]);
    if (ret == 0 && vq->packed)
        ret = vdev_inflight_packed_used(f->rec, vq->p.used_pos, vq->p.used_wrap);
    return ret;
}

void vq_inflight_flush(struct vdev_vq *vq)
{
    struct vq_ifl *f = vq->ifl;
    int ret;

    if (f->batch_len == 0)
        return;                    /* every push comes here: nothing to publish */
    ret = record_complete(vq, f);
    if (ret < 0) {
        vq_break(vq, ret, "the inflight records refused a completion");
        return;
    }
    if (vq->packed) {
        vq_packed_flush(vq);       /* the first used descriptor's flags */
        ret = vdev_inflight_packed_commit(f->rec);
    } else {
        vq_split_flush(vq);        /* used->idx */
        ret = vdev_inflight_split_commit(f->rec, vq->s.published);
    }
    for (uint32_t k = 0; k < f->batch_len; k++)
        f->state[f->batch[k]] = ST_FREE;
    f->batch_len = 0;
    if (ret < 0)
        vq_break(vq, ret, "the inflight records refused a commit");
}
