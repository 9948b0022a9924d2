/* server_version.c — VFIO_USER_VERSION on the server ("Version").
 *
 * The reply keeps the client's major (we speak only 0: another closes the
 * connection after the error reply, "closes the connection if it cannot support
 * the advertised version"), a minor no higher than proposed, and our own limits:
 * max_msg_fds, max_data_xfer_size and max_dma_maps describe what we take, so
 * they are always sent (a client that left one out would otherwise assume the
 * default). pgsizes is what both sides take. twin_socket, when the client
 * supports it and takes an fd, is set up: a fresh socket pair, our end kept for
 * DMA_READ/WRITE, the client's sent with the reply as fd 0. write_multiple is
 * answered "yes" when the client offers it (true), and REGION_WRITE_MULTI is
 * then served; migration is not offered back. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vdev/log.h"
#include "server_internal.h"

static int negotiate(struct vdev_vfu_server *s, const struct vfu_caps *want,
                     struct vfu_caps *reply)
{
    uint64_t pgsizes = s->pgsizes & want->pgsizes;

    if (pgsizes == 0)
        return vfu_bad(s, -EINVAL, "VERSION: no page size in common (%#llx, ours %#llx)",
                       (unsigned long long)want->pgsizes,
                       (unsigned long long)s->pgsizes);
    if (want->max_data_xfer_size == 0)
        return vfu_bad(s, -EINVAL, "VERSION: max_data_xfer_size 0");

    s->c.client_max_fds = want->max_msg_fds > VDEV_SOCK_MAX_FDS
                              ? VDEV_SOCK_MAX_FDS : (uint32_t)want->max_msg_fds;
    s->c.client_max_xfer = want->max_data_xfer_size;
    s->c.pgsizes = pgsizes;

    vfu_caps_defaults(reply);
    reply->present = VFU_CAP_MAX_MSG_FDS | VFU_CAP_MAX_XFER | VFU_CAP_PGSIZES |
                     VFU_CAP_MAX_DMA_MAPS;
    reply->max_msg_fds = s->max_fds;
    reply->max_data_xfer_size = s->max_xfer;
    reply->pgsizes = pgsizes;
    reply->max_dma_maps = s->max_maps;
    if (want->present & VFU_CAP_TWIN_SOCKET)
        reply->present |= VFU_CAP_TWIN_SOCKET;   /* supported: see twin_open() */
    if (want->present & VFU_CAP_WRITE_MULTIPLE) {
        reply->present |= VFU_CAP_WRITE_MULTIPLE;
        reply->write_multiple = want->write_multiple;
        s->c.write_multiple = want->write_multiple;
    }
    return 0;
}

/* "Reply" of VERSION: twin-socket mode when the client supports it, can take
 * the fd and waits for this reply. */
static int twin_open(struct vdev_vfu_server *s, struct vfu_msg *m,
                     const struct vfu_caps *want, struct vfu_caps *reply)
{
    int sv[2];

    if (!want->twin_supported || s->c.client_max_fds == 0 ||
        (m->hdr.flags & VFU_F_NO_REPLY))
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    s->c.twin_fd = sv[0];
    m->reply_fd = sv[1];
    m->reply_fd_owned = true;
    reply->twin_supported = true;
    reply->twin_has_fd_index = true;
    reply->twin_fd_index = 0;
    return 0;
}

VFU_HANDLER(vfu_h_version)
{
    struct vfu_version v;
    struct vfu_version *out = (struct vfu_version *)m->r;
    struct vfu_caps want, reply;
    int ret, n;

    memcpy(&v, m->p, sizeof(v));
    if (s->c.versioned)
        return vfu_bad(s, -EINVAL, "a second VERSION");
    if (v.major != VFU_VERSION_MAJOR) {
        m->close_after = true;
        return vfu_bad(s, -ENOTSUP, "VERSION %u.%u: we speak major %u only", v.major,
                       v.minor, VFU_VERSION_MAJOR);
    }
    ret = vfu_caps_parse((const char *)m->p + sizeof(v), m->size - sizeof(v), &want);
    if (ret < 0)
        return vfu_bad(s, ret, "VERSION: the capabilities are not valid JSON of "
                       "the spec's form");
    ret = negotiate(s, &want, &reply);
    if (ret == 0)
        ret = twin_open(s, m, &want, &reply);
    if (ret < 0)
        return ret;
    n = vfu_caps_format(&reply, out->data, s->reply_cap - sizeof(*out));
    if (n < 0) {
        if (s->c.twin_fd >= 0)
            close(s->c.twin_fd);
        s->c.twin_fd = -1;
        return n;              /* serve_one closes the client's end */
    }
    out->major = VFU_VERSION_MAJOR;
    out->minor = v.minor < VFU_VERSION_MINOR_MAX ? v.minor : VFU_VERSION_MINOR_MAX;
    m->reply_size = (uint32_t)(sizeof(*out) + (size_t)n);
    s->c.versioned = true;
    vdev_info("vfio-user %s: version %u.%u, max_msg_fds %u, max_data_xfer_size %llu, "
              "pgsizes %#llx, twin socket %s", s->c.peer, out->major, out->minor,
              s->c.client_max_fds, (unsigned long long)s->c.client_max_xfer,
              (unsigned long long)s->c.pgsizes, s->c.twin_fd >= 0 ? "yes" : "no");
    return 0;
}
