/* pci_vfu.c — a struct vdev_pci function served by vfio-user's server
 * (pci_vfu.h): regions and irqs from pci.h's model, accesses routed to pci.h
 * first and to the device after, and the interrupt relays.
 *
 * Why relays: the server keeps the client's trigger eventfds to itself, and
 * vdev_vfu_server_irq_trigger() runs on the loop thread only, while a device
 * raises interrupts with vdev_pci_irq() from any thread. So pci.h gets an
 * eventfd of ours per vector; the loop reads it and triggers the client's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/vfio.h>

#include "vdev/log.h"
#include "vdev/loop.h"
#include "vdev/pci.h"
#include "vdev/pci_vfu.h"
#include "vdev/vfio_user.h"
#include "pci_vfu_internal.h"

struct pci_vfu_relay {
    struct vdev_pci_vfu *a;
    uint32_t index, vector;
    int fd;                      /* ours; pci.h holds a duplicate */
    struct vdev_watch *watch;
};

/* --- interrupts ----------------------------------------------------------------- */

static void relay_ready(void *opaque, uint32_t events)
{
    struct pci_vfu_relay *r = opaque;
    eventfd_t n;
    int ret;

    if (eventfd_read(r->fd, &n) < 0)
        return;                  /* EAGAIN: nothing came after all */
    ret = vdev_vfu_server_irq_trigger(r->a->srv, r->index, r->vector);
    /* -EAGAIN: masked by SET_IRQS, sent on unmask. The others mean the client
     * has no eventfd for it: lost, as on hardware with no handler. */
    if (ret < 0 && ret != -EAGAIN)
        vdev_debug("pci-vfu: irq %u vector %u not delivered: %s", r->index, r->vector,
                   vdev_strerror(ret));
}

static int relay_start(struct vdev_pci_vfu *a, struct pci_vfu_relay *r)
{
    int ret;

    r->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->fd < 0)
        return -errno;
    ret = vdev_pci_set_irq_fd(a->cfg.pci, (enum vdev_pci_irq_mode)r->index, r->vector,
                              r->fd);
    if (ret == 0)
        ret = vdev_loop_add_fd(a->cfg.loop, r->fd, EPOLLIN, relay_ready, r, &r->watch);
    if (ret < 0) {
        vdev_pci_set_irq_fd(a->cfg.pci, (enum vdev_pci_irq_mode)r->index, r->vector, -1);
        close(r->fd);
        r->fd = -1;
    }
    return ret;
}

static void relay_stop(struct vdev_pci_vfu *a, struct pci_vfu_relay *r)
{
    if (r->fd < 0)
        return;
    vdev_loop_remove(r->watch);
    vdev_pci_set_irq_fd(a->cfg.pci, (enum vdev_pci_irq_mode)r->index, r->vector, -1);
    close(r->fd);
    r->fd = -1;
}

/* MSI and MSI-X: pci.h signals the client's eventfd itself (a duplicate), so
 * an interrupt goes from the device's worker straight to the VMM, without a
 * hop through the loop; their masking is pci.h's (vector control, function
 * mask), as vfio-pci leaves them unmaskable through SET_IRQS. */
static void direct_set(struct vdev_pci_vfu *a, uint32_t index, uint32_t start,
                       uint32_t count)
{
    for (uint32_t v = start; v < start + count; v++) {
        int fd = vdev_vfu_server_irq_fd(a->srv, index, v);
        int ret = vdev_pci_set_irq_fd(a->cfg.pci, (enum vdev_pci_irq_mode)index, v,
                                      fd >= 0 ? fd : -1);

        if (ret < 0)
            vdev_warn("pci-vfu: irq %u vector %u: %s", index, v, vdev_strerror(ret));
    }
}

/* After SET_IRQS gave eventfds: MSI and MSI-X vectors get the client's
 * eventfd, INTx (maskable through SET_IRQS) its relay. The server has checked
 * the range against irq_info. */
