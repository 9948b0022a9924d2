/* inflight.c — vhost-user's inflight I/O records (vhost-user.rst, "Inflight I/O
 * tracking").
 *
 * Every update of the shared region follows the spec's steps in the spec's order,
 * one release store per field, so that a backend killed between any two stores
 * leaves a state the spec's reconnect procedure repairs. The records are kept in
 * private memory as well (struct rec): attach reads the region once, checks it,
 * and from then on the region is only written.
 *
 * Nothing here touches a ring: the virtqueue hands in head indices, buffer ids,
 * descriptor values, and at resume what the ring says (split: used->idx; packed:
 * the flags of one descriptor). */
#include <errno.h>
#include <endian.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/inflight.h"
#include "vdev/log.h"

/* The spec's layouts, offset by offset. */
_Static_assert(sizeof(struct vdev_inflight_desc_split) == 16, "DescStateSplit");
_Static_assert(offsetof(struct vdev_inflight_desc_split, inflight) == 0, "inflight");
_Static_assert(offsetof(struct vdev_inflight_desc_split, padding) == 1, "padding");
_Static_assert(offsetof(struct vdev_inflight_desc_split, next) == 6, "next");
_Static_assert(offsetof(struct vdev_inflight_desc_split, counter) == 8, "counter");

_Static_assert(sizeof(struct vdev_inflight_region_split) == 16, "QueueRegionSplit");
_Static_assert(offsetof(struct vdev_inflight_region_split, features) == 0, "features");
_Static_assert(offsetof(struct vdev_inflight_region_split, version) == 8, "version");
_Static_assert(offsetof(struct vdev_inflight_region_split, desc_num) == 10, "desc_num");
_Static_assert(offsetof(struct vdev_inflight_region_split, last_batch_head) == 12,
               "last_batch_head");
_Static_assert(offsetof(struct vdev_inflight_region_split, used_idx) == 14, "used_idx");
_Static_assert(offsetof(struct vdev_inflight_region_split, desc) == 16, "desc");

_Static_assert(sizeof(struct vdev_inflight_desc_packed) == 32, "DescStatePacked");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, inflight) == 0, "inflight");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, padding) == 1, "padding");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, next) == 2, "next");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, last) == 4, "last");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, num) == 6, "num");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, counter) == 8, "counter");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, id) == 16, "id");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, flags) == 18, "flags");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, len) == 20, "len");
_Static_assert(offsetof(struct vdev_inflight_desc_packed, addr) == 24, "addr");

_Static_assert(sizeof(struct vdev_inflight_region_packed) == 32, "QueueRegionPacked");
_Static_assert(offsetof(struct vdev_inflight_region_packed, features) == 0, "features");
_Static_assert(offsetof(struct vdev_inflight_region_packed, version) == 8, "version");
_Static_assert(offsetof(struct vdev_inflight_region_packed, desc_num) == 10, "desc_num");
_Static_assert(offsetof(struct vdev_inflight_region_packed, free_head) == 12, "free_head");
_Static_assert(offsetof(struct vdev_inflight_region_packed, old_free_head) == 14,
               "old_free_head");
_Static_assert(offsetof(struct vdev_inflight_region_packed, used_idx) == 16, "used_idx");
_Static_assert(offsetof(struct vdev_inflight_region_packed, old_used_idx) == 18,
               "old_used_idx");
_Static_assert(offsetof(struct vdev_inflight_region_packed, used_wrap_counter) == 20,
               "used_wrap_counter");
_Static_assert(offsetof(struct vdev_inflight_region_packed, old_used_wrap_counter) == 21,
               "old_used_wrap_counter");
_Static_assert(offsetof(struct vdev_inflight_region_packed, padding) == 22, "padding");
_Static_assert(offsetof(struct vdev_inflight_region_packed, desc) == 32, "desc");

/* A store to the shared region: in program order with every other (release), so
 * a crash leaves a prefix of the spec's steps. */
#define PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELEASE)
/* A load from the shared region, once per field, at attach only. */
#define GET(field)    __atomic_load_n(&(field), __ATOMIC_RELAXED)

#define NONE   0xffffu             /* no entry: above any index (n <= 32768) */

#define PACKED_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PACKED_USED  (1u << VRING_PACKED_DESC_F_USED)

