/* workers_poll.c — poll mode: a worker that spins over its queues.
 *
 * While it spins, guest kicks are turned off on its queues (a hint the driver
 * may ignore; a kick that comes anyway is drained by the loop). After
 * poll_idle_us without work it asks for kicks again; if buffers arrived in the
 * meantime it spins on, otherwise it sleeps in its loop until a kick, an in-band
 * kick or a call from the control thread. All of it on the worker's thread. */
#include <time.h>

#include "vdev/virtq.h"
#include "workers_internal.h"

/* Rounds between two looks at the loop (calls, kicks, device fds), with work
 * or without: a look is an epoll_wait, dearer than a round that finds nothing. */
#define POLL_LOOP_EVERY 64u

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Turns the guest's kicks on or off for one queue; true when enabling finds
 * buffers already available. */
static bool set_kicks(struct vdev_worker_queue *wq, bool on)
{
    return wq->q->vq ? vdev_vq_set_notification(wq->q->vq, on) : false;
}

void worker_poll_wake(struct worker *w)
{
    if (!w->queues)
        return;
    if (!w->polling) {
        for (struct vdev_worker_queue *wq = w->queues; wq; wq = wq->next)
            set_kicks(wq, false);
        w->polling = true;
    }
    w->last_work_ns = now_ns();
}

void worker_poll_add(struct worker *w, struct vdev_worker_queue *wq)
{
    if (w->polling)
        set_kicks(wq, false);
    worker_poll_wake(w);
}

void worker_poll_remove(struct worker *w, struct vdev_worker_queue *wq)
{
    /* Whoever serves the queue next finds kicks on, as vdev_vq_start() leaves
     * them. */
    set_kicks(wq, true);
    if (!w->queues)
        w->polling = false;
}

/* One poll of one queue: did it find work? A device without queue_poll is
 * kicked instead; then the ring's available position tells. */
static bool poll_queue(struct vdev_worker_queue *wq)
{
    const struct vdev_virtio_ops *ops = wq->dev->ops;
    struct vdev_vq *vq = wq->q->vq;
    uint32_t before = vq ? vdev_vq_get_base(vq) : 0;
    int n = 0;

    if (ops->queue_poll)
        n = ops->queue_poll(wq->dev->priv, wq->q);
    else
        ops->queue_kick(wq->dev->priv, wq->q);
    return n > 0 || (vq && vdev_vq_get_base(vq) != before);
}

/* Asks for kicks on every queue before sleeping; a queue that has buffers
 * already keeps the worker spinning. */
static void try_sleep(struct worker *w, uint64_t now)
{
    bool pending = false;

    for (struct vdev_worker_queue *wq = w->queues; wq; wq = wq->next)
        if (set_kicks(wq, true))
            pending = true;
    if (!pending) {
        w->polling = false;
        return;
    }
    for (struct vdev_worker_queue *wq = w->queues; wq; wq = wq->next)
        set_kicks(wq, false);
    w->last_work_ns = now;
}

void worker_poll_round(struct worker *w)
{
    bool work = false;
    uint64_t now;

    for (struct vdev_worker_queue *wq = w->queues; wq; wq = wq->next)
        if (poll_queue(wq))
            work = true;
    if (++w->rounds % POLL_LOOP_EVERY == 0)
        vdev_loop_run_once(w->loop, 0);
    if (!w->polling || !w->queues) {     /* the loop stopped the last queue */
        w->polling = false;
        return;
    }
    now = now_ns();
    if (work) {
        w->last_work_ns = now;
        return;
    }
    if (w->set->poll_idle_us &&
        now - w->last_work_ns >= (uint64_t)w->set->poll_idle_us * 1000u)
        try_sleep(w, now);
}
