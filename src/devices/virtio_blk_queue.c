/* virtio_blk_queue.c — virtio-blk queues on their workers: request slots, the
 * io_uring the device's queues on one worker share, popping, notifying, and
 * stopping with nothing left in flight. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "vdev/log.h"
#include "vdev/loop.h"
#include "vdev/mem.h"
#include "virtio_blk_internal.h"

static int queue_serve(struct vblk_queue *bq);

/* After completions: notify the queues that pushed, and serve again the ones
 * that ran out of slots. */
static void worker_settle(struct vblk_worker *w)
{
    for (struct vblk_queue *bq = w->queues; bq; bq = bq->next) {
        if (bq->stalled && bq->free && !bq->stopping) {
            bq->stalled = false;
            queue_serve(bq);
        }
        if (bq->notify) {
            bq->notify = false;
            vdev_vq_notify(bq->vq->vq);
        }
    }
}

static void worker_event(void *opaque, uint32_t events)
{
    struct vblk_worker *w = opaque;

    vdev_blk_ctx_event(w->ctx);
    worker_settle(w);
}

static int worker_new(struct vblk_dev *d, struct vdev_loop *loop, struct vblk_worker **out)
{
    struct vblk_worker *w = calloc(1, sizeof(*w));
    int ret;

    if (!w)
        return -ENOMEM;
    w->d = d;
    w->loop = loop;
    ret = vdev_blk_ctx_new(VBLK_CTX_ENTRIES, &w->ctx);
    if (ret == 0) {
        ret = vdev_loop_add_fd(loop, vdev_blk_ctx_fd(w->ctx), EPOLLIN, worker_event, w,
                               &w->watch);
        if (ret < 0)
            vdev_blk_ctx_free(w->ctx);
    }
    if (ret < 0) {
        free(w);
        return ret;
    }
    *out = w;
    return 0;
}

/* The worker of loop for this device, made on first use. Under d->lock. */
static int worker_attach(struct vblk_dev *d, struct vblk_queue *bq, struct vdev_loop *loop)
{
    struct vblk_worker *w = d->workers;
    int ret;

    while (w && w->loop != loop)
        w = w->next;
    if (!w) {
        ret = worker_new(d, loop, &w);
        if (ret < 0)
            return ret;
        w->next = d->workers;
        d->workers = w;
    }
    w->refs++;
    bq->w = w;
    bq->next = w->queues;
    w->queues = bq;
    return 0;
}

/* Under d->lock. The last queue out frees the worker's io_uring. */
static void worker_detach(struct vblk_dev *d, struct vblk_queue *bq)
{
    struct vblk_worker *w = bq->w, **pw;
    struct vblk_queue **pq = &w->queues;

    while (*pq && *pq != bq)
        pq = &(*pq)->next;
    if (*pq)
        *pq = bq->next;
    bq->w = NULL;
    if (--w->refs > 0)
        return;
    vdev_loop_remove(w->watch);
    vdev_blk_ctx_free(w->ctx);
    for (pw = &d->workers; *pw; pw = &(*pw)->next) {
        if (*pw == w) {
            *pw = w->next;
            break;
        }
    }
    free(w);
}

static void slots_free(struct vblk_queue *bq)
{
    for (unsigned i = 0; bq->slots && i < bq->nslots; i++) {
        free(bq->slots[i].vq.iov);
        free(bq->slots[i].vq.iov_gpa);
    }
    free(bq->slots);
    bq->slots = NULL;
}

static int slots_alloc(struct vblk_queue *bq, unsigned n, uint32_t iov_cap)
{
    bq->slots = calloc(n, sizeof(*bq->slots));
    if (!bq->slots)
        return -ENOMEM;
    bq->nslots = n;
    bq->iov_cap = iov_cap;
    for (unsigned i = n; i-- > 0;) {
        struct vblk_req *r = &bq->slots[i];

        r->q = bq;
        r->vq.iov = malloc(iov_cap * sizeof(*r->vq.iov));
        r->vq.iov_gpa = malloc(iov_cap * sizeof(*r->vq.iov_gpa));
        r->vq.iov_cap = iov_cap;
        if (!r->vq.iov || !r->vq.iov_gpa) {
            slots_free(bq);
            return -ENOMEM;
        }
        r->next_free = bq->free;
        bq->free = r;
    }
    return 0;
}

/* A request with more iovecs than a slot holds: pop it into a larger array,
 * only to complete it with IOERR. 1 when done, 0 when the ring is empty, or the
 * error of the pop. */
