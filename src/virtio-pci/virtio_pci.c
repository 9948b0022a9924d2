/* virtio_pci.c — a virtio device behind a modern virtio-pci function:
 * creation, reset, configuration change, teardown. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vdev/log.h"
#include "vdev/pci.h"
#include "vdev/virtq.h"
#include "vp_internal.h"

/* The transport handles the ring features the virtqueues implement; the
 * device says which of them it wants (virtio_dev.h). */
#define RING_FEATURES ((1ull << VIRTIO_F_RING_PACKED) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
                       (1ull << VIRTIO_RING_F_INDIRECT_DESC))

static int queues_new(struct vdev_virtio_pci *vp)
{
    vp->queues = calloc(vp->nq, sizeof(*vp->queues));
    if (!vp->queues)
        return -ENOMEM;
    for (unsigned i = 0; i < vp->nq; i++)
        vp->queues[i].kick_fd = -1;
    for (unsigned i = 0; i < vp->nq; i++) {
        struct vp_queue *q = &vp->queues[i];

        q->vp = vp;
        q->index = (uint16_t)i;
        q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->kick_fd < 0)
            return -errno;
        if (vdev_vq_new(&q->vq) < 0)
            return -ENOMEM;
    }
    return 0;
}

VDEV_API int vdev_virtio_pci_new(const struct vdev_virtio_pci_config *c,
                                 struct vdev_virtio_pci **out)
{
    const struct vdev_virtio_ops *ops = c && c->dev ? c->dev->ops : NULL;
    struct vdev_virtio_pci *vp;
    uint16_t nq;
    int ret;

    if (!ops || !c->workers || !out || !ops->features || !ops->num_queues ||
        !ops->queue_start || !ops->queue_kick || !ops->queue_stop || ops->config_size > 0x1000)
        return -EINVAL;
    nq = ops->num_queues(c->dev->priv);
    if (nq == 0 || nq > VDEV_VIRTIO_PCI_MAX_QUEUES)
        return -EINVAL;
    vp = calloc(1, sizeof(*vp));
    if (!vp)
        return -ENOMEM;
    vp->dev = c->dev;
    vp->workers = c->workers;
    vp->mem = c->mem;
    vp->nq = nq;
    vp->max_size = ops->max_queue_size && ops->max_queue_size < 256 ? ops->max_queue_size : 256;
    vp->config_size = ops->config_size;
    /* VERSION_1 and RING_RESET are the transport's; ACCESS_PLATFORM is not
     * offered: DMA addresses are the client's map, with no IOMMU behind it. */
    vp->offered = (ops->features(c->dev->priv) | (1ull << VIRTIO_F_VERSION_1) |
                   (1ull << VIRTIO_F_RING_RESET)) & ~(1ull << VIRTIO_F_ACCESS_PLATFORM);
    ret = queues_new(vp);
    if (ret == 0)
        ret = vp_function_new(vp);
    if (ret < 0) {
        vdev_virtio_pci_free(vp);
        return ret;
    }
    vp_device_reset(vp);
    *out = vp;
    return 0;
}

VDEV_API void vdev_virtio_pci_free(struct vdev_virtio_pci *vp)
{
    if (!vp)
        return;
    for (unsigned i = 0; vp->queues && i < vp->nq; i++) {
        struct vp_queue *q = &vp->queues[i];

        if (q->vq)
            vp_queue_stop(vp, q);
        vdev_vq_free(q->vq);
        if (q->kick_fd >= 0)
            close(q->kick_fd);
    }
    free(vp->queues);
    vdev_pci_free(vp->pci);
    free(vp);
}

VDEV_API struct vdev_pci *vdev_virtio_pci_function(struct vdev_virtio_pci *vp)
{
    return vp->pci;
}

VDEV_API int vdev_virtio_pci_notify_fd(struct vdev_virtio_pci *vp, unsigned n)
{
    return n < vp->nq ? vp->queues[n].kick_fd : -ERANGE;
}

/* pci.h resets the function (FLR, or vdev_pci_reset), then calls this. A
 * reset from the transport also ends a migration stop: VFIO's device reset
 * puts the migration state back to RUNNING (<linux/vfio.h>,
 * VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE), and vfio-user's server does too. */
void vp_on_pci_reset(void *opaque, enum vdev_pci_reset_kind kind)
{
    struct vdev_virtio_pci *vp = opaque;

    vp_device_reset(vp);
    if (kind == VDEV_PCI_RESET_BUS)
        vp->stopped = false;
}

VDEV_API void vdev_virtio_pci_reset(struct vdev_virtio_pci *vp)
{
    vdev_pci_reset(vp->pci);        /* calls vp_on_pci_reset */
}

VDEV_API void vdev_virtio_pci_set_mem(struct vdev_virtio_pci *vp, struct vdev_mem *mem)
{
    vp->mem = mem;
}

VDEV_API void vdev_virtio_pci_config_changed(struct vdev_virtio_pci *vp)
{
    atomic_fetch_add(&vp->config_generation, 1);
    if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)
        vp_irq(vp, atomic_load(&vp->config_vector), VIRTIO_PCI_ISR_CONFIG);
}

VDEV_API uint8_t vdev_virtio_pci_status(const struct vdev_virtio_pci *vp)
{
    return vp->status | (vp->needs_reset ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
}
