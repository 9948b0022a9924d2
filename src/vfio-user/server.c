/* server.c — a vfio-user server's life: the listening socket, one client at a
 * time, and what a client's end releases ("Client Disconnection": DMA unmapped,
 * irq fds closed, device state kept). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vdev/log.h"
#include "server_internal.h"

#define LISTEN_BACKLOG 16
#define MAX_XFER_LIMIT (64u << 20)

int vfu_bad(const struct vdev_vfu_server *s, int err, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    vdev_warn("vfio-user %s: %s", s->c.peer, why);
    return err;
}

static void conn_reset_state(struct vfu_conn *c)
{
    *c = (struct vfu_conn){ .fd = -1, .twin_fd = -1 };
    snprintf(c->peer, sizeof(c->peer), "(none)");
}

static int listen_watch(struct vdev_vfu_server *s);

void vfu_conn_drop(struct vdev_vfu_server *s, const char *why)
{
    struct vfu_conn *c = &s->c;

    if (c->fd < 0)
        return;
    vdev_info("vfio-user %s: client gone: %s", c->peer, why);
    vfu_dma_quiesce(s, true);          /* no false: the memory goes with the client */
    vfu_dma_release(s);
    vfu_irqs_release(s);
    vdev_mem_free(c->mem);
    free(c->dma);
    vfu_reader_release(&c->rd);
    free(c->reply);
    if (c->twin_fd >= 0)
        close(c->twin_fd);
    if (c->watch)
        vdev_loop_remove(c->watch);
    close(c->fd);
    conn_reset_state(c);

    if (s->freeing)
        return;
    if (s->listen_fd >= 0 && listen_watch(s) < 0)
        vdev_err("vfio-user: cannot watch the listening socket again");
    if (s->on_disconnect)
        s->on_disconnect(s->opaque);
}

static void on_conn(void *opaque, uint32_t events)
{
    struct vdev_vfu_server *s = opaque;
    int ret = vfu_serve(s);

    if (ret == -ECONNRESET)
        vfu_conn_drop(s, "the connection was closed");
    else if (ret == -EPROTO)
        vfu_conn_drop(s, "the connection was closed part-way through a message");
    else if (ret < 0)
        vfu_conn_drop(s, vdev_strerror(ret));
}

/* Serves a connected socket; on failure the fd stays the caller's. */
static int conn_begin(struct vdev_vfu_server *s, int fd)
{
    struct vfu_conn *c = &s->c;
    int fl, ret;

    conn_reset_state(c);
    vdev_sock_peer_name(fd, c->peer, sizeof(c->peer));
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    c->client_max_fds = VFU_DEFAULT_MAX_MSG_FDS;
    c->client_max_xfer = VFU_DEFAULT_MAX_DATA_XFER_SIZE;
    ret = vdev_mem_new(&c->mem);
    if (ret == 0)
        ret = vfu_reader_init(&c->rd, s->msg_max);
    if (ret == 0) {
        c->reply = malloc(sizeof(struct vfu_header) + s->reply_cap);
        if (!c->reply)
            ret = -ENOMEM;
    }
    if (ret == 0)
        ret = vdev_loop_add_fd(s->loop, fd, EPOLLIN, on_conn, s, &c->watch);
    if (ret < 0) {
        vdev_mem_free(c->mem);
        vfu_reader_release(&c->rd);
        free(c->reply);
        conn_reset_state(c);
        return ret;
    }
    c->fd = fd;
    if (s->listen_watch)
        vdev_loop_remove(s->listen_watch);
    s->listen_watch = NULL;
    vdev_info("vfio-user %s: client connected", c->peer);
    return 0;
}

static void on_listen(void *opaque, uint32_t events)
{
    struct vdev_vfu_server *s = opaque;
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int ret;

    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            vdev_warn("vfio-user: accept: %s", vdev_strerror(-errno));
        return;
    }
    if (s->c.fd >= 0) {
        vdev_warn("vfio-user: a second client refused: %s is connected", s->c.peer);
        close(fd);
        return;
    }
    ret = conn_begin(s, fd);
    if (ret < 0) {
        vdev_warn("vfio-user: cannot serve a new client: %s", vdev_strerror(ret));
        close(fd);
    }
}

static int listen_watch(struct vdev_vfu_server *s)
{
    if (s->listen_watch)
        return 0;
    return vdev_loop_add_fd(s->loop, s->listen_fd, EPOLLIN, on_listen, s,
                            &s->listen_watch);
}

/* --- create and free ---------------------------------------------------------- */

