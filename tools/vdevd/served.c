/* served.c — a virtio-blk device on a block backend, served over vhost-user. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vdev/block.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/log.h"
#include "vdev/vhost_user.h"
#include "vdev/virtio_vfu.h"
#include "vdev/workers.h"
#include "served.h"

struct vdevd_served {
    const struct vdevd_device_opts *opts;
    struct vdev_blk *blk;
    struct vdev_virtio_dev *dev;
    struct vdev_workers *workers;
    struct vdev_vu_backend *backend;
    struct vdev_virtio_vfu *vfu;
    vdevd_done_fn done;
    void *opaque;
};

/* The block layer's spec string: a comma in the path is written twice. */
static char *blk_spec(const struct vdevd_device_opts *d)
{
    char *spec, *p;
    const char *s;

    if (!d->file) {
        if (asprintf(&spec, "null:size=%llu", (unsigned long long)d->null_size) < 0)
            return NULL;
        return spec;
    }
    spec = malloc(strlen("file:path=,direct=on") + 2 * strlen(d->file) + 1);
    if (!spec)
        return NULL;
    p = stpcpy(spec, "file:path=");
    for (s = d->file; *s; s++) {
        if (*s == ',')
            *p++ = ',';
        *p++ = *s;
    }
    strcpy(p, d->direct ? ",direct=on" : "");
    return spec;
}

static void on_disconnect(void *opaque)
{
    struct vdevd_served *s = opaque;

    if (s->opts->fd >= 0) {
        vdev_info("vdevd: %s: the front-end of fd %d has gone; the device is done",
                  s->opts->id, s->opts->fd);
        s->done(s->opaque, s);
    }
}

static int open_backend(struct vdevd_served *s, char *err, size_t errlen)
{
    const struct vdevd_device_opts *d = s->opts;
    char *spec = blk_spec(d);
    struct stat st;
    int ret;

    if (!spec)
        return -ENOMEM;
    /* The common mistakes get their one line here, before the block layer
     * logs its own. */
    if (d->file && stat(d->file, &st) < 0) {
        ret = -errno;
        free(spec);
        snprintf(err, errlen, "%s: %s: %s", d->id, d->file, vdev_strerror(ret));
        return ret;
    }
    ret = vdev_blk_open(spec, d->read_only, &s->blk);
    free(spec);
    if (ret < 0)
        snprintf(err, errlen, "%s: %s: %s", d->id, d->file ? d->file : "null",
                 vdev_strerror(ret));
    return ret;
}

static int make_device(struct vdevd_served *s, char *err, size_t errlen)
{
    const struct vdevd_device_opts *d = s->opts;
    struct vdev_virtio_blk_config c = {
        .blk = s->blk,
        .num_queues = d->num_queues,
        .queue_size = d->queue_size,
        .serial = d->serial,
        .read_only = d->read_only,
        .writethrough = d->writethrough,
    };
    int ret = vdev_virtio_blk_new(&c, &s->dev);

    if (ret < 0)
        snprintf(err, errlen, "%s: cannot make the virtio-blk device: %s%s", d->id,
                 vdev_strerror(ret),
                 ret == -EINVAL ? " (a value out of range, a serial over 20 bytes, "
                                  "or a disk size not a multiple of 512?)" : "");
    return ret;
}

static int start_workers(struct vdevd_served *s, char *err, size_t errlen)
{
    const struct vdevd_device_opts *d = s->opts;
    unsigned nq = d->num_queues ? d->num_queues : 1;
    struct vdev_workers_config c = {
        .threads = d->workers ? d->workers : (nq < 2 ? nq : 2),
        .poll = d->poll,
        .poll_idle_us = 1000,
        .name = d->id,
    };
    int ret = vdev_workers_new(&c, &s->workers);

    if (ret < 0)
        snprintf(err, errlen, "%s: cannot start %u worker threads: %s", d->id,
                 c.threads, vdev_strerror(ret));
    return ret;
}

