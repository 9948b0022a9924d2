/* server_device.c — the commands that ask the device: DEVICE_GET_INFO,
 * DEVICE_GET_REGION_INFO, DEVICE_GET_IRQ_INFO, REGION_READ, REGION_WRITE,
 * REGION_WRITE_MULTI and DEVICE_RESET. Each checks what the client sent
 * against what the device declares before the device is called.
 *
 * "Message sizes": a request's argsz is the largest reply payload the client
 * takes, at least the fixed part; the reply's argsz is what the whole reply
 * needs. A region info whose caps do not fit is answered with the fixed part
 * alone and the full size in argsz, as VFIO does, so the client can ask again. */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "server_internal.h"

int vfu_device_info(struct vdev_vfu_server *s, struct vdev_vfu_device_info *info)
{
    memset(info, 0, sizeof(*info));
    return s->ops->get_info(s->opaque, info);
}

VFU_HANDLER(vfu_h_device_get_info)
{
    struct vfio_device_info req, out = { 0 };
    struct vdev_vfu_device_info info;
    int ret;

    memcpy(&req, m->p, VFU_DEVICE_INFO_SIZE);
    if (req.argsz < VFU_DEVICE_INFO_SIZE)
        return vfu_bad(s, -EINVAL, "DEVICE_GET_INFO argsz %u below %zu", req.argsz,
                       VFU_DEVICE_INFO_SIZE);
    ret = vfu_device_info(s, &info);
    if (ret < 0)
        return ret;
    out.argsz = VFU_DEVICE_INFO_SIZE;
    out.flags = info.flags & ~(uint32_t)VFIO_DEVICE_FLAGS_RESET;
    if (s->ops->reset)
        out.flags |= VFIO_DEVICE_FLAGS_RESET;
    out.num_regions = info.num_regions;
    out.num_irqs = info.num_irqs;
    memcpy(m->r, &out, VFU_DEVICE_INFO_SIZE);
    m->reply_size = VFU_DEVICE_INFO_SIZE;
    return 0;
}

int vfu_region_get(struct vdev_vfu_server *s, uint32_t index, struct vdev_vfu_region *r)
{
    struct vdev_vfu_device_info info;
    int ret = vfu_device_info(s, &info);

    if (ret < 0)
        return ret;
    if (index >= info.num_regions)
        return vfu_bad(s, -EINVAL, "region %u of %u", index, info.num_regions);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    ret = s->ops->region_info(s->opaque, index, r);
    if (ret < 0)
        return ret;
    /* Our own device's answer, but a mistake in it must not reach the wire. */
    r->flags &= VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                VFIO_REGION_INFO_FLAG_MMAP;
    if ((r->flags & VFIO_REGION_INFO_FLAG_MMAP) && r->fd < 0) {
        vdev_err("vfio-user: region %u is mmap-able without an fd", index);
        r->flags &= ~(uint32_t)VFIO_REGION_INFO_FLAG_MMAP;
    }
    if (r->nr_mmap_areas > VDEV_VFU_MAX_MMAP_AREAS)
        r->nr_mmap_areas = VDEV_VFU_MAX_MMAP_AREAS;
    return 0;
}

VFU_HANDLER(vfu_h_region_info)
{
    struct vfio_region_info req, out = { 0 };
    struct vfio_region_info_cap_sparse_mmap cap = { 0 };
    struct vdev_vfu_region r;
    uint32_t need = sizeof(out), caps_size = 0;
    int ret;

    memcpy(&req, m->p, sizeof(req));
    if (req.argsz < sizeof(req))
        return vfu_bad(s, -EINVAL, "DEVICE_GET_REGION_INFO argsz %u below %zu",
                       req.argsz, sizeof(req));
    ret = vfu_region_get(s, req.index, &r);
    if (ret < 0)
        return ret;
    /* A client that takes no fd cannot map anything. */
    if (s->c.client_max_fds == 0)
        r.flags &= ~(uint32_t)VFIO_REGION_INFO_FLAG_MMAP;

    out.flags = r.flags;
    out.index = req.index;
    out.size = r.size;
    if (r.flags & VFIO_REGION_INFO_FLAG_MMAP) {
        out.offset = r.fd_offset;
        m->reply_fd = r.fd;
        if (r.nr_mmap_areas) {
            caps_size = sizeof(cap) + r.nr_mmap_areas * sizeof(cap.areas[0]);
            need += caps_size;
            out.flags |= VFIO_REGION_INFO_FLAG_CAPS;
        }
    }
    out.argsz = need;
    if (caps_size && req.argsz >= need) {
        out.cap_offset = sizeof(out);
        cap.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
        cap.header.version = 1;
        cap.header.next = 0;
        cap.nr_areas = r.nr_mmap_areas;
        memcpy(m->r + sizeof(out), &cap, sizeof(cap));
        memcpy(m->r + sizeof(out) + sizeof(cap), r.mmap_areas,
               r.nr_mmap_areas * sizeof(cap.areas[0]));
        m->reply_size = need;
    } else {
        m->reply_size = sizeof(out);
    }
    memcpy(m->r, &out, sizeof(out));
    return 0;
}

