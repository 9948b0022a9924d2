/* server_msg.c — one command in, its reply out ("Header", "Commands").
 *
 * A command's header is checked, then its payload size and fds against the
 * command's table entry, then the handler runs. The reply echoes the message
 * id and command with the Reply type; on error it is the header alone with the
 * Error flag and the errno ("If an error occurs, the reply message must only
 * include the reply header"). A command with No_reply gets no reply at all, not
 * even an error (the error is logged). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vdev/log.h"
#include "vdev/sock.h"
#include "server_internal.h"

enum vfu_fds { VFU_FDS_NONE, VFU_FDS_ONE, VFU_FDS_ANY };

struct vfu_handler {
    const char *name;
    int (*fn)(struct vdev_vfu_server *s, struct vfu_msg *m);  /* NULL: ENOTSUP */
    uint32_t min_size, max_size;      /* payload; max 0 with min 0: empty */
    uint8_t fds;                      /* enum vfu_fds */
    bool data_max;                    /* max_size + the server's max_data_xfer_size */
};

#define VFU_ANY_SIZE UINT32_MAX

static const struct vfu_handler handlers[VFU_CMD_MAX] = {
    [VFU_CMD_VERSION] = { "VERSION", vfu_h_version, sizeof(struct vfu_version),
                          sizeof(struct vfu_version) + VFU_VERSION_DATA_MAX,
                          VFU_FDS_NONE, false },
    [VFU_CMD_DMA_MAP] = { "DMA_MAP", vfu_h_dma_map, sizeof(struct vfu_dma_map),
                          sizeof(struct vfu_dma_map), VFU_FDS_ONE, false },
    /* The entry, and with VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP a bitmap's
     * pgsize and size after it (server_dma.c). */
    [VFU_CMD_DMA_UNMAP] = { "DMA_UNMAP", vfu_h_dma_unmap, sizeof(struct vfu_dma_unmap),
                            sizeof(struct vfu_dma_unmap) + 2 * sizeof(uint64_t),
                            VFU_FDS_NONE, false },
    [VFU_CMD_DEVICE_GET_INFO] = { "DEVICE_GET_INFO", vfu_h_device_get_info,
                                  VFU_DEVICE_INFO_SIZE, VFU_DEVICE_INFO_SIZE,
                                  VFU_FDS_NONE, false },
    [VFU_CMD_DEVICE_GET_REGION_INFO] = { "DEVICE_GET_REGION_INFO", vfu_h_region_info,
                                         sizeof(struct vfio_region_info),
                                         sizeof(struct vfio_region_info),
                                         VFU_FDS_NONE, false },
    [VFU_CMD_DEVICE_GET_REGION_IO_FDS] = { "DEVICE_GET_REGION_IO_FDS",
                                           vfu_h_region_io_fds,
                                           sizeof(struct vfu_region_io_fds),
                                           sizeof(struct vfu_region_io_fds),
                                           VFU_FDS_NONE, false },
    [VFU_CMD_DEVICE_GET_IRQ_INFO] = { "DEVICE_GET_IRQ_INFO", vfu_h_irq_info,
                                      sizeof(struct vfio_irq_info),
                                      sizeof(struct vfio_irq_info), VFU_FDS_NONE, false },
    [VFU_CMD_DEVICE_SET_IRQS] = { "DEVICE_SET_IRQS", vfu_h_set_irqs,
                                  sizeof(struct vfio_irq_set),
                                  sizeof(struct vfio_irq_set) + VFU_MAX_IRQ_VECTORS,
                                  VFU_FDS_ANY, false },
    [VFU_CMD_REGION_READ] = { "REGION_READ", vfu_h_region_read,
                              sizeof(struct vfu_region_access),
                              sizeof(struct vfu_region_access), VFU_FDS_NONE, false },
    [VFU_CMD_REGION_WRITE] = { "REGION_WRITE", vfu_h_region_write,
                               sizeof(struct vfu_region_access),
                               sizeof(struct vfu_region_access), VFU_FDS_NONE, true },
    [VFU_CMD_DMA_READ] = { "DMA_READ", NULL, 0, VFU_ANY_SIZE, VFU_FDS_NONE, false },
    [VFU_CMD_DMA_WRITE] = { "DMA_WRITE", NULL, 0, VFU_ANY_SIZE, VFU_FDS_NONE, false },
    [VFU_CMD_DEVICE_RESET] = { "DEVICE_RESET", vfu_h_reset, 0, 0, VFU_FDS_NONE, false },
    [VFU_CMD_REGION_WRITE_MULTI] = { "REGION_WRITE_MULTI", vfu_h_region_write_multi,
                                     sizeof(struct vfu_write_multi) +
                                     sizeof(struct vfu_write_multi_entry),
                                     sizeof(struct vfu_write_multi) +
                                     VFU_WRITE_MULTI_MAX *
                                     sizeof(struct vfu_write_multi_entry),
                                     VFU_FDS_NONE, false },
    [VFU_CMD_DEVICE_FEATURE] = { "DEVICE_FEATURE", vfu_h_device_feature,
                                 sizeof(struct vfio_device_feature),
                                 sizeof(struct vfio_device_feature) + 1024,
                                 VFU_FDS_NONE, false },
    [VFU_CMD_MIG_DATA_READ] = { "MIG_DATA_READ", vfu_h_mig_data_read,
                                sizeof(struct vfu_mig_data), sizeof(struct vfu_mig_data),
                                VFU_FDS_NONE, false },
    [VFU_CMD_MIG_DATA_WRITE] = { "MIG_DATA_WRITE", vfu_h_mig_data_write,
                                 sizeof(struct vfu_mig_data), sizeof(struct vfu_mig_data),
                                 VFU_FDS_NONE, true },
};

