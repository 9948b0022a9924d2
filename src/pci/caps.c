/* The capability list (PCI Local Bus 3.0, 6.7) from 0x40, and the extended
 * capability list (PCIe base 4.0, 7.6) from 0x100.
 *
 * Capabilities are laid out in a fixed order, each 4-byte aligned, chained by
 * their next pointers from PCI_CAPABILITY_LIST; the last one's next is 0. */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "pci_internal.h"

struct cap_cursor {
    struct vdev_pci *pci;
    unsigned next;       /* where the next capability goes */
    unsigned prev_link;  /* the byte that points to it */
    unsigned end;        /* one past the last usable byte */
};

/* Reserves len bytes for a capability with this ID, chains it in, and returns
 * its offset, or 0 if it does not fit. */
static unsigned cap_add(struct cap_cursor *c, uint8_t id, unsigned len)
{
    unsigned off = c->next;

    if (len > c->end - off)
        return 0;
    c->pci->config[c->prev_link] = (uint8_t)off;
    c->pci->config[off + PCI_CAP_LIST_ID] = id;
    c->pci->config[off + PCI_CAP_LIST_NEXT] = 0;
    c->prev_link = off + PCI_CAP_LIST_NEXT;
    c->next = (off + len + 3) & ~3u;
    return off;
}

/* PCI Bus Power Management 1.2, chapter 3: version 3, D0 and D3hot only, no
 * PME; No_Soft_Reset set, so D3hot -> D0 keeps the function's state. */
static int cap_pm(struct cap_cursor *c)
{
    struct vdev_pci *pci = c->pci;
    unsigned off = cap_add(c, PCI_CAP_ID_PM, PCI_PM_SIZEOF);

    if (!off)
        return -EINVAL;
    pci->pm_cap = off;
    pci_reg16(pci, off + PCI_PM_PMC, 3 & PCI_PM_CAP_VER_MASK, 0, 0);
    pci_reg16(pci, off + PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET,
              PCI_PM_CTRL_STATE_MASK, 0);
    return 0;
}

/* PCIe base 4.0, 7.5.3: an endpoint (or root complex integrated endpoint, which
 * has no link) at 2.5 GT/s x1. Device status error bits are W1C. */
static int cap_express(struct cap_cursor *c)
{
    struct vdev_pci *pci = c->pci;
    const struct vdev_pci_express *e = &pci->cfg.pcie;
    unsigned off = cap_add(c, PCI_CAP_ID_EXP, PCI_EXP_CAP_SIZE);
    unsigned type = e->root_complex_integrated ? PCI_EXP_TYPE_RC_END : PCI_EXP_TYPE_ENDPOINT;
    uint16_t devctl_wmask = PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE |
                            PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE |
                            PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN |
                            PCI_EXP_DEVCTL_READRQ;

    if (!off)
        return -EINVAL;
    pci->exp_cap = off;
    pci_reg16(pci, off + PCI_EXP_FLAGS, 2 | type << 4, 0, 0);
    pci_reg32(pci, off + PCI_EXP_DEVCAP, e->flr ? PCI_EXP_DEVCAP_FLR : 0, 0, 0);
    /* Initiate FLR is writable only when advertised; it always reads 0. */
    if (e->flr)
        devctl_wmask |= PCI_EXP_DEVCTL_BCR_FLR;
    /* Reset values: relaxed ordering and no snoop enabled, 512-byte reads. */
    pci_reg16(pci, off + PCI_EXP_DEVCTL,
              PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN |
              PCI_EXP_DEVCTL_READRQ_512B, devctl_wmask, 0);
    pci_reg16(pci, off + PCI_EXP_DEVSTA, 0, 0,
              PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED |
              PCI_EXP_DEVSTA_URD);
    if (type == PCI_EXP_TYPE_ENDPOINT) {
        pci_reg32(pci, off + PCI_EXP_LNKCAP,
                  PCI_EXP_LNKCAP_SLS_2_5GB | 1 << 4 /* x1 */, 0, 0);
        pci_reg16(pci, off + PCI_EXP_LNKCTL, 0,
                  PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES, 0);
        pci_reg16(pci, off + PCI_EXP_LNKSTA,
                  PCI_EXP_LNKSTA_CLS_2_5GB | PCI_EXP_LNKSTA_NLW_X1, 0, 0);
        pci_reg32(pci, off + PCI_EXP_LNKCAP2, PCI_EXP_LNKCAP2_SLS_2_5GB, 0, 0);
        pci_reg16(pci, off + PCI_EXP_LNKCTL2, PCI_EXP_LNKSTA_CLS_2_5GB, 0, 0);
    }
    return 0;
}

