/* state.c — a PCI function's state as a byte stream, for migration (pci.h):
 * config space, the MSI-X table and pending bits, and whether the driver has
 * written the table. MSI's registers (mask and pending bits included) and the
 * INTx level (the status register's interrupt bit) live in config space.
 *
 * The stream (little-endian):
 *     u32 magic, u16 version, u16 config size, u16 MSI-X vectors, u16 flags,
 *     u32 total length, u32 layout hash, then config[config size],
 *     table[vectors * 16],
 *     PBA[(vectors + 63) / 64 * 8].
 * It is untrusted. A stream is refused, with nothing changed, unless its
 * header matches this function (the layout hash covers what the config space
 * bytes cannot show: BAR sizes and which bits are writable) and every bit the driver cannot write (IDs,
 * BAR sizes, the capability lists) equals this function's reset value: a
 * stream of another layout cannot pass for this one. Only the bits a driver
 * or the device could have changed are taken from it. */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "pci_internal.h"

#define STATE_MAGIC      0x69637076u    /* "vpci" */
#define STATE_VERSION    1u
#define STATE_HDR        20u
#define FLAG_TABLE_WRITTEN 1u

static size_t table_size(const struct vdev_pci *pci)
{
    return (size_t)pci->cfg.msix.vectors * PCI_MSIX_ENTRY_SIZE;
}

/* FNV-1a over the reset values and the writable and W1C masks. */
static uint32_t layout_hash(const struct vdev_pci *pci)
{
    const uint8_t *img[3] = { pci->reset_config, pci->wmask, pci->w1c };
    uint32_t h = 2166136261u;

    for (unsigned k = 0; k < 3; k++)
        for (size_t o = 0; o < pci->cfg_size; o++)
            h = (h ^ img[k][o]) * 16777619u;
    return h;
}

size_t vdev_pci_state_size(const struct vdev_pci *pci)
{
    return STATE_HDR + pci->cfg_size + table_size(pci) +
           (pci->cfg.msix.vectors ? pci->msix_pba_size : 0);
}

int vdev_pci_save(struct vdev_pci *pci, void *buf, size_t cap)
{
    size_t len = vdev_pci_state_size(pci);
    uint8_t *p = buf;

    if (!buf || cap < len)
        return -ENOSPC;
    pthread_mutex_lock(&pci->lock);
    pci_set32(p, STATE_MAGIC);
    pci_set16(p + 4, STATE_VERSION);
    pci_set16(p + 6, (uint16_t)pci->cfg_size);
    pci_set16(p + 8, pci->cfg.msix.vectors);
    pci_set16(p + 10, pci->msix_table_written ? FLAG_TABLE_WRITTEN : 0);
    pci_set32(p + 12, (uint32_t)len);
    pci_set32(p + 16, layout_hash(pci));
    p += STATE_HDR;
    memcpy(p, pci->config, pci->cfg_size);
    p += pci->cfg_size;
    if (pci->cfg.msix.vectors) {
        memcpy(p, pci->msix_table, table_size(pci));
        memcpy(p + table_size(pci), pci->msix_pba, pci->msix_pba_size);
    }
    pthread_mutex_unlock(&pci->lock);
    return (int)len;
}

/* The bits of config byte o the device itself changes, beyond what a driver
 * writes: the INTx level, and MSI's pending bits (PCI 3.0, 6.8.1.7). */
static uint8_t device_bits(const struct vdev_pci *pci, unsigned o)
{
    unsigned pend;

    if (o == PCI_STATUS)
        return PCI_STATUS_INTERRUPT;
    if (pci->msi_cap && pci->cfg.msi.per_vector_mask) {
        pend = pci->msi_cap + (pci->cfg.msi.addr64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32);
        if (o >= pend && o < pend + 4)
            return 0xff;
    }
    return 0;
}

static uint8_t changeable(const struct vdev_pci *pci, unsigned o)
{
    return (uint8_t)(pci->wmask[o] | pci->w1c[o] | device_bits(pci, o));
}

