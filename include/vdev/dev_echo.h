/* dev_echo.h — an echo device, for tests and benchmarks of the transports.
 *
 * Device id 0xfff0 is not a registered virtio device id (<linux/virtio_ids.h>):
 * no guest driver binds to it; our own driver library and tests do.
 *
 * A request's reply, written to its device-writable buffers: an 8-byte header
 * {le32 sum of every readable byte taken as unsigned, le32 readable length},
 * then as many readable bytes as fit. The used length is the bytes written; a
 * request without at least 8 writable bytes is completed with used length 0.
 *
 * Configuration space (little-endian, VDEV_ECHO_CFG_SIZE bytes):
 *   0  le32 magic 0x76646576 ("vdev")     read-only
 *   4  le32 scratch                        read-write
 *   8  le64 requests completed             read-only
 * A write that touches a read-only byte is refused with -EPERM.
 *
 * Hold mode: popped requests are kept, not completed, until released, so a test
 * can have requests in flight when it kills a backend. vdev_echo_release(dev, n)
 * lets n more requests complete, from any thread: the queues' workers complete
 * them (oldest first, on whichever queues hold them). Releases not used yet are
 * kept for requests that come later. Stopping a queue completes what is
 * released and cancels the rest: never pushed, those requests stay in flight
 * for the driver (and for an inflight record). Reset forgets unused releases.
 *
 * Features offered: VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
 * VIRTIO_F_RING_PACKED; set_features also takes VIRTIO_F_VERSION_1 back from a
 * transport, and refuses any other bit (-EINVAL).
 *
 * save/load carry the scratch register and the request counter, as the 16 bytes
 * of the configuration space (load checks the magic). */
#ifndef VDEV_DEV_ECHO_H
#define VDEV_DEV_ECHO_H

#include "vdev/common.h"
#include "vdev/virtio_dev.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_ECHO_DEVICE_ID    0xfff0u     /* not registered: a test device */
#define VDEV_ECHO_MAX_QUEUES   16u
#define VDEV_ECHO_MAGIC        0x76646576u

#define VDEV_ECHO_CFG_MAGIC    0u
#define VDEV_ECHO_CFG_SCRATCH  4u
#define VDEV_ECHO_CFG_SERVED   8u
#define VDEV_ECHO_CFG_SIZE     16u

#define VDEV_ECHO_HDR_SIZE     8u          /* the reply header */

struct vdev_echo_config {
    uint16_t num_queues;    /* 1..VDEV_ECHO_MAX_QUEUES */
    bool hold;              /* keep requests until vdev_echo_release() */
    bool net;               /* pose as a net device (VIRTIO_ID_NET) offering
                             * VIRTIO_NET_F_MTU, for the transport rules only
                             * net devices have; requests are still echoed */
};

/* 0, -EINVAL (no config, num_queues out of range), -ENOMEM, or the error of
 * eventfd() (hold mode). */
VDEV_API int  vdev_echo_new(const struct vdev_echo_config *c,
                            struct vdev_virtio_dev **out);
/* Every queue must have been stopped. */
VDEV_API void vdev_echo_free(struct vdev_virtio_dev *dev);

/* Hold mode: lets n more held requests complete. From any thread; does not
 * wait. 0, or -EINVAL (not an echo device in hold mode). */
VDEV_API int  vdev_echo_release(struct vdev_virtio_dev *dev, uint32_t n);

/* The MTU the transport set (net mode), or 0. */
VDEV_API uint16_t vdev_echo_mtu(const struct vdev_virtio_dev *dev);

/* Requests held now, over all queues. From any thread. */
VDEV_API uint64_t vdev_echo_held(const struct vdev_virtio_dev *dev);

#ifdef __cplusplus
}
#endif

#endif