/* PCI Local Bus 3.0, 6.8.1: Multiple Message Capable is log2(vectors); the
 * address's two low bits and the extended message data are hardwired 0. */
static int cap_msi(struct cap_cursor *c)
{
    struct vdev_pci *pci = c->pci;
    const struct vdev_pci_msi *m = &pci->cfg.msi;
    unsigned log2 = (unsigned)__builtin_ctz(m->vectors);
    unsigned data = m->addr64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
    unsigned mask = m->addr64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
    unsigned len = m->per_vector_mask ? mask + 8 : data + 2;
    uint16_t flags = (uint16_t)(log2 << 1);
    unsigned off;

    if (m->vectors > PCI_MSI_MAX_VECTORS || m->vectors & (m->vectors - 1))
        return -EINVAL;
    off = cap_add(c, PCI_CAP_ID_MSI, len);
    if (!off)
        return -EINVAL;
    pci->msi_cap = off;
    if (m->addr64)
        flags |= PCI_MSI_FLAGS_64BIT;
    if (m->per_vector_mask)
        flags |= PCI_MSI_FLAGS_MASKBIT;
    pci_reg16(pci, off + PCI_MSI_FLAGS, flags,
              PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE, 0);
    pci_reg32(pci, off + PCI_MSI_ADDRESS_LO, 0, ~3u, 0);
    if (m->addr64)
        pci_reg32(pci, off + PCI_MSI_ADDRESS_HI, 0, ~0u, 0);
    pci_reg16(pci, off + data, 0, 0xffff, 0);
    if (m->per_vector_mask) {
        uint32_t bits = m->vectors == 32 ? ~0u : (1u << m->vectors) - 1;
        pci_reg32(pci, off + mask, 0, bits, 0);     /* the pending bits follow, RO */
    }
    return 0;
}

/* PCI Local Bus 3.0, 6.8.2: Table Size is N - 1; only Function Mask and MSI-X
 * Enable are writable. */
static int cap_msix(struct cap_cursor *c)
{
    struct vdev_pci *pci = c->pci;
    const struct vdev_pci_msix *m = &pci->cfg.msix;
    unsigned off = cap_add(c, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF);

    if (!off)
        return -EINVAL;
    pci->msix_cap = off;
    pci_reg16(pci, off + PCI_MSIX_FLAGS, (uint16_t)(m->vectors - 1),
              PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE, 0);
    pci_reg32(pci, off + PCI_MSIX_TABLE, m->table_offset | m->table_bar, 0, 0);
    pci_reg32(pci, off + PCI_MSIX_PBA, m->pba_offset | m->pba_bar, 0, 0);
    return 0;
}

static int cap_vendor(struct cap_cursor *c, const struct vdev_pci_vendor_cap *v)
{
    struct vdev_pci *pci = c->pci;
    unsigned off;

    if (v->len < 3 || !v->data)
        return -EINVAL;
    off = cap_add(c, PCI_CAP_ID_VNDR, v->len);
    if (!off)
        return -EINVAL;
    memcpy(pci->config + off + 2, v->data + 2, v->len - 2u);
    pci->config[off + 2] = v->len;
    if (v->wmask)     /* the header stays read-only */
        memcpy(pci->wmask + off + 3, v->wmask + 3, v->len - 3u);
    return 0;
}

