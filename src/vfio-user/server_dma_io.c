/* server_dma_io.c — the device's access to client memory by DMA address.
 *
 * A window the client shared with an fd is read and written in place, through
 * the connection's vdev_mem. One shared without an fd is reached with
 * VFIO_USER_DMA_READ / VFIO_USER_DMA_WRITE messages ("VFIO_USER_DMA_READ"), in
 * pieces of at most the client's max_data_xfer_size, over the twin socket. The
 * main socket is not used for them: our command's reply would come interleaved
 * with the client's commands, which this server reads as a stream of commands
 * only; without twin-socket mode such an access is -ENOTSUP.
 *
 * The reply is awaited on the loop's thread, with the server's io timeout. A
 * reply that breaks the protocol (or none in time) closes the twin socket: the
 * channel is out of step; the main connection lives. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vdev/log.h"
#include "vdev/sock.h"
#include "server_internal.h"

/* The largest piece we ask for, whatever the client announced. */
#define DMA_PIECE_MAX (1u << 20)

struct dma_msg {
    struct vfu_header h;
    struct vfu_dma_access a;
} __attribute__((packed));

static int twin_fail(struct vdev_vfu_server *s, int err, const char *fmt, ...)
{
    char why[192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    vdev_warn("vfio-user %s: twin socket: %s (%s); closing it", s->c.peer, why,
              vdev_strerror(err));
    close(s->c.twin_fd);
    s->c.twin_fd = -1;
    return err < 0 ? err : -EPROTO;
}

/* The reply's header and echoed access, checked; 0, or the client's -errno for
 * an error reply (the channel stays), or a channel error (closed). */
static int recv_reply(struct vdev_vfu_server *s, const struct dma_msg *req,
                      uint32_t want_size)
{
    struct dma_msg rep;
    int ret = vdev_sock_recv(s->c.twin_fd, &rep.h, sizeof(rep.h), NULL, 0, NULL,
                             s->timeout_ms);

    if (ret < 0)
        return twin_fail(s, ret, "no reply to DMA command %u", req->h.command);
    if ((rep.h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY ||
        (rep.h.flags & ~(VFU_F_TYPE_MASK | VFU_F_ERROR)) ||
        rep.h.msg_id != req->h.msg_id || rep.h.command != req->h.command)
        return twin_fail(s, -EPROTO, "a reply of flags %#x, id %u, command %u to id "
                         "%u, command %u", rep.h.flags, rep.h.msg_id, rep.h.command,
                         req->h.msg_id, req->h.command);
    if (rep.h.flags & VFU_F_ERROR) {
        if (rep.h.msg_size != sizeof(rep.h))
            return twin_fail(s, -EPROTO, "an error reply with a payload");
        ret = rep.h.error_no > 0 && rep.h.error_no < 4096 ? -(int)rep.h.error_no
                                                           : -EREMOTEIO;
        vdev_warn("vfio-user %s: DMA command %u at %#llx+%llu failed in the client: %s",
                  s->c.peer, req->h.command, (unsigned long long)req->a.addr,
                  (unsigned long long)req->a.count, vdev_strerror(ret));
        return ret;
    }
    if (rep.h.msg_size != want_size)
        return twin_fail(s, -EPROTO, "a reply of %u bytes, not %u", rep.h.msg_size,
                         want_size);
    ret = vdev_sock_recv(s->c.twin_fd, &rep.a, sizeof(rep.a), NULL, 0, NULL,
                         s->timeout_ms);
    if (ret < 0)
        return twin_fail(s, ret, "a reply cut short");
    if (rep.a.addr != req->a.addr || rep.a.count != req->a.count)
        return twin_fail(s, -EPROTO, "a reply for %#llx+%llu, not %#llx+%llu",
                         (unsigned long long)rep.a.addr, (unsigned long long)rep.a.count,
                         (unsigned long long)req->a.addr,
                         (unsigned long long)req->a.count);
    return 0;
}

/* One DMA_READ (buf filled) or DMA_WRITE (buf sent) of count bytes. */
static int dma_msg(struct vdev_vfu_server *s, uint16_t command, uint64_t addr,
                   void *buf, uint32_t count)
{
    bool write = command == VFU_CMD_DMA_WRITE;
    struct dma_msg req = {
        .h = { .msg_id = s->c.next_id++, .command = command,
               .msg_size = (uint32_t)sizeof(req) + (write ? count : 0),
               .flags = VFU_F_TYPE_COMMAND },
        .a = { .addr = addr, .count = count },
    };
    int ret = vdev_sock_send(s->c.twin_fd, &req, sizeof(req), NULL, 0, s->timeout_ms);

    if (ret == 0 && write)
        ret = vdev_sock_send(s->c.twin_fd, buf, count, NULL, 0, s->timeout_ms);
    if (ret < 0)
        return twin_fail(s, ret, "cannot send DMA command %u", command);
    ret = recv_reply(s, &req, (uint32_t)sizeof(req) + (write ? 0 : count));
    if (ret < 0 || write)
        return ret;
    ret = vdev_sock_recv(s->c.twin_fd, buf, count, NULL, 0, NULL, s->timeout_ms);
    if (ret < 0)
        return twin_fail(s, ret, "DMA_READ data cut short");
    return 0;
}

/* Through the twin socket, in pieces the client takes. */
static int dma_remote(struct vdev_vfu_server *s, bool write, uint64_t iova,
                      uint8_t *buf, uint64_t len)
{
    uint64_t piece = s->c.client_max_xfer < DMA_PIECE_MAX ? s->c.client_max_xfer
                                                          : DMA_PIECE_MAX;

    if (s->c.twin_fd < 0)
        return -ENOTSUP;
    while (len) {
        uint32_t n = (uint32_t)(len < piece ? len : piece);
        int ret = dma_msg(s, write ? VFU_CMD_DMA_WRITE : VFU_CMD_DMA_READ, iova, buf, n);

        if (ret < 0)
            return ret;
        iova += n;
        buf += n;
        len -= n;
    }
    return 0;
}

/* Window by window: each piece must lie in a window with the access asked. */
static int dma_access(struct vdev_vfu_server *s, bool write, uint64_t iova,
                      uint8_t *buf, uint64_t len)
{
    uint32_t need = write ? VFU_DMA_F_WRITE : VFU_DMA_F_READ;

    if (!s || (len && !buf))
        return -EINVAL;
    if (s->c.fd < 0)
        return -ENOTCONN;
    if (iova + len < iova && iova + len != 0)
        return -EFAULT;
    while (len) {
        const struct vfu_dma *d = vfu_dma_find(s, iova, 1);
        uint64_t n;
        int ret;

        if (!d)
            return -EFAULT;
        if (!(d->prot & need))
            return -EACCES;
        n = d->size - (iova - d->iova);
        if (n > len)
            n = len;
        if (d->shared)
            ret = write ? vdev_mem_write(s->c.mem, iova, buf, n)
                        : vdev_mem_read(s->c.mem, iova, buf, n);
        else
            ret = dma_remote(s, write, iova, buf, n);
        if (ret < 0)
            return ret;
        iova += n;
        buf += n;
        len -= n;
    }
    return 0;
}

VDEV_API int vdev_vfu_server_dma_read(struct vdev_vfu_server *s, uint64_t iova,
                                      void *buf, uint64_t len)
{
    return dma_access(s, false, iova, buf, len);
}

VDEV_API int vdev_vfu_server_dma_write(struct vdev_vfu_server *s, uint64_t iova,
                                       const void *buf, uint64_t len)
{
    /* dma_access() only reads buf for a write. */
    return dma_access(s, true, iova, (uint8_t *)(uintptr_t)buf, len);
}
