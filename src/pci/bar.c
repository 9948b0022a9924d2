/* The type 0 header (PCI Local Bus 3.0, 6.1; PCIe base 4.0, 7.5.1) and the BARs.
 *
 * BAR sizing needs no code of its own: the address bits below the size are not
 * in the write mask, so writing all-ones reads back ~(size - 1) with the type
 * bits (6.2.5.1). A 64-bit BAR's upper slot holds the upper half of the mask. */
#include <errno.h>

#include "vdev/log.h"
#include "pci_internal.h"

static bool pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int bar_check(const struct vdev_pci_config *cfg, unsigned i)
{
    const struct vdev_pci_bar *b = &cfg->bars[i];

    switch (b->type) {
    case VDEV_PCI_BAR_NONE:
        return 0;
    case VDEV_PCI_BAR_IO:
        /* 6.2.5.1: an I/O BAR asks for at most 256 bytes; the two low bits are
         * the space bit and a reserved one. */
        if (!pow2(b->size) || b->size < 4 || b->size > 256 || b->prefetchable)
            return -EINVAL;
        return 0;
    case VDEV_PCI_BAR_MEM32:
        if (!pow2(b->size) || b->size < 16 || b->size > (1ull << 31))
            return -EINVAL;
        return 0;
    case VDEV_PCI_BAR_MEM64:
        if (!pow2(b->size) || b->size < 16 || b->size > (1ull << 63))
            return -EINVAL;
        if (i == 5 || cfg->bars[i + 1].type != VDEV_PCI_BAR_NONE)
            return -EINVAL;   /* the next slot is the upper half */
        return 0;
    }
    return -EINVAL;
}

int pci_bars_check(const struct vdev_pci_config *cfg)
{
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
        int ret = bar_check(cfg, i);
        if (ret < 0) {
            vdev_err("pci: BAR %u: type %d size 0x%llx is not valid", i,
                     (int)cfg->bars[i].type, (unsigned long long)cfg->bars[i].size);
            return ret;
        }
        if (cfg->bars[i].type == VDEV_PCI_BAR_MEM64)
            i++;
    }
    return 0;
}

static void bars_build(struct vdev_pci *pci, uint16_t *decode)
{
    for (unsigned i = 0; i < PCI_STD_NUM_BARS; i++) {
        const struct vdev_pci_bar *b = &pci->cfg.bars[i];
        unsigned off = PCI_BASE_ADDRESS_0 + 4 * i;
        uint64_t addr_mask = ~(b->size - 1);
        uint32_t flags = b->prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;

        switch (b->type) {
        case VDEV_PCI_BAR_NONE:
            break;
        case VDEV_PCI_BAR_IO:
            pci_reg32(pci, off, PCI_BASE_ADDRESS_SPACE_IO,
                      (uint32_t)(addr_mask & PCI_BASE_ADDRESS_IO_MASK), 0);
            *decode |= PCI_COMMAND_IO;
            break;
        case VDEV_PCI_BAR_MEM32:
            pci_reg32(pci, off, PCI_BASE_ADDRESS_MEM_TYPE_32 | flags,
                      (uint32_t)(addr_mask & PCI_BASE_ADDRESS_MEM_MASK), 0);
            *decode |= PCI_COMMAND_MEMORY;
            break;
        case VDEV_PCI_BAR_MEM64:
            pci_reg32(pci, off, PCI_BASE_ADDRESS_MEM_TYPE_64 | flags,
                      (uint32_t)(addr_mask & PCI_BASE_ADDRESS_MEM_MASK), 0);
            pci_reg32(pci, off + 4, 0, (uint32_t)(addr_mask >> 32), 0);
            *decode |= PCI_COMMAND_MEMORY;
            i++;
            break;
        }
    }
}

void pci_header_build(struct vdev_pci *pci)
{
    const struct vdev_pci_config *c = &pci->cfg;
    uint16_t command_wmask = PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR;
    uint16_t decode = 0;

    pci_set16(pci->config + PCI_VENDOR_ID, c->vendor_id);
    pci_set16(pci->config + PCI_DEVICE_ID, c->device_id);
    pci->config[PCI_REVISION_ID] = c->revision;
    pci->config[PCI_CLASS_PROG] = (uint8_t)c->class_code;
    pci_set16(pci->config + PCI_CLASS_DEVICE, (uint16_t)(c->class_code >> 8));
    pci->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    /* Header type 0, single function; latency timer and BIST are hardwired 0. */
    pci_set16(pci->config + PCI_SUBSYSTEM_VENDOR_ID, c->subsystem_vendor_id);
    pci_set16(pci->config + PCI_SUBSYSTEM_ID, c->subsystem_id);
    pci->wmask[PCI_INTERRUPT_LINE] = 0xff;
    pci->config[PCI_INTERRUPT_PIN] = c->interrupt_pin;

    bars_build(pci, &decode);

    /* Command (6.2.2): decode bits only for the spaces the BARs use; INTx
     * disable only for a function with a pin. Unused bits are hardwired 0. */
    command_wmask |= decode;
    if (c->interrupt_pin)
        command_wmask |= PCI_COMMAND_INTX_DISABLE;
    pci_reg16(pci, PCI_COMMAND, 0, command_wmask, 0);

    /* Status (6.2.3): the error bits are write-1-to-clear; the interrupt bit
     * and the capability list bit are read-only. */
    pci_reg16(pci, PCI_STATUS, 0, 0,
              PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
              PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
              PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY);
}

uint64_t vdev_pci_bar_size(const struct vdev_pci *pci, unsigned bar, bool *is_io)
{
    if (is_io)
        *is_io = false;
    if (bar >= PCI_STD_NUM_BARS)
        return 0;
    if (bar > 0 && pci->cfg.bars[bar - 1].type == VDEV_PCI_BAR_MEM64)
        return 0;
    if (pci->cfg.bars[bar].type == VDEV_PCI_BAR_NONE)
        return 0;
    if (is_io)
        *is_io = pci->cfg.bars[bar].type == VDEV_PCI_BAR_IO;
    return pci->cfg.bars[bar].size;
}

bool vdev_pci_bar_enabled(struct vdev_pci *pci, unsigned bar)
{
    bool is_io, on;
    uint16_t command;

    if (!vdev_pci_bar_size(pci, bar, &is_io))
        return false;
    pthread_mutex_lock(&pci->lock);
    command = pci_get16(pci->config + PCI_COMMAND);
    on = command & (is_io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
    /* PCI PM 1.2, 5.4.1: in D3hot the function answers config accesses only. */
    if (pci->pm_cap &&
        (pci_get16(pci->config + pci->pm_cap + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK))
        on = false;
    pthread_mutex_unlock(&pci->lock);
    return on;
}
