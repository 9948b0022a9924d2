/* virtq_driver.h — a virtqueue, driver side: what a guest's virtio driver does,
 * for tests, benchmarks and the frontends (client part of the library; the
 * device path never uses it).
 *
 * The rings live in memory reached through a vdev_mem map, at addresses the
 * caller chooses (vdev_vq_*_bytes() in virtq.h give the sizes). The driver keeps
 * its own bookkeeping (free descriptors, buffer ids, chain lengths) out of the
 * shared rings, and checks what the device writes back: a used id it did not
 * hand out is an error, not a crash.
 *
 * Threads: one thread at a time per queue. */
#ifndef VDEV_VIRTQ_DRIVER_H
#define VDEV_VIRTQ_DRIVER_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_mem;
struct vdev_vqd;

struct vdev_vqd_config {
    uint16_t size;          /* split: a power of two; 1..32768 */
    bool packed;
    bool event_idx;
    bool indirect;          /* tables are placed in indirect_gpa */
    uint64_t desc_gpa, driver_gpa, device_gpa;   /* as in struct vdev_vq_config */
    uint64_t indirect_gpa;  /* room for size tables of indirect_max entries each:
                             * size * indirect_max * 16 bytes, 16-aligned */
    uint16_t indirect_max;  /* entries per indirect table, 1..size */
    struct vdev_mem *mem;   /* borrowed */
    int kick_fd;            /* eventfd to kick the device, or -1 */
};

/* One buffer of a request. */
struct vdev_vqd_buf {
    uint64_t gpa;
    uint32_t len;
};

/* Zeroes the ring areas and sets the queue up. 0, -ENOMEM, -EINVAL (size,
 * alignment, indirect area), -EFAULT (an area not mapped read-write in one
 * piece). */
VDEV_API int  vdev_vqd_new(const struct vdev_vqd_config *c, struct vdev_vqd **out);
VDEV_API void vdev_vqd_free(struct vdev_vqd *d);

/* Makes a request of n_out device-readable then n_in device-writable buffers
 * available, in one indirect table when indirect. *id is what
 * vdev_vqd_get_used() will return for it. The device sees it at once; the kick
 * is separate. 0, or:
 *   -EINVAL   no buffers, more than 65535, indirect not configured or more
 *             buffers than indirect_max
 *   -ENOSPC   not enough free descriptors (or buffer ids) now */
VDEV_API int  vdev_vqd_add(struct vdev_vqd *d, const struct vdev_vqd_buf *out,
                           unsigned n_out, const struct vdev_vqd_buf *in, unsigned n_in,
                           bool indirect, uint16_t *id);

/* Publishes what was added and says whether the device wants a kick for it
 * (VRING_USED_F_NO_NOTIFY, avail_event, or the packed device event
 * suppression). A true answer is not given again for the same requests. */
VDEV_API bool vdev_vqd_kick_prepare(struct vdev_vqd *d);

/* vdev_vqd_kick_prepare(), and when true a write to kick_fd. 1, 0, or -errno. */
VDEV_API int  vdev_vqd_kick(struct vdev_vqd *d);

/* The next used element. 1 (id, len set), 0 (none), or -EPROTO when the device
 * returned an id that is not outstanding or moved the used index too far. */
VDEV_API int  vdev_vqd_get_used(struct vdev_vqd *d, uint16_t *id, uint32_t *len);

/* Asks the device for used buffer notifications (enable) or not. With the event
 * index, enabling asks for one at the next used element. Enabling returns
 * whether used elements are already waiting. */
VDEV_API bool vdev_vqd_set_interrupts(struct vdev_vqd *d, bool enable);

/* Descriptors (split) or ring slots (packed) free now. */
VDEV_API unsigned vdev_vqd_free_count(const struct vdev_vqd *d);

#ifdef __cplusplus
}
#endif

#endif
