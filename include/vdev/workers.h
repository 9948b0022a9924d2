/* workers.h — the threads that serve virtqueues.
 *
 * A transport hands each started queue of a device to a worker thread. The worker
 * runs an event loop (loop.h): a kick on the queue's kick eventfd calls the
 * device's queue_kick there. In poll mode the worker instead spins, calling
 * queue_poll (or queue_kick) on each of its queues with guest kicks turned off,
 * and goes back to sleep on the kick fds after poll_idle_us without work.
 *
 * The data path takes no lock shared with the control path. The control thread
 * changes what a worker uses only through vdev_workers_start() and
 * vdev_workers_stop(): both run their work on the worker's own thread and return
 * when it is done, so after stop returns the worker no longer touches the queue,
 * its rings or its memory map. */
#ifndef VDEV_WORKERS_H
#define VDEV_WORKERS_H

#include "vdev/common.h"
#include "vdev/virtio_dev.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_workers;
struct vdev_worker_queue;

struct vdev_workers_config {
    unsigned threads;        /* 1 or more */
    bool poll;               /* busy-poll instead of sleeping on kicks */
    uint32_t poll_idle_us;   /* poll mode: sleep after this long without work;
                              * 0 means never sleep */
    const char *name;        /* thread names: "<name>-w<n>", at most 15 chars */
};

/* 0, -EINVAL (no threads), -ENOMEM, or the error of pthread_create. */
VDEV_API int  vdev_workers_new(const struct vdev_workers_config *c,
                               struct vdev_workers **out);
/* Stops the threads. Every queue must have been stopped. */
VDEV_API void vdev_workers_free(struct vdev_workers *w);

VDEV_API unsigned vdev_workers_count(const struct vdev_workers *w);

/* Serves q (its vq already started by the transport) on worker number
 * worker % count: calls dev->ops->queue_start there, then watches kick_fd (an
 * eventfd; -1 when the queue is only kicked in-band or polled). Returns once the
 * queue is served: 0 and *out, or the error of queue_start (nothing is left
 * running). q must stay valid until vdev_workers_stop(). */
VDEV_API int  vdev_workers_start(struct vdev_workers *w, unsigned worker,
                                 struct vdev_virtio_dev *dev,
                                 struct vdev_virtio_queue *q, int kick_fd,
                                 struct vdev_worker_queue **out);

/* Stops serving: removes the kick watch, calls queue_stop on the worker, and
 * returns when the worker is done with the queue. The kick fd stays the
 * caller's. Frees wq. */
VDEV_API void vdev_workers_stop(struct vdev_workers *w, struct vdev_worker_queue *wq);

/* Runs queue_kick on the queue's worker, as a kick on its eventfd would (an
 * in-band VRING_KICK). Safe from any thread; does not wait. */
VDEV_API int  vdev_workers_kick(struct vdev_workers *w, struct vdev_worker_queue *wq);

#ifdef __cplusplus
}
#endif

#endif