static int config_check(const struct vdev_vfu_server_config *c)
{
    const struct vdev_vfu_device_ops *ops;
    int sources;

    if (!c || !c->loop || !c->ops)
        return -EINVAL;
    ops = c->ops;
    if (!ops->get_info || !ops->region_info || !ops->region_access || !ops->irq_info)
        return -EINVAL;
    sources = !!c->socket_path + (c->listen_fd >= 0) + (c->conn_fd >= 0);
    if (sources != 1)
        return -EINVAL;
    if (c->max_msg_fds > VDEV_SOCK_MAX_FDS || c->max_data_xfer_size > MAX_XFER_LIMIT ||
        c->io_timeout_ms < 0)
        return -EINVAL;
    return 0;
}

static void limits_set(struct vdev_vfu_server *s, const struct vdev_vfu_server_config *c)
{
    size_t payload, region_info;

    s->max_fds = c->max_msg_fds ? c->max_msg_fds : VDEV_VFU_DEFAULT_MAX_MSG_FDS;
    s->max_xfer = c->max_data_xfer_size ? c->max_data_xfer_size
                                        : VDEV_VFU_DEFAULT_MAX_XFER;
    s->max_maps = c->max_dma_maps ? c->max_dma_maps : VDEV_VFU_DEFAULT_MAX_DMA_MAPS;
    s->pgsizes = c->pgsizes ? c->pgsizes : VDEV_VFU_DEFAULT_PGSIZES;
    s->timeout_ms = c->io_timeout_ms ? c->io_timeout_ms : VDEV_VFU_DEFAULT_TIMEOUT_MS;

    /* The largest command: a region write of max_xfer, VERSION with its JSON,
     * SET_IRQS with a bool per vector. */
    payload = sizeof(struct vfu_region_access) + s->max_xfer;
    if (payload < sizeof(struct vfu_version) + VFU_VERSION_DATA_MAX)
        payload = sizeof(struct vfu_version) + VFU_VERSION_DATA_MAX;
    if (payload < sizeof(struct vfio_irq_set) + VFU_MAX_IRQ_VECTORS)
        payload = sizeof(struct vfio_irq_set) + VFU_MAX_IRQ_VECTORS;
    s->msg_max = sizeof(struct vfu_header) + payload;

    /* The largest reply: a region read, VERSION, or region info with its cap. */
    region_info = sizeof(struct vfio_region_info) +
                  sizeof(struct vfio_region_info_cap_sparse_mmap) +
                  VDEV_VFU_MAX_MMAP_AREAS * sizeof(struct vfio_region_sparse_mmap_area);
    s->reply_cap = sizeof(struct vfu_region_access) + s->max_xfer;
    if (s->reply_cap < sizeof(struct vfu_version) + VFU_VERSION_DATA_MAX)
        s->reply_cap = sizeof(struct vfu_version) + VFU_VERSION_DATA_MAX;
    if (s->reply_cap < region_info)
        s->reply_cap = region_info;
}

static int source_open(struct vdev_vfu_server *s, const struct vdev_vfu_server_config *c)
{
    int fl, ret;

    if (c->conn_fd >= 0) {
        s->conn_only = true;
        return conn_begin(s, c->conn_fd);
    }
    if (c->socket_path) {
        ret = vdev_sock_listen(c->socket_path, LISTEN_BACKLOG, &s->listen_fd);
        if (ret < 0)
            return ret;
        s->path = strdup(c->socket_path);
        if (!s->path)
            return -ENOMEM;
    } else {
        fl = fcntl(c->listen_fd, F_GETFL);
        if (fl < 0 || fcntl(c->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return -errno;
        s->listen_fd = c->listen_fd;
    }
    return listen_watch(s);
}

VDEV_API int vdev_vfu_server_new(const struct vdev_vfu_server_config *c,
                                 struct vdev_vfu_server **out)
{
    struct vdev_vfu_server *s;
    int ret = config_check(c);

    if (ret < 0)
        return ret;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->loop = c->loop;
    s->ops = c->ops;
    s->opaque = c->opaque;
    s->on_disconnect = c->on_disconnect;
    s->listen_fd = -1;
    s->mig_state = VFIO_DEVICE_STATE_RUNNING;
    limits_set(s, c);
    conn_reset_state(&s->c);

    ret = source_open(s, c);
    if (ret < 0) {
        if (s->listen_fd == c->listen_fd)
            s->listen_fd = -1;         /* stays the caller's */
        vdev_vfu_server_free(s);
        return ret;
    }
    *out = s;
    return 0;
}

VDEV_API void vdev_vfu_server_free(struct vdev_vfu_server *s)
{
    if (!s)
        return;
    s->freeing = true;
    vfu_conn_drop(s, "the server is shut down");
    if (s->listen_watch)
        vdev_loop_remove(s->listen_watch);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->path)
        unlink(s->path);
    free(s->path);
    vfu_irqs_free(s);
    free(s);
}

VDEV_API bool vdev_vfu_server_connected(const struct vdev_vfu_server *s)
{
    return s && s->c.fd >= 0;
}

VDEV_API struct vdev_mem *vdev_vfu_server_mem(struct vdev_vfu_server *s)
{
    return s ? s->c.mem : NULL;
}
