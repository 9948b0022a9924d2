/* pci_vfu_internal.h — the pci_vfu adapter's state, shared by its regions and
 * interrupts (pci_vfu.c) and its migration (pci_vfu_mig.c). */
#ifndef VDEV_PCI_VFU_INTERNAL_H
#define VDEV_PCI_VFU_INTERNAL_H

#include <linux/vfio.h>

#include "vdev/pci_vfu.h"

/* The irq indexes pci.h serves: VFIO's INTx, MSI and MSI-X, which are the
 * values of enum vdev_pci_irq_mode. */
#define PCI_VFU_IRQ_KINDS (VFIO_PCI_MSIX_IRQ_INDEX + 1)

struct pci_vfu_relay;

struct vdev_pci_vfu {
    struct vdev_pci_vfu_config cfg;
    struct vdev_vfu_server *srv;
    struct pci_vfu_relay *relays[PCI_VFU_IRQ_KINDS];   /* vdev_pci_irq_count() each */
    /* The migration stream in flight: saved at STOP_COPY and read out, or
     * gathered in RESUMING and loaded on the way to STOP. */
    uint8_t *mig_buf;
    size_t mig_len, mig_pos;
};

/* pci_vfu_mig.c: the vdev_vfu_device_ops migration callbacks, and the
 * stream's release (vdev_pci_vfu_free). */
int  pci_vfu_mig_arc(void *opaque, uint32_t from, uint32_t to);
int  pci_vfu_mig_save(void *opaque, void *buf, uint32_t len, uint32_t *done);
int  pci_vfu_mig_load(void *opaque, const void *buf, uint32_t len);
void pci_vfu_mig_drop(struct vdev_pci_vfu *a);

#endif
