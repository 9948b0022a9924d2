/* sock.c — whole messages with fds over UNIX stream sockets (sock.h).
 *
 * Both directions loop on sendmsg()/recvmsg() until the whole message has moved.
 * When timeout_ms >= 0 each call is made with MSG_DONTWAIT, so the time limit
 * holds on blocking sockets too; the wait itself is poll() against one deadline
 * for the whole message. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vdev/sock.h"

/* Control buffer for the most fds one sendmsg() can carry. */
union sock_cmsg_buf {
    char buf[CMSG_SPACE(sizeof(int) * VDEV_SOCK_MAX_FDS)];
    struct cmsghdr align;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline for a whole message: -1 for none. */
static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Waits until sock is ready for events or the deadline passes: 0 when it is
 * worth trying again, -ETIMEDOUT, or another negative errno. */
static int sock_wait(int sock, short events, int64_t deadline)
{
    struct pollfd p = { .fd = sock, .events = events };
    int timeout = -1;
    int r;

    if (deadline >= 0) {
        int64_t left = deadline - now_ms();

        if (left <= 0)
            return -ETIMEDOUT;
        timeout = left > 0x7fffffff ? 0x7fffffff : (int)left;
    }
    r = poll(&p, 1, timeout);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (r == 0)
        return -ETIMEDOUT;
    if (p.revents & POLLNVAL)
        return -EBADF;
    /* Ready, or POLLERR/POLLHUP: the next call reports what happened. */
    return 0;
}

/* ---- send ---- */

static void put_fds(struct msghdr *msg, union sock_cmsg_buf *cbuf,
                    const int *fds, size_t nfds)
{
    struct cmsghdr *cmsg;

    msg->msg_control = cbuf->buf;
    msg->msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsg = CMSG_FIRSTHDR(msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
}

int vdev_sock_send(int sock, const void *buf, size_t len,
                   const int *fds, size_t nfds, int timeout_ms)
{
    union sock_cmsg_buf cbuf;
    int64_t deadline = deadline_of(timeout_ms);
    int flags = MSG_NOSIGNAL | (timeout_ms >= 0 ? MSG_DONTWAIT : 0);
    bool fds_pending = nfds > 0;
    size_t off = 0;

    if (nfds > VDEV_SOCK_MAX_FDS || (nfds && !fds) || (len && !buf))
        return -EINVAL;
    /* The fds ride on the first byte: a message without bytes cannot carry them. */
    if (len == 0)
        return nfds ? -EINVAL : 0;

    while (off < len) {
        struct iovec iov = {
            .iov_base = (char *)buf + off,
            .iov_len = len - off,
        };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t r;
        int ret;

        if (fds_pending)
            put_fds(&msg, &cbuf, fds, nfds);
        r = sendmsg(sock, &msg, flags);
        if (r > 0) {
            /* Whatever part was taken, the fds went with its first byte. */
            fds_pending = false;
            off += (size_t)r;
            continue;
        }
        switch (r == 0 ? EAGAIN : errno) {   /* 0: not seen on stream sockets */
        case EINTR:
            continue;
        case EAGAIN:            /* EWOULDBLOCK on Linux */
            ret = sock_wait(sock, POLLOUT, deadline);
            if (ret < 0)
                return ret;
            continue;
        case EPIPE:
        case ECONNRESET:
            return -EPIPE;
        default:
            return -errno;
        }
    }
    return 0;
}

/* ---- receive ---- */

struct recv_state {
    int *fds;
    size_t max_fds;
    size_t nfds;        /* fds stored in fds[] so far */
    bool overflow;      /* an fd was dropped: the message ends in -EMSGSIZE */
};

static void close_fd(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* Keeps the fds of one SCM_RIGHTS block while there is room, closes the rest. */
static void take_rights(struct recv_state *st, const struct cmsghdr *cmsg)
{
    size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char *data = CMSG_DATA(cmsg);

    for (size_t i = 0; i < n; i++) {
        int fd;

        memcpy(&fd, data + i * sizeof(int), sizeof(int));
        if (!st->overflow && st->nfds < st->max_fds) {
            st->fds[st->nfds++] = fd;
        } else {
            st->overflow = true;
            close_fd(fd);
        }
    }
}

static void take_fds(struct recv_state *st, struct msghdr *msg)
{
    struct cmsghdr *cmsg;

    for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
            cmsg->cmsg_len >= CMSG_LEN(0))
            take_rights(st, cmsg);
    }
    /* The kernel dropped fds it had no room for (control buffer or
     * RLIMIT_NOFILE); the ones it did install were taken above. */
    if (msg->msg_flags & MSG_CTRUNC)
        st->overflow = true;
}

/* One recvmsg() into buf; returns its byte count or a negative errno. */
static ssize_t recv_chunk(int sock, void *buf, size_t len, int flags,
                          struct recv_state *st)
{
    union sock_cmsg_buf cbuf;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = cbuf.buf,
        .msg_controllen = sizeof(cbuf.buf),
    };
    ssize_t r = recvmsg(sock, &msg, flags);

    if (r < 0)
        return -errno;
    take_fds(st, &msg);
    return r;
}

int vdev_sock_recv(int sock, void *buf, size_t len, int *fds,
                   size_t max_fds, size_t *nfds, int timeout_ms)
{
    struct recv_state st = { .fds = fds, .max_fds = max_fds };
    int64_t deadline = deadline_of(timeout_ms);
    int flags = MSG_CMSG_CLOEXEC | (timeout_ms >= 0 ? MSG_DONTWAIT : 0);
    size_t off = 0;
    int ret = 0;

    if (max_fds && (!fds || !nfds))
        return -EINVAL;
    if (len && !buf)
        return -EINVAL;
    if (nfds)
        *nfds = 0;

    while (off < len) {
        ssize_t r = recv_chunk(sock, (char *)buf + off, len - off, flags, &st);

        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        if (r == 0 || r == -ECONNRESET) {
            /* The peer is gone: before the message, or part-way through it. */
            ret = off == 0 ? -ECONNRESET : -EPROTO;
            break;
        }
        if (r == -EINTR)
            continue;
        if (r == -EAGAIN) {     /* EWOULDBLOCK on Linux */
            ret = sock_wait(sock, POLLIN, deadline);
            if (ret < 0)
                break;
            continue;
        }
        ret = (int)r;
        break;
    }

    if (ret == 0 && st.overflow)
        ret = -EMSGSIZE;
    if (ret < 0) {
        vdev_close_fds(st.fds, st.nfds);
        return ret;
    }
    if (nfds)
        *nfds = st.nfds;
    return 0;
}

void vdev_close_fds(int *fds, size_t n)
{
    if (!fds)
        return;
    for (size_t i = 0; i < n; i++) {
        close_fd(fds[i]);
        fds[i] = -1;
    }
}
