/* dev_virtio_blk.h — a virtio block device (virtio 1.2, 5.2) on a block backend
 * (block.h).
 *
 * Requests: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES; anything else is
 * completed with VIRTIO_BLK_S_UNSUPP, as are DISCARD and WRITE_ZEROES when their
 * feature was not negotiated. Requests are framed by bytes, not by descriptors
 * (2.6.4): the header is the first 16 readable bytes, the status the last
 * writable byte, the data what lies between.
 *
 * Everything in a request is the guest's: a request that is wrong gets
 * VIRTIO_BLK_S_IOERR (or UNSUPP, where 5.2.6.2 says so) and one log line, and
 * the queue serves on. A request without a writable byte has nowhere to put a
 * status: it is returned with used length 0. Used length: the data bytes read
 * plus the status for IN, the ID bytes plus the status for GET_ID, the status
 * alone for everything else and for every error.
 *
 * Limits a request must keep (IOERR otherwise): data a multiple of 512 bytes and
 * of blk_size, inside capacity; at most seg_max data segments (a segment is an
 * iovec as the device sees it: a buffer that spans two memory regions counts
 * twice); discard and write-zeroes at most max_*_seg ranges of at most
 * max_*_sectors each, aligned to blk_size, with no flag but UNMAP (UNSUPP
 * otherwise; UNMAP on a discard is UNSUPP too).
 *
 * Cache: with VIRTIO_BLK_F_CONFIG_WCE the driver switches between writeback and
 * writethrough through the wce byte; writethrough (also when neither FLUSH nor
 * CONFIG_WCE was negotiated, 5.2.6.2) makes every write durable before it
 * completes; a write takes the mode in force when it is submitted (the driver
 * may change it while queues run). A flush is issued once the writes, discards and write-zeroes
 * submitted before it on its worker have completed, and completes when they
 * and every write completed anywhere before it are durable (fdatasync).
 *
 * size_max is advertised, not enforced: a segment is an iovec here, and the
 * device takes any length.
 *
 * Queues: each queue runs on its worker; the queues of one device on one worker
 * share one io_uring, whose eventfd the device watches on the worker's loop.
 * queue_stop waits for the queue's requests in flight and pushes them. */
#ifndef VDEV_DEV_VIRTIO_BLK_H
#define VDEV_DEV_VIRTIO_BLK_H

#include "vdev/common.h"
#include "vdev/virtio_dev.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_blk;

#define VDEV_VIRTIO_BLK_MAX_QUEUES   64u
#define VDEV_VIRTIO_BLK_SEG_MAX      1024u     /* largest seg_max accepted */

struct vdev_virtio_blk_config {
    const char *backend;        /* block spec (block.h), e.g. "file:path=disk.img" */
    struct vdev_blk *blk;       /* or an open backend, served in place of backend;
                                 * it stays the caller's (close it after the free) */
    uint16_t num_queues;        /* 1..VDEV_VIRTIO_BLK_MAX_QUEUES; 0: 1 */
    uint16_t queue_size;        /* the largest ring accepted, 1..32768; 0: 256 */
    const char *serial;         /* GET_ID: at most 20 bytes; NULL: empty */
    bool read_only;             /* also when the backend is read-only */
    bool writethrough;          /* the cache mode after reset (default writeback) */
    uint32_t seg_max;           /* 1..VDEV_VIRTIO_BLK_SEG_MAX; 0: 126 */
    uint32_t size_max;          /* bytes per segment advertised, at least 4096;
                                 * 0: 1 MiB */
};

/* 0, or:
 *   -EINVAL  no config, no backend, a value out of range, a serial longer than
 *            20 bytes, a backend whose size is not a multiple of 512
 *   -ENOMEM, or the error of vdev_blk_open() */
VDEV_API int  vdev_virtio_blk_new(const struct vdev_virtio_blk_config *c,
                                  struct vdev_virtio_dev **out);
/* Every queue must have been stopped. Closes the backend it opened. */
VDEV_API void vdev_virtio_blk_free(struct vdev_virtio_dev *dev);

#ifdef __cplusplus
}
#endif

#endif
