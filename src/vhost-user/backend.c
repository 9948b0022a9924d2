/* backend.c — a vhost-user back-end's life: the listening socket, one front-end
 * connection at a time, and what a connection's end releases.
 *
 * While a front-end is connected the listening socket is not watched: the next
 * front-end waits in the listen backlog and is accepted once the first has gone
 * (QEMU reconnecting after an error lands there, rather than being refused). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vdev/log.h"
#include "vdev/sock.h"
#include "backend_internal.h"

#define LISTEN_BACKLOG 16

static void conn_reset_state(struct vu_conn *c)
{
    *c = (struct vu_conn){ .fd = -1, .backend_fd = -1 };
    c->log.log_fd = -1;
    c->xfer.fd = -1;
    c->xfer.result = -ENOENT;
    snprintf(c->peer, sizeof(c->peer), "(none)");
}

static int listen_watch(struct vdev_vu_backend *b);

void vu_conn_drop(struct vdev_vu_backend *b, const char *why)
{
    struct vu_conn *c = &b->c;

    if (c->fd < 0)
        return;
    vdev_info("vhost-user %s: front-end gone: %s", c->peer, why);
    for (unsigned i = 0; i < b->nrings; i++)
        vu_ring_reset(b, &b->rings[i]);
    vu_xfer_release(b);
    vu_log_release(b);
    vu_iotlb_release(b);               /* aliases c->mem: first */
    vu_events_release(b);
    vdev_mem_free(c->mem);
    vu_close(&c->backend_fd);
    if (c->watch)
        vdev_loop_remove(c->watch);
    close(c->fd);
    conn_reset_state(c);

    if (b->freeing)
        return;
    if (b->listen_fd >= 0 && listen_watch(b) < 0)
        vdev_err("vhost-user: cannot watch the listening socket again");
    if (b->on_disconnect)
        b->on_disconnect(b->opaque);
}

static void on_conn(void *opaque, uint32_t events)
{
    struct vdev_vu_backend *b = opaque;
    int ret = vu_msg_serve(b);

    if (ret == -ECONNRESET)
        vu_conn_drop(b, "the connection was closed");
    else if (ret < 0)
        vu_conn_drop(b, vdev_strerror(ret));
}

/* Serves a connected socket; on failure the fd stays the caller's. */
static int conn_begin(struct vdev_vu_backend *b, int fd)
{
    struct vu_conn *c = &b->c;
    int ret;

    conn_reset_state(c);
    vdev_sock_peer_name(fd, c->peer, sizeof(c->peer));
    ret = vdev_mem_new(&c->mem);
    if (ret < 0)
        return ret;
    ret = vdev_loop_add_fd(b->loop, fd, EPOLLIN, on_conn, b, &c->watch);
    if (ret < 0) {
        vdev_mem_free(c->mem);
        conn_reset_state(c);
        return ret;
    }
    c->fd = fd;
    if (b->listen_watch)
        vdev_loop_remove(b->listen_watch);
    b->listen_watch = NULL;
    vdev_info("vhost-user %s: front-end connected", c->peer);
    return 0;
}

static void on_listen(void *opaque, uint32_t events)
{
    struct vdev_vu_backend *b = opaque;
    int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int ret;

    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            vdev_warn("vhost-user: accept: %s", vdev_strerror(-errno));
        return;
    }
    if (b->c.fd >= 0) {
        vdev_warn("vhost-user: a second front-end refused: %s is connected",
                  b->c.peer);
        close(fd);
        return;
    }
    ret = conn_begin(b, fd);
    if (ret < 0) {
        vdev_warn("vhost-user: cannot serve a new front-end: %s", vdev_strerror(ret));
        close(fd);
    }
}

static int listen_watch(struct vdev_vu_backend *b)
{
    if (b->listen_watch)
        return 0;
    return vdev_loop_add_fd(b->loop, b->listen_fd, EPOLLIN, on_listen, b,
                            &b->listen_watch);
}

/* --- create and free ---------------------------------------------------------- */

