/* client_cmds.c — the client's commands that act: DMA_MAP, DMA_UNMAP,
 * DEVICE_SET_IRQS, REGION_READ, REGION_WRITE, REGION_WRITE_MULTI and
 * DEVICE_RESET, each sending the spec's payload and checking its reply's exact
 * form (QEMU docs/interop/vfio-user.rst, the section named after each). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/sock.h"
#include "client_internal.h"

/* --- DMA ---------------------------------------------------------------------- */

VDEV_API int vdev_vfuc_dma_map(struct vdev_vfuc *c, uint64_t iova, uint64_t size, int fd,
                               uint64_t offset, uint32_t prot)
{
    struct vfu_dma_map m = {
        .argsz = sizeof(m), .flags = prot, .offset = fd >= 0 ? offset : 0,
        .addr = iova, .size = size,
    };
    struct vfuc_reply r;
    int ret;

    if (!c || (prot & ~VDEV_VFUC_DMA_RW))
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DMA_MAP, 0, &m, sizeof(m), NULL, 0, fd >= 0 ? &fd : NULL,
                    fd >= 0 ? 1 : 0, &r, 0);
    if (ret < 0)
        return ret;
    return vfuc_expect_size(c, &r, 0, "DMA_MAP");
}

VDEV_API int vdev_vfuc_dma_unmap(struct vdev_vfuc *c, uint64_t iova, uint64_t size,
                                 uint32_t flags)
{
    struct vfu_dma_unmap u = { .argsz = sizeof(u), .flags = flags, .addr = iova,
                               .size = size };
    struct vfuc_reply r;
    int ret;

    if (!c)
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DMA_UNMAP, 0, &u, sizeof(u), NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    /* "The server responds with the original DMA entry in the request." */
    ret = vfuc_expect_size(c, &r, sizeof(u), "DMA_UNMAP");
    if (ret == 0 && memcmp(r.p, &u, sizeof(u)) != 0)
        return vfuc_bad_reply(c, &r, "DMA_UNMAP");
    if (ret == 0)
        vfuc_window_remove(c, iova, size, flags & VFIO_DMA_UNMAP_FLAG_ALL);
    return ret;
}

/* --- interrupts --------------------------------------------------------------- */

/* One SET_IRQS message. */
static int set_irqs_msg(struct vdev_vfuc *c, uint32_t index, uint32_t flags,
                        uint32_t start, uint32_t count, const void *data,
                        uint32_t data_size, const int *fds, size_t nfds)
{
    struct vfio_irq_set s = {
        .argsz = (uint32_t)sizeof(s) + data_size, .flags = flags, .index = index,
        .start = start, .count = count,
    };
    struct vfuc_reply r;
    int ret = vfuc_call(c, VFU_CMD_DEVICE_SET_IRQS, 0, &s, sizeof(s), data, data_size,
                        fds, nfds, &r, 0);

    if (ret < 0)
        return ret;
    return vfuc_expect_size(c, &r, 0, "DEVICE_SET_IRQS");
}

/* Eventfds: runs of fds in messages of at most the server's max_msg_fds, runs
 * of -1 in messages without fds (which de-assign). */
static int set_irqs_eventfds(struct vdev_vfuc *c, uint32_t index, uint32_t flags,
                             uint32_t start, uint32_t count, const int *fds)
{
    uint32_t i = 0;

    if (c->caps.max_msg_fds == 0 && count) {
        for (uint32_t k = 0; k < count; k++)
            if (fds[k] >= 0)
                return -EINVAL;   /* the server takes no fd */
    }
    while (i < count) {
        bool none = fds[i] < 0;
        uint32_t n = 1;
        int ret;

        while (i + n < count && (fds[i + n] < 0) == none &&
               (none || n < c->caps.max_msg_fds))
            n++;
        ret = set_irqs_msg(c, index, flags, start + i, n, NULL, 0, none ? NULL : fds + i,
                           none ? 0 : n);
        if (ret < 0)
            return ret;
        i += n;
    }
    return 0;
}