static int check_header(const struct vdev_pci *pci, const uint8_t *p, size_t len)
{
    if (len < STATE_HDR || pci_get32(p) != STATE_MAGIC) {
        vdev_warn("pci: state of %zu bytes is not a PCI function's state", len);
        return -EINVAL;
    }
    if (pci_get16(p + 4) != STATE_VERSION || pci_get16(p + 6) != pci->cfg_size ||
        pci_get16(p + 8) != pci->cfg.msix.vectors || (pci_get16(p + 10) & ~FLAG_TABLE_WRITTEN) ||
        pci_get32(p + 12) != len || len != vdev_pci_state_size(pci) ||
        pci_get32(p + 16) != layout_hash(pci)) {
        vdev_warn("pci: state version %u, config %u bytes, %u MSI-X vectors, %zu bytes: "
                  "not this function's layout (config %zu bytes, %u vectors)",
                  pci_get16(p + 4), pci_get16(p + 6), pci_get16(p + 8), len,
                  pci->cfg_size, pci->cfg.msix.vectors);
        return -EINVAL;
    }
    return 0;
}

/* Every bit nobody can change must be this function's own. Lock held. */
static int check_layout(const struct vdev_pci *pci, const uint8_t *cfg)
{
    for (unsigned o = 0; o < pci->cfg_size; o++) {
        if ((cfg[o] ^ pci->reset_config[o]) & ~changeable(pci, o)) {
            vdev_warn("pci: state has config byte 0x%x = %#x where this function has "
                      "%#x: another layout", o, cfg[o], pci->reset_config[o]);
            return -EINVAL;
        }
    }
    return 0;
}

/* The table's reserved bits stay 0, as table writes leave them (msix.c);
 * pending bits past the last vector too. Lock held. */
static void load_msix(struct vdev_pci *pci, const uint8_t *table, const uint8_t *pba)
{
    unsigned n = pci->cfg.msix.vectors;

    memcpy(pci->msix_table, table, table_size(pci));
    for (unsigned v = 0; v < n; v++) {
        uint8_t *e = pci->msix_table + v * PCI_MSIX_ENTRY_SIZE;

        pci_set32(e + PCI_MSIX_ENTRY_LOWER_ADDR,
                  pci_get32(e + PCI_MSIX_ENTRY_LOWER_ADDR) & ~3u);
        pci_set32(e + PCI_MSIX_ENTRY_VECTOR_CTRL,
                  pci_get32(e + PCI_MSIX_ENTRY_VECTOR_CTRL) & 1u);
    }
    memset(pci->msix_pba, 0, pci->msix_pba_size);
    for (unsigned v = 0; v < n; v++)
        pci->msix_pba[v / 8] |= (uint8_t)(pba[v / 8] & (1u << (v % 8)));
}

/* Nothing is fired here: the function is stopped while it loads, and a vector
 * held pending goes out when the driver unmasks it, as it would have on the
 * source. */
int vdev_pci_load(struct vdev_pci *pci, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    const uint8_t *cfg;
    int ret;

    if (!buf)
        return -EINVAL;
    ret = check_header(pci, p, len);
    if (ret < 0)
        return ret;
    cfg = p + STATE_HDR;
    pthread_mutex_lock(&pci->lock);
    ret = check_layout(pci, cfg);
    if (ret == 0) {
        for (unsigned o = 0; o < pci->cfg_size; o++) {
            uint8_t m = changeable(pci, o);
            pci->config[o] = (uint8_t)((pci->reset_config[o] & ~m) | (cfg[o] & m));
        }
        if (pci->cfg.msix.vectors) {
            load_msix(pci, cfg + pci->cfg_size, cfg + pci->cfg_size + table_size(pci));
            pci->msix_table_written = pci_get16(p + 10) & FLAG_TABLE_WRITTEN;
        }
    }
    pthread_mutex_unlock(&pci->lock);
    return ret;
}
