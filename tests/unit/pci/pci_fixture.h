/* pci_fixture.h — a PCI function with every feature, real eventfds, and config
 * space accessors that fail the test on error. */
#ifndef VDEV_TEST_PCI_FIXTURE_H
#define VDEV_TEST_PCI_FIXTURE_H

#include <linux/pci_regs.h>

#include "vdev/pci.h"
#include "helpers.h"

/* The full function's layout. */
#define FX_BAR0_SIZE     0x4000u          /* mem32: MSI-X table at 0, PBA at 0x2000 */
#define FX_BAR1_SIZE     0x20u            /* I/O */
#define FX_BAR2_SIZE     0x200000000ull   /* mem64 prefetchable, 8 GiB, slots 2 and 3 */
#define FX_BAR4_SIZE     0x10000u         /* mem32 prefetchable */
#define FX_MSIX_VECTORS  4
#define FX_PBA_OFFSET    0x2000u
#define FX_MSI_VECTORS   4
#define FX_VENDOR_LEN    8

struct pci_fixture {
    struct vdev_pci *pci;
    struct vdev_pci_config cfg;
    unsigned resets[2];              /* ops->reset calls by kind */
    int fds_before;
};

/* Fills cfg with the full function: BARs above, pin INTA, PM, PCIe with FLR,
 * MSI (64-bit, per-vector mask), MSI-X, a vendor capability, two vendor
 * extended capabilities. */
void fx_full_config(struct vdev_pci_config *cfg);

/* cmocka setup/teardown: builds fx_full_config, checks no fd leaked after. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Builds f->cfg into f->pci (after a test changed f->cfg). */
void fx_build(struct pci_fixture *f);

uint8_t  fx_rd8(struct pci_fixture *f, unsigned off);
uint16_t fx_rd16(struct pci_fixture *f, unsigned off);
uint32_t fx_rd32(struct pci_fixture *f, unsigned off);
void fx_wr8(struct pci_fixture *f, unsigned off, uint8_t v);
void fx_wr16(struct pci_fixture *f, unsigned off, uint16_t v);
void fx_wr32(struct pci_fixture *f, unsigned off, uint32_t v);

/* A non-blocking eventfd; its counter, read and reset (0 if nothing came). */
int fx_eventfd(void);
uint64_t fx_events(int fd);

#endif
