/* backend_state.c — the device's state for migration ("Migrating back-end
 * state"): SET_DEVICE_STATE_FD hands over one end of a pipe, the state flows
 * through it, CHECK_DEVICE_STATE says whether it all went well.
 *
 * Only while the device is suspended, the one phase the spec defines. Saving:
 * the device's save() fills a buffer at once, then the buffer is written to the
 * fd as the front-end reads it, and the fd is closed at the end (the end of
 * file). Loading: the fd is read to its end, then the device's load() takes the
 * whole. Both go through the control loop without blocking it: the front-end
 * reads the pipe only after the reply to SET_DEVICE_STATE_FD. vdev does not offer
 * a channel of its own: the reply has bit 8 (no fd) set. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "vdev/log.h"
#include "backend_internal.h"

#define XFER_FIRST (64u << 10)
#define XFER_MAX   (16u << 20)          /* the most state vdev saves or loads */

static void xfer_close(struct vu_xfer *x)
{
    if (x->watch)
        vdev_loop_remove(x->watch);
    x->watch = NULL;
    vu_close(&x->fd);
    free(x->buf);
    x->buf = NULL;
    x->len = x->cap = x->done = 0;
    x->active = false;
}

static void xfer_end(struct vdev_vu_backend *b, int result)
{
    struct vu_xfer *x = &b->c.xfer;

    if (result < 0)
        vu_bad(b, result, "device state %s failed: %s",
               x->direction == VU_TRANSFER_SAVE ? "save" : "load",
               vdev_strerror(result));
    xfer_close(x);
    x->result = result;
}

void vu_xfer_release(struct vdev_vu_backend *b)
{
    xfer_close(&b->c.xfer);
    b->c.xfer.result = -ENOENT;
}

/* --- save ------------------------------------------------------------------- */

static int save_all(struct vdev_vu_backend *b, struct vu_xfer *x)
{
    for (size_t cap = XFER_FIRST; cap <= XFER_MAX; cap *= 2) {
        uint8_t *buf = realloc(x->buf, cap);
        int n;

        if (!buf)
            return -ENOMEM;
        x->buf = buf;
        x->cap = cap;
        n = b->dev->ops->save(b->dev->priv, buf, cap);
        if (n >= 0 && (size_t)n <= cap) {
            x->len = (size_t)n;
            return 0;
        }
        if (n != -ENOSPC)
            return n < 0 ? n : -EINVAL;
    }
    return -EFBIG;
}