enum {
    R_INFLIGHT = 1u << 0,          /* in flight (split: head; packed: head entry) */
    R_BATCH    = 1u << 1,          /* in the batch being completed */
    R_MARK     = 1u << 2,          /* resume: visited */
    R_FREE     = 1u << 3,          /* resume, packed: on the free list */
    R_LIVE     = 1u << 4,          /* resume: in flight once repaired */
};

/* The private copy of one descriptor state. */
struct rec {
    uint64_t counter;
    uint16_t next;
    uint16_t last;                 /* packed */
    uint16_t num;                  /* packed */
    uint16_t id;                   /* packed: the descriptor's id */
    uint8_t flags;                 /* R_* */
};

struct vdev_inflight {
    union {
        struct vdev_inflight_region_split *s;
        struct vdev_inflight_region_packed *p;
        void *base;
    } r;
    uint16_t n;                    /* queue size = desc_num */
    uint16_t index;                /* for the log */
    bool packed;
    bool fresh;                    /* version 0: format at resume */
    bool resumed;
    uint64_t counter;              /* the next fetch's */
    struct rec *rec;               /* n */
    uint16_t *batch;               /* n: heads / entries of the open batch */
    uint32_t batch_len;
    uint32_t inflight;             /* requests in flight */
    struct vdev_inflight_req *scratch;   /* n: resume's sort */

    /* split */
    uint16_t last_batch_head;
    uint16_t used_idx;             /* also packed */

    /* packed */
    uint16_t *by_id;               /* n: buffer id -> head entry, or NONE */
    uint16_t free_head, old_free_head, old_used_idx;
    bool used_wrap, old_used_wrap;
    bool batch_used;               /* vdev_inflight_packed_used() done */
    uint32_t nfree;                /* entries on the free list */
    uint32_t inflight_desc;        /* descriptors in flight */
    uint32_t batch_desc;           /* descriptors of the open batch */
};

__attribute__((format(printf, 2, 3)))
static int bad(uint16_t index, const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    vdev_warn("inflight: queue %u: %s", index, what);
    return -EINVAL;
}

/* --- layout ---------------------------------------------------------------- */

static bool size_ok(uint16_t queue_size)
{
    return queue_size >= 1 && queue_size <= VDEV_INFLIGHT_MAX_QUEUE_SIZE;
}

uint64_t vdev_inflight_region_size(uint16_t queue_size, bool packed)
{
    if (!size_ok(queue_size))
        return 0;
    if (packed)
        return sizeof(struct vdev_inflight_region_packed) +
               (uint64_t)queue_size * sizeof(struct vdev_inflight_desc_packed);
    return sizeof(struct vdev_inflight_region_split) +
           (uint64_t)queue_size * sizeof(struct vdev_inflight_desc_split);
}

uint64_t vdev_inflight_region_stride(uint16_t queue_size, bool packed)
{
    uint64_t size = vdev_inflight_region_size(queue_size, packed);

    return (size + VDEV_INFLIGHT_ALIGN - 1) & ~(uint64_t)(VDEV_INFLIGHT_ALIGN - 1);
}

int vdev_inflight_mmap_size(const struct vdev_inflight_layout *l, uint64_t *size)
{
    if (!l || l->num_queues == 0 || !size_ok(l->queue_size))
        return -EINVAL;
    *size = l->num_queues * vdev_inflight_region_stride(l->queue_size, l->packed);
    return 0;
}

/* --- init and attach -------------------------------------------------------- */

static int open_queue(struct vdev_inflight **out, void *base, uint64_t mmap_size,
                      const struct vdev_inflight_layout *l, uint16_t index)
{
    struct vdev_inflight *q;
    uint64_t need;

    if (!out || !l)
        return -EINVAL;
    if (vdev_inflight_mmap_size(l, &need) < 0)
        return bad(index, "%u queues of size %u", l->num_queues, l->queue_size);
    if (index >= l->num_queues)
        return bad(index, "index past %u queues", l->num_queues);
    if (!base || (uintptr_t)base % 8)
        return bad(index, "area not 8-byte aligned");
    if (mmap_size < need)
        return bad(index, "mmap_size %llu below %llu for %u queues of size %u",
                   (unsigned long long)mmap_size, (unsigned long long)need,
                   l->num_queues, l->queue_size);

    q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->n = l->queue_size;
    q->index = index;
    q->packed = l->packed;
    q->r.base = (uint8_t *)base +
                index * vdev_inflight_region_stride(l->queue_size, l->packed);
    q->rec = calloc(q->n, sizeof(*q->rec));
    q->batch = calloc(q->n, sizeof(*q->batch));
    q->scratch = calloc(q->n, sizeof(*q->scratch));
    q->by_id = l->packed ? malloc(q->n * sizeof(*q->by_id)) : NULL;
    if (!q->rec || !q->batch || !q->scratch || (l->packed && !q->by_id)) {
        vdev_inflight_free(q);
        return -ENOMEM;
    }
    if (q->by_id)
        memset(q->by_id, 0xff, q->n * sizeof(*q->by_id));
    *out = q;
    return 0;
}

