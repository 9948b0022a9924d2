/* client_info.c — the client's questions about the device: DEVICE_GET_INFO,
 * DEVICE_GET_REGION_INFO (with its caps), DEVICE_GET_IRQ_INFO and
 * DEVICE_GET_REGION_IO_FDS, each reply checked for its exact form. */
#include <errno.h>
#include <string.h>

#include "vdev/sock.h"
#include "client_internal.h"

VDEV_API int vdev_vfuc_device_info(struct vdev_vfuc *c, struct vfio_device_info *out)
{
    struct vfio_device_info req = { .argsz = VFU_DEVICE_INFO_SIZE };
    struct vfuc_reply r;
    int ret;

    if (!c || !out)
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DEVICE_GET_INFO, 0, &req, VFU_DEVICE_INFO_SIZE, NULL, 0,
                    NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    ret = vfuc_expect_size(c, &r, VFU_DEVICE_INFO_SIZE, "DEVICE_GET_INFO");
    if (ret < 0)
        return ret;
    memset(out, 0, sizeof(*out));
    memcpy(out, r.p, VFU_DEVICE_INFO_SIZE);
    if (out->argsz < VFU_DEVICE_INFO_SIZE)
        return vfuc_bad_reply(c, &r, "DEVICE_GET_INFO");
    return 0;
}

/* Walks the cap chain of a region info reply for the sparse mmap cap. Every
 * offset is checked against the reply; a chain that loops is cut. */
static int parse_caps(const uint8_t *p, uint32_t size, struct vdev_vfuc_region *out)
{
    uint32_t off = out->info.cap_offset;

    for (unsigned hops = 0; off; hops++) {
        struct vfio_info_cap_header h;
        struct vfio_region_info_cap_sparse_mmap sm;

        if (hops > 64 || off < sizeof(out->info) || off > size ||
            size - off < sizeof(h))
            return -EPROTO;
        memcpy(&h, p + off, sizeof(h));
        if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
            if (size - off < sizeof(sm))
                return -EPROTO;
            memcpy(&sm, p + off, sizeof(sm));
            if (sm.nr_areas > (size - off - sizeof(sm)) / sizeof(sm.areas[0]))
                return -EPROTO;
            if (sm.nr_areas > VDEV_VFUC_MAX_AREAS)
                return -E2BIG;
            out->nr_areas = sm.nr_areas;
            memcpy(out->areas, p + off + sizeof(sm), sm.nr_areas * sizeof(sm.areas[0]));
        }
        off = h.next;
    }
    return 0;
}

VDEV_API int vdev_vfuc_region_info(struct vdev_vfuc *c, uint32_t index,
                                   struct vdev_vfuc_region *out)
{
    struct vfio_region_info req = {
        .argsz = sizeof(req) + sizeof(struct vfio_region_info_cap_sparse_mmap) +
                 VDEV_VFUC_MAX_AREAS * sizeof(struct vfio_region_sparse_mmap_area),
        .index = index,
    };
    struct vfuc_reply r;
    bool mmap;
    int ret;

    if (!c || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    ret = vfuc_call(c, VFU_CMD_DEVICE_GET_REGION_INFO, 0, &req, sizeof(req), NULL, 0,
                    NULL, 0, &r, 1);
    if (ret < 0)
        return ret;
    if (r.size < sizeof(out->info))
        return vfuc_bad_reply(c, &r, "DEVICE_GET_REGION_INFO");
    memcpy(&out->info, r.p, sizeof(out->info));
    mmap = out->info.flags & VFIO_REGION_INFO_FLAG_MMAP;
    /* The reply is the whole info when it fits in what we asked for, else the
     * fixed part with the size needed ("Message sizes"); an fd comes exactly
     * with the MMAP flag. */
    if (out->info.index != index || out->info.argsz < sizeof(out->info) ||
        r.size != (out->info.argsz <= req.argsz ? out->info.argsz : sizeof(out->info)) ||
        (size_t)mmap != r.nfds)
        return vfuc_bad_reply(c, &r, "DEVICE_GET_REGION_INFO");
    if (out->info.argsz > req.argsz) {
        vdev_close_fds(r.fds, r.nfds);
        return -E2BIG;            /* more sparse areas than we hold */
    }
    if (out->info.flags & VFIO_REGION_INFO_FLAG_CAPS) {
        ret = parse_caps(r.p, r.size, out);
        if (ret == -EPROTO)
            return vfuc_bad_reply(c, &r, "DEVICE_GET_REGION_INFO caps");
        if (ret < 0) {
            vdev_close_fds(r.fds, r.nfds);
            return ret;
        }
    }
    if (mmap)
        out->fd = r.fds[0];
    return 0;
}

VDEV_API int vdev_vfuc_irq_info(struct vdev_vfuc *c, uint32_t index,
                                struct vfio_irq_info *out)
{
    struct vfio_irq_info req = { .argsz = sizeof(req), .index = index };
    struct vfuc_reply r;
    int ret;