VDEV_API int vdev_vfuc_set_irqs(struct vdev_vfuc *c, uint32_t index, uint32_t flags,
                                uint32_t start, uint32_t count, const void *data)
{
    uint32_t type;

    if (!c)
        return -EINVAL;
    type = flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    if (type == VFIO_IRQ_SET_DATA_BOOL) {
        if (!data && count)
            return -EINVAL;
        return set_irqs_msg(c, index, flags, start, count, data, count, NULL, 0);
    }
    if (type == VFIO_IRQ_SET_DATA_EVENTFD && count) {
        if (!data)
            return -EINVAL;
        return set_irqs_eventfds(c, index, flags, start, count, data);
    }
    return set_irqs_msg(c, index, flags, start, count, NULL, 0, NULL, 0);
}

/* --- region access and reset ----------------------------------------------------- */

VDEV_API int vdev_vfuc_region_read(struct vdev_vfuc *c, uint32_t index, uint64_t offset,
                                   void *buf, uint32_t len)
{
    struct vfu_region_access a = { .offset = offset, .region = index, .count = len };
    struct vfuc_reply r;
    int ret;

    if (!c || (len && !buf))
        return -EINVAL;
    if (len > c->caps.max_data_xfer_size || len > c->my_max_xfer)
        return -E2BIG;
    ret = vfuc_call(c, VFU_CMD_REGION_READ, 0, &a, sizeof(a), NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    ret = vfuc_expect_size(c, &r, sizeof(a) + len, "REGION_READ");
    if (ret < 0)
        return ret;
    if (memcmp(r.p, &a, sizeof(a)) != 0)
        return vfuc_bad_reply(c, &r, "REGION_READ");
    memcpy(buf, r.p + sizeof(a), len);
    return 0;
}

VDEV_API int vdev_vfuc_region_write(struct vdev_vfuc *c, uint32_t index, uint64_t offset,
                                    const void *buf, uint32_t len, bool posted)
{
    struct vfu_region_access a = { .offset = offset, .region = index, .count = len };
    struct vfuc_reply r;
    int ret;

    if (!c || (len && !buf))
        return -EINVAL;
    if (len > c->caps.max_data_xfer_size)
        return -E2BIG;
    ret = vfuc_call(c, VFU_CMD_REGION_WRITE, posted ? VFU_F_NO_REPLY : 0, &a, sizeof(a),
                    buf, len, NULL, 0, &r, 0);
    if (ret < 0 || posted)
        return ret;
    ret = vfuc_expect_size(c, &r, sizeof(a), "REGION_WRITE");
    if (ret == 0 && memcmp(r.p, &a, sizeof(a)) != 0)
        return vfuc_bad_reply(c, &r, "REGION_WRITE");
    return ret;
}

VDEV_API int vdev_vfuc_region_write_multi(struct vdev_vfuc *c,
                                          const struct vdev_vfuc_write *w, uint32_t n,
                                          bool posted)
{
    struct vfu_write_multi hdr = { .wr_cnt = n };
    struct vfu_write_multi_entry *e;
    struct vfuc_reply r;
    int ret;

    if (!c || !w || n == 0 || n > 4096)
        return -EINVAL;
    if (!c->caps.write_multiple)
        return -ENOTSUP;
    e = calloc(n, sizeof(*e));
    if (!e)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        if (w[i].count == 0 || w[i].count > VFU_WRITE_MULTI_DATA_MAX) {
            free(e);
            return -EINVAL;
        }
        e[i].offset = w[i].offset;
        e[i].region = w[i].region;
        e[i].count = w[i].count;
        memcpy(e[i].data, w[i].data, w[i].count);
    }
    ret = vfuc_call(c, VFU_CMD_REGION_WRITE_MULTI, posted ? VFU_F_NO_REPLY : 0, &hdr,
                    sizeof(hdr), e, n * (uint32_t)sizeof(*e), NULL, 0, &r, 0);
    free(e);
    if (ret < 0 || posted)
        return ret;
    ret = vfuc_expect_size(c, &r, sizeof(hdr), "REGION_WRITE_MULTI");
    if (ret == 0 && memcmp(r.p, &hdr, sizeof(hdr)) != 0)
        return vfuc_bad_reply(c, &r, "REGION_WRITE_MULTI");
    return ret;
}

VDEV_API int vdev_vfuc_reset(struct vdev_vfuc *c)
{
    struct vfuc_reply r;
    int ret;

    if (!c)
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DEVICE_RESET, 0, NULL, 0, NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    return vfuc_expect_size(c, &r, 0, "DEVICE_RESET");
}