static const struct vfu_handler *handler_of(uint16_t command)
{
    if (command >= VFU_CMD_MAX || !handlers[command].name)
        return NULL;
    return &handlers[command];
}

static const char *cmd_name(uint16_t command)
{
    const struct vfu_handler *h = handler_of(command);

    return h ? h->name : "(unknown command)";
}

static int send_reply(struct vdev_vfu_server *s, const struct vfu_msg *m, int ret)
{
    struct vfu_header h = {
        .msg_id = m->hdr.msg_id,
        .command = m->hdr.command,
        .msg_size = sizeof(h),
        .flags = VFU_F_TYPE_REPLY,
    };
    uint8_t *out = m->r - sizeof(h);   /* the reply buffer keeps room for it */
    const int *fds = m->reply_fds;
    size_t nfds = m->reply_nfds;

    if (!nfds && m->reply_fd >= 0) {
        fds = &m->reply_fd;
        nfds = 1;
    }
    if (ret < 0) {
        h.flags |= VFU_F_ERROR;
        h.error_no = (uint32_t)-ret;
        nfds = 0;
    } else {
        h.msg_size += m->reply_size;
    }
    memcpy(out, &h, sizeof(h));
    return vdev_sock_send(s->c.fd, out, h.msg_size, nfds ? fds : NULL, nfds,
                          s->timeout_ms);
}

static int check_fds(struct vdev_vfu_server *s, const struct vfu_msg *m,
                     const struct vfu_handler *h)
{
    if (m->fds_lost)
        return vfu_bad(s, -EMSGSIZE, "%s with more than the %u fds announced",
                       h->name, s->max_fds);
    if (h->fds == VFU_FDS_NONE && m->nfds)
        return vfu_bad(s, -EINVAL, "%s takes no fd, %zu came", h->name, m->nfds);
    if (h->fds == VFU_FDS_ONE && m->nfds > 1)
        return vfu_bad(s, -EINVAL, "%s takes one fd at most, %zu came", h->name,
                       m->nfds);
    return 0;
}

