/* pci_vfu.h — a PCI function (pci.h) served over vfio-user (vfio_user.h).
 *
 * The adapter is the struct vdev_vfu_device_ops of any device built on
 * struct vdev_pci, so such a device writes only its BAR registers:
 *   - regions: BAR 0..5 as pci.h sizes them, the config region (256 or 4096
 *     bytes); no ROM, no VGA. Config accesses go to vdev_pci_config_read/write.
 *     BAR accesses go to vdev_pci_bar_access (the MSI-X table and PBA), and
 *     what it does not take to the device's bar_access. While the driver has
 *     decoding off (vdev_pci_bar_enabled) a read returns all ones and a write is
 *     dropped, as a PCI access nobody claims.
 *   - irqs: INTx, MSI and MSI-X with vdev_pci_irq_count's vectors, eventfd
 *     delivery; ERR and REQ without vectors.
 *   - reset: vdev_pci_reset, which resets the device through its pci.h ops.
 *   - DMA map changes: passed on to the device's callbacks.
 *   - migration (VFIO_MIGRATION_STOP_COPY), when the device can save and load
 *     its state: RUNNING <-> STOP calls set_running; entering STOP_COPY saves
 *     the whole state, which MIG_DATA_READ then reads out; MIG_DATA_WRITE
 *     gathers a stream in RESUMING (at most state_max bytes) and leaving
 *     RESUMING loads it. A stream the device refuses fails that arc and is
 *     dropped: the client may send it again.
 *
 * Interrupts: the device raises them with vdev_pci_irq() from any thread;
 * pci.h applies the driver's MSI-X masking and fires an eventfd of the
 * adapter's, which the adapter (on the loop) relays to the client's eventfd
 * with vdev_vfu_server_irq_trigger() (where SET_IRQS masking applies). A
 * relay is made for each vector the client gives an eventfd with SET_IRQS.
 *
 * Setup order: the device's struct vdev_pci, the adapter, the server (with
 * vdev_pci_vfu_ops() and the adapter as opaque), then vdev_pci_vfu_attach().
 *
 * Threads: every call on the server's loop thread; _new, _attach and _free
 * also while the loop is not running. */
#ifndef VDEV_PCI_VFU_H
#define VDEV_PCI_VFU_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_loop;
struct vdev_pci;
struct vdev_pci_vfu;
struct vdev_vfu_server;
struct vdev_vfu_device_ops;
struct vdev_vfu_io_fd;

struct vdev_pci_vfu_device {
    /* A BAR access inside the BAR that pci.h did not take. Required. 0 or a
     * negative errno, which travels to the client. */
    int  (*bar_access)(void *opaque, unsigned bar, uint64_t off, void *buf,
                       uint32_t len, bool write);
    /* Optional, as vdev_vfu_device_ops has them. A device whose workers touch
     * guest memory stops them in dma_unmap before it returns. */
    void (*dma_map)(void *opaque, uint64_t iova, uint64_t size, uint32_t prot,
                    bool shared);
    void (*dma_unmap)(void *opaque, uint64_t iova, uint64_t size);
    /* Optional, as vdev_vfu_device_ops has it: a device whose workers
     * translate guest addresses stops them while quiesce is true. */
    void (*dma_quiesce)(void *opaque, bool quiesce);
    /* Optional: config space accesses come here instead of going to pci.h, for
     * a device that serves part of config space itself (virtio-pci's PCI
     * configuration access window) and hands the rest to pci.h. */
    int  (*config_access)(void *opaque, uint64_t off, void *buf, uint32_t len,
                          bool write);
    /* Optional, as vdev_vfu_device_ops has it: the ioeventfds of BAR index
     * (DEVICE_GET_REGION_IO_FDS), so doorbell writes never cross the socket. */
    int  (*region_io_fds)(void *opaque, uint32_t index, struct vdev_vfu_io_fd *out,
                          uint32_t max, uint32_t *count);
    /* Optional: the client stops the device (running false: it must not touch
     * guest memory or raise interrupts until it runs again) and restarts it.
     * 0 or a negative errno, which fails the migration arc. */
    int  (*set_running)(void *opaque, bool running);
    /* Migration, offered when save, load and state_max are set: the device's
     * state as one stream of at most state_max bytes. save: 0 and *len, or
     * -errno. load: 0, or -errno when it refuses the stream (nothing changed). */
    int  (*save)(void *opaque, void *buf, size_t cap, size_t *len);
    int  (*load)(void *opaque, const void *buf, size_t len);
    size_t state_max;
};

struct vdev_pci_vfu_config {
    struct vdev_pci *pci;                     /* borrowed */
    const struct vdev_pci_vfu_device *dev;    /* borrowed */
    void *opaque;                             /* the device's */
    struct vdev_loop *loop;                   /* borrowed: the server's loop */
};

/* 0, -EINVAL (a missing field), -ENOMEM. */
VDEV_API int  vdev_pci_vfu_new(const struct vdev_pci_vfu_config *c, struct vdev_pci_vfu **out);
/* Removes the relays from the loop, closes their eventfds and takes them
 * back from the function. NULL is a no-op. */
VDEV_API void vdev_pci_vfu_free(struct vdev_pci_vfu *a);

/* The ops to give vdev_vfu_server_new(), with the adapter as opaque: with
 * the migration callbacks if the device can migrate. */
VDEV_API const struct vdev_vfu_device_ops *vdev_pci_vfu_ops(const struct vdev_pci_vfu *a);

/* The server whose client the interrupts go to. */
VDEV_API void vdev_pci_vfu_attach(struct vdev_pci_vfu *a, struct vdev_vfu_server *srv);

#ifdef __cplusplus
}
#endif

#endif
