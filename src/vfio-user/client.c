/* client.c — the client's connection and message I/O: one command out, its
 * reply in and checked ("Header": the reply echoes the message id and command
 * with the Reply type; an error reply is the header alone).
 *
 * Commands the server sends before our reply comes, on this socket or the twin
 * socket (DMA_READ and DMA_WRITE, "Socket"), are served meanwhile
 * (client_dma.c). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "vdev/sock.h"
#include "client_internal.h"

void vfuc_drop(struct vdev_vfuc *c, int err, const char *fmt, ...)
{
    char why[192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    vdev_warn(VFUC_LOG "%s (%s): closing the connection", why, vdev_strerror(err));
    if (c->sock >= 0) {
        close(c->sock);
        c->sock = -1;
    }
    if (c->twin_fd >= 0) {
        close(c->twin_fd);
        c->twin_fd = -1;
    }
    c->rx_have = 0;
}

static int client_new(int fd, int timeout_ms, struct vdev_vfuc **out)
{
    struct vdev_vfuc *c = calloc(1, sizeof(*c));

    if (!c)
        return -ENOMEM;
    c->sock = fd;
    c->twin_fd = -1;
    c->timeout_ms = timeout_ms;
    c->my_max_fds = VFUC_DEFAULT_MAX_FDS;
    c->my_max_xfer = VFU_DEFAULT_MAX_DATA_XFER_SIZE;
    c->caps.max_msg_fds = VFU_DEFAULT_MAX_MSG_FDS;
    c->caps.max_data_xfer_size = VFU_DEFAULT_MAX_DATA_XFER_SIZE;
    c->caps.pgsizes = VFU_DEFAULT_PGSIZES;
    c->caps.max_dma_maps = VFU_DEFAULT_MAX_DMA_MAPS;
    c->buf_cap = sizeof(struct vfu_header) + sizeof(struct vfu_region_access) +
                 c->my_max_xfer + VFUC_REPLY_EXTRA;
    c->buf = malloc(c->buf_cap);
    c->rx = malloc(c->buf_cap);
    if (!c->buf || !c->rx) {
        free(c->buf);
        free(c->rx);
        free(c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

VDEV_API int vdev_vfuc_from_fd(int fd, int timeout_ms, struct vdev_vfuc **out)
{
    int ret;

    if (fd < 0 || !out)
        return -EINVAL;
    ret = client_new(fd, timeout_ms, out);
    if (ret < 0)
        close(fd);
    return ret;
}

static int connect_wait(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int err = 0, r;
    socklen_t len = sizeof(err);

    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

VDEV_API int vdev_vfuc_connect(const char *path, int timeout_ms, struct vdev_vfuc **out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd, ret;

    if (!path || !out)
        return -EINVAL;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    if (ret == -EINPROGRESS || ret == -EAGAIN)
        ret = connect_wait(fd, timeout_ms);
    if (ret < 0) {
        close(fd);
        return ret;
    }
    return vdev_vfuc_from_fd(fd, timeout_ms, out);
}

VDEV_API void vdev_vfuc_close(struct vdev_vfuc *c)
{
    if (!c)
        return;
    if (c->sock >= 0)
        close(c->sock);
    if (c->twin_fd >= 0)
        close(c->twin_fd);
    free(c->windows);
    free(c->buf);
    free(c->rx);
    free(c);
}

VDEV_API bool vdev_vfuc_connected(const struct vdev_vfuc *c)
{
    return c && c->sock >= 0;
}

VDEV_API int vdev_vfuc_socket(const struct vdev_vfuc *c)
{
    return c ? c->sock : -1;
}

/* --- one message out ---------------------------------------------------------- */

/* Messages up to this size are built on the stack: register accesses, the
 * hot path, then cost no allocation. */
#define SEND_STACK_MAX 256u

int vfuc_send_on(struct vdev_vfuc *c, int sock, const struct vfu_header *h,
                 const void *payload, uint32_t size, const void *data,
                 uint32_t data_size, const int *fds, size_t nfds)
{
    uint8_t small[SEND_STACK_MAX];
    uint8_t *m = h->msg_size <= sizeof(small) ? small : malloc(h->msg_size);
    int ret;

    if (!m)
        return -ENOMEM;
    memcpy(m, h, sizeof(*h));
    if (size)
        memcpy(m + sizeof(*h), payload, size);
    if (data_size)
        memcpy(m + sizeof(*h) + size, data, data_size);
    ret = vdev_sock_send(sock, m, h->msg_size, fds, nfds, c->timeout_ms);
    if (m != small)
        free(m);
    return ret;
}

/* --- one message in ----------------------------------------------------------- */

/* Reads one whole message from sock into c->buf with its fds (at most
 * max_fds; more is -EPROTO). On error nothing is dropped: the caller knows
 * which channel it was. */
