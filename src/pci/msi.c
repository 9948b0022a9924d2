/* MSI (PCI Local Bus 3.0, 6.8.1): delivery through the per-vector eventfds, and
 * the optional per-vector mask and pending bits, which live in config space. */
#include <errno.h>

#include "pci_internal.h"

static uint16_t msi_flags(const struct vdev_pci *pci)
{
    return pci_get16(pci->config + pci->msi_cap + PCI_MSI_FLAGS);
}

bool pci_msi_enabled(const struct vdev_pci *pci)
{
    return pci->msi_cap && (msi_flags(pci) & PCI_MSI_FLAGS_ENABLE);
}

/* Multiple Message Enable, bounded by Multiple Message Capable: software may
 * not enable more than the function asked for (6.8.1.3). */
static unsigned msi_enabled_vectors(const struct vdev_pci *pci)
{
    uint16_t flags = msi_flags(pci);
    unsigned capable = (flags & PCI_MSI_FLAGS_QMASK) >> 1;
    unsigned enabled = (flags & PCI_MSI_FLAGS_QSIZE) >> 4;

    return 1u << (enabled < capable ? enabled : capable);
}

static unsigned mask_reg(const struct vdev_pci *pci)
{
    return pci->msi_cap + (pci->cfg.msi.addr64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
}

static unsigned pending_reg(const struct vdev_pci *pci)
{
    return pci->msi_cap + (pci->cfg.msi.addr64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32);
}

int pci_msi_irq(struct vdev_pci *pci, unsigned vector)
{
    /* With fewer vectors enabled than the device uses, they share. */
    unsigned v = vector & (msi_enabled_vectors(pci) - 1);

    if (pci->cfg.msi.per_vector_mask &&
        (pci_get32(pci->config + mask_reg(pci)) & (1u << v))) {
        uint8_t *p = pci->config + pending_reg(pci);
        pci_set32(p, pci_get32(p) | 1u << v);
        return 0;
    }
    return pci_fire(pci->msi_fd[v]);
}

void pci_msi_deliver_pending(struct vdev_pci *pci)
{
    uint8_t *p;
    uint32_t ready;
    unsigned n;

    if (!pci->cfg.msi.per_vector_mask || !pci_msi_enabled(pci))
        return;
    n = msi_enabled_vectors(pci);
    p = pci->config + pending_reg(pci);
    ready = pci_get32(p) & ~pci_get32(pci->config + mask_reg(pci));
    for (unsigned v = 0; v < n; v++) {
        if (ready & (1u << v)) {
            pci_set32(p, pci_get32(p) & ~(1u << v));
            pci_fire(pci->msi_fd[v]);
        }
    }
}
