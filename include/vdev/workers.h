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
 * its rings or its memory map.
 *
 * Worker threads block asynchronous signals (they are the control thread's);
 * SIGBUS, SIGSEGV, SIGFPE, SIGILL and SIGTRAP stay deliverable (mem.h's guard). */
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
/* Stops and joins the threads; not from one of them. Every queue must have been
 * stopped: one still served is stopped on its worker, with an error logged. */
VDEV_API void vdev_workers_free(struct vdev_workers *w);

VDEV_API unsigned vdev_workers_count(const struct vdev_workers *w);

/* Serves q (its vq already started by the transport) on worker number
 * worker % count: sets q->loop to that worker's loop, calls dev->ops->queue_start
 * there, then watches kick_fd (an eventfd; -1 when the queue is only kicked
 * in-band or polled), and serves what the ring already holds as a kick would (a
 * ring resumed after a reconnect may not be kicked for it again). kick_fd is made
 * O_NONBLOCK: it is the peer's too, and a read that blocks would stall the worker
 * and every stop after it. The device needs queue_start, queue_kick, queue_stop.
 * Returns once the queue is served: 0 and *out, or an error with nothing left
 * running: -EINVAL, -ENOMEM, the error of queue_start, of fcntl() on kick_fd
 * (-EBADF), or of watching it (-EEXIST: already watched by that worker; -EPERM:
 * not pollable). q must stay valid until vdev_workers_stop(). */
VDEV_API int  vdev_workers_start(struct vdev_workers *w, unsigned worker,
                                 struct vdev_virtio_dev *dev,
                                 struct vdev_virtio_queue *q, int kick_fd,
                                 struct vdev_worker_queue **out);

/* Stops serving: removes the kick watch, asks for guest kicks again (poll mode),
 * calls queue_stop on the worker, and returns when the worker is done with the
 * queue; a queue_kick in progress finishes first. Not from a callback of the
 * queue itself. The kick fd stays the caller's. Frees wq. */
VDEV_API void vdev_workers_stop(struct vdev_workers *w, struct vdev_worker_queue *wq);

/* Runs queue_kick on the queue's worker, as a kick on its eventfd would (an
 * in-band VRING_KICK). From any thread; does not wait; kicks the worker has not
 * seen yet fold into one. Not after, nor racing with, vdev_workers_stop() of wq.
 * 0, -EINVAL or -ENOMEM. */
VDEV_API int  vdev_workers_kick(struct vdev_workers *w, struct vdev_worker_queue *wq);

#ifdef __cplusplus
}
#endif

#endif
