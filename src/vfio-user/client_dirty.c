/* client_dirty.c — the client's DMA dirty page calls: DEVICE_FEATURE
 * DMA_LOGGING_START / _STOP / _REPORT (vfio-user.rst
 * "VFIO_DEVICE_FEATURE_DMA_LOGGING_START", "..._REPORT") and DMA_UNMAP with
 * VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP; each reply checked for its exact form. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define RANGE_SIZE sizeof(struct vfio_device_feature_dma_logging_range)

/* START's data: page_size, num_ranges, reserved, then the ranges inline. */
VDEV_API int vdev_vfuc_dma_logging_start(struct vdev_vfuc *c, uint64_t *page_size,
                                         const struct vfio_device_feature_dma_logging_range *ranges,
                                         uint32_t n)
{
    struct vfio_device_feature f = { .flags = VFIO_DEVICE_FEATURE_DMA_LOGGING_START |
                                              VFIO_DEVICE_FEATURE_SET };
    struct vfio_device_feature_dma_logging_control ctl = { 0 };
    uint8_t *req;
    uint32_t size;
    struct vfuc_reply r;
    int ret;

    if (!c || !page_size || (n && !ranges) || n > 4096)
        return -EINVAL;
    size = (uint32_t)(sizeof(f) + 16 + n * RANGE_SIZE);
    req = malloc(size);
    if (!req)
        return -ENOMEM;
    f.argsz = size;
    ctl.page_size = *page_size;
    ctl.num_ranges = n;
    memcpy(req, &f, sizeof(f));
    memcpy(req + sizeof(f), &ctl, 16);
    if (n)
        memcpy(req + sizeof(f) + 16, ranges, n * RANGE_SIZE);
    ret = vfuc_call(c, VFU_CMD_DEVICE_FEATURE, 0, req, size, NULL, 0, NULL, 0, &r, 0);
    if (ret == 0) {
        uint64_t got;

        /* The same as the request but for the page size the server chose. */
        if (r.size != size || memcmp(r.p, req, sizeof(f)) != 0 ||
            memcmp(r.p + sizeof(f) + 8, req + sizeof(f) + 8, size - sizeof(f) - 8) != 0)
            ret = vfuc_bad_reply(c, &r, "DMA_LOGGING_START");
        else {
            memcpy(&got, r.p + sizeof(f), sizeof(got));
            *page_size = got;
        }
    }
    free(req);
    return ret;
}

VDEV_API int vdev_vfuc_dma_logging_stop(struct vdev_vfuc *c)
{
    struct vfio_device_feature f = {
        .argsz = sizeof(f),
        .flags = VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP | VFIO_DEVICE_FEATURE_SET,
    };
    struct vfuc_reply r;
    int ret;

    if (!c)
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DEVICE_FEATURE, 0, &f, sizeof(f), NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    if (r.size != sizeof(f) || memcmp(r.p, &f, sizeof(f)) != 0)
        return vfuc_bad_reply(c, &r, "DMA_LOGGING_STOP");
    return 0;
}

static bool page_ok(uint64_t iova, uint64_t len, uint64_t page_size)
{
    return page_size && !(page_size & (page_size - 1)) && len &&
           !((iova | len) & (page_size - 1)) && iova + (len - 1) >= iova;
}

VDEV_API uint64_t vdev_vfuc_bitmap_bytes(uint64_t len, uint64_t page_size)
{
    return page_size ? (len / page_size + 63) / 64 * 8 : 0;
}

VDEV_API int vdev_vfuc_dma_logging_report(struct vdev_vfuc *c, uint64_t iova,
                                          uint64_t len, uint64_t page_size,
                                          void *bitmap, uint64_t bitmap_bytes)
{
    struct {
        struct vfio_device_feature f;
        uint64_t iova, length, page_size;
    } __attribute__((packed)) req = {
        .f = { .flags = VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT | VFIO_DEVICE_FEATURE_GET },
        .iova = iova, .length = len, .page_size = page_size,
    };
    uint64_t bytes = vdev_vfuc_bitmap_bytes(len, page_size);
    struct vfuc_reply r;
    int ret;

    if (!c || !bitmap || !page_ok(iova, len, page_size) || bitmap_bytes < bytes ||
        bytes > UINT32_MAX - sizeof(req))
        return -EINVAL;
    req.f.argsz = (uint32_t)(sizeof(req) + bytes);
    ret = vfuc_call(c, VFU_CMD_DEVICE_FEATURE, 0, &req, sizeof(req), NULL, 0, NULL, 0,
                    &r, 0);
    if (ret < 0)
        return ret;
    /* "The data field of the response is identical, except with the bitmap
     * added on the end at offset 24", and argsz the whole. */
    if (r.size != sizeof(req) + bytes || memcmp(r.p, &req, sizeof(req)) != 0)
        return vfuc_bad_reply(c, &r, "DMA_LOGGING_REPORT");
    memcpy(bitmap, r.p + sizeof(req), bytes);
    return 0;
}

VDEV_API int vdev_vfuc_dma_unmap_dirty(struct vdev_vfuc *c, uint64_t iova, uint64_t size,
                                       uint64_t page_size, void *bitmap,
                                       uint64_t bitmap_bytes)
{
    struct {
        struct vfu_dma_unmap u;
        uint64_t pgsize, size;
    } __attribute__((packed)) req = {
        .u = { .flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, .addr = iova, .size = size },
        .pgsize = page_size,
    };
    uint64_t bytes = vdev_vfuc_bitmap_bytes(size, page_size);
    struct vfuc_reply r;
    int ret;

    if (!c || !bitmap || !page_ok(iova, size, page_size) || bitmap_bytes < bytes ||
        bytes > UINT32_MAX - sizeof(req))
        return -EINVAL;
    req.size = bytes;
    req.u.argsz = (uint32_t)(sizeof(req) + bytes);
    ret = vfuc_call(c, VFU_CMD_DMA_UNMAP, 0, &req, sizeof(req), NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    if (r.size != sizeof(req) + bytes || memcmp(r.p, &req, sizeof(req)) != 0)
        return vfuc_bad_reply(c, &r, "DMA_UNMAP with dirty bitmap");
    memcpy(bitmap, r.p + sizeof(req), bytes);
    vfuc_window_remove(c, iova, size, false);
    return 0;
}