/* Everything the header and the table say, then the handler. */
static int handle(struct vdev_vfu_server *s, struct vfu_msg *m)
{
    const struct vfu_handler *h = handler_of(m->hdr.command);
    uint32_t max;
    int ret;

    if (!h)
        return vfu_bad(s, -ENOSYS, "command %u is not one of the spec's",
                       m->hdr.command);
    if (m->hdr.flags & ~(VFU_F_TYPE_MASK | VFU_F_NO_REPLY))
        return vfu_bad(s, -EINVAL, "%s with flags %#x", h->name, m->hdr.flags);
    ret = check_fds(s, m, h);
    if (ret < 0)
        return ret;
    max = h->max_size;
    if (h->data_max)
        max += s->max_xfer;
    if (m->size < h->min_size || m->size > max)
        return vfu_bad(s, -EINVAL, "%s payload of %u bytes, not %u..%u", h->name,
                       m->size, h->min_size, max);
    if (!h->fn)
        return vfu_bad(s, -ENOTSUP, "%s is not supported", h->name);
    if (!s->c.versioned && m->hdr.command != VFU_CMD_VERSION)
        return vfu_bad(s, -EINVAL, "%s before VERSION", h->name);
    return h->fn(s, m);
}

/* One command: 0, or an error after which the connection must go. */
static int serve_one(struct vdev_vfu_server *s, struct vfu_msg *m)
{
    uint32_t type = m->hdr.flags & VFU_F_TYPE_MASK;
    bool no_reply = m->hdr.flags & VFU_F_NO_REPLY;
    int ret;

    m->r = s->c.reply + sizeof(struct vfu_header);
    m->reply_size = 0;
    m->reply_fd = -1;
    m->reply_fd_owned = false;
    m->reply_fds = NULL;
    m->reply_nfds = 0;
    m->close_after = false;
    if (type == VFU_F_TYPE_REPLY) {
        /* Our commands go on the twin socket: a reply here answers nothing. */
        vfu_bad(s, -EPROTO, "a reply to %s, which we never sent (id %u)",
                cmd_name(m->hdr.command), m->hdr.msg_id);
        vdev_close_fds(m->fds, m->nfds);
        return 0;
    }
    if (type != VFU_F_TYPE_COMMAND)
        ret = vfu_bad(s, -EINVAL, "message type %u", type);
    else
        ret = handle(s, m);
    vdev_close_fds(m->fds, m->nfds);
    if (m->reply_fd_owned && (ret < 0 || no_reply)) {
        close(m->reply_fd);       /* not sent */
        m->reply_fd_owned = false;
    }
    if (ret < 0)
        vdev_warn("vfio-user %s: %s (id %u) failed: %s", s->c.peer,
                  cmd_name(m->hdr.command), m->hdr.msg_id, vdev_strerror(ret));
    if (!no_reply || type != VFU_F_TYPE_COMMAND) {
        int sret = send_reply(s, m, ret);

        if (m->reply_fd_owned)
            close(m->reply_fd);
        if (sret < 0) {
            vdev_warn("vfio-user %s: cannot reply to %s: %s", s->c.peer,
                      cmd_name(m->hdr.command), vdev_strerror(sret));
            return sret;
        }
    }
    return m->close_after ? -ECONNABORTED : 0;
}

int vfu_serve(struct vdev_vfu_server *s)
{
    struct vfu_msg m;
    int ret = vfu_reader_fill(&s->c.rd, s->c.fd);

    if (ret == -E2BIG)
        return vfu_bad(s, ret, "more than %u fds sent without their messages",
                       VFU_PENDING_FDS_MAX);
    if (ret < 0)
        return ret;
    /* Serve what is whole; a handler may have dropped the connection. */
    while (s->c.fd >= 0) {
        ret = vfu_reader_next(&s->c.rd, &m, s->max_fds);
        if (ret == 0)
            return 0;
        if (ret < 0)
            return vfu_bad(s, ret, "%s with msg_size %u (16..%zu)",
                           cmd_name(m.hdr.command), m.hdr.msg_size, s->msg_max);
        ret = serve_one(s, &m);
        if (ret < 0)
            return ret;
    }
    return 0;
}
