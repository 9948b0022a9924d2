/* vhost_user.h — a vhost-user back-end: serves one virtio device to one VMM
 * front-end at a time over a UNIX socket (QEMU docs/interop/vhost-user.rst).
 *
 * The back-end runs on the control loop it is given: every message is read,
 * checked and answered there. The device's queues run on the workers set
 * (workers.h); the back-end stops a queue's worker before it changes anything
 * that worker uses (memory table, dirty log, ring addresses, call fd, reset).
 *
 * Where the front-end comes from, one of:
 *   socket_path  the back-end listens there. A path held by a live listener is
 *                -EADDRINUSE; a socket file nobody listens on (a crashed
 *                back-end's) is replaced; any other file there is -EEXIST. The
 *                path is unlinked by vdev_vu_backend_free().
 *   listen_fd    a listening socket; the back-end takes it over.
 *   conn_fd      a connected socket (the spec's --fd); the back-end takes it
 *                over. When that front-end goes, no other can come.
 * One front-end is served at a time: while one is connected the listening
 * socket is not watched, so the next one waits in the listen backlog and is
 * accepted when the first has gone.
 *
 * What a front-end can do wrong is answered with an error (a non-zero REPLY_ACK
 * or an empty reply where the request has a reply payload) and a log line, and
 * the connection lives. The connection is closed only when the stream cannot be
 * trusted any more: a payload larger than any request takes (it is not drained:
 * up to 4 GiB would hold the control thread), a message that stalls part-way for
 * io_timeout_ms, a reply that cannot be sent, and the one case the spec names:
 * INBAND_NOTIFICATIONS negotiated without BACKEND_REQ and REPLY_ACK.
 *
 * When the front-end goes away (or is dropped) every ring is stopped, guest
 * memory and the dirty log are unmapped and every fd of the connection is
 * closed; the device and the inflight region stay, for the next front-end.
 *
 * Threads: every call here runs on the control loop's thread, except
 * vdev_vu_backend_new() and vdev_vu_backend_free(), which may run on any
 * thread while the loop is not running. */
#ifndef VDEV_VHOST_USER_H
#define VDEV_VHOST_USER_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_loop;
struct vdev_workers;
struct vdev_virtio_dev;
struct vdev_vu_backend;

/* GET_MAX_MEM_SLOTS answer when max_mem_slots is 0 (QEMU's own limit). */
#define VDEV_VU_DEFAULT_MEM_SLOTS  509u
/* Receive and send limit for one message when io_timeout_ms is 0. */
#define VDEV_VU_DEFAULT_TIMEOUT_MS 5000

struct vdev_vu_backend_config {
    struct vdev_loop *loop;        /* the control loop; borrowed */
    struct vdev_workers *workers;  /* runs the queues; borrowed */
    struct vdev_virtio_dev *dev;   /* borrowed; its ops need queue_start, queue_kick,
                                    * queue_stop, features, num_queues */
    const char *socket_path;       /* exactly one of socket_path, */
    int listen_fd;                 /* listen_fd (else -1) */
    int conn_fd;                   /* and conn_fd (else -1) */
    uint32_t max_mem_slots;        /* 1..509 (0: 509): ADD_MEM_REG regions at most */
    int io_timeout_ms;             /* a message must complete in this (0: default) */
    /* Called on the control thread after a front-end has gone and everything
     * of its connection is released (optional). */
    void (*on_disconnect)(void *opaque);
    void *opaque;
};

/* Returns 0 and *out, or:
 *   -EINVAL         no loop, workers or device; not exactly one source; a device
 *                   without the ops named above or without queues
 *   -ENAMETOOLONG   socket_path does not fit in sun_path
 *   -EADDRINUSE     a live listener holds socket_path
 *   -EEXIST         socket_path is a file that is not a socket
 *   -ENOMEM, or the errno of socket(), bind(), listen(), fcntl()
 * On failure the fd given (listen_fd or conn_fd) is left open: it stays the
 * caller's. */
VDEV_API int  vdev_vu_backend_new(const struct vdev_vu_backend_config *c,
                                  struct vdev_vu_backend **out);

/* Stops every ring, drops the front-end, closes the listening socket (and
 * unlinks socket_path), unmaps everything. NULL is a no-op. */
VDEV_API void vdev_vu_backend_free(struct vdev_vu_backend *b);

/* Whether a front-end is connected now. */
VDEV_API bool vdev_vu_backend_connected(const struct vdev_vu_backend *b);

/* Tells the front-end the device's configuration space changed
 * (BACKEND_CONFIG_CHANGE_MSG on the back-end channel). 0, or:
 *   -ENOTCONN   no front-end, or it gave no back-end channel
 *   -ENOTSUP    protocol features BACKEND_REQ and CONFIG not both negotiated
 *   -EAGAIN     the device is suspended (every ring stopped): nothing is sent
 *               then ("Suspended device state")
 *   the error of the send (the channel is then dropped) */
VDEV_API int  vdev_vu_backend_config_changed(struct vdev_vu_backend *b);

/* Signals used buffers on ring index in-band (BACKEND_VRING_CALL), for a
 * front-end that negotiated INBAND_NOTIFICATIONS. The back-end already does this
 * by itself for a ring whose SET_VRING_CALL came without an fd; this is for a
 * device that wants to signal outside its worker. Errors as above, and -ERANGE
 * for an index past the device's queues. */
VDEV_API int  vdev_vu_backend_vring_call(struct vdev_vu_backend *b, unsigned index);

#ifdef __cplusplus
}
#endif

#endif
