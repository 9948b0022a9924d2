/* pci_fixture.c — see pci_fixture.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pci_fixture.h"

static const uint8_t vendor_data[FX_VENDOR_LEN] = { 0, 0, 0, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5 };
/* Bytes 4 and 5 are the device's writable registers; 5 only in its low nibble. */
static const uint8_t vendor_wmask[FX_VENDOR_LEN] = { 0xff, 0xff, 0xff, 0, 0xff, 0x0f, 0, 0 };
static const uint8_t vsec_data0[] = { 1, 2, 3, 4 };
static const uint8_t vsec_data1[] = { 9, 8, 7, 6, 5, 4, 3, 2 };

void fx_full_config(struct vdev_pci_config *cfg)
{
    *cfg = (struct vdev_pci_config){
        .vendor_id = 0x1b36, .device_id = 0x0bad,
        .subsystem_vendor_id = 0x1af4, .subsystem_id = 0x1100,
        .class_code = 0x018002, .revision = 0x07, .interrupt_pin = 1,
        .bars = {
            [0] = { VDEV_PCI_BAR_MEM32, FX_BAR0_SIZE, false },
            [1] = { VDEV_PCI_BAR_IO, FX_BAR1_SIZE, false },
            [2] = { VDEV_PCI_BAR_MEM64, FX_BAR2_SIZE, true },
            [4] = { VDEV_PCI_BAR_MEM32, FX_BAR4_SIZE, true },
        },
        .msix = { .vectors = FX_MSIX_VECTORS, .table_bar = 0, .table_offset = 0,
                  .pba_bar = 0, .pba_offset = FX_PBA_OFFSET },
        .msi = { .vectors = FX_MSI_VECTORS, .addr64 = true, .per_vector_mask = true },
        .pm = true,
        .pcie = { .present = true, .flr = true },
        .vendor_caps = { { vendor_data, FX_VENDOR_LEN, vendor_wmask } },
        .n_vendor_caps = 1,
        .vendor_ext_caps = { { 0x1234, 2, vsec_data0, sizeof(vsec_data0) },
                             { 0x5678, 1, vsec_data1, sizeof(vsec_data1) } },
        .n_vendor_ext_caps = 2,
    };
}

static void fx_reset(void *opaque, enum vdev_pci_reset_kind kind)
{
    struct pci_fixture *f = opaque;
    f->resets[kind]++;
}

static const struct vdev_pci_ops fx_ops = { .reset = fx_reset };

void fx_build(struct pci_fixture *f)
{
    vdev_pci_free(f->pci);
    f->pci = NULL;
    assert_int_equal(vdev_pci_new(&f->cfg, &fx_ops, f, &f->pci), 0);
}

int fx_setup(void **state)
{
    struct pci_fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->fds_before = test_count_fds();
    fx_full_config(&f->cfg);
    fx_build(f);
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    struct pci_fixture *f = *state;

    vdev_pci_free(f->pci);
    assert_no_fd_leak(f->fds_before);
    free(f);
    return 0;
}

uint8_t fx_rd8(struct pci_fixture *f, unsigned off)
{
    uint8_t v;
    assert_int_equal(vdev_pci_config_read(f->pci, off, &v, 1), 0);
    return v;
}

uint16_t fx_rd16(struct pci_fixture *f, unsigned off)
{
    uint8_t b[2];
    assert_int_equal(vdev_pci_config_read(f->pci, off, b, 2), 0);
    return (uint16_t)(b[0] | b[1] << 8);
}

uint32_t fx_rd32(struct pci_fixture *f, unsigned off)
{
    uint8_t b[4];
    assert_int_equal(vdev_pci_config_read(f->pci, off, b, 4), 0);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

void fx_wr8(struct pci_fixture *f, unsigned off, uint8_t v)
{
    assert_int_equal(vdev_pci_config_write(f->pci, off, &v, 1), 0);
}

void fx_wr16(struct pci_fixture *f, unsigned off, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    assert_int_equal(vdev_pci_config_write(f->pci, off, b, 2), 0);
}

void fx_wr32(struct pci_fixture *f, unsigned off, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                     (uint8_t)(v >> 24) };
    assert_int_equal(vdev_pci_config_write(f->pci, off, b, 4), 0);
}

int fx_eventfd(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

uint64_t fx_events(int fd)
{
    uint64_t n = 0;
    if (read(fd, &n, sizeof(n)) != sizeof(n)) {
        assert_int_equal(errno, EAGAIN);
        return 0;
    }
    return n;
}
