/* virtio_vfu.h — a virtio device served over vfio-user, as a virtio-pci
 * function: virtio_pci.h's transport, pci_vfu.h's adapter and vfio_user.h's
 * server, put together. The device is the same struct vdev_virtio_dev a
 * vhost-user back-end serves.
 *
 * What the client gets: regions BAR 0 (the virtio structures), BAR 2 (MSI-X)
 * and config space; INTx and MSI-X irqs; DEVICE_GET_REGION_IO_FDS on BAR 0
 * gives one ioeventfd per queue at its notify address (2 bytes, no data
 * match), so a VMM that registers them sends no doorbell over the socket;
 * DEVICE_RESET resets the virtio device. The queues translate through the
 * client's DMA map, and stop while it changes.
 *
 * Threads: as vfio_user.h: _new and _free while the loop is not running, the
 * rest on the loop. */
#ifndef VDEV_VIRTIO_VFU_H
#define VDEV_VIRTIO_VFU_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_loop;
struct vdev_workers;
struct vdev_virtio_dev;
struct vdev_virtio_pci;
struct vdev_vfu_server;
struct vdev_virtio_vfu;

struct vdev_virtio_vfu_config {
    struct vdev_loop *loop;          /* borrowed: the server's control loop */
    struct vdev_workers *workers;    /* borrowed: run the queues */
    struct vdev_virtio_dev *dev;     /* borrowed */
    const char *socket_path;         /* exactly one of socket_path, */
    int listen_fd;                   /* listen_fd (else -1) */
    int conn_fd;                     /* and conn_fd (else -1), as vfio_user.h */
};

/* 0, or the error of vdev_virtio_pci_new(), vdev_pci_vfu_new() or
 * vdev_vfu_server_new() (-EADDRINUSE for a socket a live server holds). */
VDEV_API int  vdev_virtio_vfu_new(const struct vdev_virtio_vfu_config *c,
                                  struct vdev_virtio_vfu **out);
VDEV_API void vdev_virtio_vfu_free(struct vdev_virtio_vfu *v);

VDEV_API struct vdev_virtio_pci *vdev_virtio_vfu_transport(struct vdev_virtio_vfu *v);
VDEV_API struct vdev_vfu_server *vdev_virtio_vfu_server(struct vdev_virtio_vfu *v);

#ifdef __cplusplus
}
#endif

#endif
