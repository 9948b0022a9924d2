/* MSI-X (PCI Local Bus 3.0, 6.8.2): the table and the Pending Bit Array, emulated
 * in the BARs the device declared, and delivery through the per-vector eventfds.
 *
 * A vector is masked when its Vector Control mask bit or the Function Mask bit
 * is set; an interrupt on a masked vector sets its pending bit, and the vector's
 * becoming unmasked (either bit cleared) sends it and clears the bit (6.8.2.9). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdev/log.h"
#include "pci_internal.h"

#define MSIX_MAX_VECTORS 2048
#define MSIX_VECTOR_MASKED 1u   /* Vector Control bit 0 */

static size_t pba_size(unsigned vectors)
{
    return (vectors + 63u) / 64 * 8;
}

static bool range_in_bar(const struct vdev_pci_config *cfg, unsigned bar, uint64_t off,
                         uint64_t len)
{
    const struct vdev_pci_bar *b;

    if (bar >= PCI_STD_NUM_BARS)
        return false;
    b = &cfg->bars[bar];
    if (b->type != VDEV_PCI_BAR_MEM32 && b->type != VDEV_PCI_BAR_MEM64)
        return false;
    return off <= b->size && len <= b->size - off;
}

int pci_msix_check(const struct vdev_pci_config *cfg)
{
    const struct vdev_pci_msix *m = &cfg->msix;
    uint64_t table_len = (uint64_t)m->vectors * PCI_MSIX_ENTRY_SIZE;
    uint64_t pba_len = pba_size(m->vectors);

    if (!m->vectors)
        return 0;
    if (m->vectors > MSIX_MAX_VECTORS || m->table_offset & ~PCI_MSIX_TABLE_OFFSET ||
        m->pba_offset & ~PCI_MSIX_PBA_OFFSET ||
        !range_in_bar(cfg, m->table_bar, m->table_offset, table_len) ||
        !range_in_bar(cfg, m->pba_bar, m->pba_offset, pba_len))
        goto bad;
    if (m->table_bar == m->pba_bar &&
        pci_overlaps(m->pba_offset, pba_len, m->table_offset, (unsigned)table_len))
        goto bad;
    return 0;
bad:
    vdev_err("pci: MSI-X: %u vectors, table in BAR %u at 0x%x, PBA in BAR %u at 0x%x: "
             "not valid", m->vectors, m->table_bar, m->table_offset, m->pba_bar,
             m->pba_offset);
    return -EINVAL;
}

int pci_msix_alloc(struct vdev_pci *pci)
{
    unsigned n = pci->cfg.msix.vectors;

    if (!n)
        return 0;
    pci->msix_pba_size = pba_size(n);
    pci->msix_table = calloc(n, PCI_MSIX_ENTRY_SIZE);
    pci->msix_pba = calloc(1, pci->msix_pba_size);
    pci->msix_fd = malloc(n * sizeof(int));
    if (pci->msix_fd)
        for (unsigned i = 0; i < n; i++)
            pci->msix_fd[i] = -1;
    if (!pci->msix_table || !pci->msix_pba || !pci->msix_fd)
        return -ENOMEM;
    pci_msix_reset(pci);
    return 0;
}

void pci_msix_free(struct vdev_pci *pci)
{
    if (pci->msix_fd) {
        for (unsigned i = 0; i < pci->cfg.msix.vectors; i++)
            if (pci->msix_fd[i] >= 0)
                close(pci->msix_fd[i]);
    }
    free(pci->msix_fd);
    free(pci->msix_table);
    free(pci->msix_pba);
}

/* 6.8.2.9: after reset every vector is masked and nothing is pending. */
void pci_msix_reset(struct vdev_pci *pci)
{
    unsigned n = pci->cfg.msix.vectors;

    if (!n)
        return;
    memset(pci->msix_table, 0, (size_t)n * PCI_MSIX_ENTRY_SIZE);
    for (unsigned i = 0; i < n; i++)
        pci_set32(pci->msix_table + i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL,
                  MSIX_VECTOR_MASKED);
    memset(pci->msix_pba, 0, pci->msix_pba_size);
    pci->msix_table_written = false;
}

static uint16_t msix_control(const struct vdev_pci *pci)
{
    return pci_get16(pci->config + pci->msix_cap + PCI_MSIX_FLAGS);
}

bool pci_msix_enabled(const struct vdev_pci *pci)
{
    return pci->msix_cap && (msix_control(pci) & PCI_MSIX_FLAGS_ENABLE);
}

/* A VMM that emulates the MSI-X table itself (QEMU does for vfio devices)
 * never writes this one and masks vectors on its side (SET_IRQS); to it the
 * entries' reset state, masked, would hold every interrupt for ever. So the
 * per-vector mask bits apply from the driver's first write to the table on,
 * as on hardware a driver must write an entry before using it; the function
 * mask, in config space, which such a VMM does pass on, always applies. */
