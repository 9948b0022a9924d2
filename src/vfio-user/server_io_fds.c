/* server_io_fds.c — DEVICE_GET_REGION_IO_FDS ("VFIO_USER_DEVICE_GET_REGION_IO_FDS"):
 * the sub-regions of a region whose accesses the client may hand to an fd
 * (an ioeventfd, an ioregionfd), as the device declares them.
 *
 * The reply is the 16-byte header and one 40-byte entry per sub-region, with
 * each distinct fd once in the ancillary data; an entry names its fd by index.
 * When the client's argsz is too small for the entries, the reply is the header
 * alone with the argsz and count needed, and no fd ("Message sizes"). A region
 * with no sub-region gets count 0 and no fd: the spec's "at least one file
 * descriptor" cannot hold then. */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "server_internal.h"

/* The index of fd in m->io_fds, added if new. */
static uint32_t fd_index(struct vfu_msg *m, int fd)
{
    for (size_t i = 0; i < m->reply_nfds; i++)
        if (m->io_fds[i] == fd)
            return (uint32_t)i;
    m->io_fds[m->reply_nfds] = fd;
    return (uint32_t)m->reply_nfds++;
}

/* The device's sub-regions, checked: our device, but nothing wrong goes out. */
static int subs_check(const struct vdev_vfu_io_fd *subs, uint32_t n,
                      const struct vdev_vfu_region *r, uint32_t index)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct vdev_vfu_io_fd *x = &subs[i];

        if (x->fd < 0 || x->type > VDEV_VFU_IO_FD_IOREGIONFD || x->offset > r->size ||
            x->size > r->size - x->offset) {
            vdev_err("vfio-user: region %u: io fd sub-region %u is not valid", index, i);
            return -EIO;
        }
    }
    return 0;
}

VFU_HANDLER(vfu_h_region_io_fds)
{
    struct vdev_vfu_io_fd subs[VDEV_VFU_MAX_IO_FDS];
    struct vfu_region_io_fds req, out = { 0 };
    struct vdev_vfu_region r;
    uint32_t n = 0;
    int ret;

    memcpy(&req, m->p, sizeof(req));
    if (req.argsz < sizeof(req))
        return vfu_bad(s, -EINVAL, "DEVICE_GET_REGION_IO_FDS argsz %u below %zu",
                       req.argsz, sizeof(req));
    if (req.flags || req.count)
        return vfu_bad(s, -EINVAL, "DEVICE_GET_REGION_IO_FDS with flags %#x, count %u",
                       req.flags, req.count);
    ret = vfu_region_get(s, req.index, &r);
    if (ret < 0)
        return ret;
    if (s->ops->region_io_fds) {
        ret = s->ops->region_io_fds(s->opaque, req.index, subs, VDEV_VFU_MAX_IO_FDS, &n);
        if (ret < 0)
            return ret;
        if (n > VDEV_VFU_MAX_IO_FDS)
            n = VDEV_VFU_MAX_IO_FDS;
        ret = subs_check(subs, n, &r, req.index);
        if (ret < 0)
            return ret;
    }
    out.argsz = (uint32_t)(sizeof(out) + n * sizeof(struct vfu_sub_region_io_fd));
    out.index = req.index;
    out.count = n;
    m->reply_size = sizeof(out);
    if (req.argsz >= out.argsz) {
        for (uint32_t i = 0; i < n; i++) {
            struct vfu_sub_region_io_fd e = {
                .offset = subs[i].offset, .size = subs[i].size,
                .fd_index = fd_index(m, subs[i].fd), .type = subs[i].type,
                .flags = subs[i].flags, .datamatch = subs[i].datamatch,
            };

            memcpy(m->r + m->reply_size, &e, sizeof(e));
            m->reply_size += sizeof(e);
        }
        if (m->reply_nfds > s->c.client_max_fds) {
            m->reply_nfds = 0;
            return vfu_bad(s, -E2BIG, "region %u has %u io fds, the client takes %u",
                           req.index, n, s->c.client_max_fds);
        }
        m->reply_fds = m->io_fds;
    }
    memcpy(m->r, &out, sizeof(out));
    return 0;
}
