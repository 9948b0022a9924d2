/* client_version.c — VFIO_USER_VERSION from the client ("Version"): what we
 * propose, and the reply checked as the spec bounds it. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vdev/sock.h"
#include "client_internal.h"

static void offer_caps(struct vdev_vfuc *c, const struct vdev_vfuc_offer *o,
                       struct vfu_caps *caps)
{
    vfu_caps_defaults(caps);
    caps->present = VFU_CAP_MAX_MSG_FDS | VFU_CAP_MAX_XFER | VFU_CAP_PGSIZES |
                    VFU_CAP_MAX_DMA_MAPS;
    caps->max_msg_fds = o && o->max_msg_fds ? o->max_msg_fds : VFUC_DEFAULT_MAX_FDS;
    caps->max_data_xfer_size = c->my_max_xfer;
    caps->pgsizes = o && o->pgsizes ? o->pgsizes : VFU_DEFAULT_PGSIZES;
    caps->max_dma_maps = o && o->max_dma_maps ? o->max_dma_maps
                                              : VFU_DEFAULT_MAX_DMA_MAPS;
    if (o && o->twin_socket) {
        caps->present |= VFU_CAP_TWIN_SOCKET;
        caps->twin_supported = true;
    }
    if (o && o->write_multiple) {
        caps->present |= VFU_CAP_WRITE_MULTIPLE;
        caps->write_multiple = true;
    }
}

/* The twin socket of the reply: "If twin_socket.supported is true and
 * twin_socket.fd_index is present and refers to a valid file descriptor,
 * twin-socket mode negotiation has succeeded"; supported without a valid
 * fd_index is inconsistent, and so is supported when we did not offer it. An
 * fd that is not the twin socket has no place in the reply. */
static int take_twin(struct vdev_vfuc *c, const struct vfu_caps *got, bool offered,
                     struct vfuc_reply *r)
{
    int fd = -1;

    if (got->twin_supported) {
        if (!offered || !got->twin_has_fd_index || got->twin_fd_index >= r->nfds)
            return -EPROTO;
        fd = r->fds[got->twin_fd_index];
        r->fds[got->twin_fd_index] = -1;
    }
    if (r->nfds > (fd >= 0 ? 1u : 0u)) {
        vdev_close_fds(r->fds, r->nfds);
        r->nfds = 0;
        if (fd >= 0)
            close(fd);
        return -EPROTO;
    }
    r->nfds = 0;
    c->twin_fd = fd;
    return 0;
}

/* The server's capabilities, as "Version" bounds them. */
static int take_caps(struct vdev_vfuc *c, const struct vfu_caps *got,
                     const struct vfu_version *v)
{
    if (got->max_data_xfer_size == 0 || got->max_data_xfer_size > UINT32_MAX ||
        got->pgsizes == 0)
        return -EPROTO;
    c->caps.major = v->major;
    c->caps.minor = v->minor;
    c->caps.max_msg_fds = got->max_msg_fds > VDEV_SOCK_MAX_FDS
                              ? VDEV_SOCK_MAX_FDS : (uint32_t)got->max_msg_fds;
    c->caps.max_data_xfer_size = (uint32_t)got->max_data_xfer_size;
    c->caps.pgsizes = got->pgsizes;
    c->caps.max_dma_maps = got->max_dma_maps > UINT32_MAX
                               ? UINT32_MAX : (uint32_t)got->max_dma_maps;
    /* Only what we offered can be agreed ("a subset of those proposed"). */
    c->caps.write_multiple = got->write_multiple;
    return 0;
}


VDEV_API int vdev_vfuc_negotiate(struct vdev_vfuc *c, const struct vdev_vfuc_offer *o,
                                 struct vdev_vfuc_caps *caps)
{
    char data[VFU_VERSION_DATA_MAX];
    struct vfu_version v = { .major = VFU_VERSION_MAJOR, .minor = 0 };
    struct vfu_caps mine, got;
    struct vfuc_reply r;
    int n, ret;

    if (!c)
        return -EINVAL;
    if (o && o->max_data_xfer_size)
        c->my_max_xfer = o->max_data_xfer_size < c->my_max_xfer ? o->max_data_xfer_size
                                                                : c->my_max_xfer;
    offer_caps(c, o, &mine);
    if (mine.max_msg_fds > VFUC_DEFAULT_MAX_FDS)
        mine.max_msg_fds = VFUC_DEFAULT_MAX_FDS;   /* what the reply buffer holds */
    c->my_max_fds = (uint32_t)mine.max_msg_fds;
    n = vfu_caps_format(&mine, data, sizeof(data));
    if (n < 0)
        return n;
    ret = vfuc_call(c, VFU_CMD_VERSION, 0, &v, sizeof(v), data, (uint32_t)n, NULL, 0,
                    &r, mine.twin_supported ? 1 : 0);
    if (ret < 0)
        return ret;
    if (r.size < sizeof(v))
        return vfuc_bad_reply(c, &r, "VERSION");
    memcpy(&v, r.p, sizeof(v));
    /* "The major version in the reply must be the same as proposed"; the minor
     * no higher. */
    if (v.major != VFU_VERSION_MAJOR || v.minor > 0)
        return vfuc_bad_reply(c, &r, "VERSION");
    if (vfu_caps_parse((const char *)r.p + sizeof(v), r.size - sizeof(v), &got) < 0 ||
        take_caps(c, &got, &v) < 0 || take_twin(c, &got, mine.twin_supported, &r) < 0)
        return vfuc_bad_reply(c, &r, "VERSION capabilities");
    if (!mine.write_multiple)
        c->caps.write_multiple = false;
    c->caps.twin_socket = c->twin_fd >= 0;
    c->versioned = true;
    if (caps)
        *caps = c->caps;
    return 0;
}
