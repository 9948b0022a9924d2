/* server_dirty.c — DMA dirty page logging: DEVICE_FEATURE DMA_LOGGING_START,
 * _STOP and _REPORT (vfio-user.rst "VFIO_DEVICE_FEATURE_DMA_LOGGING_START",
 * "..._REPORT"; <linux/vfio.h> struct vfio_device_feature_dma_logging_*).
 *
 * The log is a vdev_dirty attached to the connection's vdev_mem, so every
 * device write through vdev_mem_write() (and so vdev_vfu_server_dma_write() to
 * shared windows) is recorded; a device that writes by other means reports it
 * with vdev_vfu_server_mark_dirty(). The log is 4 KiB granular: START keeps a
 * page-size hint that is a power of two of at least 4 KiB and answers 4 KiB
 * for any other; REPORT takes any such page size. num_ranges 0 ("all writes")
 * logs the DMA windows mapped at START. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/dirty.h"
#include "vdev/log.h"
#include "server_dirty.h"

/* A log over more than this much IOVA space is refused: 1 TiB is a 32 MiB
 * bitmap, and the client must not make us allocate more. */
#define DIRTY_MAX_SPAN     (1ull << 40)
#define DIRTY_MAX_RANGES   4096u
#define START_FIXED        offsetof(struct vfio_device_feature_dma_logging_control, ranges)

static struct vdev_dirty *dirty_log(struct vdev_vfu_server *s)
{
    return s->c.mem ? vdev_mem_dirty_log(s->c.mem) : NULL;
}

static bool pow2_page(uint64_t p)
{
    return p >= VDEV_DIRTY_PAGE_SIZE && (p & (p - 1)) == 0;
}

/* Attaches or detaches the log with the device's workers stopped: the map's
 * dirty log may not change under a translation (mem.h). */
static void dirty_attach(struct vdev_vfu_server *s, struct vdev_dirty *d)
{
    vfu_dma_quiesce(s, true);
    vdev_mem_set_dirty_log(s->c.mem, d);
    vfu_dma_quiesce(s, false);
}

void vfu_dirty_stop(struct vdev_vfu_server *s)
{
    struct vdev_dirty *d = dirty_log(s);

    if (!d)
        return;
    vdev_mem_set_dirty_log(s->c.mem, NULL);
    vdev_dirty_free(d);
}

/* The ranges of START, or the DMA windows for num_ranges 0, checked. */
static int start_ranges(struct vdev_vfu_server *s, const uint8_t *p, uint32_t n,
                        struct vdev_dirty_range *out)
{
    uint64_t span = 0;

    for (uint32_t i = 0; i < n; i++) {
        struct vfio_device_feature_dma_logging_range r;

        memcpy(&r, p + i * sizeof(r), sizeof(r));
        out[i] = (struct vdev_dirty_range){ r.iova, r.length };
    }
    if (n == 0) {
        if (s->c.ndma > DIRTY_MAX_RANGES || s->c.ndma == 0)
            return vfu_bad(s, -EINVAL, "DMA_LOGGING_START of all writes with %zu "
                           "DMA windows", s->c.ndma);
        for (size_t i = 0; i < s->c.ndma; i++)
            out[i] = (struct vdev_dirty_range){ s->c.dma[i].iova, s->c.dma[i].size };
        n = (uint32_t)s->c.ndma;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (out[i].size > DIRTY_MAX_SPAN - span)
            return vfu_bad(s, -E2BIG, "DMA_LOGGING_START over more than %llu bytes",
                           (unsigned long long)DIRTY_MAX_SPAN);
        span += out[i].size;
    }
    return (int)n;
}

static int logging_start(struct vdev_vfu_server *s, struct vfu_msg *m, uint32_t dlen)
{
    struct vdev_dirty_range *ranges;
    const size_t hdr = sizeof(struct vfio_device_feature);
    struct vfio_device_feature_dma_logging_control ctl;
    struct vdev_dirty *d = NULL;
    int n, ret;

    /* page_size, num_ranges, reserved: the kernel struct up to its pointer */
    if (dlen < START_FIXED)
        return vfu_bad(s, -EINVAL, "DMA_LOGGING_START with %u bytes of data", dlen);
    memset(&ctl, 0, sizeof(ctl));
    memcpy(&ctl, m->p + hdr, START_FIXED);
    /* The ranges follow inline where the kernel's struct has a pointer. */
    if (ctl.num_ranges > DIRTY_MAX_RANGES ||
        dlen != START_FIXED + ctl.num_ranges * sizeof(struct vfio_device_feature_dma_logging_range))
        return vfu_bad(s, -EINVAL, "DMA_LOGGING_START of %u ranges in %u bytes",
                       ctl.num_ranges, dlen);
    if (dirty_log(s))
        return vfu_bad(s, -EBUSY, "DMA_LOGGING_START while logging");
    if (!s->c.mem)
        return -ENOTCONN;
    ranges = calloc(ctl.num_ranges ? ctl.num_ranges : s->c.ndma + 1, sizeof(*ranges));
    if (!ranges)
        return -ENOMEM;
    n = start_ranges(s, m->p + hdr + START_FIXED, ctl.num_ranges, ranges);
    ret = n < 0 ? n : vdev_dirty_new(ranges, (size_t)n, &d);
    free(ranges);
    if (n < 0)
        return n;
    if (ret < 0)
        return vfu_bad(s, ret, "DMA_LOGGING_START: bad ranges: %s", vdev_strerror(ret));
    dirty_attach(s, d);
    /* "the response data field will be the same as the request, unless the
     * page size was changed". */
    if (!pow2_page(ctl.page_size))
        ctl.page_size = VDEV_DIRTY_PAGE_SIZE;
    memcpy(m->r, m->p, m->size);
    memcpy(m->r + hdr, &ctl.page_size, sizeof(ctl.page_size));
    m->reply_size = m->size;
    return 0;
}