/* Version 0: the region is zeroed and formatted at resume, when the ring's used
 * position is known; until then a crash leaves it uninitialized, not wrong. */
static void make_fresh(struct vdev_inflight *q)
{
    memset(q->r.base, 0, vdev_inflight_region_size(q->n, q->packed));
    q->fresh = true;
}

static int take_split(struct vdev_inflight *q)
{
    struct vdev_inflight_region_split *r = q->r.s;

    q->last_batch_head = GET(r->last_batch_head);
    q->used_idx = GET(r->used_idx);
    if (q->last_batch_head >= q->n)
        return bad(q->index, "last_batch_head %u past the ring", q->last_batch_head);
    for (uint16_t i = 0; i < q->n; i++) {
        uint8_t inflight = GET(r->desc[i].inflight);
        struct rec *c = &q->rec[i];

        c->next = GET(r->desc[i].next);
        c->counter = GET(r->desc[i].counter);
        if (inflight > 1)
            return bad(q->index, "desc %u: inflight %u", i, inflight);
        if (c->next >= q->n)
            return bad(q->index, "desc %u: next %u past the ring", i, c->next);
        c->flags = inflight ? R_INFLIGHT : 0;
    }
    return 0;
}

static int take_packed(struct vdev_inflight *q)
{
    struct vdev_inflight_region_packed *r = q->r.p;
    uint8_t w = GET(r->used_wrap_counter), ow = GET(r->old_used_wrap_counter);

    q->free_head = GET(r->free_head);
    q->old_free_head = GET(r->old_free_head);
    q->used_idx = GET(r->used_idx);
    q->old_used_idx = GET(r->old_used_idx);
    if (q->free_head > q->n || q->old_free_head > q->n)
        return bad(q->index, "free_head %u / old_free_head %u past %u entries",
                   q->free_head, q->old_free_head, q->n);
    if (q->used_idx >= q->n || q->old_used_idx >= q->n)
        return bad(q->index, "used_idx %u / old_used_idx %u past the ring",
                   q->used_idx, q->old_used_idx);
    if (w > 1 || ow > 1)
        return bad(q->index, "wrap counters %u / %u", w, ow);
    q->used_wrap = w;
    q->old_used_wrap = ow;
    for (uint16_t i = 0; i < q->n; i++) {
        const struct vdev_inflight_desc_packed *d = &r->desc[i];
        uint8_t inflight = GET(d->inflight);
        struct rec *c = &q->rec[i];

        c->next = GET(d->next);
        c->last = GET(d->last);
        c->num = GET(d->num);
        c->id = GET(d->id);
        c->counter = GET(d->counter);
        if (inflight > 1)
            return bad(q->index, "desc %u: inflight %u", i, inflight);
        if (c->next > q->n || c->last >= q->n || c->num > q->n)
            return bad(q->index, "desc %u: next %u, last %u, num %u out of range",
                       i, c->next, c->last, c->num);
        c->flags = inflight ? R_INFLIGHT : 0;
    }
    return 0;
}

/* Reads a version 1 region into the private records, checking every field. */
static int take_region(struct vdev_inflight *q)
{
    /* The headers agree up to desc_num. */
    struct vdev_inflight_region_split *h = q->r.s;
    uint64_t features = GET(h->features);
    uint16_t desc_num = GET(h->desc_num);

    if (features)
        return bad(q->index, "unknown features 0x%llx", (unsigned long long)features);
    if (desc_num != q->n)
        return bad(q->index, "desc_num %u, queue size %u", desc_num, q->n);
    return q->packed ? take_packed(q) : take_split(q);
}