static int start_vfio_user(struct vdevd_served *s, struct vdev_loop *loop, char *err,
                           size_t errlen)
{
    const struct vdevd_device_opts *d = s->opts;
    struct vdev_virtio_vfu_config c = {
        .loop = loop, .workers = s->workers, .dev = s->dev,
        .socket_path = d->socket_path, .listen_fd = -1, .conn_fd = -1,
    };
    int ret = vdev_virtio_vfu_new(&c, &s->vfu);

    if (ret == -EADDRINUSE)
        snprintf(err, errlen, "%s: socket %s is in use by a running server", d->id,
                 d->socket_path);
    else if (ret == -EEXIST)
        snprintf(err, errlen, "%s: %s exists and is not a socket", d->id,
                 d->socket_path);
    else if (ret < 0)
        snprintf(err, errlen, "%s: cannot serve over vfio-user on %s: %s", d->id,
                 d->socket_path, vdev_strerror(ret));
    return ret;
}

static int start_vhost_user(struct vdevd_served *s, struct vdev_loop *loop, char *err,
                            size_t errlen)
{
    const struct vdevd_device_opts *d = s->opts;
    struct vdev_vu_backend_config c = {
        .loop = loop,
        .workers = s->workers,
        .dev = s->dev,
        .socket_path = d->socket_path,
        .listen_fd = -1,
        .conn_fd = d->fd,
        .on_disconnect = on_disconnect,
        .opaque = s,
    };
    int ret = vdev_vu_backend_new(&c, &s->backend);

    if (ret == -EADDRINUSE)
        snprintf(err, errlen, "%s: socket %s is in use by a running back-end", d->id,
                 d->socket_path);
    else if (ret == -EEXIST)
        snprintf(err, errlen, "%s: %s exists and is not a socket", d->id,
                 d->socket_path);
    else if (ret < 0 && d->socket_path)
        snprintf(err, errlen, "%s: cannot listen on %s: %s", d->id, d->socket_path,
                 vdev_strerror(ret));
    else if (ret < 0)
        snprintf(err, errlen, "%s: cannot serve fd %d: %s", d->id, d->fd,
                 vdev_strerror(ret));
    return ret;
}

static int start_backend(struct vdevd_served *s, struct vdev_loop *loop, char *err,
                         size_t errlen)
{
    if (s->opts->vfio_user)
        return start_vfio_user(s, loop, err, errlen);
    return start_vhost_user(s, loop, err, errlen);
}

int vdevd_served_start(struct vdev_loop *loop, const struct vdevd_device_opts *d,
                       vdevd_done_fn done, void *opaque, struct vdevd_served **out,
                       char *err, size_t errlen)
{
    struct vdevd_served *s = calloc(1, sizeof(*s));
    const struct vdev_blk_info *info;
    char where[128];
    int ret;

    if (!s)
        return -ENOMEM;
    s->opts = d;
    s->done = done;
    s->opaque = opaque;
    if ((ret = open_backend(s, err, errlen)) < 0 ||
        (ret = make_device(s, err, errlen)) < 0 ||
        (ret = start_workers(s, err, errlen)) < 0 ||
        (ret = start_backend(s, loop, err, errlen)) < 0) {
        vdevd_served_stop(s);
        return ret;
    }
    info = vdev_blk_get_info(s->blk);
    if (d->socket_path)
        snprintf(where, sizeof(where), "socket %s", d->socket_path);
    else
        snprintf(where, sizeof(where), "fd %d", d->fd);
    vdev_info("vdevd: serving %s: virtio-blk on %s (%llu bytes, %s%s), %u queue(s), "
              "%u worker(s)%s, over %s on %s", 
              d->id, d->file ? d->file : "null", (unsigned long long)info->size,
              info->read_only ? "read-only" : "read-write",
              info->direct ? ", O_DIRECT" : "",
              d->num_queues ? d->num_queues : 1, vdev_workers_count(s->workers),
              d->poll ? " polling" : "", d->vfio_user ? "vfio-user (virtio-pci)" :
              "vhost-user", where);
    *out = s;
    return 0;
}

void vdevd_served_stop(struct vdevd_served *s)
{
    if (!s)
        return;
    vdev_vu_backend_free(s->backend);
    vdev_virtio_vfu_free(s->vfu);
    vdev_workers_free(s->workers);
    if (s->dev)
        vdev_virtio_blk_free(s->dev);
    if (s->blk)
        vdev_blk_close(s->blk);
    free(s);
}
