/* workers_internal.h — the layout behind struct vdev_workers, shared by
 * workers.c (threads, start, stop, kicks) and workers_poll.c (poll mode).
 *
 * Fields marked "worker thread" are touched only by the worker's own thread;
 * the control thread reaches them through vdev_loop_call(). */
#ifndef VDEV_WORKERS_INTERNAL_H
#define VDEV_WORKERS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "vdev/loop.h"
#include "vdev/workers.h"

struct worker;

struct vdev_worker_queue {
    struct worker *w;
    struct vdev_virtio_dev *dev;
    struct vdev_virtio_queue *q;
    int kick_fd;                    /* the caller's, or -1 */
    struct vdev_watch *watch;       /* worker thread: the kick fd's watch, or NULL */
    atomic_bool kick_pending;       /* an in-band kick is queued on the loop */
    struct vdev_worker_queue *prev, *next;  /* worker thread: w->queues */
};

struct worker {
    struct vdev_workers *set;
    unsigned index;
    char name[16];                  /* "<name>-w<n>", as pthread_setname_np wants */
    pthread_t thread;
    bool thread_started;
    struct vdev_loop *loop;
    atomic_bool stop;

    /* worker thread */
    struct vdev_worker_queue *queues;
    bool polling;                   /* poll mode: spinning, guest kicks off */
    uint64_t last_work_ns;          /* poll mode: the last round that found work */
    unsigned rounds;
};

struct vdev_workers {
    unsigned count;
    bool poll;
    uint32_t poll_idle_us;
    struct worker *w;               /* count entries */
};

/* workers_poll.c, on the worker thread. */

/* A queue was kicked or added: start spinning (guest kicks off) if sleeping. */
void worker_poll_wake(struct worker *w);
/* A queue joins a worker that may be spinning already. */
void worker_poll_add(struct worker *w, struct vdev_worker_queue *wq);
/* A queue leaves: its guest kicks are asked for again. */
void worker_poll_remove(struct worker *w, struct vdev_worker_queue *wq);
/* One busy-poll round over every queue, the loop's own events included. */
void worker_poll_round(struct worker *w);

#endif