static int config_check(const struct vdev_vu_backend_config *c)
{
    const struct vdev_virtio_ops *ops;
    int sources;

    if (!c || !c->loop || !c->workers || !c->dev || !c->dev->ops)
        return -EINVAL;
    ops = c->dev->ops;
    if (!ops->queue_start || !ops->queue_kick || !ops->queue_stop || !ops->features ||
        !ops->num_queues)
        return -EINVAL;
    sources = !!c->socket_path + (c->listen_fd >= 0) + (c->conn_fd >= 0);
    if (sources != 1)
        return -EINVAL;
    if (c->max_mem_slots > VDEV_VU_DEFAULT_MEM_SLOTS || c->io_timeout_ms < 0)
        return -EINVAL;
    return 0;
}

static int rings_new(struct vdev_vu_backend *b)
{
    b->rings = calloc(b->nrings, sizeof(*b->rings));
    if (!b->rings)
        return -ENOMEM;
    for (unsigned i = 0; i < b->nrings; i++) {
        struct vu_ring *r = &b->rings[i];

        r->owner = b;
        r->index = i;
        r->kick_fd = r->call_fd = r->err_fd = r->inband_fd = -1;
        if (vdev_vq_new(&r->vq) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int source_open(struct vdev_vu_backend *b, const struct vdev_vu_backend_config *c)
{
    int fl, ret;

    if (c->conn_fd >= 0)
        return conn_begin(b, c->conn_fd);
    if (c->socket_path) {
        ret = vdev_sock_listen(c->socket_path, LISTEN_BACKLOG, &b->listen_fd);
        if (ret < 0)
            return ret;
        b->path = strdup(c->socket_path);
        if (!b->path)
            return -ENOMEM;
    } else {
        fl = fcntl(c->listen_fd, F_GETFL);
        if (fl < 0 || fcntl(c->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return -errno;
        b->listen_fd = c->listen_fd;
    }
    return listen_watch(b);
}

VDEV_API int vdev_vu_backend_new(const struct vdev_vu_backend_config *c,
                                 struct vdev_vu_backend **out)
{
    struct vdev_vu_backend *b;
    uint16_t nq;
    int ret = config_check(c);

    if (ret < 0)
        return ret;
    nq = c->dev->ops->num_queues(c->dev->priv);
    if (nq == 0)
        return -EINVAL;
    b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->loop = c->loop;
    b->workers = c->workers;
    b->dev = c->dev;
    b->listen_fd = -1;
    b->max_slots = c->max_mem_slots ? c->max_mem_slots : VDEV_VU_DEFAULT_MEM_SLOTS;
    b->timeout_ms = c->io_timeout_ms ? c->io_timeout_ms : VDEV_VU_DEFAULT_TIMEOUT_MS;
    b->on_disconnect = c->on_disconnect;
    b->opaque = c->opaque;
    b->nrings = nq < VU_MAX_RINGS ? nq : VU_MAX_RINGS;
    if (nq > VU_MAX_RINGS)
        vdev_warn("vhost-user: %s has %u queues; vhost-user reaches %u",
                  c->dev->ops->name, nq, VU_MAX_RINGS);
    b->max_qsize = c->dev->ops->max_queue_size;
    if (b->max_qsize == 0 || b->max_qsize > VDEV_VQ_MAX_SIZE)
        b->max_qsize = VDEV_VQ_MAX_SIZE;
    conn_reset_state(&b->c);

    ret = rings_new(b);
    if (ret == 0)
        ret = source_open(b, c);
    if (ret < 0) {
        if (b->listen_fd == c->listen_fd)
            b->listen_fd = -1;         /* stays the caller's */
        vdev_vu_backend_free(b);
        return ret;
    }
    *out = b;
    return 0;
}

VDEV_API void vdev_vu_backend_free(struct vdev_vu_backend *b)
{
    if (!b)
        return;
    b->freeing = true;
    vu_conn_drop(b, "the back-end is shut down");
    if (b->listen_watch)
        vdev_loop_remove(b->listen_watch);
    if (b->listen_fd >= 0)
        close(b->listen_fd);
    if (b->path)
        unlink(b->path);
    free(b->path);
    vu_inflight_release(b);
    if (b->rings)
        for (unsigned i = 0; i < b->nrings; i++)
            vdev_vq_free(b->rings[i].vq);
    free(b->rings);
    free(b);
}

VDEV_API bool vdev_vu_backend_connected(const struct vdev_vu_backend *b)
{
    return b && b->c.fd >= 0;
}
