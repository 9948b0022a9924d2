/* ctx.c — a context: one io_uring and its eventfd, the requests waiting for room
 * in the ring, the flushes waiting for earlier writes, and the completions whose
 * callbacks are still to run. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vdev/log.h"
#include "block_internal.h"

#define CTX_DEFAULT_ENTRIES 128u
#define CTX_MAX_ENTRIES     4096u
#define CTX_CACHE_MAX       1024u
#define CTX_CQE_BATCH       64u

static void list_init(struct blk_list *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

static void list_push(struct blk_list *l, struct blk_req *r)
{
    r->next = NULL;
    *l->tail = r;
    l->tail = &r->next;
}

static struct blk_req *list_pop(struct blk_list *l)
{
    struct blk_req *r = l->head;

    if (r) {
        l->head = r->next;
        if (!l->head)
            l->tail = &l->head;
        r->next = NULL;
    }
    return r;
}

static bool op_is_write(enum blk_op op)
{
    return op == BLK_OP_WRITE || op == BLK_OP_DISCARD || op == BLK_OP_WRITE_ZEROES;
}

static int ring_init(struct vdev_blk_ctx *c, unsigned entries)
{
    struct io_uring_params p = { .flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL };
    int ret = io_uring_queue_init_params(entries, &c->ring, &p);

    if (ret == -EINVAL) {           /* before 5.18: no SUBMIT_ALL */
        p = (struct io_uring_params){ .flags = IORING_SETUP_CLAMP };
        ret = io_uring_queue_init_params(entries, &c->ring, &p);
    }
    if (ret < 0)
        return ret;
    c->cq_entries = p.cq_entries;
    return 0;
}

static void probe_ops(struct vdev_blk_ctx *c)
{
    struct io_uring_probe *p = io_uring_get_probe_ring(&c->ring);

    c->has_fallocate = p && io_uring_opcode_supported(p, IORING_OP_FALLOCATE);
    io_uring_free_probe(p);
}

VDEV_API int vdev_blk_ctx_new(unsigned entries, struct vdev_blk_ctx **out)
{
    struct vdev_blk_ctx *c = calloc(1, sizeof(*c));
    int ret;

    if (!c)
        return -ENOMEM;
    if (entries == 0)
        entries = CTX_DEFAULT_ENTRIES;
    if (entries > CTX_MAX_ENTRIES)
        entries = CTX_MAX_ENTRIES;
    ret = ring_init(c, entries);
    if (ret < 0) {
        vdev_err("block: io_uring_queue_init: %s", vdev_strerror(ret));
        free(c);
        return ret;
    }
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        ret = -errno;
        io_uring_queue_exit(&c->ring);
        free(c);
        return ret;
    }
    ret = io_uring_register_eventfd(&c->ring, c->efd);
    if (ret < 0) {
        close(c->efd);
        io_uring_queue_exit(&c->ring);
        free(c);
        return ret;
    }
    probe_ops(c);
    list_init(&c->pending);
    list_init(&c->done);
    list_init(&c->flushes);
    *out = c;
    return 0;
}

static void req_free(struct blk_req *r)
{
    free(r->bounce);
    free(r->iov_store);
    free(r);
}

VDEV_API void vdev_blk_ctx_free(struct vdev_blk_ctx *c)
{
    int ret;

    if (!c)
        return;
    ret = vdev_blk_ctx_drain(c);
    if (ret < 0)
        vdev_err("block: %u requests left in flight at free: %s", c->inflight,
                 vdev_strerror(ret));
    io_uring_queue_exit(&c->ring);      /* the kernel is done with them now */
    close(c->efd);
    while (c->cache) {
        struct blk_req *r = c->cache;

        c->cache = r->next;
        req_free(r);
    }
    free(c);
}

VDEV_API int vdev_blk_ctx_fd(const struct vdev_blk_ctx *c)
{
    return c->efd;
}

VDEV_API unsigned vdev_blk_ctx_inflight(const struct vdev_blk_ctx *c)
{
    return c->inflight;
}

struct blk_req *blk_req_get(struct vdev_blk_ctx *c)
{
    struct blk_req *r = c->cache;
    struct iovec *store;
    unsigned cap;

    if (r) {
        c->cache = r->next;
        c->ncache--;
    } else {
        r = calloc(1, sizeof(*r));
        if (!r)
            return NULL;
    }
    store = r->iov_store;
    cap = r->iov_cap;
    *r = (struct blk_req){ .ctx = c, .iov_store = store, .iov_cap = cap };
    return r;
}

