/* Interrupts: which mode the driver enabled, the eventfds that deliver them, and
 * INTx, whose level is the status register's interrupt bit (6.2.3). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "vdev/log.h"
#include "pci_internal.h"

int pci_fire(int fd)
{
    uint64_t one = 1;

    if (fd < 0)
        return -ENOENT;
    /* EAGAIN: the counter is saturated, so the reader has an event to see. */
    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        int err = -errno;
        vdev_warn("pci: interrupt eventfd %d: %s", fd, vdev_strerror(err));
        return err;
    }
    return 0;
}

static enum vdev_pci_irq_mode irq_mode_locked(const struct vdev_pci *pci)
{
    if (pci_msix_enabled(pci))
        return VDEV_PCI_IRQ_MSIX;
    if (pci_msi_enabled(pci))
        return VDEV_PCI_IRQ_MSI;
    if (pci->cfg.interrupt_pin)
        return VDEV_PCI_IRQ_INTX;
    return VDEV_PCI_IRQ_NONE;
}

enum vdev_pci_irq_mode vdev_pci_irq_mode(struct vdev_pci *pci)
{
    enum vdev_pci_irq_mode mode;

    pthread_mutex_lock(&pci->lock);
    mode = irq_mode_locked(pci);
    pthread_mutex_unlock(&pci->lock);
    return mode;
}

unsigned vdev_pci_irq_count(const struct vdev_pci *pci, enum vdev_pci_irq_mode kind)
{
    switch (kind) {
    case VDEV_PCI_IRQ_INTX:
        return pci->cfg.interrupt_pin ? 1 : 0;
    case VDEV_PCI_IRQ_MSI:
        return pci->cfg.msi.vectors;
    case VDEV_PCI_IRQ_MSIX:
        return pci->cfg.msix.vectors;
    default:
        return 0;
    }
}

static int *irq_fd_slot(struct vdev_pci *pci, enum vdev_pci_irq_mode kind, unsigned vector)
{
    if (vector >= vdev_pci_irq_count(pci, kind))
        return NULL;
    switch (kind) {
    case VDEV_PCI_IRQ_INTX:
        return &pci->intx_fd;
    case VDEV_PCI_IRQ_MSI:
        return &pci->msi_fd[vector];
    case VDEV_PCI_IRQ_MSIX:
        return &pci->msix_fd[vector];
    default:
        return NULL;
    }
}

int vdev_pci_set_irq_fd(struct vdev_pci *pci, enum vdev_pci_irq_mode kind, unsigned vector,
                        int fd)
{
    int *slot = irq_fd_slot(pci, kind, vector);
    int copy = -1, old;

    if (!slot)
        return -EINVAL;
    /* Our own copy: the transport may close its fd (a client going away) while a
     * worker still signals this one. */
    if (fd >= 0) {
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy < 0)
            return -errno;
    }
    pthread_mutex_lock(&pci->lock);
    old = *slot;
    *slot = copy;
    pthread_mutex_unlock(&pci->lock);
    if (old >= 0)
        close(old);
    return 0;
}

int pci_intx_irq(struct vdev_pci *pci)
{
    uint8_t *status = pci->config + PCI_STATUS;

    pci_set16(status, pci_get16(status) | PCI_STATUS_INTERRUPT);
    if (pci_get16(pci->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE)
        return 0;
    return pci_fire(pci->intx_fd);
}

/* Clearing Interrupt Disable while the level is high lets it through. */
void pci_intx_after_command(struct vdev_pci *pci, uint16_t old_command)
{
    uint16_t command = pci_get16(pci->config + PCI_COMMAND);

    if ((old_command & PCI_COMMAND_INTX_DISABLE) && !(command & PCI_COMMAND_INTX_DISABLE) &&
        (pci_get16(pci->config + PCI_STATUS) & PCI_STATUS_INTERRUPT) &&
        irq_mode_locked(pci) == VDEV_PCI_IRQ_INTX)
        pci_fire(pci->intx_fd);
}

void vdev_pci_intx_deassert(struct vdev_pci *pci)
{
    uint8_t *status = pci->config + PCI_STATUS;

    pthread_mutex_lock(&pci->lock);
    pci_set16(status, pci_get16(status) & ~PCI_STATUS_INTERRUPT);
    pthread_mutex_unlock(&pci->lock);
}

int vdev_pci_irq(struct vdev_pci *pci, unsigned vector)
{
    int ret;

    pthread_mutex_lock(&pci->lock);
    switch (irq_mode_locked(pci)) {
    case VDEV_PCI_IRQ_MSIX:
        ret = pci_msix_irq(pci, vector);
        break;
    case VDEV_PCI_IRQ_MSI:
        ret = pci_msi_irq(pci, vector);
        break;
    case VDEV_PCI_IRQ_INTX:
        ret = pci_intx_irq(pci);
        break;
    default:
        ret = -ENODEV;
        break;
    }
    pthread_mutex_unlock(&pci->lock);
    return ret;
}