static int recv_msg(struct vdev_vfuc *c, int sock, struct vfu_header *h, int *fds,
                    size_t max_fds, size_t *nfds)
{
    size_t more = 0;
    int ret;

    *nfds = 0;
    ret = vdev_sock_recv(sock, h, sizeof(*h), fds, max_fds, nfds, c->timeout_ms);
    if (ret == -EMSGSIZE)
        ret = -EPROTO;          /* more fds than we announced */
    if (ret < 0)
        return ret;
    if (h->msg_size < sizeof(*h) || h->msg_size > c->buf_cap) {
        vdev_close_fds(fds, *nfds);
        *nfds = 0;
        return -EPROTO;
    }
    memcpy(c->buf, h, sizeof(*h));
    ret = vdev_sock_recv(sock, c->buf + sizeof(*h), h->msg_size - sizeof(*h),
                         fds + *nfds, max_fds - *nfds, &more, c->timeout_ms);
    if (ret == -EMSGSIZE)
        ret = -EPROTO;
    if (ret < 0) {
        vdev_close_fds(fds, *nfds);
        *nfds = 0;
        return ret;
    }
    *nfds += more;
    return 0;
}

int vfuc_twin_serve(struct vdev_vfuc *c)
{
    struct vfu_header h;
    int unused[1];
    size_t nfds = 0;
    int ret = recv_msg(c, c->twin_fd, &h, unused, 0, &nfds);

    if (ret == 0 && (h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND)
        ret = -EPROTO;          /* we send no command on it */
    if (ret == 0)
        ret = vfuc_serve_command(c, c->twin_fd, &h);
    if (ret < 0) {
        vdev_warn(VFUC_LOG "twin socket: %s; closing it", vdev_strerror(ret));
        close(c->twin_fd);
        c->twin_fd = -1;
    }
    return ret;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the main socket to be readable, serving the twin socket meanwhile
 * (the server may need our answer before it answers us); poll() skips a
 * twin_fd of -1. */
static int wait_main(struct vdev_vfuc *c, int64_t deadline)
{
    for (;;) {
        struct pollfd p[2] = {
            { .fd = c->sock, .events = POLLIN },
            { .fd = c->twin_fd, .events = POLLIN },
        };
        int left = -1, r;

        if (deadline >= 0) {
            int64_t l = deadline - now_ms();

            left = l <= 0 ? 0 : (l > 0x7fffffff ? 0x7fffffff : (int)l);
        }
        r = poll(p, 2, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ETIMEDOUT;
        if (p[0].revents)
            return 0;
        vfuc_twin_serve(c);     /* its errors close only the twin socket */
    }
}

union rx_cmsg {
    char buf[CMSG_SPACE(sizeof(int) * VDEV_SOCK_MAX_FDS)];
    struct cmsghdr align;
};

/* One recvmsg() on the main socket, appended to c->rx; its fds appended to
 * fds (more than max_fds in all, or some lost: -EPROTO, all closed). 1 when
 * bytes came, 0 on EAGAIN. */
static int rx_read(struct vdev_vfuc *c, int *fds, size_t max_fds, size_t *nfds)
{
    union rx_cmsg cbuf;
    struct iovec iov = { .iov_base = c->rx + c->rx_have,
                         .iov_len = c->buf_cap - c->rx_have };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
    bool too_many = false;
    ssize_t n;

    do
        n = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*nfds < max_fds) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
                too_many = true;
            }
        }
    }
    if (too_many || (mh.msg_flags & MSG_CTRUNC))
        return -EPROTO;         /* more fds than we announced */
    if (n == 0)
        return c->rx_have ? -EPROTO : -ECONNRESET;
    c->rx_have += (size_t)n;
    return 1;
}

/* Reads one whole message from the main socket into c->buf with its fds, in
 * as few receives as it takes: one recvmsg() usually brings a whole reply,
 * and what comes after it stays in c->rx for the next call.
 *
 * fds: the kernel ends a receive on a UNIX stream socket with the chunk that
 * carries fds, so they belong to the message holding the receive's last byte.
 * A server sends the next message only after we answered or asked again
 * ("Command Concurrency"), so fds that belong to a later message are not the
 * spec's: -EPROTO. On error every fd is closed. */
static int recv_main(struct vdev_vfuc *c, struct vfu_header *h, int *fds,
                     size_t max_fds, size_t *nfds, int64_t deadline)
{
    size_t fds_end = 0;         /* the last byte of a receive with fds, + 1 */
    int ret = 0;

    *nfds = 0;
    for (;;) {
        if (c->rx_have >= sizeof(*h)) {
            memcpy(h, c->rx, sizeof(*h));
            if (h->msg_size < sizeof(*h) || h->msg_size > c->buf_cap) {
                ret = -EPROTO;
                break;
            }
            if (c->rx_have >= h->msg_size) {
                if (fds_end > h->msg_size) {
                    ret = -EPROTO;
                    break;
                }
                memcpy(c->buf, c->rx, h->msg_size);
                c->rx_have -= h->msg_size;
                memmove(c->rx, c->rx + h->msg_size, c->rx_have);
                return 0;
            }
        }
        ret = wait_main(c, deadline);
        if (ret == 0) {
            size_t before = *nfds;

            ret = rx_read(c, fds, max_fds, nfds);
            if (*nfds > before)
                fds_end = c->rx_have;
        }
        if (ret < 0)
            break;
    }
    vdev_close_fds(fds, *nfds);
    *nfds = 0;
    return ret;
}

