/* client_migrate.c — a whole migration from one server to another, made of the
 * client's calls: the source's device state streamed into the target, and the
 * DMA pages the source's device dirtied handed to the caller to copy.
 *
 * Source: DMA logging started over the given ranges; PRE_COPY when the device
 * offers it, its initial data read; the dirty pages reported; STOP_COPY, the
 * rest of the data read; the last dirty pages reported (the device is stopped:
 * no more come); logging stopped; left in STOP. Target: RESUMING before the
 * first byte, every byte written in order, then RUNNING (which fails when the
 * stream is incomplete or bad). The data is one stream across PRE_COPY and
 * STOP_COPY, as in <linux/vfio.h>, where the saving arcs keep the same data_fd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define DEFAULT_CHUNK (64u * 1024)

/* Reads the source until it has no more for now (a short read) into the target. */
static int pump(struct vdev_vfuc *src, struct vdev_vfuc *dst, uint8_t *buf,
                uint32_t chunk, uint64_t *moved)
{
    uint32_t got;
    int ret;

    do {
        ret = vdev_vfuc_mig_read(src, buf, chunk, &got);
        if (ret == 0 && got)
            ret = vdev_vfuc_mig_write(dst, buf, got);
        if (ret < 0)
            return ret;
        *moved += got;
    } while (got == chunk);
    return 0;
}

static int report_dirty(struct vdev_vfuc *src, const struct vdev_vfuc_migration *m)
{
    for (uint32_t i = 0; i < m->nranges; i++) {
        const struct vfio_device_feature_dma_logging_range *r = &m->ranges[i];
        uint64_t bytes = vdev_vfuc_bitmap_bytes(r->length, VDEV_VFUC_DIRTY_PAGE);
        uint8_t *bm = calloc(1, bytes ? bytes : 1);
        int ret;

        if (!bm)
            return -ENOMEM;
        ret = vdev_vfuc_dma_logging_report(src, r->iova, r->length, VDEV_VFUC_DIRTY_PAGE,
                                           bm, bytes);
        if (ret == 0 && m->on_dirty)
            ret = m->on_dirty(m->opaque, r->iova, r->length, VDEV_VFUC_DIRTY_PAGE, bm);
        free(bm);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* The transfer size both servers and our reads take. */
static int chunk_of(struct vdev_vfuc *src, struct vdev_vfuc *dst, uint32_t want,
                    uint32_t *out)
{
    uint32_t n = want ? want : DEFAULT_CHUNK;

    if (n > src->caps.max_data_xfer_size)
        n = src->caps.max_data_xfer_size;
    if (n > src->my_max_xfer)
        n = src->my_max_xfer;
    if (n > dst->caps.max_data_xfer_size)
        n = dst->caps.max_data_xfer_size;
    if (n == 0)
        return -EINVAL;
    *out = n;
    return 0;
}

static int run(struct vdev_vfuc *src, struct vdev_vfuc *dst,
               struct vdev_vfuc_migration *m, uint8_t *buf, uint32_t chunk)
{
    uint64_t flags = 0;
    int ret = vdev_vfuc_mig_flags(src, &flags);

    if (ret == 0)
        ret = vdev_vfuc_mig_set_state(dst, VFIO_DEVICE_STATE_RESUMING);
    if (ret < 0)
        return ret;
    m->used_pre_copy = flags & VFIO_MIGRATION_PRE_COPY;
    if (m->used_pre_copy) {
        ret = vdev_vfuc_mig_set_state(src, VFIO_DEVICE_STATE_PRE_COPY);
        if (ret == 0)
            ret = pump(src, dst, buf, chunk, &m->data_bytes);
        if (ret == 0)
            ret = report_dirty(src, m);
        if (ret < 0)
            return ret;
    }
    ret = vdev_vfuc_mig_set_state(src, VFIO_DEVICE_STATE_STOP_COPY);
    if (ret == 0)
        ret = pump(src, dst, buf, chunk, &m->data_bytes);
    if (ret == 0)
        ret = report_dirty(src, m);
    if (ret == 0)
        ret = vdev_vfuc_mig_set_state(src, VFIO_DEVICE_STATE_STOP);
    if (ret == 0)
        ret = vdev_vfuc_mig_set_state(dst, VFIO_DEVICE_STATE_RUNNING);
    return ret;
}

VDEV_API int vdev_vfuc_migrate(struct vdev_vfuc *src, struct vdev_vfuc *dst,
                               struct vdev_vfuc_migration *m)
{
    uint64_t page = VDEV_VFUC_DIRTY_PAGE;
    uint32_t chunk;
    uint8_t *buf;
    int ret;

    if (!src || !dst || !m || (m->nranges && !m->ranges))
        return -EINVAL;
    m->data_bytes = 0;
    m->used_pre_copy = false;
    ret = chunk_of(src, dst, m->chunk, &chunk);
    if (ret < 0)
        return ret;
    buf = malloc(chunk);
    if (!buf)
        return -ENOMEM;
    if (m->nranges && !m->logging_started)
        ret = vdev_vfuc_dma_logging_start(src, &page, m->ranges, m->nranges);
    if (ret == 0 && page != VDEV_VFUC_DIRTY_PAGE)
        ret = -EPROTO;           /* we asked for what every server logs */
    if (ret == 0) {
        ret = run(src, dst, m, buf, chunk);
        if (m->nranges) {
            int r2 = vdev_vfuc_dma_logging_stop(src);

            if (ret == 0)
                ret = r2;
        }
        /* A failed migration gives the source back its run ("To abort ... the
         * user ... attempt to return to the original state"). */
        if (ret < 0 && vdev_vfuc_connected(src))
            vdev_vfuc_mig_set_state(src, VFIO_DEVICE_STATE_RUNNING);
    }
    free(buf);
    return ret;
}
