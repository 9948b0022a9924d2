/* queues.c — virtio-pci queues: started at DRIVER_OK (or at queue_enable after
 * it), served on the workers, interrupting through MSI-X or INTx. */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdev/log.h"
#include "vdev/pci.h"
#include "vdev/virtq.h"
#include "vdev/workers.h"
#include "vp_internal.h"

/* Fresh rings (4.1.5.1.3: a queue starts at index 0, wrap counters 1). */
#define BASE_SPLIT   0u
#define BASE_PACKED  0x80008000u

/* With MSI-X enabled the queue's vector, or none (VIRTIO_MSI_NO_VECTOR: no
 * interrupt, 4.1.5.1.2); otherwise INTx with the ISR bit (4.1.4.5). */
void vp_irq(struct vdev_virtio_pci *vp, uint16_t vector, uint8_t isr_bit)
{
    if (vdev_pci_irq_mode(vp->pci) == VDEV_PCI_IRQ_MSIX) {
        if (vector != VIRTIO_MSI_NO_VECTOR)
            vdev_pci_irq(vp->pci, vector);
        return;
    }
    atomic_fetch_or(&vp->isr, isr_bit);
    vdev_pci_irq(vp->pci, 0);
}

static void queue_notify(void *opaque)
{
    struct vp_queue *q = opaque;

    vp_irq(q->vp, atomic_load(&q->msix_vector), VP_ISR_QUEUE);
}

/* Something went wrong that the driver must reset the device for (2.1.2). */
void vp_fail(struct vdev_virtio_pci *vp, const char *why, int err)
{
    vdev_warn("virtio-pci: %s: %s; the device needs a reset", why, vdev_strerror(err));
    if (vp->needs_reset)
        return;
    vp->needs_reset = true;
    if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)
        vp_irq(vp, atomic_load(&vp->config_vector), VIRTIO_PCI_ISR_CONFIG);
}

int vp_queue_start(struct vdev_virtio_pci *vp, struct vp_queue *q, uint32_t base)
{
    struct vdev_vq_config c = {
        .size = q->size,
        .packed = vp->driver_features & (1ull << VIRTIO_F_RING_PACKED),
        .event_idx = vp->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX),
        .indirect = vp->driver_features & (1ull << VIRTIO_RING_F_INDIRECT_DESC),
        .desc_gpa = q->desc, .driver_gpa = q->driver, .device_gpa = q->device,
        .mem = vp->mem,
        .call_fd = -1,
        .notify = queue_notify, .notify_opaque = q,
        .base = base,
    };
    int ret;

    if (q->wq)
        return 0;
    if (vp->stopped) {              /* migration: it starts when the device runs */
        q->base = base;
        q->resume = true;
        return 0;
    }
    if (!vp->mem)
        return -ENODEV;             /* no DMA memory yet */
    if (c.base == (uint32_t)-1)
        c.base = c.packed ? BASE_PACKED : BASE_SPLIT;
    ret = vdev_vq_start(q->vq, &c);
    if (ret < 0) {
        vdev_warn("virtio-pci: queue %u (size %u, desc %#llx, driver %#llx, device "
                  "%#llx) does not start: %s", q->index, q->size,
                  (unsigned long long)q->desc, (unsigned long long)q->driver,
                  (unsigned long long)q->device, vdev_strerror(ret));
        return ret;
    }
    q->q = (struct vdev_virtio_queue){ .index = q->index, .vq = q->vq, .mem = vp->mem };
    ret = vdev_workers_start(vp->workers, q->index, vp->dev, &q->q, q->kick_fd, &q->wq);
    if (ret < 0) {
        q->wq = NULL;
        vdev_vq_stop(q->vq);
        vdev_warn("virtio-pci: queue %u: the device does not start it: %s", q->index,
                  vdev_strerror(ret));
    }
    return ret;
}

void vp_queue_stop(struct vdev_virtio_pci *vp, struct vp_queue *q)
{
    if (!q->wq)
        return;
    vdev_workers_stop(vp->workers, q->wq);
    q->wq = NULL;
    q->base = vdev_vq_get_base(q->vq);
    vdev_vq_stop(q->vq);
}

/* One queue stopped and back at its reset values: what a device reset does
 * to each (4.1.4.3.1) and a queue reset to one (VIRTIO_F_RING_RESET). */
void vp_queue_reset(struct vdev_virtio_pci *vp, struct vp_queue *q)
{
    vp_queue_stop(vp, q);
    q->size = vp->max_size;
    atomic_store(&q->msix_vector, VIRTIO_MSI_NO_VECTOR);
    q->enabled = false;
    q->desc = q->driver = q->device = 0;
    q->resume = false;
}

void vp_queues_reset(struct vdev_virtio_pci *vp)
{
    for (unsigned i = 0; i < vp->nq; i++)
        vp_queue_reset(vp, &vp->queues[i]);
}

VDEV_API void vdev_virtio_pci_quiesce(struct vdev_virtio_pci *vp)
{
    for (unsigned i = 0; i < vp->nq; i++) {
        struct vp_queue *q = &vp->queues[i];

        if (!q->wq)
            continue;               /* a second quiesce keeps what the first saw */
        q->resume = true;
        vp_queue_stop(vp, q);
    }
}

VDEV_API void vdev_virtio_pci_resume(struct vdev_virtio_pci *vp)
{
    if (vp->stopped)
        return;                     /* migration stopped it: set_running restarts */
    for (unsigned i = 0; i < vp->nq; i++) {
        struct vp_queue *q = &vp->queues[i];
        int ret;

        if (!q->resume)
            continue;
        q->resume = false;
        ret = vp_queue_start(vp, q, q->base);
        if (ret < 0)
            vp_fail(vp, "a queue does not resume after a memory change", ret);
    }
}