static void on_set_irqs(void *opaque, uint32_t index, uint32_t start, uint32_t count,
                        uint32_t flags)
{
    struct vdev_pci_vfu *a = opaque;

    if (index >= PCI_VFU_IRQ_KINDS || !a->relays[index] ||
        !(flags & VFIO_IRQ_SET_DATA_EVENTFD) ||
        !(flags & VFIO_IRQ_SET_ACTION_TRIGGER))
        return;
    if (index != VFIO_PCI_INTX_IRQ_INDEX) {
        direct_set(a, index, start, count);
        return;
    }
    for (uint32_t v = start; v < start + count; v++) {
        struct pci_vfu_relay *r = &a->relays[index][v];
        int ret = r->fd < 0 ? relay_start(a, r) : 0;

        if (ret < 0)
            vdev_warn("pci-vfu: irq %u vector %u: no relay: %s", index, v,
                      vdev_strerror(ret));
    }
}

static int irq_info(void *opaque, uint32_t index, uint32_t *count, uint32_t *flags)
{
    struct vdev_pci_vfu *a = opaque;

    if (index >= VFIO_PCI_NUM_IRQS)
        return -EINVAL;
    *count = index < PCI_VFU_IRQ_KINDS ?
             vdev_pci_irq_count(a->cfg.pci, (enum vdev_pci_irq_mode)index) : 0;
    *flags = 0;
    if (!*count)
        return 0;
    /* The flags of VFIO's PCI devices, but INTx is not AUTOMASKED: the server
     * does not mask it when it fires. INTx masking is the server's (SET_IRQS);
     * MSI and MSI-X are masked in the function (pci.h), as vfio-pci has them. */
    *flags = VFIO_IRQ_INFO_EVENTFD;
    if (index == VFIO_PCI_INTX_IRQ_INDEX)
        *flags |= VFIO_IRQ_INFO_MASKABLE;
    else
        *flags |= VFIO_IRQ_INFO_NORESIZE;
    return 0;
}

/* --- regions -------------------------------------------------------------------- */

static int get_info(void *opaque, struct vdev_vfu_device_info *info)
{
    info->flags = VFIO_DEVICE_FLAGS_PCI;
    info->num_regions = VFIO_PCI_NUM_REGIONS;
    info->num_irqs = VFIO_PCI_NUM_IRQS;
    return 0;
}

static int region_info(void *opaque, uint32_t index, struct vdev_vfu_region *r)
{
    struct vdev_pci_vfu *a = opaque;
    bool is_io;

    if (index <= VFIO_PCI_BAR5_REGION_INDEX)
        r->size = vdev_pci_bar_size(a->cfg.pci, index, &is_io);
    else if (index == VFIO_PCI_CONFIG_REGION_INDEX)
        r->size = vdev_pci_config_size(a->cfg.pci);
    else if (index >= VFIO_PCI_NUM_REGIONS)
        return -EINVAL;
    if (r->size)
        r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    return 0;
}

static int bar_access(struct vdev_pci_vfu *a, unsigned bar, uint64_t off, void *buf,
                      uint32_t len, bool write)
{
    int ret;

    if (!vdev_pci_bar_enabled(a->cfg.pci, bar)) {
        if (!write)
            memset(buf, 0xff, len);
        return 0;
    }
    ret = vdev_pci_bar_access(a->cfg.pci, bar, off, buf, len, write);
    if (ret != 0)
        return ret < 0 ? ret : 0;        /* > 0: the MSI-X table or PBA took it */
    return a->cfg.dev->bar_access(a->cfg.opaque, bar, off, buf, len, write);
}

static int region_access(void *opaque, uint32_t index, uint64_t off, void *buf,
                         uint32_t len, bool write)
{
    struct vdev_pci_vfu *a = opaque;

    if (index <= VFIO_PCI_BAR5_REGION_INDEX)
        return bar_access(a, index, off, buf, len, write);
    if (index != VFIO_PCI_CONFIG_REGION_INDEX)
        return -EINVAL;          /* the server never asks: the size is 0 */
    if (a->cfg.dev->config_access)
        return a->cfg.dev->config_access(a->cfg.opaque, off, buf, len, write);
    if (write)
        return vdev_pci_config_write(a->cfg.pci, off, buf, len);
    return vdev_pci_config_read(a->cfg.pci, off, buf, len);
}

/* --- reset and DMA -------------------------------------------------------------- */

static int reset(void *opaque)
{
    struct vdev_pci_vfu *a = opaque;

    vdev_pci_reset(a->cfg.pci);
    return 0;
}

