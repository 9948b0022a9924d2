/* vp_internal.h — the virtio-pci transport's state (virtio_pci.h). */
#ifndef VDEV_VP_INTERNAL_H
#define VDEV_VP_INTERNAL_H

#include <stdatomic.h>
#include <linux/virtio_pci.h>

#include "vdev/pci.h"
#include "vdev/virtio_dev.h"
#include "vdev/virtio_pci.h"

/* ISR status bit 0: a queue interrupt (4.1.4.5); bit 1 is VIRTIO_PCI_ISR_CONFIG. */
#define VP_ISR_QUEUE 0x1

struct vdev_vq;
struct vdev_worker_queue;

/* The common configuration as the driver sees it: virtio_pci_common_cfg and the
 * two 1.2 fields after it (queue_notify_data, queue_reset). */
struct vp_common_layout {
    struct virtio_pci_common_cfg cfg;
    __le16 queue_notify_data;
    __le16 queue_reset;
};
_Static_assert(sizeof(struct vp_common_layout) == 60, "virtio 1.2, 4.1.4.3");

struct vp_queue {
    struct vdev_virtio_pci *vp;
    uint16_t index;
    uint16_t size;                   /* what the driver wrote; max at reset */
    _Atomic uint16_t msix_vector;    /* read by the worker when it interrupts */
    bool enabled;                    /* queue_enable written 1 */
    uint64_t desc, driver, device;
    int kick_fd;                     /* owned; the notify address's eventfd */
    struct vdev_vq *vq;
    struct vdev_virtio_queue q;
    struct vdev_worker_queue *wq;    /* non-NULL while a worker serves it */
    uint32_t base;                   /* where it resumes after a quiesce */
    bool resume;                     /* it ran when quiesced */
};

struct vdev_virtio_pci {
    struct vdev_virtio_dev *dev;
    struct vdev_workers *workers;
    struct vdev_mem *mem;
    struct vdev_pci *pci;
    uint16_t nq;
    uint16_t max_size;
    uint32_t config_size;
    uint64_t offered;                /* feature bits, VERSION_1 included */
    uint64_t driver_features;
    uint32_t dfselect, gfselect;
    uint16_t queue_select;
    _Atomic uint16_t config_vector;
    uint8_t status;
    _Atomic uint8_t config_generation;
    _Atomic uint8_t isr;
    bool needs_reset;
    bool stopped;                    /* by migration: no queue starts (state.c) */
    unsigned cfg_cap;                /* offset of the PCI configuration access capability */
    struct vp_queue *queues;
};

/* queues.c */
int  vp_queue_start(struct vdev_virtio_pci *vp, struct vp_queue *q, uint32_t base);
void vp_queue_stop(struct vdev_virtio_pci *vp, struct vp_queue *q);
void vp_queue_reset(struct vdev_virtio_pci *vp, struct vp_queue *q);
void vp_queues_reset(struct vdev_virtio_pci *vp);
void vp_irq(struct vdev_virtio_pci *vp, uint16_t vector, uint8_t isr_bit);
void vp_fail(struct vdev_virtio_pci *vp, const char *why, int err);

/* common.c */
void vp_common_read(struct vdev_virtio_pci *vp, uint64_t off, void *buf, size_t len);
void vp_common_write(struct vdev_virtio_pci *vp, uint64_t off, const void *buf, size_t len);
void vp_device_reset(struct vdev_virtio_pci *vp);

/* function.c */
int  vp_function_new(struct vdev_virtio_pci *vp);
/* virtio_pci.c: pci.h's reset callback. */
void vp_on_pci_reset(void *opaque, enum vdev_pci_reset_kind kind);

#endif
