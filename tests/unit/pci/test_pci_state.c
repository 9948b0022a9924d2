/* A function's state saved and loaded into a second function of the same
 * layout (pci.h, vdev_pci_save/load): config space, MSI-X table and pending
 * bits, MSI registers, the INTx level; a stream of another layout, a
 * truncated or corrupt one is refused and changes nothing. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_fixture.h"

#define CTRL(v) ((v) * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL)

static uint32_t bar0_rd(struct vdev_pci *pci, uint64_t off)
{
    uint32_t v;

    assert_int_equal(vdev_pci_bar_access(pci, 0, off, &v, 4, false), 4);
    return v;
}

static void bar0_wr(struct vdev_pci *pci, uint64_t off, uint32_t v)
{
    assert_int_equal(vdev_pci_bar_access(pci, 0, off, &v, 4, true), 4);
}

static void cfg_wr16(struct vdev_pci *pci, unsigned off, uint16_t v)
{
    assert_int_equal(vdev_pci_config_write(pci, off, &v, 2), 0);
}

/* The source as a driver left it: decoding on, BAR 0 placed, MSI-X enabled
 * with vector 2 masked and an interrupt held pending on it. */
static void drive_source(struct pci_fixture *f)
{
    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    fx_wr32(f, PCI_BASE_ADDRESS_0, 0xfe000000u);
    for (unsigned v = 0; v < FX_MSIX_VECTORS; v++) {
        bar0_wr(f->pci, v * PCI_MSIX_ENTRY_SIZE, 0xfee00000u + v * 4);
        bar0_wr(f->pci, v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_DATA, 0x40 + v);
        bar0_wr(f->pci, CTRL(v), v == 2);
    }
    unsigned msix = vdev_pci_find_cap(f->pci, PCI_CAP_ID_MSIX, 0);
    fx_wr16(f, msix + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(vdev_pci_irq(f->pci, 2), 0);             /* held: masked */
}

static void new_twin(struct pci_fixture *f, struct vdev_pci **out)
{
    assert_int_equal(vdev_pci_new(&f->cfg, NULL, NULL, out), 0);
}

/* Everything the driver set and the pending vector arrive; unmasking on the
 * target delivers what the source held. */
static void test_state_round_trip(void **state)
{
    struct pci_fixture *f = *state;
    size_t n = vdev_pci_state_size(f->pci);
    uint8_t a[8192], b[8192], cfg_src[4096], cfg_dst[4096];
    struct vdev_pci *dst;
    int fd = fx_eventfd();

    assert_true(n <= sizeof(a));
    drive_source(f);
    assert_int_equal(vdev_pci_save(f->pci, a, sizeof(a)), (int)n);
    new_twin(f, &dst);
    assert_int_equal(vdev_pci_load(dst, a, n), 0);

    assert_int_equal(vdev_pci_config_read(f->pci, 0, cfg_src, 4096), 0);
    assert_int_equal(vdev_pci_config_read(dst, 0, cfg_dst, 4096), 0);
    assert_memory_equal(cfg_src, cfg_dst, 4096);
    assert_int_equal(vdev_pci_irq_mode(dst), VDEV_PCI_IRQ_MSIX);
    assert_true(vdev_pci_bar_enabled(dst, 0));
    for (unsigned v = 0; v < FX_MSIX_VECTORS; v++) {
        assert_int_equal(bar0_rd(dst, v * PCI_MSIX_ENTRY_SIZE), 0xfee00000u + v * 4);
        assert_int_equal(bar0_rd(dst, CTRL(v)), v == 2);
    }
    assert_int_equal(bar0_rd(dst, FX_PBA_OFFSET), 1u << 2);
    /* The same stream again, byte for byte. */
    assert_int_equal(vdev_pci_save(dst, b, sizeof(b)), (int)n);
    assert_memory_equal(a, b, n);

    assert_int_equal(vdev_pci_set_irq_fd(dst, VDEV_PCI_IRQ_MSIX, 2, fd), 0);
    bar0_wr(dst, CTRL(2), 0);
    assert_int_equal(fx_events(fd), 1);
    assert_int_equal(bar0_rd(dst, FX_PBA_OFFSET), 0);
    vdev_pci_free(dst);
    close(fd);
}

/* MSI (64-bit, per-vector masking) and INTx: the registers, the mask and
 * pending bits and the interrupt status bit travel. */
static void test_state_msi_intx(void **state)
{
    struct pci_fixture *f = *state;
    unsigned msi = vdev_pci_find_cap(f->pci, PCI_CAP_ID_MSI, 0);
    uint8_t a[8192];
    struct vdev_pci *dst;
    int fd = fx_eventfd();
    int n;

    fx_wr32(f, msi + PCI_MSI_ADDRESS_LO, 0xfee01000u);
    fx_wr32(f, msi + PCI_MSI_ADDRESS_HI, 0);
    fx_wr16(f, msi + PCI_MSI_DATA_64, 0x55);
    fx_wr32(f, msi + PCI_MSI_MASK_64, 1);
    fx_wr16(f, msi + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE);
    assert_int_equal(vdev_pci_irq(f->pci, 0), 0);              /* masked: pending */
    assert_int_equal(fx_rd32(f, msi + PCI_MSI_PENDING_64), 1);
    n = vdev_pci_save(f->pci, a, sizeof(a));
    assert_true(n > 0);
    new_twin(f, &dst);
    assert_int_equal(vdev_pci_load(dst, a, (size_t)n), 0);
    assert_int_equal(vdev_pci_irq_mode(dst), VDEV_PCI_IRQ_MSI);
    assert_int_equal(vdev_pci_set_irq_fd(dst, VDEV_PCI_IRQ_MSI, 0, fd), 0);
    uint32_t zero = 0, pend;
    assert_int_equal(vdev_pci_config_read(dst, msi + PCI_MSI_PENDING_64, &pend, 4), 0);
    assert_int_equal(pend, 1);
    assert_int_equal(vdev_pci_config_write(dst, msi + PCI_MSI_MASK_64, &zero, 4), 0);
    assert_int_equal(fx_events(fd), 1);
    vdev_pci_free(dst);

    /* INTx: MSI off, the level raised with INTx disabled. */
    fx_wr16(f, msi + PCI_MSI_FLAGS, 0);
    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(vdev_pci_set_irq_fd(f->pci, VDEV_PCI_IRQ_INTX, 0, fd), 0);
    assert_int_equal(vdev_pci_irq(f->pci, 0), 0);
    assert_true(fx_rd16(f, PCI_STATUS) & PCI_STATUS_INTERRUPT);
    n = vdev_pci_save(f->pci, a, sizeof(a));
    assert_true(n > 0);
    new_twin(f, &dst);
    assert_int_equal(vdev_pci_load(dst, a, (size_t)n), 0);
    uint16_t st;
    assert_int_equal(vdev_pci_config_read(dst, PCI_STATUS, &st, 2), 0);
    assert_true(st & PCI_STATUS_INTERRUPT);
    assert_int_equal(vdev_pci_set_irq_fd(dst, VDEV_PCI_IRQ_INTX, 0, fd), 0);
    cfg_wr16(dst, PCI_COMMAND, 0);                              /* INTx enabled: fires */
    assert_int_equal(fx_events(fd), 1);
    vdev_pci_free(dst);
    close(fd);
}

static void assert_refused_unchanged(struct vdev_pci *dst, const void *s, size_t len)
{
    uint8_t before[8192], after[8192];
    size_t n = vdev_pci_state_size(dst);

    assert_int_equal(vdev_pci_save(dst, before, sizeof(before)), (int)n);
    assert_int_equal(vdev_pci_load(dst, s, len), -EINVAL);
    assert_int_equal(vdev_pci_save(dst, after, sizeof(after)), (int)n);
    assert_memory_equal(before, after, n);
}

/* Another layout: fewer MSI-X vectors (the header differs), another device ID
 * (a read-only bit differs) or BAR size (only the writable bits differ). */
static void test_state_other_layout(void **state)
{
    struct pci_fixture *f = *state;
    uint8_t a[8192];
    struct vdev_pci *dst;
    int n;

    drive_source(f);
    n = vdev_pci_save(f->pci, a, sizeof(a));
    assert_true(n > 0);

    f->cfg.msix.vectors = FX_MSIX_VECTORS - 1;
    new_twin(f, &dst);
    assert_refused_unchanged(dst, a, (size_t)n);
    vdev_pci_free(dst);
    f->cfg.msix.vectors = FX_MSIX_VECTORS;

    f->cfg.device_id ^= 1;
    new_twin(f, &dst);
    assert_refused_unchanged(dst, a, (size_t)n);
    vdev_pci_free(dst);
    f->cfg.device_id ^= 1;

    f->cfg.bars[4].size *= 2;
    new_twin(f, &dst);
    assert_refused_unchanged(dst, a, (size_t)n);
    vdev_pci_free(dst);
}

/* A short buffer, a truncated stream, a wrong magic or length, a flipped
 * capability pointer: refused, nothing changed. */
static void test_state_corrupt(void **state)
{
    struct pci_fixture *f = *state;
    uint8_t a[8192], bad[8192];
    struct vdev_pci *dst;
    size_t n = vdev_pci_state_size(f->pci);

    assert_int_equal(vdev_pci_save(f->pci, a, n - 1), -ENOSPC);
    drive_source(f);
    assert_int_equal(vdev_pci_save(f->pci, a, sizeof(a)), (int)n);
    new_twin(f, &dst);
    assert_int_equal(vdev_pci_load(dst, NULL, n), -EINVAL);
    assert_refused_unchanged(dst, a, n - 1);
    assert_refused_unchanged(dst, a, 3);
    memcpy(bad, a, n);
    bad[0] ^= 0xff;                                   /* magic */
    assert_refused_unchanged(dst, bad, n);
    memcpy(bad, a, n);
    bad[12] ^= 1;                                     /* length field */
    assert_refused_unchanged(dst, bad, n);
    memcpy(bad, a, n);
    bad[20 + PCI_CAPABILITY_LIST] ^= 0x40;            /* capability pointer */
    assert_refused_unchanged(dst, bad, n);
    memcpy(bad, a, n);
    bad[20 + PCI_VENDOR_ID] ^= 1;
    assert_refused_unchanged(dst, bad, n);
    vdev_pci_free(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_state_msi_intx, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_state_other_layout, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_state_corrupt, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