static bool vector_masked(const struct vdev_pci *pci, unsigned v)
{
    const uint8_t *entry = pci->msix_table + v * PCI_MSIX_ENTRY_SIZE;

    return (msix_control(pci) & PCI_MSIX_FLAGS_MASKALL) ||
           (pci->msix_table_written &&
            (pci_get32(entry + PCI_MSIX_ENTRY_VECTOR_CTRL) & MSIX_VECTOR_MASKED));
}

static bool pending(const struct vdev_pci *pci, unsigned v)
{
    return pci->msix_pba[v / 8] & (1u << (v % 8));
}

static void set_pending(struct vdev_pci *pci, unsigned v, bool on)
{
    if (on)
        pci->msix_pba[v / 8] |= (uint8_t)(1u << (v % 8));
    else
        pci->msix_pba[v / 8] &= (uint8_t)~(1u << (v % 8));
}

static void deliver_if_pending(struct vdev_pci *pci, unsigned v)
{
    if (pending(pci, v) && !vector_masked(pci, v)) {
        set_pending(pci, v, false);
        pci_fire(pci->msix_fd[v]);
    }
}

void pci_msix_deliver_pending(struct vdev_pci *pci)
{
    if (!pci_msix_enabled(pci))
        return;
    for (unsigned v = 0; v < pci->cfg.msix.vectors; v++)
        deliver_if_pending(pci, v);
}

int pci_msix_irq(struct vdev_pci *pci, unsigned vector)
{
    if (vector >= pci->cfg.msix.vectors)
        return -EINVAL;
    if (vector_masked(pci, vector)) {
        set_pending(pci, vector, true);
        return 0;
    }
    return pci_fire(pci->msix_fd[vector]);
}

/* One dword of a table entry. The address's two low bits are hardwired 0 and
 * only the mask bit of Vector Control is implemented. */
static void table_write32(struct vdev_pci *pci, uint64_t off, uint32_t val)
{
    unsigned v = (unsigned)(off / PCI_MSIX_ENTRY_SIZE);
    unsigned reg = (unsigned)(off % PCI_MSIX_ENTRY_SIZE);
    uint8_t *p = pci->msix_table + off;

    switch (reg) {
    case PCI_MSIX_ENTRY_LOWER_ADDR:
        val &= ~3u;
        break;
    case PCI_MSIX_ENTRY_VECTOR_CTRL:
        val &= MSIX_VECTOR_MASKED;
        break;
    }
    pci_set32(p, val);
    pci->msix_table_written = true;
    if (reg == PCI_MSIX_ENTRY_VECTOR_CTRL && pci_msix_enabled(pci))
        deliver_if_pending(pci, v);
}

/* 6.8.2: software reads and writes the table and PBA with aligned dwords or
 * qwords; anything else is refused. */
static int region_access(struct vdev_pci *pci, uint8_t *base, uint64_t off, void *buf,
                         size_t len, bool write, bool is_table)
{
    uint8_t *b = buf;

    if ((len != 4 && len != 8) || off % len)
        return -EINVAL;
    if (!write) {
        memcpy(buf, base + off, len);
        return (int)len;
    }
    if (is_table)
        for (size_t i = 0; i < len; i += 4)
            table_write32(pci, off + i, pci_get32(b + i));
    /* The PBA is read-only: a write is accepted and ignored. */
    return (int)len;
}

int vdev_pci_bar_access(struct vdev_pci *pci, unsigned bar, uint64_t off, void *buf,
                        size_t len, bool write)
{
    const struct vdev_pci_msix *m = &pci->cfg.msix;
    uint64_t table_len = (uint64_t)m->vectors * PCI_MSIX_ENTRY_SIZE;
    uint8_t *base = NULL;
    uint64_t start = 0, size = 0;
    bool table = false;
    int ret;

    if (bar >= PCI_STD_NUM_BARS)
        return -EINVAL;
    if (!m->vectors || len == 0 || off + len < off)
        return 0;
    if (bar == m->table_bar && pci_overlaps(off, len, m->table_offset, (unsigned)table_len)) {
        base = pci->msix_table;
        start = m->table_offset;
        size = table_len;
        table = true;
    } else if (bar == m->pba_bar &&
               pci_overlaps(off, len, m->pba_offset, (unsigned)pci->msix_pba_size)) {
        base = pci->msix_pba;
        start = m->pba_offset;
        size = pci->msix_pba_size;
    } else {
        return 0;
    }
    if (off < start || off + len > start + size) {
        vdev_warn("pci: MSI-X: BAR %u access at 0x%llx len %zu straddles the %s", bar,
                  (unsigned long long)off, len, table ? "table" : "PBA");
        return -EINVAL;
    }
    pthread_mutex_lock(&pci->lock);
    ret = region_access(pci, base, off - start, buf, len, write, table);
    pthread_mutex_unlock(&pci->lock);
    if (ret < 0)
        vdev_warn("pci: MSI-X: BAR %u access at 0x%llx len %zu is not an aligned dword "
                  "or qword", bar, (unsigned long long)off, len);
    return ret;
}