static int error_of(uint32_t error_no)
{
    return error_no > 0 && error_no < 4096 ? -(int)error_no : -EREMOTEIO;
}

/* Waits for the reply to (id, command). */
static int wait_reply(struct vdev_vfuc *c, uint16_t id, uint16_t command,
                      struct vfuc_reply *r, size_t max_fds)
{
    int64_t deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
    int fds[VDEV_SOCK_MAX_FDS];
    struct vfu_header h;
    size_t nfds;
    int ret;

    for (;;) {
        ret = recv_main(c, &h, fds, c->my_max_fds, &nfds, deadline);
        if (ret < 0) {
            vfuc_drop(c, ret, "waiting for the reply to command %u", command);
            return ret;
        }
        if ((h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND)
            break;
        /* "unrelated messages sent from the server to the client can appear in
         * between a client to server request/reply" ("Command Concurrency"). */
        vdev_close_fds(fds, nfds);
        ret = vfuc_serve_command(c, c->sock, &h);
        if (ret < 0) {
            vfuc_drop(c, ret, "answering the server's command %u", h.command);
            return ret;
        }
    }
    ret = 0;
    if ((h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY ||
        (h.flags & ~(VFU_F_TYPE_MASK | VFU_F_ERROR)))
        ret = -EPROTO;
    else if (h.msg_id != id || h.command != command)
        ret = -EPROTO;
    else if ((h.flags & VFU_F_ERROR) && (h.msg_size != sizeof(h) || nfds))
        ret = -EPROTO;          /* "the reply message must only include the header" */
    else if (nfds > max_fds)
        ret = -EPROTO;
    if (ret < 0) {
        vdev_close_fds(fds, nfds);
        vfuc_drop(c, ret, "a bad reply to command %u (id %u): command %u, id %u, "
                  "flags %#x, %u bytes, %zu fds", command, id, h.command, h.msg_id,
                  h.flags, h.msg_size, nfds);
        return ret;
    }
    if (h.flags & VFU_F_ERROR)
        return error_of(h.error_no);
    r->p = c->buf + sizeof(h);
    r->size = h.msg_size - (uint32_t)sizeof(h);
    r->nfds = nfds;
    memcpy(r->fds, fds, nfds * sizeof(int));
    return 0;
}

int vfuc_call(struct vdev_vfuc *c, uint16_t command, uint32_t flags,
              const void *payload, uint32_t size, const void *data, uint32_t data_size,
              const int *fds, size_t nfds, struct vfuc_reply *r, size_t max_fds)
{
    struct vfu_header h = {
        .msg_id = c->next_id++,
        .command = command,
        .flags = VFU_F_TYPE_COMMAND | flags,
    };
    uint64_t total = sizeof(h) + (uint64_t)size + data_size;
    int ret;

    if (c->sock < 0)
        return -ENOTCONN;
    if (total > UINT32_MAX)
        return -EINVAL;
    if (max_fds > VFUC_DEFAULT_MAX_FDS)
        max_fds = VFUC_DEFAULT_MAX_FDS;
    h.msg_size = (uint32_t)total;
    ret = vfuc_send_on(c, c->sock, &h, payload, size, data, data_size, fds, nfds);
    if (ret < 0)
        vfuc_drop(c, ret, "sending command %u", command);
    if (ret < 0 || (flags & VFU_F_NO_REPLY))
        return ret;
    return wait_reply(c, h.msg_id, command, r, max_fds);
}

int vfuc_bad_reply(struct vdev_vfuc *c, struct vfuc_reply *r, const char *what)
{
    vdev_close_fds(r->fds, r->nfds);
    r->nfds = 0;
    vfuc_drop(c, -EPROTO, "%s: the reply is not the spec's", what);
    return -EPROTO;
}

int vfuc_expect_size(struct vdev_vfuc *c, const struct vfuc_reply *r, uint32_t want,
                     const char *what)
{
    if (r->size == want)
        return 0;
    vdev_close_fds((int *)r->fds, r->nfds);
    vfuc_drop(c, -EPROTO, "%s reply of %u bytes, not %u", what, r->size, want);
    return -EPROTO;
}

VDEV_API int vdev_vfuc_request(struct vdev_vfuc *c, uint16_t command, uint32_t flags,
                               const void *payload, uint32_t size, const int *fds,
                               size_t nfds, void *reply, uint32_t reply_cap,
                               uint32_t *reply_size)
{
    struct vfuc_reply r = { 0 };
    int ret;

    if (!c || (size && !payload) || (nfds && !fds))
        return -EINVAL;
    if (reply_size)
        *reply_size = 0;
    ret = vfuc_call(c, command, flags, payload, size, NULL, 0, fds, nfds, &r,
                    VFUC_DEFAULT_MAX_FDS);
    if (ret < 0 || (flags & VFU_F_NO_REPLY))
        return ret;
    vdev_close_fds(r.fds, r.nfds);
    if (reply && reply_cap)
        memcpy(reply, r.p, r.size < reply_cap ? r.size : reply_cap);
    if (reply_size)
        *reply_size = r.size;
    return 0;
}
