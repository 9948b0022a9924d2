/* dirty.h — which guest pages the device has written, for live migration.
 *
 * One bit per 4 KiB page of guest address space, bit (gpa / 4096) % 8 of byte
 * gpa / 4096 / 8 (the layout of vhost-user's log and of VFIO's bitmaps at 4 KiB).
 * Bits are set with atomic operations from any thread while the VMM reads or
 * clears them concurrently.
 *
 * A log covers one or more ranges of guest addresses; writes outside them are
 * counted, not recorded (vdev_dirty_missed()). */
#ifndef VDEV_DIRTY_H
#define VDEV_DIRTY_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_DIRTY_PAGE_SHIFT 12
#define VDEV_DIRTY_PAGE_SIZE  (1ull << VDEV_DIRTY_PAGE_SHIFT)

struct vdev_dirty;

struct vdev_dirty_range {
    uint64_t base;   /* 4 KiB aligned */
    uint64_t size;   /* bytes, a multiple of 4 KiB, not 0 */
};

/* A log of its own memory over n ranges (vfio-user's DMA_LOGGING_START). Ranges
 * must not overlap: -EINVAL for a bad or overlapping range, -EOVERFLOW for one
 * that wraps, -ENOMEM. */
VDEV_API int  vdev_dirty_new(const struct vdev_dirty_range *ranges, size_t n,
                             struct vdev_dirty **out);

/* A log over memory the caller owns, such as vhost-user's shared log area: bytes
 * of bitmap covering guest addresses [0, bytes * 8 * 4096). The memory must stay
 * mapped until vdev_dirty_free(). */
VDEV_API int  vdev_dirty_wrap(void *bitmap, uint64_t bytes, struct vdev_dirty **out);

VDEV_API void vdev_dirty_free(struct vdev_dirty *d);

/* Sets the bits of every page that [gpa, gpa + len) touches. */
VDEV_API void vdev_dirty_mark(struct vdev_dirty *d, uint64_t gpa, uint64_t len);

/* Copies the bits for [gpa, gpa + len) into out, one bit per page_size page (a
 * power of two >= 4096; a page is dirty if any 4 KiB page in it is), bit i of the
 * report at byte i / 8, bit i % 8. With clear, the bits are taken atomically, so
 * a page marked during the report shows up in this report or the next, never in
 * neither. gpa and len must be page_size aligned and inside one range. Returns 0,
 * -EINVAL (alignment, page size), -ENOENT (not inside a range), -ENOBUFS (out_bytes
 * too small: it must be at least ceil(len / page_size / 8)). */
VDEV_API int  vdev_dirty_report(struct vdev_dirty *d, uint64_t gpa, uint64_t len,
                                uint64_t page_size, bool clear, uint8_t *out,
                                size_t out_bytes);

/* Writes that fell outside every range, since the log was made. */
VDEV_API uint64_t vdev_dirty_missed(const struct vdev_dirty *d);

#ifdef __cplusplus
}
#endif

#endif