int vdev_inflight_init(struct vdev_inflight **out, void *base, uint64_t mmap_size,
                       const struct vdev_inflight_layout *l, uint16_t index)
{
    int ret = open_queue(out, base, mmap_size, l, index);

    if (ret < 0)
        return ret;
    make_fresh(*out);
    return 0;
}

int vdev_inflight_attach(struct vdev_inflight **out, void *base, uint64_t mmap_size,
                         const struct vdev_inflight_layout *l, uint16_t index)
{
    struct vdev_inflight *q;
    uint16_t version;
    int ret = open_queue(&q, base, mmap_size, l, index);

    if (ret < 0)
        return ret;
    version = GET(q->r.s->version);
    if (version == 0)
        make_fresh(q);
    else if (version != VDEV_INFLIGHT_VERSION)
        ret = bad(index, "version %u", version);
    else
        ret = take_region(q);
    if (ret < 0) {
        vdev_inflight_free(q);
        return ret;
    }
    *out = q;
    return 0;
}

void vdev_inflight_free(struct vdev_inflight *q)
{
    if (!q)
        return;
    free(q->rec);
    free(q->batch);
    free(q->scratch);
    free(q->by_id);
    free(q);
}

/* --- in flight, in order ----------------------------------------------------- */

static int by_counter(const void *a, const void *b)
{
    const struct vdev_inflight_req *x = a, *y = b;

    if (x->counter != y->counter)
        return x->counter < y->counter ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The buffer id of a packed head entry: its last descriptor's. */
static uint16_t buffer_id(const struct vdev_inflight *q, uint16_t e)
{
    return q->rec[q->rec[e].last].id;
}

/* Fills out[] with the records that have flag, sorted; returns how many. */
static uint32_t collect(const struct vdev_inflight *q, uint8_t flag,
                        struct vdev_inflight_req *out)
{
    uint32_t k = 0;

    for (uint16_t i = 0; i < q->n; i++) {
        const struct rec *c = &q->rec[i];

        if (!(c->flags & flag))
            continue;
        out[k].counter = c->counter;
        out[k].id = q->packed ? buffer_id(q, i) : i;
        out[k].num = q->packed ? c->num : 0;
        k++;
    }
    qsort(out, k, sizeof(*out), by_counter);
    return k;
}

int vdev_inflight_count(const struct vdev_inflight *q)
{
    return q->resumed ? (int)q->inflight : -EAGAIN;
}

int vdev_inflight_list(const struct vdev_inflight *q, struct vdev_inflight_req *out,
                       uint32_t max)
{
    if (!q->resumed)
        return -EAGAIN;
    if (max < q->inflight)
        return -ENOBUFS;
    return (int)collect(q, R_INFLIGHT, out);
}

/* Resume, once the set in flight is marked R_LIVE: no two share a counter. */
static int check_live(struct vdev_inflight *q, uint32_t *live)
{
    uint32_t k = collect(q, R_LIVE, q->scratch);

    for (uint32_t i = 1; i < k; i++)
        if (q->scratch[i].counter == q->scratch[i - 1].counter)
            return bad(q->index, "buffers %u and %u share counter %llu",
                       q->scratch[i - 1].id, q->scratch[i].id,
                       (unsigned long long)q->scratch[i].counter);
    *live = k;
    return 0;
}

/* Resume's private flags become the records (R_LIVE is what is in flight, and
 * the next fetch counts on from the highest counter), or are dropped. */
static void settle(struct vdev_inflight *q, bool ok, uint32_t live)
{
    for (uint16_t i = 0; i < q->n; i++) {
        struct rec *c = &q->rec[i];

        if (!ok) {
            c->flags &= ~(R_MARK | R_FREE | R_LIVE);
            continue;
        }
        c->flags = (c->flags & R_LIVE) ? R_INFLIGHT : 0;
        if (c->flags && c->counter >= q->counter)
            q->counter = c->counter + 1;
    }
    if (!ok && q->by_id)
        memset(q->by_id, 0xff, q->n * sizeof(*q->by_id));
    if (ok) {
        q->inflight = live;
        q->resumed = true;
    }
}

/* --- split ---------------------------------------------------------------- */

static int split_ready(const struct vdev_inflight *q, uint16_t head)
{
    if (q->packed || head >= q->n)
        return -EINVAL;
    return q->resumed ? 0 : -EAGAIN;
}

static void split_format(struct vdev_inflight *q, uint16_t used_idx)
{
    struct vdev_inflight_region_split *r = q->r.s;

    PUT(r->desc_num, q->n);
    PUT(r->used_idx, used_idx);
    PUT(r->version, (uint16_t)VDEV_INFLIGHT_VERSION);      /* last */
    q->used_idx = used_idx;
    q->fresh = false;
}

int vdev_inflight_split_resume(struct vdev_inflight *q, uint16_t used_idx)
{
    struct vdev_inflight_region_split *r = q->r.s;
    uint16_t batch = (uint16_t)(used_idx - q->used_idx), h = q->last_batch_head;
    uint32_t live = 0;
    int ret;

    if (q->packed)
        return -EINVAL;
    if (q->batch_len)
        return -EBUSY;
    if (q->fresh) {
        split_format(q, used_idx);
        q->resumed = true;
        return 0;
    }
    /* The last batch: used->idx moved past the region's used_idx by its size.
     * Its list meets no head twice (so it is not longer than the ring). */
    for (uint16_t k = 0; k < batch; k++) {
        if (q->rec[h].flags & R_MARK) {
            settle(q, false, 0);
            return bad(q->index, "last batch of %u (used->idx %u, used_idx %u) meets "
                       "head %u twice", batch, used_idx, q->used_idx, h);
        }
        q->rec[h].flags |= R_MARK;
        q->batch[k] = h;
        h = q->rec[h].next;
    }
    for (uint16_t i = 0; i < q->n; i++)
        if ((q->rec[i].flags & (R_INFLIGHT | R_MARK)) == R_INFLIGHT)
            q->rec[i].flags |= R_LIVE;
    ret = check_live(q, &live);
    if (ret < 0) {
        settle(q, false, 0);
        return ret;
    }

    for (uint16_t k = 0; k < batch; k++)
        PUT(r->desc[q->batch[k]].inflight, (uint8_t)0);
    PUT(r->used_idx, used_idx);
    q->used_idx = used_idx;
    settle(q, true, live);
    return 0;
}

int vdev_inflight_split_fetch(struct vdev_inflight *q, uint16_t head)
{
    struct vdev_inflight_region_split *r = q->r.s;
    int ret = split_ready(q, head);

    if (ret < 0)
        return ret;
    if (q->rec[head].flags & R_INFLIGHT)
        return -EEXIST;
    PUT(r->desc[head].counter, q->counter);
    PUT(r->desc[head].inflight, (uint8_t)1);
    q->rec[head].counter = q->counter++;
    q->rec[head].flags = R_INFLIGHT;
    q->inflight++;
    return 0;
}

int vdev_inflight_split_complete(struct vdev_inflight *q, uint16_t head)
{
    struct vdev_inflight_region_split *r = q->r.s;
    int ret = split_ready(q, head);

    if (ret < 0)
        return ret;
    if ((q->rec[head].flags & (R_INFLIGHT | R_BATCH)) != R_INFLIGHT)
        return -ENOENT;
    PUT(r->desc[head].next, q->last_batch_head);
    PUT(r->last_batch_head, head);
    q->rec[head].next = q->last_batch_head;
    q->rec[head].flags |= R_BATCH;
    q->last_batch_head = head;
    q->batch[q->batch_len++] = head;
    return 0;
}

int vdev_inflight_split_commit(struct vdev_inflight *q, uint16_t used_idx)
{
    struct vdev_inflight_region_split *r = q->r.s;
    int ret = split_ready(q, 0);

    if (ret < 0)
        return ret;
    if ((uint16_t)(used_idx - q->used_idx) != q->batch_len)
        return -EINVAL;
    for (uint32_t k = 0; k < q->batch_len; k++) {
        uint16_t h = q->batch[k];

        PUT(r->desc[h].inflight, (uint8_t)0);
        q->rec[h].flags = 0;
    }
    PUT(r->used_idx, used_idx);
    q->used_idx = used_idx;
    q->inflight -= q->batch_len;
    q->batch_len = 0;
    return 0;
}

/* --- packed --------------------------------------------------------------- */

static int packed_ready(const struct vdev_inflight *q)
{
    if (!q->packed)
        return -EINVAL;
    return q->resumed ? 0 : -EAGAIN;
}

/* A ring position moved on by count slots. */
static void advance(const struct vdev_inflight *q, uint16_t *idx, bool *wrap,
                    uint32_t count)
{
    uint32_t pos = *idx + count;

    if (pos >= q->n) {
        pos -= q->n;
        *wrap = !*wrap;
    }
    *idx = (uint16_t)pos;
}

static void packed_format(struct vdev_inflight *q, uint16_t used_idx, bool wrap)
{
    struct vdev_inflight_region_packed *r = q->r.p;

    /* The free list: every entry, in order, ended by desc_num. */
    for (uint16_t i = 0; i < q->n; i++) {
        PUT(r->desc[i].next, (uint16_t)(i + 1));
        q->rec[i].next = (uint16_t)(i + 1);
    }
    PUT(r->desc_num, q->n);
    PUT(r->used_idx, used_idx);
    PUT(r->old_used_idx, used_idx);
    PUT(r->used_wrap_counter, (uint8_t)wrap);
    PUT(r->old_used_wrap_counter, (uint8_t)wrap);
    PUT(r->version, (uint16_t)VDEV_INFLIGHT_VERSION);      /* last */
    q->free_head = q->old_free_head = 0;
    q->used_idx = q->old_used_idx = used_idx;
    q->used_wrap = q->old_used_wrap = wrap;
    q->nfree = q->n;
    q->fresh = false;
}

int vdev_inflight_packed_recover_slot(const struct vdev_inflight *q, uint16_t *slot)
{
    if (!q->packed)
        return -EINVAL;
    if (q->fresh || (q->used_idx == q->old_used_idx && q->used_wrap == q->old_used_wrap))
        return 0;
    *slot = q->old_used_idx;
    return 1;
}

/* Walks the free list from free_head, marking R_FREE; returns its length. */
static int walk_free(struct vdev_inflight *q, uint32_t *len)
{
    uint32_t k = 0;

    for (uint16_t e = q->free_head; e != q->n; e = q->rec[e].next, k++) {
        if (q->rec[e].flags & R_FREE)
            return bad(q->index, "free list meets entry %u twice", e);
        q->rec[e].flags |= R_FREE;
    }
    *len = k;
    return 0;
}

/* Walks the chain of head entry e, marking R_MARK; the chain must be num entries
 * of its own, ending at last, with a buffer id no other buffer has. */
static int walk_chain(struct vdev_inflight *q, uint16_t e)
{
    struct rec *h = &q->rec[e];
    uint16_t k = e, end = e, id;

    for (uint16_t j = 0; j < h->num; j++) {
        if (k == q->n)
            return bad(q->index, "chain of entry %u ends after %u of %u", e, j, h->num);
        if (q->rec[k].flags & (R_FREE | R_MARK))
            return bad(q->index, "chain of entry %u meets entry %u twice", e, k);
        q->rec[k].flags |= R_MARK;
        end = k;
        k = q->rec[k].next;
    }
    /* (num 0 ends at e: unless last is e too, the entry is on no list.) */
    if (end != h->last)
        return bad(q->index, "chain of entry %u: %u descriptors ending at %u, last %u",
                   e, h->num, end, h->last);
    id = q->rec[end].id;
    if (id >= q->n || q->by_id[id] != NONE)
        return bad(q->index, "buffer id %u of entry %u past the ring or taken", id, e);
    q->by_id[id] = e;
    h->flags |= R_LIVE;
    return 0;
}

/* After the commit-or-roll-back choice: the free list and the chains in flight
 * must cover every entry once. */
static int check_packed(struct vdev_inflight *q, uint32_t *nfree, uint32_t *desc)
{
    uint32_t covered;
    int ret = walk_free(q, nfree);

    if (ret < 0)
        return ret;
    *desc = 0;
    for (uint16_t e = 0; e < q->n; e++) {
        if ((q->rec[e].flags & (R_INFLIGHT | R_FREE)) != R_INFLIGHT)
            continue;
        ret = walk_chain(q, e);
        if (ret < 0)
            return ret;
        *desc += q->rec[e].num;
    }
    covered = *nfree + *desc;
    if (covered != q->n)
        return bad(q->index, "%u of %u entries on no list", q->n - covered, q->n);
    return 0;
}

/* The spec's choice: a completion in progress was made visible (commit) if the
 * ring descriptor at old_used_idx is no longer marked available for
 * old_used_wrap_counter; otherwise it, or a fetch in progress, is rolled back. */
static bool packed_commits(const struct vdev_inflight *q, uint16_t slot_flags)
{
    uint16_t slot, avail = q->old_used_wrap ? PACKED_AVAIL : PACKED_USED;

    if (vdev_inflight_packed_recover_slot(q, &slot) != 1)
        return false;
    return (slot_flags & (PACKED_AVAIL | PACKED_USED)) != avail;
}

int vdev_inflight_packed_resume(struct vdev_inflight *q, uint16_t slot_flags,
                                uint16_t *used_idx, bool *used_wrap)
{
    struct vdev_inflight_region_packed *r = q->r.p;
    uint16_t saved = q->free_head, fh, ui;
    uint32_t nfree = 0, desc = 0, live = 0;
    bool commit, uw;
    int ret;

    if (!q->packed)
        return -EINVAL;
    if (q->batch_len)
        return -EBUSY;
    if (q->fresh) {
        if (*used_idx >= q->n)
            return bad(q->index, "used position %u past the ring", *used_idx);
        packed_format(q, *used_idx, *used_wrap);
        q->resumed = true;
        return 0;
    }
    commit = packed_commits(q, slot_flags);
    fh = commit ? q->free_head : q->old_free_head;
    ui = commit ? q->used_idx : q->old_used_idx;
    uw = commit ? q->used_wrap : q->old_used_wrap;

    q->free_head = fh;
    /* The walk finds every buffer id again; on records resumed before (a
     * restart of the ring on the same records), the old map would say each
     * one is taken. */
    memset(q->by_id, 0xff, q->n * sizeof(*q->by_id));
    ret = check_packed(q, &nfree, &desc);
    if (ret == 0)
        ret = check_live(q, &live);
    if (ret < 0) {
        q->free_head = saved;
        settle(q, false, 0);
        return ret;
    }

    if (commit) {        /* in the order of the spec's last completion step */
        PUT(r->old_free_head, fh);
        PUT(r->old_used_idx, ui);
        PUT(r->old_used_wrap_counter, (uint8_t)uw);
    }
    PUT(r->free_head, fh);                      /* roll back what is left */
    PUT(r->used_idx, ui);
    PUT(r->used_wrap_counter, (uint8_t)uw);
    for (uint16_t e = fh; e != q->n; e = q->rec[e].next)
        PUT(r->desc[e].inflight, (uint8_t)0);

    q->old_free_head = fh;
    q->used_idx = q->old_used_idx = ui;
    q->used_wrap = q->old_used_wrap = uw;
    q->nfree = nfree;
    q->inflight_desc = desc;
    settle(q, true, live);
    *used_idx = ui;
    *used_wrap = uw;
    return 0;
}

int vdev_inflight_packed_avail(const struct vdev_inflight *q, uint16_t *avail_idx,
                               bool *avail_wrap)
{
    int ret = packed_ready(q);

    if (ret < 0)
        return ret;
    *avail_idx = q->used_idx;
    *avail_wrap = q->used_wrap;
    advance(q, avail_idx, avail_wrap, q->inflight_desc);
    return 0;
}

int vdev_inflight_packed_fetch(struct vdev_inflight *q,
                               const struct vring_packed_desc *d, uint16_t n)
{
    struct vdev_inflight_region_packed *r = q->r.p;
    uint16_t e = q->old_free_head, id;
    int ret = packed_ready(q);

    if (ret < 0)
        return ret;
    if (n == 0 || (id = le16toh(d[n - 1].id)) >= q->n)
        return -EINVAL;
    if (q->batch_len)
        return -EBUSY;
    if (n > q->nfree)
        return -ENOSPC;
    if (q->by_id[id] != NONE)
        return -EEXIST;

    for (uint16_t i = 0; i < n; i++) {
        uint16_t f = q->free_head;
        bool last = i + 1 == n;

        if (i == 0) {
            PUT(r->desc[e].num, (uint16_t)0);
            PUT(r->desc[e].counter, q->counter);
            PUT(r->desc[e].inflight, (uint8_t)1);
        }
        if (last)
            PUT(r->desc[e].last, f);
        PUT(r->desc[e].num, (uint16_t)(i + 1));
        PUT(r->desc[f].addr, le64toh(d[i].addr));
        PUT(r->desc[f].len, le32toh(d[i].len));
        PUT(r->desc[f].flags, le16toh(d[i].flags));
        PUT(r->desc[f].id, le16toh(d[i].id));
        q->rec[f].id = le16toh(d[i].id);
        q->free_head = q->rec[f].next;
        PUT(r->free_head, q->free_head);
        if (last) {
            q->rec[e].last = f;
            q->old_free_head = q->free_head;
            PUT(r->old_free_head, q->old_free_head);
        }
    }
    q->rec[e].counter = q->counter++;
    q->rec[e].num = n;
    q->rec[e].flags = R_INFLIGHT;
    q->by_id[id] = e;
    q->nfree -= n;
    q->inflight_desc += n;
    q->inflight++;
    return 0;
}

int vdev_inflight_packed_complete(struct vdev_inflight *q, uint16_t id)
{
    struct vdev_inflight_region_packed *r = q->r.p;
    uint16_t e;
    int ret = packed_ready(q);

    if (ret < 0)
        return ret;
    if (id >= q->n)
        return -EINVAL;
    e = q->by_id[id];
    if (e == NONE || (q->rec[e].flags & R_BATCH))
        return -ENOENT;
    /* The chain goes back on the free list, in front. */
    PUT(r->desc[q->rec[e].last].next, q->free_head);
    PUT(r->free_head, e);
    q->rec[q->rec[e].last].next = q->free_head;
    q->free_head = e;
    q->rec[e].flags |= R_BATCH;
    q->batch[q->batch_len++] = e;
    q->batch_desc += q->rec[e].num;
    q->batch_used = false;
    return 0;
}

int vdev_inflight_packed_used(struct vdev_inflight *q, uint16_t used_idx,
                              bool used_wrap)
{
    struct vdev_inflight_region_packed *r = q->r.p;
    uint16_t idx = q->old_used_idx;
    bool wrap = q->old_used_wrap;
    int ret = packed_ready(q);

    if (ret < 0)
        return ret;
    advance(q, &idx, &wrap, q->batch_desc);
    if (idx != used_idx || wrap != used_wrap)
        return -EINVAL;
    PUT(r->used_idx, idx);
    PUT(r->used_wrap_counter, (uint8_t)wrap);
    q->used_idx = idx;
    q->used_wrap = wrap;
    q->batch_used = true;
    return 0;
}

int vdev_inflight_packed_commit(struct vdev_inflight *q)
{
    struct vdev_inflight_region_packed *r = q->r.p;
    int ret = packed_ready(q);

    if (ret < 0)
        return ret;
    if (q->batch_len && !q->batch_used)
        return -EINVAL;
    for (uint32_t k = 0; k < q->batch_len; k++) {
        uint16_t e = q->batch[k];

        PUT(r->desc[e].inflight, (uint8_t)0);
        q->by_id[buffer_id(q, e)] = NONE;
        q->rec[e].flags = 0;
    }
    /* old_used_idx and its wrap counter decide a later recovery, so they change
     * after old_free_head; see the commit in vdev_inflight_packed_resume(). */
    PUT(r->old_free_head, q->free_head);
    PUT(r->old_used_idx, q->used_idx);
    PUT(r->old_used_wrap_counter, (uint8_t)q->used_wrap);
    q->old_free_head = q->free_head;
    q->old_used_idx = q->used_idx;
    q->old_used_wrap = q->used_wrap;
    q->nfree += q->batch_desc;
    q->inflight_desc -= q->batch_desc;
    q->inflight -= q->batch_len;
    q->batch_len = 0;
    q->batch_desc = 0;
    q->batch_used = false;
    return 0;
}

int vdev_inflight_packed_desc(const struct vdev_inflight *q, uint16_t id, uint16_t i,
                              struct vring_packed_desc *d)
{
    const struct vdev_inflight_region_packed *r = q->r.p;
    uint16_t e;
    int ret = packed_ready(q);

    if (ret < 0)
        return ret;
    if (id >= q->n || (e = q->by_id[id]) == NONE || i >= q->rec[e].num)
        return -ENOENT;
    while (i--)
        e = q->rec[e].next;
    d->addr = htole64(GET(r->desc[e].addr));
    d->len = htole32(GET(r->desc[e].len));
    d->id = htole16(GET(r->desc[e].id));
    d->flags = htole16(GET(r->desc[e].flags));
    return 0;
}
