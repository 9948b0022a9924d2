/* virtio_dev.h — a virtio device model, as every transport sees it.
 *
 * A device is written once against this interface and served over vhost-user
 * (src/vhost-user/) or over vfio-user behind an emulated virtio-pci function
 * (src/virtio-pci/). It never sees a socket, a message or a PCI register: it gets
 * its negotiated features, reads and writes of its configuration space, and
 * queues to serve. The transport owns the rings' set-up, the memory map, the
 * worker threads and the eventfds.
 *
 * Threads: set_features, reset, save and load run on the control thread, never
 * while a queue of the device is started. get_config and set_config run on the
 * control thread too, but a driver reads and writes its configuration at any
 * time, so they may come while queues are started: what a worker changes there
 * is read atomically. queue_start, queue_kick, queue_poll and queue_stop run on
 * the worker thread that owns the queue; queues of one device may be on
 * different workers at once. */
#ifndef VDEV_VIRTIO_DEV_H
#define VDEV_VIRTIO_DEV_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_vq;
struct vdev_mem;
struct vdev_loop;

/* One queue of a started device, as the device sees it on its worker. */
struct vdev_virtio_queue {
    unsigned index;
    struct vdev_vq *vq;          /* started; pop, push, notify */
    struct vdev_mem *mem;        /* the guest's memory, for the device's own DMA */
    struct vdev_loop *loop;      /* the worker's loop: a device may watch its own
                                  * fds there (an io_uring's eventfd) */
    void *priv;                  /* the device's, per queue */
};

struct vdev_virtio_ops {
    const char *name;            /* "virtio-blk" */
    uint32_t device_id;          /* VIRTIO_ID_* of <linux/virtio_ids.h> */
    uint16_t max_queue_size;     /* largest ring the device accepts */

    /* Feature bits the device offers: its own and the ring features it supports
     * (VIRTIO_F_VERSION_1 is added by every transport). */
    uint64_t (*features)(void *dev);
    /* The driver's choice, a subset of features(). 0 or a negative errno. */
    int (*set_features)(void *dev, uint64_t features);

    /* How many queues the device has at most (vhost-user GET_QUEUE_NUM,
     * virtio-pci num_queues). */
    uint16_t (*num_queues)(void *dev);

    /* Configuration space: config_size bytes. The transport checks offset and
     * length against config_size before calling; set_config returns -EPERM for a
     * field the driver may not write. */
    uint32_t config_size;
    int (*get_config)(void *dev, uint32_t offset, void *buf, uint32_t len);
    int (*set_config)(void *dev, uint32_t offset, const void *buf, uint32_t len);

    /* Net devices with VIRTIO_NET_F_MTU (optional): the host MTU the front-end
     * sets (vhost-user NET_SET_MTU), already checked to be 68..65535 (virtio
     * 1.2, 5.1.4.1). 0, or a negative errno for one the device cannot take. */
    int (*set_mtu)(void *dev, uint16_t mtu);

    /* On the queue's worker. queue_start may set q->priv and watch fds on q->loop.
     * queue_kick: the driver made buffers available; pop, do, push, notify.
     * queue_poll (optional): called in a busy loop in poll mode, in place of
     * kicks; returns how many requests it handled.
     * queue_stop: finish or cancel everything in flight on this queue and push
     * what completed; after it returns, the queue's memory may be unmapped. */
    int  (*queue_start)(void *dev, struct vdev_virtio_queue *q);
    void (*queue_kick)(void *dev, struct vdev_virtio_queue *q);
    int  (*queue_poll)(void *dev, struct vdev_virtio_queue *q);
    void (*queue_stop)(void *dev, struct vdev_virtio_queue *q);

    /* Back to the state after creation (device reset), every queue stopped. */
    void (*reset)(void *dev);

    /* Device state for migration, beyond the rings (optional). save writes at
     * most cap bytes and returns the length or -ENOSPC; load returns 0 or
     * -EINVAL for state it does not accept. */
    int (*save)(void *dev, void *buf, size_t cap);
    int (*load)(void *dev, const void *buf, size_t len);
};

/* A device instance: its ops and its own state. */
struct vdev_virtio_dev {
    const struct vdev_virtio_ops *ops;
    void *priv;
};

#ifdef __cplusplus
}
#endif

#endif
