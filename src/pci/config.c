/* Config space accesses: size and range checks, the masked write, and the
 * registers whose writes have effects (command, PM control, MSI, MSI-X control,
 * PCIe device control). */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "pci_internal.h"

/* 1, 2, or whole dwords (a larger access, e.g. a dump of config space, is done
 * four bytes at a time), inside config space. */
static int access_check(const struct vdev_pci *pci, uint64_t off, size_t len,
                        const char *what)
{
    if ((len == 1 || len == 2 || (len && len % 4 == 0)) && off < pci->cfg_size &&
        len <= pci->cfg_size - off)
        return 0;
    vdev_warn("pci: config %s at 0x%llx len %zu rejected (config space is %zu bytes)",
              what, (unsigned long long)off, len, pci->cfg_size);
    return -EINVAL;
}

int vdev_pci_config_read(struct vdev_pci *pci, uint64_t off, void *buf, size_t len)
{
    int ret = access_check(pci, off, len, "read");

    if (ret < 0)
        return ret;
    pthread_mutex_lock(&pci->lock);
    memcpy(buf, pci->config + off, len);
    pthread_mutex_unlock(&pci->lock);
    return 0;
}

/* PCI PM 1.2, 5.4.1: a write of a power state the function does not support
 * (D1, D2) completes but changes nothing. */
static void pm_after_write(struct vdev_pci *pci, uint16_t old)
{
    uint8_t *ctrl = pci->config + pci->pm_cap + PCI_PM_CTRL;
    uint16_t v = pci_get16(ctrl);
    uint16_t state = v & PCI_PM_CTRL_STATE_MASK;

    if (state == 1 || state == 2)
        pci_set16(ctrl, (uint16_t)((v & ~PCI_PM_CTRL_STATE_MASK) |
                                   (old & PCI_PM_CTRL_STATE_MASK)));
}

/* PCIe base 4.0, 7.5.3.4: Initiate Function Level Reset always reads 0; the
 * reset that follows puts the register back to its reset value. */
static bool flr_requested(const struct vdev_pci *pci)
{
    return pci_get16(pci->config + pci->exp_cap + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_BCR_FLR;
}

static unsigned msi_cap_len(const struct vdev_pci *pci)
{
    return PCI_MSI_PENDING_64 + 4;   /* the largest layout; more is harmless */
}

/* One access of up to four bytes. Returns whether it asked for an FLR. */
static bool write_chunk(struct vdev_pci *pci, unsigned off, const uint8_t *b, size_t len)
{
    uint16_t old_command = pci_get16(pci->config + PCI_COMMAND);
    uint16_t old_pm = pci->pm_cap ? pci_get16(pci->config + pci->pm_cap + PCI_PM_CTRL) : 0;

    for (size_t i = 0; i < len; i++) {
        unsigned o = off + (unsigned)i;
        uint8_t v = (uint8_t)((pci->config[o] & ~pci->wmask[o]) | (b[i] & pci->wmask[o]));
        pci->config[o] = (uint8_t)(v & ~(b[i] & pci->w1c[o]));
    }

    if (pci_overlaps(off, len, PCI_COMMAND, 2))
        pci_intx_after_command(pci, old_command);
    if (pci->pm_cap && pci_overlaps(off, len, pci->pm_cap + PCI_PM_CTRL, 2))
        pm_after_write(pci, old_pm);
    if (pci->msi_cap && pci_overlaps(off, len, pci->msi_cap, msi_cap_len(pci)))
        pci_msi_deliver_pending(pci);
    if (pci->msix_cap && pci_overlaps(off, len, pci->msix_cap + PCI_MSIX_FLAGS, 2))
        pci_msix_deliver_pending(pci);
    if (pci->exp_cap && pci_overlaps(off, len, pci->exp_cap + PCI_EXP_DEVCTL, 2))
        return flr_requested(pci);
    return false;
}

int vdev_pci_config_write(struct vdev_pci *pci, uint64_t off, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    bool flr = false;
    int ret = access_check(pci, off, len, "write");

    if (ret < 0)
        return ret;
    pthread_mutex_lock(&pci->lock);
    for (size_t done = 0; done < len; done += 4) {
        size_t n = len - done < 4 ? len - done : 4;
        flr |= write_chunk(pci, (unsigned)(off + done), b + done, n);
    }
    /* PCIe base 4.0, 6.6.2: FLR puts the function's registers back to their
     * reset values; the device then resets itself, outside the lock. */
    if (flr)
        pci_reset_locked(pci);
    pthread_mutex_unlock(&pci->lock);
    if (flr && pci->ops.reset)
        pci->ops.reset(pci->opaque, VDEV_PCI_RESET_FLR);
    return 0;
}

void pci_reset_locked(struct vdev_pci *pci)
{
    memcpy(pci->config, pci->reset_config, pci->cfg_size);
    pci_msix_reset(pci);
}

void vdev_pci_reset(struct vdev_pci *pci)
{
    pthread_mutex_lock(&pci->lock);
    pci_reset_locked(pci);
    pthread_mutex_unlock(&pci->lock);
    if (pci->ops.reset)
        pci->ops.reset(pci->opaque, VDEV_PCI_RESET_BUS);
}

int vdev_pci_set_status_bits(struct vdev_pci *pci, uint16_t bits)
{
    uint8_t *status = pci->config + PCI_STATUS;

    if (bits & ~pci_get16(pci->w1c + PCI_STATUS))
        return -EINVAL;
    pthread_mutex_lock(&pci->lock);
    pci_set16(status, pci_get16(status) | bits);
    pthread_mutex_unlock(&pci->lock);
    return 0;
}
