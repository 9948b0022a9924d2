/* echo_internal.h — the echo device's state, shared by echo.c (requests,
 * configuration, state) and echo_hold.c (hold mode).
 *
 * A queue's state is touched only by the worker serving it. What other threads
 * reach is atomic: the counters and the releases. */
#ifndef VDEV_ECHO_INTERNAL_H
#define VDEV_ECHO_INTERNAL_H

#include <stdatomic.h>

#include "vdev/dev_echo.h"
#include "vdev/loop.h"
#include "vdev/virtq.h"

/* A request kept in hold mode; its iovecs and their addresses follow it. */
struct echo_held {
    struct echo_held *next;
    struct vdev_vq_req req;
};

struct echo_queue {
    struct echo *e;
    struct vdev_virtio_queue *q;    /* NULL while stopped */
    struct vdev_vq_req req;         /* where requests are popped */
    int release_fd;                 /* hold mode: vdev_echo_release() writes it */
    struct vdev_watch *watch;       /* release_fd on the worker's loop */
    struct echo_held *held, **held_tail;   /* oldest first */
};

struct echo {
    struct vdev_virtio_dev dev;
    uint16_t num_queues;
    bool hold;
    uint32_t scratch;
    _Atomic uint64_t served;        /* requests completed */
    _Atomic uint64_t credits;       /* releases not used yet */
    _Atomic uint64_t held;          /* requests held, over all queues */
    _Atomic uint16_t mtu;           /* net mode: set by the transport */
    struct echo_queue q[];
};

/* echo.c: writes the reply to r, pushes it, counts it. */
void echo_complete(struct echo_queue *eq, const struct vdev_vq_req *r);
/* echo.c: pops, replies or holds, completes what releases allow, notifies;
 * returns the requests popped. */
int  echo_serve(struct echo_queue *eq);

/* echo_hold.c, on the queue's worker. */
int  echo_hold_start(struct echo_queue *eq);    /* watch release_fd */
void echo_hold(struct echo_queue *eq);          /* keep eq->req */
int  echo_release_held(struct echo_queue *eq);  /* complete while releases last */
void echo_hold_stop(struct echo_queue *eq);     /* complete released, cancel rest */
/* echo_hold.c, from any thread: n more held requests may complete. */
void echo_release(struct echo *e, uint32_t n);

#endif