/* A write to a pipe whose reader has gone raises SIGPIPE, which would end the
 * whole process: it is blocked on this thread for the write, and one it raised
 * is taken back before the mask is restored. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    sigset_t pipe_set, old, pending;
    ssize_t n;
    int err;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE))
        return write(fd, buf, len);       /* one is pending already: blocked */
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    n = write(fd, buf, len);
    err = errno;
    if (n < 0 && err == EPIPE) {
        struct timespec zero = { 0, 0 };

        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

static void on_save_ready(void *opaque, uint32_t events)
{
    struct vdev_vu_backend *b = opaque;
    struct vu_xfer *x = &b->c.xfer;

    while (x->done < x->len) {
        ssize_t n = write_nosigpipe(x->fd, x->buf + x->done, x->len - x->done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            xfer_end(b, n < 0 ? -errno : -EIO);
            return;
        }
        x->done += (size_t)n;
    }
    xfer_end(b, 0);                    /* closing the fd is the end of the data */
}

/* --- load ------------------------------------------------------------------- */

/* Reads what is there: 1 at the end of the data, 0 for more to come, or <0. */
static int load_step(struct vu_xfer *x)
{
    for (;;) {
        ssize_t n;

        if (x->len == x->cap) {
            size_t cap = x->cap ? x->cap * 2 : XFER_FIRST;
            uint8_t *buf;

            if (cap > XFER_MAX)
                return -EFBIG;
            buf = realloc(x->buf, cap);
            if (!buf)
                return -ENOMEM;
            x->buf = buf;
            x->cap = cap;
        }
        n = read(x->fd, x->buf + x->len, x->cap - x->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -errno;
        if (n == 0)
            return 1;
        x->len += (size_t)n;
    }
}

static void load_finish(struct vdev_vu_backend *b)
{
    struct vu_xfer *x = &b->c.xfer;
    int ret;

    if (!vu_suspended(b)) {
        xfer_end(b, -EBUSY);
        return;
    }
    ret = b->dev->ops->load(b->dev->priv, x->buf, x->len);
    xfer_end(b, ret < 0 ? ret : 0);
}

static void on_load_ready(void *opaque, uint32_t events)
{
    struct vdev_vu_backend *b = opaque;
    int ret = load_step(&b->c.xfer);

    if (ret < 0)
        xfer_end(b, ret);
    else if (ret == 1)
        load_finish(b);
}

/* The front-end has closed its end when it sends CHECK_DEVICE_STATE: what is
 * left in the pipe is read now, within the io timeout. */
static void load_drain(struct vdev_vu_backend *b)
{
    struct vu_xfer *x = &b->c.xfer;
    struct timespec t0, t;
    int ret;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((ret = load_step(x)) == 0) {
        struct pollfd p = { .fd = x->fd, .events = POLLIN };
        long spent;

        clock_gettime(CLOCK_MONOTONIC, &t);
        spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= b->timeout_ms || poll(&p, 1, (int)(b->timeout_ms - spent)) == 0) {
            xfer_end(b, -ETIMEDOUT);
            return;
        }
    }
    if (ret < 0)
        xfer_end(b, ret);
    else
        load_finish(b);
}

/* --- requests ----------------------------------------------------------------- */

int vu_h_set_device_state_fd(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_transfer_state *s = &m->p.xfer;
    struct vu_xfer *x = &b->c.xfer;
    int fl, ret;

    if (s->direction != VU_TRANSFER_SAVE && s->direction != VU_TRANSFER_LOAD)
        return vu_bad(b, -EINVAL, "SET_DEVICE_STATE_FD: direction %u", s->direction);
    if (s->phase != VU_PHASE_STOPPED)
        return vu_bad(b, -EINVAL, "SET_DEVICE_STATE_FD: phase %u", s->phase);
    if (!vu_suspended(b))
        return vu_bad(b, -EBUSY, "SET_DEVICE_STATE_FD while a ring is started");
    fl = fcntl(m->fds[0], F_GETFL);
    if (fl < 0 || fcntl(m->fds[0], F_SETFL, fl | O_NONBLOCK) < 0)
        return vu_bad(b, -EBADF, "SET_DEVICE_STATE_FD: unusable fd");

    vu_xfer_release(b);                /* a transfer in progress is abandoned */
    x->direction = s->direction;
    if (s->direction == VU_TRANSFER_SAVE) {
        ret = save_all(b, x);
        if (ret < 0) {
            xfer_close(x);
            return vu_bad(b, ret, "the device's state does not save: %s",
                          vdev_strerror(ret));
        }
    }
    x->fd = vu_take_fd(m, 0);
    ret = vdev_loop_add_fd(b->loop, x->fd,
                           s->direction == VU_TRANSFER_SAVE ? EPOLLOUT : EPOLLIN,
                           s->direction == VU_TRANSFER_SAVE ? on_save_ready
                                                            : on_load_ready,
                           b, &x->watch);
    if (ret < 0) {
        xfer_close(x);
        return ret;
    }
    x->active = true;
    x->result = -EINPROGRESS;
    m->status = VU_VRING_NOFD;         /* success, and no fd of ours */
    return 0;
}

int vu_h_check_device_state(struct vdev_vu_backend *b, struct vu_msg *m)
{
    struct vu_xfer *x = &b->c.xfer;
    int ret;

    if (x->active && x->direction == VU_TRANSFER_LOAD)
        load_drain(b);
    if (x->active)
        return vu_bad(b, -EBUSY, "CHECK_DEVICE_STATE before the state was read");
    ret = x->result;
    if (ret == -ENOENT)
        return vu_bad(b, ret, "CHECK_DEVICE_STATE without a transfer");
    x->result = -ENOENT;
    m->status = 0;
    return ret;
}