    if (!c || !out)
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DEVICE_GET_IRQ_INFO, 0, &req, sizeof(req), NULL, 0,
                    NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    ret = vfuc_expect_size(c, &r, sizeof(*out), "DEVICE_GET_IRQ_INFO");
    if (ret < 0)
        return ret;
    memcpy(out, r.p, sizeof(*out));
    if (out->argsz < sizeof(*out) || out->index != index)
        return vfuc_bad_reply(c, &r, "DEVICE_GET_IRQ_INFO");
    return 0;
}

/* The entries of an io fds reply: the size the count gives, types the spec
 * knows, fd indexes among the fds that came, fds exactly when there are
 * entries. (The text places entry i at i * ((argsz - 32) / count), which does
 * not fit its own 16-byte header; the tables' layout, 16 + 40 * i, is used.) */
static int io_fds_parse(const struct vfuc_reply *r, const struct vfu_region_io_fds *h,
                        struct vdev_vfuc_io_fd *subs)
{
    const uint8_t *p = r->p + sizeof(*h);

    if (r->size != h->argsz || (h->count != 0) != (r->nfds != 0))
        return -EPROTO;
    for (uint32_t i = 0; i < h->count; i++) {
        struct vfu_sub_region_io_fd e;

        memcpy(&e, p + (size_t)i * sizeof(e), sizeof(e));
        if (e.fd_index >= r->nfds || e.type > VFU_IO_FD_TYPE_IOREGIONFD)
            return -EPROTO;
        subs[i] = (struct vdev_vfuc_io_fd){ e.offset, e.size, e.fd_index, e.type,
                                            e.flags, e.datamatch };
    }
    return 0;
}

VDEV_API int vdev_vfuc_region_io_fds(struct vdev_vfuc *c, uint32_t index,
                                     struct vdev_vfuc_io_fd *subs, uint32_t max,
                                     uint32_t *count, int *fds, size_t *nfds)
{
    struct vfu_region_io_fds req = { .index = index }, h;
    struct vfuc_reply r;
    int ret;

    if (!c || (max && !subs) || !count || !fds || !nfds ||
        max > (UINT32_MAX - sizeof(req)) / sizeof(struct vfu_sub_region_io_fd))
        return -EINVAL;
    *count = 0;
    *nfds = 0;
    req.argsz = (uint32_t)(sizeof(req) + max * sizeof(struct vfu_sub_region_io_fd));
    ret = vfuc_call(c, VFU_CMD_DEVICE_GET_REGION_IO_FDS, 0, &req, sizeof(req), NULL, 0,
                    NULL, 0, &r, VFUC_DEFAULT_MAX_FDS);
    if (ret < 0)
        return ret;
    if (r.size < sizeof(h))
        return vfuc_bad_reply(c, &r, "DEVICE_GET_REGION_IO_FDS");
    memcpy(&h, r.p, sizeof(h));
    if (h.flags || h.index != index ||
        (uint64_t)h.argsz != sizeof(h) + (uint64_t)h.count * sizeof(struct vfu_sub_region_io_fd))
        return vfuc_bad_reply(c, &r, "DEVICE_GET_REGION_IO_FDS");
    if (h.argsz > req.argsz) {
        /* Too many for us: the header alone, without fds. */
        if (r.size != sizeof(h) || r.nfds)
            return vfuc_bad_reply(c, &r, "DEVICE_GET_REGION_IO_FDS");
        *count = h.count;
        return -E2BIG;
    }
    if (io_fds_parse(&r, &h, subs) < 0)
        return vfuc_bad_reply(c, &r, "DEVICE_GET_REGION_IO_FDS");
    *count = h.count;
    memcpy(fds, r.fds, r.nfds * sizeof(int));
    *nfds = r.nfds;
    return 0;
}