static int logging_stop(struct vdev_vfu_server *s, struct vfu_msg *m, uint32_t dlen)
{
    if (dlen)
        return vfu_bad(s, -EINVAL, "DMA_LOGGING_STOP with %u bytes of data", dlen);
    if (dirty_log(s)) {
        struct vdev_dirty *d = dirty_log(s);

        dirty_attach(s, NULL);
        vdev_dirty_free(d);
    }
    memcpy(m->r, m->p, m->size);
    m->reply_size = m->size;
    return 0;
}

int vfu_dirty_take(struct vdev_vfu_server *s, uint64_t iova, uint64_t len,
                   uint64_t page_size, uint8_t *out, size_t out_bytes)
{
    struct vdev_dirty *d = dirty_log(s);

    if (!d)
        return vfu_bad(s, -EINVAL, "dirty bitmap asked for while not logging");
    memset(out, 0, out_bytes);
    return vdev_dirty_report(d, iova, len, page_size, true, out, out_bytes);
}

/* Bytes of a bitmap of u64s for len at page_size ("The bitmap is an array of
 * u64s"). len and page_size are checked. */
static uint64_t bitmap_bytes(uint64_t len, uint64_t page_size)
{
    uint64_t pages = len / page_size;

    return (pages + 63) / 64 * 8;
}

static int logging_report(struct vdev_vfu_server *s, struct vfu_msg *m,
                          const struct vfio_device_feature *f, uint32_t dlen)
{
    const size_t hdr = sizeof(*f);
    struct {
        uint64_t iova, length, page_size;
    } q;
    uint64_t bytes, need;
    int ret;

    if (dlen != sizeof(q))
        return vfu_bad(s, -EINVAL, "DMA_LOGGING_REPORT with %u bytes of data", dlen);
    memcpy(&q, m->p + hdr, sizeof(q));
    if (!pow2_page(q.page_size) || q.length == 0 ||
        ((q.iova | q.length) & (q.page_size - 1)) || q.iova + (q.length - 1) < q.iova)
        return vfu_bad(s, -EINVAL, "DMA_LOGGING_REPORT %#llx+%#llx at page size %#llx",
                       (unsigned long long)q.iova, (unsigned long long)q.length,
                       (unsigned long long)q.page_size);
    bytes = bitmap_bytes(q.length, q.page_size);
    need = hdr + sizeof(q) + bytes;
    if (need > s->reply_cap || f->argsz < need)
        return vfu_bad(s, need > s->reply_cap ? -E2BIG : -EINVAL,
                       "DMA_LOGGING_REPORT needs %llu bytes, argsz %u",
                       (unsigned long long)need, f->argsz);
    ret = vfu_dirty_take(s, q.iova, q.length, q.page_size, m->r + hdr + sizeof(q),
                         (size_t)bytes);
    if (ret < 0)
        return vfu_bad(s, ret, "DMA_LOGGING_REPORT %#llx+%#llx: %s",
                       (unsigned long long)q.iova, (unsigned long long)q.length,
                       vdev_strerror(ret));
    memcpy(m->r, f, hdr);
    ((struct vfio_device_feature *)(void *)m->r)->argsz = (uint32_t)need;
    memcpy(m->r + hdr, &q, sizeof(q));
    m->reply_size = (uint32_t)need;
    return 0;
}

int vfu_dirty_feature(struct vdev_vfu_server *s, struct vfu_msg *m,
                      const struct vfio_device_feature *f, uint32_t index, uint32_t dlen)
{
    switch (index) {
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
        return logging_start(s, m, dlen);
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
        return logging_stop(s, m, dlen);
    default:
        return logging_report(s, m, f, dlen);
    }
}

VDEV_API int vdev_vfu_server_mark_dirty(struct vdev_vfu_server *s, uint64_t iova,
                                        uint64_t len)
{
    if (!s || !s->c.mem || s->c.fd < 0)
        return -ENOTCONN;
    vdev_mem_mark_dirty(s->c.mem, iova, len);
    return 0;
}