static void dma_map(void *opaque, uint64_t iova, uint64_t size, uint32_t prot, bool shared)
{
    struct vdev_pci_vfu *a = opaque;

    if (a->cfg.dev->dma_map)
        a->cfg.dev->dma_map(a->cfg.opaque, iova, size, prot, shared);
}

static void dma_unmap(void *opaque, uint64_t iova, uint64_t size)
{
    struct vdev_pci_vfu *a = opaque;

    if (a->cfg.dev->dma_unmap)
        a->cfg.dev->dma_unmap(a->cfg.opaque, iova, size);
}

static void dma_quiesce(void *opaque, bool quiesce)
{
    struct vdev_pci_vfu *a = opaque;

    if (a->cfg.dev->dma_quiesce)
        a->cfg.dev->dma_quiesce(a->cfg.opaque, quiesce);
}

static int region_io_fds(void *opaque, uint32_t index, struct vdev_vfu_io_fd *out,
                         uint32_t max, uint32_t *count)
{
    struct vdev_pci_vfu *a = opaque;

    *count = 0;
    if (!a->cfg.dev->region_io_fds || index > VFIO_PCI_BAR5_REGION_INDEX)
        return 0;
    return a->cfg.dev->region_io_fds(a->cfg.opaque, index, out, max, count);
}

#define PCI_VFU_OPS                         \
    .get_info = get_info,                   \
    .region_info = region_info,             \
    .region_access = region_access,         \
    .irq_info = irq_info,                   \
    .set_irqs = on_set_irqs,                \
    .reset = reset,                         \
    .dma_map = dma_map,                     \
    .dma_unmap = dma_unmap,                 \
    .dma_quiesce = dma_quiesce,             \
    .region_io_fds = region_io_fds

static const struct vdev_vfu_device_ops pci_vfu_ops = { PCI_VFU_OPS };

/* With all three migration callbacks the server offers migration. */
static const struct vdev_vfu_device_ops pci_vfu_mig_ops = {
    PCI_VFU_OPS,
    .mig_arc = pci_vfu_mig_arc,
    .mig_save = pci_vfu_mig_save,
    .mig_load = pci_vfu_mig_load,
};

const struct vdev_vfu_device_ops *vdev_pci_vfu_ops(const struct vdev_pci_vfu *a)
{
    const struct vdev_pci_vfu_device *d = a->cfg.dev;

    return d->save && d->load && d->state_max ? &pci_vfu_mig_ops : &pci_vfu_ops;
}

/* --- life ----------------------------------------------------------------------- */

int vdev_pci_vfu_new(const struct vdev_pci_vfu_config *c, struct vdev_pci_vfu **out)
{
    struct vdev_pci_vfu *a;

    if (!c || !c->pci || !c->dev || !c->dev->bar_access || !c->loop)
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cfg = *c;
    for (uint32_t k = 0; k < PCI_VFU_IRQ_KINDS; k++) {
        unsigned n = vdev_pci_irq_count(c->pci, (enum vdev_pci_irq_mode)k);

        if (!n)
            continue;
        a->relays[k] = calloc(n, sizeof(struct pci_vfu_relay));
        if (!a->relays[k]) {
            vdev_pci_vfu_free(a);
            return -ENOMEM;
        }
        for (unsigned v = 0; v < n; v++)
            a->relays[k][v] = (struct pci_vfu_relay){ .a = a, .index = k, .vector = v,
                                                      .fd = -1 };
    }
    *out = a;
    return 0;
}

void vdev_pci_vfu_free(struct vdev_pci_vfu *a)
{
    if (!a)
        return;
    for (uint32_t k = 0; k < PCI_VFU_IRQ_KINDS; k++) {
        unsigned n = a->relays[k] ?
                     vdev_pci_irq_count(a->cfg.pci, (enum vdev_pci_irq_mode)k) : 0;

        for (unsigned v = 0; v < n; v++)
            relay_stop(a, &a->relays[k][v]);
        free(a->relays[k]);
    }
    pci_vfu_mig_drop(a);
    free(a);
}

void vdev_pci_vfu_attach(struct vdev_pci_vfu *a, struct vdev_vfu_server *srv)
{
    a->srv = srv;
}