void blk_req_put(struct vdev_blk_ctx *c, struct blk_req *r)
{
    free(r->bounce);
    r->bounce = NULL;
    if (c->ncache >= CTX_CACHE_MAX) {
        req_free(r);
        return;
    }
    r->next = c->cache;
    c->cache = r;
    c->ncache++;
}

int blk_req_iov_reserve(struct blk_req *r, unsigned n)
{
    struct iovec *p;
    unsigned cap;

    if (n <= r->iov_cap)
        return 0;
    cap = n < 8 ? 8 : n;
    p = realloc(r->iov_store, (size_t)cap * sizeof(*p));
    if (!p)
        return -ENOMEM;
    r->iov_store = p;
    r->iov_cap = cap;
    return 0;
}

/* The done list is not empty: make the eventfd readable, once per batch. */
static void ctx_signal(struct vdev_blk_ctx *c)
{
    uint64_t one = 1;

    if (!c->done.head || c->signalled)
        return;
    c->signalled = true;
    /* A full counter (EAGAIN) is readable too. */
    if (write(c->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        vdev_err("block: eventfd write: %s", vdev_strerror(-errno));
}

/* Room for one more SQE: the CQ can take its completion, and the SQ has a slot
 * (after handing what it holds to the kernel, if it was full). */
static bool ctx_has_room(struct vdev_blk_ctx *c)
{
    if (c->in_ring >= c->cq_entries)
        return false;
    if (io_uring_sq_space_left(&c->ring) == 0)
        io_uring_submit(&c->ring);
    return io_uring_sq_space_left(&c->ring) > 0;
}

struct io_uring_sqe *blk_ctx_sqe(struct blk_req *r)
{
    struct vdev_blk_ctx *c = r->ctx;
    struct io_uring_sqe *sqe = NULL;

    /* Keep the order of arrival: nobody passes what already waits. */
    if ((!c->pending.head || c->in_pending) && ctx_has_room(c))
        sqe = io_uring_get_sqe(&c->ring);
    if (!sqe) {
        list_push(&c->pending, r);
        return NULL;
    }
    c->in_ring++;
    return sqe;
}

void blk_req_start(struct blk_req *r)
{
    r->blk->drv->start(r);
}

static void write_list_remove(struct vdev_blk_ctx *c, struct blk_req *r)
{
    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else
        c->writes_head = r->wnext;
    if (r->wnext)
        r->wnext->wprev = r->wprev;
    else
        c->writes_tail = r->wprev;
    r->wprev = r->wnext = NULL;
}

static void write_list_append(struct vdev_blk_ctx *c, struct blk_req *r)
{
    r->wnext = NULL;
    r->wprev = c->writes_tail;
    if (c->writes_tail)
        c->writes_tail->wnext = r;
    else
        c->writes_head = r;
    c->writes_tail = r;
}

/* A flush waits while a write to its backend, submitted before it, is in flight. */
static bool flush_blocked(const struct vdev_blk_ctx *c, const struct blk_req *f)
{
    for (const struct blk_req *w = c->writes_head; w && w->seq <= f->seq; w = w->wnext)
        if (w->blk == f->blk)
            return true;
    return false;
}

static void release_flushes(struct vdev_blk_ctx *c)
{
    struct blk_list still;
    struct blk_req *f;

    list_init(&still);
    while ((f = list_pop(&c->flushes)) != NULL) {
        if (flush_blocked(c, f))
            list_push(&still, f);
        else
            blk_req_start(f);
    }
    /* Starting a flush adds no flush: the list is ours to put back. */
    c->flushes = still;
    if (!c->flushes.head)
        c->flushes.tail = &c->flushes.head;
}

void blk_req_finish(struct blk_req *r, int result)
{
    struct vdev_blk_ctx *c = r->ctx;

    r->result = result;
    list_push(&c->done, r);
    if (op_is_write(r->op)) {
        write_list_remove(c, r);
        if (c->flushes.head)
            release_flushes(c);
    }
}

void blk_ctx_accept(struct vdev_blk_ctx *c, struct blk_req *r)
{
    c->inflight++;
    if (op_is_write(r->op)) {
        r->seq = ++c->seq;
        write_list_append(c, r);
    }
    if (r->op == BLK_OP_FLUSH) {
        r->seq = c->seq;
        if (flush_blocked(c, r))
            list_push(&c->flushes, r);
        else
            blk_req_start(r);
    } else if (r->len == 0) {
        blk_req_finish(r, 0);           /* nothing to transfer */
    } else {
        blk_req_start(r);
    }
}

/* Takes the completions the kernel posted and hands each to its driver. */
static void ctx_take_cqes(struct vdev_blk_ctx *c)
{
    struct io_uring_cqe *cqes[CTX_CQE_BATCH];
    struct { struct blk_req *r; int res; } got[CTX_CQE_BATCH];
    unsigned n, rounds = 0;

    /* Resubmissions can complete at once: bound the rounds, the eventfd (or the
     * next poll) brings the rest. */
    while (rounds++ < 2 * c->cq_entries / CTX_CQE_BATCH + 2 &&
           (n = io_uring_peek_batch_cqe(&c->ring, cqes, CTX_CQE_BATCH)) > 0) {
        for (unsigned i = 0; i < n; i++) {
            got[i].r = io_uring_cqe_get_data(cqes[i]);
            got[i].res = cqes[i]->res;
        }
        io_uring_cq_advance(&c->ring, n);
        c->in_ring -= n;
        for (unsigned i = 0; i < n; i++)
            got[i].r->blk->drv->cqe(got[i].r, got[i].res);
    }
}

static void ctx_run_pending(struct vdev_blk_ctx *c)
{
    c->in_pending = true;
    while (c->pending.head && ctx_has_room(c))
        blk_req_start(list_pop(&c->pending));
    c->in_pending = false;
}

/* Hands what is prepared to the kernel without announcing completions. */
static int ctx_submit_quiet(struct vdev_blk_ctx *c)
{
    int ret;

    ctx_run_pending(c);
    if (io_uring_sq_ready(&c->ring) == 0)
        return 0;
    do {
        ret = io_uring_submit(&c->ring);
    } while (ret == -EINTR);
    /* The kernel is short of room or memory for now: the SQEs stay in the ring
     * and go out at the next submit. */
    if (ret == -EAGAIN || ret == -EBUSY)
        return 0;
    return ret < 0 ? ret : 0;
}

VDEV_API int vdev_blk_ctx_submit(struct vdev_blk_ctx *c)
{
    int ret = ctx_submit_quiet(c);

    ctx_signal(c);
    return ret;
}

static int ctx_run_done(struct vdev_blk_ctx *c)
{
    struct blk_req *r = c->done.head;
    int n = 0;

    list_init(&c->done);
    c->signalled = false;
    while (r) {
        struct blk_req *next = r->next;
        vdev_blk_cb cb = r->cb;
        void *opaque = r->opaque;
        int result = r->result;

        c->inflight--;
        blk_req_put(c, r);
        if (cb)
            cb(opaque, result);
        n++;
        r = next;
    }
    return n;
}

VDEV_API int vdev_blk_ctx_reap(struct vdev_blk_ctx *c)
{
    int n;

    ctx_take_cqes(c);
    ctx_submit_quiet(c);
    n = ctx_run_done(c);
    ctx_submit_quiet(c);        /* what the callbacks prepared */
    ctx_signal(c);              /* what finished meanwhile: come back */
    return n;
}

VDEV_API int vdev_blk_ctx_event(struct vdev_blk_ctx *c)
{
    uint64_t v;

    /* Cleared before the CQEs are looked at: one posted meanwhile sets it again. */
    if (read(c->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        vdev_err("block: eventfd read: %s", vdev_strerror(-errno));
    return vdev_blk_ctx_reap(c);
}

VDEV_API int vdev_blk_ctx_wait(struct vdev_blk_ctx *c)
{
    for (;;) {
        int n, ret;

        if (c->inflight == 0)
            return 0;
        n = vdev_blk_ctx_reap(c);
        if (n > 0)
            return n;
        if (c->inflight == 0)
            return 0;
        if (c->done.head)
            continue;
        if (c->in_ring == 0) {
            /* Everything waits on something that is not in the kernel. */
            vdev_err("block: %u requests in flight, none in the ring", c->inflight);
            return -EIO;
        }
        ret = io_uring_submit_and_wait(&c->ring, 1);
        if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
            ret != -ETIME)
            return ret;
    }
}

VDEV_API int vdev_blk_ctx_drain(struct vdev_blk_ctx *c)
{
    while (c->inflight > 0) {
        int ret = vdev_blk_ctx_wait(c);

        if (ret < 0)
            return ret;
    }
    return 0;
}
