/* backend_config.c — the device's configuration space (GET_CONFIG, SET_CONFIG)
 * and the back-end channel (SET_BACKEND_REQ_FD, BACKEND_CONFIG_CHANGE_MSG,
 * BACKEND_VRING_CALL).
 *
 * The device's get_config and set_config never run while one of its queues does
 * (virtio_dev.h), so the running rings are halted around them. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "vdev/log.h"
#include "backend_internal.h"

/* "Virtio device config space": the 12-byte header, then exactly size bytes,
 * inside the device's config_size. */
static int config_check(struct vdev_vu_backend *b, const struct vu_msg *m)
{
    const struct vu_config *cf = &m->p.config;
    uint64_t end = (uint64_t)cf->offset + cf->size;

    if ((uint64_t)m->hdr.size != VU_CONFIG_HDR_SIZE + (uint64_t)cf->size)
        return vu_bad(b, -EBADMSG, "%s: size %u in a %u-byte payload",
                      vu_req_name(m->hdr.request), cf->size, m->hdr.size);
    if (end > b->dev->ops->config_size)
        return vu_bad(b, -ERANGE, "%s: offset %u + size %u past the device's %u "
                      "bytes", vu_req_name(m->hdr.request), cf->offset, cf->size,
                      b->dev->ops->config_size);
    return 0;
}

/* GET_CONFIG replies with exactly the size asked for; an error is an empty
 * reply (the dispatcher sends it). */
int vu_h_get_config(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_config *cf = &m->p.config;
    int ret = config_check(b, m);

    if (ret < 0)
        return ret;
    vu_rings_halt(b);
    ret = b->dev->ops->get_config(b->dev->priv, cf->offset, m->r.config.payload,
                                  cf->size);
    vu_rings_sync(b);
    if (ret < 0)
        return vu_bad(b, ret, "GET_CONFIG: the device refused offset %u size %u",
                      cf->offset, cf->size);
    m->r.config.offset = cf->offset;
    m->r.config.size = cf->size;
    m->r.config.flags = cf->flags;
    m->reply_size = VU_CONFIG_HDR_SIZE + cf->size;
    return 0;
}

/* SET_CONFIG: flags 0 (a driver's write) or 1 (live migration). The device says
 * -EPERM for a field the driver may not write; it has no way to take read-only
 * fields for a migration, so those are refused either way. */
int vu_h_set_config(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_config *cf = &m->p.config;
    int ret = config_check(b, m);

    if (ret < 0)
        return ret;
    if (cf->flags > VU_CONFIG_FLAG_MIGRATION)
        return vu_bad(b, -EINVAL, "SET_CONFIG: flags %#x", cf->flags);
    if (!b->dev->ops->set_config)
        return vu_bad(b, -EPERM, "SET_CONFIG: the device's config space is read-only");
    vu_rings_halt(b);
    ret = b->dev->ops->set_config(b->dev->priv, cf->offset, cf->payload, cf->size);
    vu_rings_sync(b);
    if (ret < 0)
        return vu_bad(b, ret, "SET_CONFIG: the device refused offset %u size %u",
                      cf->offset, cf->size);
    return 0;
}

/* SET_BACKEND_REQ_FD: a socket for the back-end's requests ("Back-end
 * communication"). Nothing is read from it: vdev never asks for a reply there. */
int vu_h_set_backend_req_fd(struct vdev_vu_backend *b, struct vu_msg *m)
{
    struct stat st;

    if (fstat(m->fds[0], &st) < 0 || !S_ISSOCK(st.st_mode))
        return vu_bad(b, -ENOTSOCK, "SET_BACKEND_REQ_FD: the fd is not a socket");
    vu_close(&b->c.backend_fd);
    b->c.backend_fd = vu_take_fd(m, 0);
    return 0;
}

int vu_inband_call(struct vdev_vu_backend *b, unsigned index)
{
    struct vhost_vring_state s = { .index = index, .num = 0 };

    if (!vu_has_pf(b, VU_PF_INBAND_NOTIFICATIONS))
        return -ENOTSUP;
    return vu_backend_send(b, VU_BACKEND_VRING_CALL, &s, sizeof(s));
}

VDEV_API int vdev_vu_backend_config_changed(struct vdev_vu_backend *b)
{
    if (b->c.fd < 0 || b->c.backend_fd < 0)
        return -ENOTCONN;
    if (!vu_has_pf(b, VU_PF_BACKEND_REQ) || !vu_has_pf(b, VU_PF_CONFIG))
        return -ENOTSUP;
    if (vu_suspended(b))
        return -EAGAIN;
    return vu_backend_send(b, VU_BACKEND_CONFIG_CHANGE_MSG, NULL, 0);
}

VDEV_API int vdev_vu_backend_vring_call(struct vdev_vu_backend *b, unsigned index)
{
    if (b->c.fd < 0 || b->c.backend_fd < 0)
        return -ENOTCONN;
    if (index >= b->nrings)
        return -ERANGE;
    if (!vu_has_pf(b, VU_PF_BACKEND_REQ) || !vu_has_pf(b, VU_PF_INBAND_NOTIFICATIONS))
        return -ENOTSUP;
    if (vu_suspended(b))
        return -EAGAIN;
    return vu_inband_call(b, index);
}
