/* pci_internal.h — the layout behind struct vdev_pci, shared by pci/'s files.
 *
 * Config space is a byte image with two masks: wmask (bits a write changes) and
 * w1c (bits a write of 1 clears). A generic write is
 *     cfg = (cfg & ~wmask) | (val & wmask);  cfg &= ~(val & w1c);
 * and the registers with side effects (command, PM control, MSI, MSI-X control,
 * PCIe device control) are looked at after it. Everything is little-endian. */
#ifndef VDEV_PCI_INTERNAL_H
#define VDEV_PCI_INTERNAL_H

#include <pthread.h>
#include <linux/pci_regs.h>

#include "vdev/pci.h"

#define PCI_MAX_CFG PCI_CFG_SPACE_EXP_SIZE
/* MSI's registers end with the pending bits, when it has per-vector masking. */
#define PCI_MSI_MAX_VECTORS 32
/* The PCIe capability, version 2, ends after Slot Status 2. */
#define PCI_EXP_CAP_SIZE (PCI_EXP_SLTSTA2 + 2)

struct vdev_pci {
    pthread_mutex_t lock;
    struct vdev_pci_ops ops;
    void *opaque;
    struct vdev_pci_config cfg;     /* as declared; vendor data pointers unused */
    size_t cfg_size;                /* 256 or 4096 */

    uint8_t config[PCI_MAX_CFG];
    uint8_t wmask[PCI_MAX_CFG];
    uint8_t w1c[PCI_MAX_CFG];
    uint8_t reset_config[PCI_MAX_CFG];  /* config space after a reset */

    /* Offsets of the capabilities in config space, 0 when absent. */
    unsigned pm_cap, msi_cap, msix_cap, exp_cap;

    /* MSI-X table (vectors * 16 bytes) and PBA (bit per vector), as the driver
     * sees them in their BARs. */
    uint8_t *msix_table;
    uint8_t *msix_pba;
    size_t msix_pba_size;
    int *msix_fd;                   /* per vector, -1 when none */
    bool msix_table_written;        /* the driver wrote the table (msix.c) */
    int msi_fd[PCI_MSI_MAX_VECTORS];
    int intx_fd;
};

static inline uint16_t pci_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t pci_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void pci_set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void pci_set32(uint8_t *p, uint32_t v)
{
    pci_set16(p, (uint16_t)v);
    pci_set16(p + 2, (uint16_t)(v >> 16));
}

/* A register at off in the three images: its reset value, writable and W1C bits. */
static inline void pci_reg16(struct vdev_pci *pci, unsigned off, uint16_t val,
                             uint16_t wmask, uint16_t w1c)
{
    pci_set16(pci->config + off, val);
    pci_set16(pci->wmask + off, wmask);
    pci_set16(pci->w1c + off, w1c);
}

static inline void pci_reg32(struct vdev_pci *pci, unsigned off, uint32_t val,
                             uint32_t wmask, uint32_t w1c)
{
    pci_set32(pci->config + off, val);
    pci_set32(pci->wmask + off, wmask);
    pci_set32(pci->w1c + off, w1c);
}

/* Whether [off, off + len) overlaps [reg, reg + size). */
static inline bool pci_overlaps(uint64_t off, size_t len, unsigned reg, unsigned size)
{
    return off < (uint64_t)reg + size && reg < off + len;
}

/* bar.c: the type 0 header's registers and the BARs. */
void pci_header_build(struct vdev_pci *pci);
int  pci_bars_check(const struct vdev_pci_config *cfg);

/* caps.c: the capability list and the extended capability list. */
int  pci_caps_build(struct vdev_pci *pci);

/* msix.c */
int  pci_msix_check(const struct vdev_pci_config *cfg);
int  pci_msix_alloc(struct vdev_pci *pci);
void pci_msix_free(struct vdev_pci *pci);
void pci_msix_reset(struct vdev_pci *pci);
/* Fires every pending vector that is no longer masked. Lock held. */
void pci_msix_deliver_pending(struct vdev_pci *pci);
bool pci_msix_enabled(const struct vdev_pci *pci);
int  pci_msix_irq(struct vdev_pci *pci, unsigned vector);

/* msi.c */
bool pci_msi_enabled(const struct vdev_pci *pci);
int  pci_msi_irq(struct vdev_pci *pci, unsigned vector);
void pci_msi_deliver_pending(struct vdev_pci *pci);

/* irq.c */
/* Writes 1 to an eventfd: -ENOENT if fd is -1. Lock held. */
int  pci_fire(int fd);
int  pci_intx_irq(struct vdev_pci *pci);
void pci_intx_after_command(struct vdev_pci *pci, uint16_t old_command);

/* config.c: the config space state back to reset values. Lock held. */
void pci_reset_locked(struct vdev_pci *pci);

#endif
