/* server_reader.c — the server's buffered reader: one recvmsg() takes whatever
 * the client has queued, possibly several messages ("Command Concurrency": a
 * client may pipeline commands), and whole messages are cut out of the buffer.
 *
 * fds: the kernel ends a receive on a UNIX stream socket with the first chunk
 * that carries fds, so they belong to the message holding the receive's last
 * byte. Each is kept with that position and handed to its message once the
 * message is complete; any left over from earlier (a client that attached fds
 * to no message) are closed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "server_internal.h"

union reader_cmsg {
    char buf[CMSG_SPACE(sizeof(int) * VDEV_SOCK_MAX_FDS)];
    struct cmsghdr align;
};

int vfu_reader_init(struct vfu_reader *rd, size_t cap)
{
    memset(rd, 0, sizeof(*rd));
    rd->buf = malloc(cap);
    if (!rd->buf)
        return -ENOMEM;
    rd->cap = cap;
    return 0;
}

void vfu_reader_release(struct vfu_reader *rd)
{
    for (size_t i = 0; i < rd->nfds; i++)
        if (rd->fds[i].fd >= 0)
            close(rd->fds[i].fd);
    free(rd->buf);
    memset(rd, 0, sizeof(*rd));
}

/* Keeps the fds of one receive, tagged with its last byte's position. A client
 * that piles up more than VFU_PENDING_FDS_MAX without completing messages is
 * not sending vfio-user: -E2BIG, every fd closed. */
static int keep_fds(struct vfu_reader *rd, const int *fds, size_t n, bool lost,
                    uint64_t pos)
{
    size_t need = n + (lost ? 1 : 0);

    if (rd->nfds + need > VFU_PENDING_FDS_MAX) {
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
        return -E2BIG;
    }
    for (size_t i = 0; i < n; i++)
        rd->fds[rd->nfds++] = (struct vfu_pending_fd){ .pos = pos, .fd = fds[i] };
    if (lost)
        rd->fds[rd->nfds++] = (struct vfu_pending_fd){ .pos = pos, .fd = -1 };
    return 0;
}

/* Moves the unread bytes to the front so a whole message fits. */
static void compact(struct vfu_reader *rd)
{
    if (rd->head == 0)
        return;
    memmove(rd->buf, rd->buf + rd->head, rd->tail - rd->head);
    rd->base += rd->head;
    rd->tail -= rd->head;
    rd->head = 0;
}

int vfu_reader_fill(struct vfu_reader *rd, int sock)
{
    union reader_cmsg cbuf;
    struct iovec iov;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    int fds[VDEV_SOCK_MAX_FDS];
    size_t nfds = 0;
    ssize_t n;

    if (rd->tail == rd->cap)
        compact(rd);
    if (rd->tail == rd->cap)      /* vfu_reader_next() would have taken it */
        return -EMSGSIZE;
    iov.iov_base = rd->buf + rd->tail;
    iov.iov_len = rd->cap - rd->tail;
    mh.msg_control = cbuf.buf;
    mh.msg_controllen = sizeof(cbuf.buf);
    do
        n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;

    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && nfds < VDEV_SOCK_MAX_FDS; i++)
            memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
    }
    if (n == 0) {
        vdev_close_fds(fds, nfds);
        return rd->tail > rd->head ? -EPROTO : -ECONNRESET;
    }
    rd->tail += (size_t)n;
    if (nfds || (mh.msg_flags & MSG_CTRUNC))
        return keep_fds(rd, fds, nfds, mh.msg_flags & MSG_CTRUNC,
                        rd->base + rd->tail - 1) < 0 ? -E2BIG : 1;
    return 1;
}

/* Hands the fds of [start, end) to m, at most max_fds (the rest are closed and
 * m->fds_lost set); closes older ones, which belong to no message. */
static void take_fds(struct vfu_reader *rd, struct vfu_msg *m, uint64_t start,
                     uint64_t end, size_t max_fds)
{
    size_t keep = 0;

    for (size_t i = 0; i < rd->nfds; i++) {
        struct vfu_pending_fd *p = &rd->fds[i];

        if (p->pos >= end) {
            rd->fds[keep++] = *p;
            continue;
        }
        if (p->pos < start || p->fd < 0) {
            if (p->fd >= 0)
                close(p->fd);
            if (p->pos >= start)
                m->fds_lost = true;
            continue;
        }
        if (m->nfds < max_fds) {
            m->fds[m->nfds++] = p->fd;
        } else {
            close(p->fd);
            m->fds_lost = true;
        }
    }
    rd->nfds = keep;
}

int vfu_reader_next(struct vfu_reader *rd, struct vfu_msg *m, size_t max_fds)
{
    size_t avail = rd->tail - rd->head;
    uint64_t start;

    if (avail < sizeof(m->hdr))
        return 0;
    memcpy(&m->hdr, rd->buf + rd->head, sizeof(m->hdr));
    if (m->hdr.msg_size < sizeof(m->hdr))
        return -EBADMSG;
    if (m->hdr.msg_size > rd->cap)
        return -EMSGSIZE;
    if (avail < m->hdr.msg_size) {
        if (rd->head + m->hdr.msg_size > rd->cap)
            compact(rd);
        return 0;
    }
    start = rd->base + rd->head;
    m->p = rd->buf + rd->head + sizeof(m->hdr);
    m->size = m->hdr.msg_size - (uint32_t)sizeof(m->hdr);
    m->nfds = 0;
    m->fds_lost = false;
    take_fds(rd, m, start, start + m->hdr.msg_size, max_fds);
    rd->head += m->hdr.msg_size;
    if (rd->head == rd->tail) {
        rd->base += rd->head;
        rd->head = rd->tail = 0;
    }
    return 1;
}