static int caps_standard(struct vdev_pci *pci)
{
    const struct vdev_pci_config *cfg = &pci->cfg;
    struct cap_cursor c = { pci, PCI_STD_HEADER_SIZEOF, PCI_CAPABILITY_LIST,
                            PCI_CFG_SPACE_SIZE };
    int ret = 0;

    if (cfg->pm)
        ret = cap_pm(&c);
    if (!ret && cfg->pcie.present)
        ret = cap_express(&c);
    if (!ret && cfg->msi.vectors)
        ret = cap_msi(&c);
    if (!ret && cfg->msix.vectors)
        ret = cap_msix(&c);
    for (unsigned i = 0; !ret && i < cfg->n_vendor_caps; i++)
        ret = cap_vendor(&c, &cfg->vendor_caps[i]);
    if (ret < 0)
        return ret;
    if (pci->config[PCI_CAPABILITY_LIST])
        pci_set16(pci->config + PCI_STATUS, PCI_STATUS_CAP_LIST);
    return 0;
}

/* PCIe base 4.0, 7.9.5: vendor-specific extended capabilities, version 1. With
 * none, the header at 0x100 stays 0 (7.6.3: ID 0, version 0, next 0). */
static int caps_extended(struct vdev_pci *pci)
{
    const struct vdev_pci_config *cfg = &pci->cfg;
    unsigned off = PCI_CFG_SPACE_SIZE, prev = 0;

    for (unsigned i = 0; i < cfg->n_vendor_ext_caps; i++) {
        const struct vdev_pci_vendor_ext_cap *v = &cfg->vendor_ext_caps[i];
        unsigned len = PCI_VNDR_HEADER + 4 + v->len;

        if (v->vsec_rev > 15 || (v->len && !v->data) || len > 0xfff ||
            len > PCI_CFG_SPACE_EXP_SIZE - off)
            return -EINVAL;
        if (prev)
            pci_set32(pci->config + prev, pci_get32(pci->config + prev) | off << 20);
        pci_set32(pci->config + off, PCI_EXT_CAP_ID_VNDR | 1 << 16);
        pci_set32(pci->config + off + PCI_VNDR_HEADER,
                  v->vsec_id | (uint32_t)v->vsec_rev << 16 | (uint32_t)len << 20);
        if (v->len)
            memcpy(pci->config + off + PCI_VNDR_HEADER + 4, v->data, v->len);
        prev = off;
        off = (off + len + 3) & ~3u;
    }
    return 0;
}

int pci_caps_build(struct vdev_pci *pci)
{
    int ret = caps_standard(pci);

    if (ret < 0) {
        vdev_err("pci: the capabilities do not fit in config space or are not valid");
        return ret;
    }
    if (pci->cfg.n_vendor_ext_caps && !pci->cfg.pcie.present) {
        vdev_err("pci: extended capabilities need a PCI Express function");
        return -EINVAL;
    }
    ret = caps_extended(pci);
    if (ret < 0)
        vdev_err("pci: the extended capabilities do not fit or are not valid");
    return ret;
}

unsigned vdev_pci_find_cap(struct vdev_pci *pci, uint8_t cap_id, unsigned nth)
{
    unsigned found = 0;

    /* Walks our own image, which the driver cannot change: at most 48 steps. */
    pthread_mutex_lock(&pci->lock);
    for (unsigned off = pci->config[PCI_CAPABILITY_LIST]; off; ) {
        if (pci->config[off + PCI_CAP_LIST_ID] == cap_id && nth-- == 0) {
            found = off;
            break;
        }
        off = pci->config[off + PCI_CAP_LIST_NEXT];
    }
    pthread_mutex_unlock(&pci->lock);
    return found;
}