static int queue_spill(struct vblk_queue *bq)
{
    struct vdev_vq_req req = { 0 };
    uint32_t cap = 4 * bq->iov_cap;
    int ret = -ENOBUFS;

    while (ret == -ENOBUFS && cap <= VBLK_SPILL_MAX) {
        struct iovec *iov = malloc(cap * sizeof(*iov));
        uint64_t *gpa = malloc(cap * sizeof(*gpa));

        free(req.iov);
        free(req.iov_gpa);
        req = (struct vdev_vq_req){ .iov = iov, .iov_gpa = gpa, .iov_cap = cap };
        ret = iov && gpa ? vdev_vq_pop(bq->vq->vq, &req) : -ENOMEM;
        cap *= 2;
    }
    if (ret == 1) {
        uint32_t used = 0;

        vdev_warn("virtio-blk: queue %u: request of %u segments, more than seg_max",
                  bq->vq->index, req.n_out + req.n_in);
        if (req.n_in > 0) {
            struct iovec *last = &req.iov[req.n_out + req.n_in - 1];
            uint64_t gpa = req.iov_gpa[req.n_out + req.n_in - 1] + last->iov_len - 1;

            ((uint8_t *)last->iov_base)[last->iov_len - 1] = VIRTIO_BLK_S_IOERR;
            vdev_mem_mark_dirty(bq->vq->mem, gpa, 1);
            used = 1;
        }
        vdev_vq_push(bq->vq->vq, &req, used);
        bq->notify = true;
    } else if (ret == -ENOBUFS || ret == -ENOMEM) {
        vdev_err("virtio-blk: queue %u: a request needs more than %u iovecs; the "
                 "queue is no longer served", bq->vq->index, VBLK_SPILL_MAX);
        bq->stuck = true;
    }
    free(req.iov);
    free(req.iov_gpa);
    return ret;
}

/* Pops and starts requests while there are slots; they reach the kernel at the
 * next submit or reap. Returns how many. */
static int queue_serve_nosubmit(struct vblk_queue *bq)
{
    int n = 0, ret;

    while (!bq->stopping && !bq->stuck) {
        struct vblk_req *r = bq->free;

        if (!r) {
            bq->stalled = true;
            break;
        }
        ret = vdev_vq_pop(bq->vq->vq, &r->vq);
        if (ret == -ENOBUFS)
            ret = queue_spill(bq);
        else if (ret == 1) {
            bq->free = r->next_free;
            bq->inflight++;
            vblk_req_handle(r);
        }
        if (ret != 1)
            break;      /* empty, or broken: the queue logged it */
        n++;
    }
    return n;
}

/* The same, handed to the kernel at once. */
static int queue_serve(struct vblk_queue *bq)
{
    int n = queue_serve_nosubmit(bq);

    vdev_blk_ctx_submit(bq->w->ctx);
    return n;
}

int vblk_queue_start(void *dev, struct vdev_virtio_queue *q)
{
    struct vblk_dev *d = dev;
    struct vblk_queue *bq;
    uint32_t iov_cap = (d->seg_max > VBLK_DWZ_MAX_SEG ? d->seg_max : VBLK_DWZ_MAX_SEG) +
                       VBLK_IOV_EXTRA;
    unsigned nslots = d->ops.max_queue_size < VBLK_MAX_SLOTS ? d->ops.max_queue_size
                                                              : VBLK_MAX_SLOTS;
    int ret;

    if (!q || q->index >= d->num_queues || !q->vq || !q->loop || !q->mem)
        return -EINVAL;
    bq = calloc(1, sizeof(*bq));
    if (!bq)
        return -ENOMEM;
    bq->d = d;
    bq->vq = q;
    ret = slots_alloc(bq, nslots, iov_cap);
    if (ret < 0) {
        free(bq);
        return ret;
    }
    pthread_mutex_lock(&d->lock);
    if (d->queues[q->index])
        ret = -EBUSY;
    else
        ret = worker_attach(d, bq, q->loop);
    if (ret == 0)
        d->queues[q->index] = bq;
    pthread_mutex_unlock(&d->lock);
    if (ret < 0) {
        slots_free(bq);
        free(bq);
        return ret;
    }
    q->priv = bq;
    return 0;
}

void vblk_queue_kick(void *dev, struct vdev_virtio_queue *q)
{
    struct vblk_queue *bq = q->priv;

    if (!bq)
        return;
    queue_serve_nosubmit(bq);
    vdev_blk_ctx_reap(bq->w->ctx);
    worker_settle(bq->w);
}

int vblk_queue_poll(void *dev, struct vdev_virtio_queue *q)
{
    struct vblk_queue *bq = q->priv;
    int n;

    if (!bq)
        return 0;
    n = queue_serve_nosubmit(bq);
    n += vdev_blk_ctx_reap(bq->w->ctx);
    worker_settle(bq->w);
    return n;
}

/* Waits for the queue's requests in flight; they push as they complete. */
static int queue_drain(struct vblk_queue *bq)
{
    while (bq->inflight > 0) {
        int ret = vdev_blk_ctx_wait(bq->w->ctx);

        if (ret < 0)
            return ret;
    }
    return 0;
}

void vblk_queue_stop(void *dev, struct vdev_virtio_queue *q)
{
    struct vblk_dev *d = dev;
    struct vblk_queue *bq = q->priv;
    int ret;

    if (!bq)
        return;
    bq->stopping = true;
    ret = queue_drain(bq);
    bq->notify = false;
    vdev_vq_notify(q->vq);
    worker_settle(bq->w);       /* other queues completed meanwhile */
    q->priv = NULL;
    pthread_mutex_lock(&d->lock);
    d->queues[q->index] = NULL;
    if (ret == 0)
        worker_detach(d, bq);
    pthread_mutex_unlock(&d->lock);
    if (ret < 0) {
        /* The kernel may still write into the slots' buffers: leave the queue
         * attached, its slots allocated, pushing nothing, rather than free them. */
        vdev_err("virtio-blk: queue %u: %u requests abandoned in flight: %s",
                 q->index, bq->inflight, vdev_strerror(ret));
        bq->dead = true;
        return;
    }
    slots_free(bq);
    free(bq);
}