VFU_HANDLER(vfu_h_irq_info)
{
    struct vfio_irq_info req, out = { 0 };
    struct vdev_vfu_device_info info;
    int ret;

    memcpy(&req, m->p, sizeof(req));
    if (req.argsz < sizeof(req))
        return vfu_bad(s, -EINVAL, "DEVICE_GET_IRQ_INFO argsz %u below %zu", req.argsz,
                       sizeof(req));
    ret = vfu_device_info(s, &info);
    if (ret < 0)
        return ret;
    if (req.index >= info.num_irqs)
        return vfu_bad(s, -EINVAL, "irq index %u of %u", req.index, info.num_irqs);
    ret = s->ops->irq_info(s->opaque, req.index, &out.count, &out.flags);
    if (ret < 0)
        return ret;
    out.argsz = sizeof(out);
    out.index = req.index;
    memcpy(m->r, &out, sizeof(out));
    m->reply_size = sizeof(out);
    return 0;
}

/* The access [offset, offset + count) of a region, checked. */
static int access_check(struct vdev_vfu_server *s, const struct vfu_region_access *a,
                        uint32_t need_flag, const char *what)
{
    struct vdev_vfu_region r;
    int ret;

    if (a->count > s->max_xfer)
        return vfu_bad(s, -EINVAL, "%s of %u bytes: max_data_xfer_size is %u", what,
                       a->count, s->max_xfer);
    ret = vfu_region_get(s, a->region, &r);
    if (ret < 0)
        return ret;
    if (!(r.flags & need_flag))
        return vfu_bad(s, -EINVAL, "%s: region %u does not allow it", what, a->region);
    if (a->offset > r.size || a->count > r.size - a->offset)
        return vfu_bad(s, -EINVAL, "%s at %#llx+%u: region %u is %#llx bytes", what,
                       (unsigned long long)a->offset, a->count, a->region,
                       (unsigned long long)r.size);
    return 0;
}

VFU_HANDLER(vfu_h_region_read)
{
    struct vfu_region_access a;
    int ret;

    memcpy(&a, m->p, sizeof(a));
    ret = access_check(s, &a, VFIO_REGION_INFO_FLAG_READ, "REGION_READ");
    if (ret < 0)
        return ret;
    if (a.count) {
        ret = s->ops->region_access(s->opaque, a.region, a.offset,
                                    m->r + sizeof(a), a.count, false);
        if (ret < 0)
            return ret;
    }
    memcpy(m->r, &a, sizeof(a));
    m->reply_size = sizeof(a) + a.count;
    return 0;
}

VFU_HANDLER(vfu_h_region_write)
{
    struct vfu_region_access a;
    uint8_t *data = m->r;    /* the device may not write to the message */
    int ret;

    memcpy(&a, m->p, sizeof(a));
    if (m->size - sizeof(a) != a.count)
        return vfu_bad(s, -EINVAL, "REGION_WRITE of %u bytes with %zu bytes of data",
                       a.count, m->size - sizeof(a));
    ret = access_check(s, &a, VFIO_REGION_INFO_FLAG_WRITE, "REGION_WRITE");
    if (ret < 0)
        return ret;
    if (a.count) {
        memcpy(data, m->p + sizeof(a), a.count);
        ret = s->ops->region_access(s->opaque, a.region, a.offset, data, a.count,
                                    true);
        if (ret < 0)
            return ret;
    }
    memcpy(m->r, &a, sizeof(a));
    m->reply_size = sizeof(a);
    return 0;
}

/* "VFIO_USER_REGION_WRITE_MULTI": every write is checked before any is made,
 * so a bad one leaves the device untouched; the writes are then made in order
 * (a device error stops them part-way: the error reply says so, not how far). */
VFU_HANDLER(vfu_h_region_write_multi)
{
    struct vfu_write_multi hdr;
    struct vfu_write_multi_entry w;
    const uint8_t *p = m->p + sizeof(hdr);
    int ret;

    if (!s->c.write_multiple)
        return vfu_bad(s, -ENOTSUP, "REGION_WRITE_MULTI without write_multiple");
    memcpy(&hdr, m->p, sizeof(hdr));
    if (hdr.wr_cnt == 0 || hdr.wr_cnt > VFU_WRITE_MULTI_MAX ||
        m->size != sizeof(hdr) + hdr.wr_cnt * sizeof(w))
        return vfu_bad(s, -EINVAL, "REGION_WRITE_MULTI of %llu writes in %u bytes",
                       (unsigned long long)hdr.wr_cnt, m->size);
    for (uint64_t i = 0; i < hdr.wr_cnt; i++) {
        struct vfu_region_access a;

        memcpy(&w, p + i * sizeof(w), sizeof(w));
        if (w.count == 0 || w.count > VFU_WRITE_MULTI_DATA_MAX)
            return vfu_bad(s, -EINVAL, "REGION_WRITE_MULTI write %llu of %u bytes",
                           (unsigned long long)i, w.count);
        a = (struct vfu_region_access){ .offset = w.offset, .region = w.region,
                                        .count = w.count };
        ret = access_check(s, &a, VFIO_REGION_INFO_FLAG_WRITE, "REGION_WRITE_MULTI");
        if (ret < 0)
            return ret;
    }
    for (uint64_t i = 0; i < hdr.wr_cnt; i++) {
        memcpy(&w, p + i * sizeof(w), sizeof(w));
        ret = s->ops->region_access(s->opaque, w.region, w.offset, w.data, w.count, true);
        if (ret < 0)
            return ret;
    }
    memcpy(m->r, &hdr, sizeof(hdr));     /* "the number of device writes completed" */
    m->reply_size = sizeof(hdr);
    return 0;
}

VFU_HANDLER(vfu_h_reset)
{
    int ret;

    if (!s->ops->reset)
        return vfu_bad(s, -ENOTSUP, "DEVICE_RESET: the device has no reset");
    ret = s->ops->reset(s->opaque);
    if (ret == 0)
        s->mig_state = VFIO_DEVICE_STATE_RUNNING;   /* also out of ERROR */
    return ret;
}
