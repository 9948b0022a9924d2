/* The capability lists and the capabilities' registers: the chain from 0x34,
 * the extended chain from 0x100, power management, PCI Express with FLR, the
 * vendor-specific ones. */
#include <errno.h>
#include <string.h>

#include "pci/pci_internal.h"
#include "pci_fixture.h"

/* Walks the list from PCI_CAPABILITY_LIST; fails on a loop or a pointer into
 * the header. Returns how many, with their IDs and offsets. */
static unsigned walk_caps(struct pci_fixture *f, uint8_t ids[], unsigned offs[], unsigned max)
{
    unsigned n = 0;

    for (unsigned off = fx_rd8(f, PCI_CAPABILITY_LIST); off; off = fx_rd8(f, off + 1)) {
        assert_true(n < max);
        assert_true(off >= PCI_STD_HEADER_SIZEOF);
        assert_int_equal(off % 4, 0);
        ids[n] = fx_rd8(f, off + PCI_CAP_LIST_ID);
        offs[n] = off;
        n++;
    }
    return n;
}

/* Each declared capability appears once, in order, at an aligned offset, and
 * the chain ends; vdev_pci_find_cap finds the same offsets. */
static void test_cap_chain(void **state)
{
    struct pci_fixture *f = *state;
    static const uint8_t want[] = { PCI_CAP_ID_PM, PCI_CAP_ID_EXP, PCI_CAP_ID_MSI,
                                    PCI_CAP_ID_MSIX, PCI_CAP_ID_VNDR };
    uint8_t ids[16];
    unsigned offs[16];
    unsigned n = walk_caps(f, ids, offs, 16);

    assert_int_equal(n, sizeof(want));
    assert_memory_equal(ids, want, sizeof(want));
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(vdev_pci_find_cap(f->pci, ids[i], 0), offs[i]);
        if (i > 0)
            assert_true(offs[i] > offs[i - 1]);
    }
    assert_int_equal(vdev_pci_find_cap(f->pci, PCI_CAP_ID_VNDR, 1), 0);
    assert_int_equal(vdev_pci_find_cap(f->pci, PCI_CAP_ID_AGP, 0), 0);

    /* The pointers are read-only. */
    fx_wr8(f, PCI_CAPABILITY_LIST, 0x80);
    fx_wr8(f, offs[0] + PCI_CAP_LIST_NEXT, 0x40);
    assert_int_equal(walk_caps(f, ids, offs, 16), sizeof(want));
}

/* Two vendor capabilities and only MSI-X: both found, the second one by nth. */
static void test_cap_chain_subset(void **state)
{
    struct pci_fixture *f = *state;
    uint8_t ids[16];
    unsigned offs[16];

    f->cfg.pm = false;
    memset(&f->cfg.msi, 0, sizeof(f->cfg.msi));
    f->cfg.vendor_caps[1] = f->cfg.vendor_caps[0];
    f->cfg.n_vendor_caps = 2;
    fx_build(f);
    assert_int_equal(walk_caps(f, ids, offs, 16), 4);
    assert_int_equal(ids[0], PCI_CAP_ID_EXP);
    assert_int_equal(ids[1], PCI_CAP_ID_MSIX);
    assert_int_equal(ids[2], PCI_CAP_ID_VNDR);
    assert_int_equal(ids[3], PCI_CAP_ID_VNDR);
    assert_int_equal(vdev_pci_find_cap(f->pci, PCI_CAP_ID_VNDR, 1), offs[3]);
}

/* Extended capabilities from 0x100: each VSEC once, with its header and data,
 * and the last one's next pointer is 0. */
static void test_ext_cap_chain(void **state)
{
    struct pci_fixture *f = *state;
    static const struct { uint16_t id; uint8_t rev; uint8_t len; uint8_t first; } want[] = {
        { 0x1234, 2, 4, 1 }, { 0x5678, 1, 8, 9 },
    };
    unsigned n = 0, off = PCI_CFG_SPACE_SIZE;

    while (off) {
        uint32_t hdr = fx_rd32(f, off);
        uint32_t vsec = fx_rd32(f, off + PCI_VNDR_HEADER);

        assert_true(n < 2);
        assert_int_equal(PCI_EXT_CAP_ID(hdr), PCI_EXT_CAP_ID_VNDR);
        assert_int_equal(PCI_EXT_CAP_VER(hdr), 1);
        assert_int_equal(PCI_VNDR_HEADER_ID(vsec), want[n].id);
        assert_int_equal(PCI_VNDR_HEADER_REV(vsec), want[n].rev);
        assert_int_equal(PCI_VNDR_HEADER_LEN(vsec), 8 + want[n].len);
        assert_int_equal(fx_rd8(f, off + 8), want[n].first);
        fx_wr32(f, off + 8, 0);                       /* read-only */
        assert_int_equal(fx_rd8(f, off + 8), want[n].first);
        off = PCI_EXT_CAP_NEXT(hdr);
        assert_true(off == 0 || off > PCI_CFG_SPACE_SIZE);
        n++;
    }
    assert_int_equal(n, 2);
}

/* A PCIe function without extended capabilities reads 0 at 0x100. */
static void test_ext_cap_none(void **state)
{
    struct pci_fixture *f = *state;

    f->cfg.n_vendor_ext_caps = 0;
    fx_build(f);
    assert_int_equal(fx_rd32(f, PCI_CFG_SPACE_SIZE), 0);
    assert_int_equal(fx_rd32(f, PCI_CFG_SPACE_EXP_SIZE - 4), 0);
}

/* PM: version 3 without D1/D2/PME, No_Soft_Reset set; D3hot is writable, D1
 * and D2 writes are ignored, and decoding stops in D3hot. */
static void test_pm(void **state)
{
    struct pci_fixture *f = *state;
    unsigned pm = vdev_pci_find_cap(f->pci, PCI_CAP_ID_PM, 0);
    unsigned ctrl = pm + PCI_PM_CTRL;

    assert_int_not_equal(pm, 0);
    assert_int_equal(fx_rd16(f, pm + PCI_PM_PMC), 3);
    fx_wr16(f, pm + PCI_PM_PMC, 0xffff);
    assert_int_equal(fx_rd16(f, pm + PCI_PM_PMC), 3);
    assert_int_equal(fx_rd16(f, ctrl), PCI_PM_CTRL_NO_SOFT_RESET);

    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_true(vdev_pci_bar_enabled(f->pci, 0));
    fx_wr16(f, ctrl, 0xffff & ~PCI_PM_CTRL_NO_SOFT_RESET);  /* D3hot, and junk */
    assert_int_equal(fx_rd16(f, ctrl), PCI_PM_CTRL_NO_SOFT_RESET | 3);
    assert_false(vdev_pci_bar_enabled(f->pci, 0));
    fx_wr16(f, ctrl, 1);                                     /* D1: not supported */
    assert_int_equal(fx_rd16(f, ctrl) & PCI_PM_CTRL_STATE_MASK, 3);
    fx_wr16(f, ctrl, 0);                                     /* back to D0 */
    assert_int_equal(fx_rd16(f, ctrl), PCI_PM_CTRL_NO_SOFT_RESET);
    fx_wr16(f, ctrl, 2);                                     /* D2: not supported */
    assert_int_equal(fx_rd16(f, ctrl) & PCI_PM_CTRL_STATE_MASK, 0);
    /* No_Soft_Reset: the command register survived D3hot -> D0. */
    assert_int_equal(fx_rd16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
    assert_true(vdev_pci_bar_enabled(f->pci, 0));
    assert_int_equal(f->resets[VDEV_PCI_RESET_FLR] + f->resets[VDEV_PCI_RESET_BUS], 0);
}

/* PCIe: an endpoint, version 2, with FLR advertised; device control's
 * writable bits stick and its read-only payload field does not. */
static void test_express_registers(void **state)
{
    struct pci_fixture *f = *state;
    unsigned exp = vdev_pci_find_cap(f->pci, PCI_CAP_ID_EXP, 0);
    uint16_t devctl;

    assert_int_equal(fx_rd16(f, exp + PCI_EXP_FLAGS),
                     2 | PCI_EXP_TYPE_ENDPOINT << 4);
    assert_true(fx_rd32(f, exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
    fx_wr32(f, exp + PCI_EXP_DEVCAP, 0);
    assert_true(fx_rd32(f, exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_LNKSTA),
                     PCI_EXP_LNKSTA_CLS_2_5GB | PCI_EXP_LNKSTA_NLW_X1);

    fx_wr16(f, exp + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_PAYLOAD_256B |
                                     PCI_EXP_DEVCTL_READRQ_4096B);
    devctl = fx_rd16(f, exp + PCI_EXP_DEVCTL);
    assert_int_equal(devctl, PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_READRQ_4096B);
    assert_int_equal(f->resets[VDEV_PCI_RESET_FLR], 0);
}

/* Device status error bits are write-1-to-clear. */
static void test_express_devsta_w1c(void **state)
{
    struct pci_fixture *f = *state;
    unsigned exp = vdev_pci_find_cap(f->pci, PCI_CAP_ID_EXP, 0);
    uint16_t errs = PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_URD;

    /* Bits only hardware sets: put them there from the inside. */
    f->pci->config[exp + PCI_EXP_DEVSTA] = (uint8_t)errs;
    fx_wr16(f, exp + PCI_EXP_DEVSTA, 0);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_DEVSTA), errs);
    fx_wr16(f, exp + PCI_EXP_DEVSTA, PCI_EXP_DEVSTA_URD);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_DEVSTA), PCI_EXP_DEVSTA_CED);
    fx_wr16(f, exp + PCI_EXP_DEVSTA, 0xffff);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_DEVSTA), 0);
}

/* Initiate FLR calls the device's reset once, reads back 0, and puts config
 * space and the MSI-X table back to their reset values. */
static void test_flr(void **state)
{
    struct pci_fixture *f = *state;
    unsigned exp = vdev_pci_find_cap(f->pci, PCI_CAP_ID_EXP, 0);
    unsigned msix = vdev_pci_find_cap(f->pci, PCI_CAP_ID_MSIX, 0);
    uint32_t entry[2] = { 0xfee00000, 0 }, ctrl = 0;
    static uint8_t fresh[PCI_CFG_SPACE_EXP_SIZE], now[PCI_CFG_SPACE_EXP_SIZE];

    assert_int_equal(vdev_pci_config_read(f->pci, 0, fresh, sizeof(fresh)), 0);
    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    fx_wr32(f, PCI_BASE_ADDRESS_0, 0xfebf0000);
    fx_wr16(f, msix + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(vdev_pci_bar_access(f->pci, 0, 0, entry, 8, true), 8);
    assert_int_equal(vdev_pci_bar_access(f->pci, 0, PCI_MSIX_ENTRY_VECTOR_CTRL, &ctrl, 4,
                                         true), 4);

    fx_wr16(f, exp + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_CERE);
    assert_int_equal(f->resets[VDEV_PCI_RESET_FLR], 1);
    assert_int_equal(f->resets[VDEV_PCI_RESET_BUS], 0);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_BCR_FLR, 0);
    assert_int_equal(vdev_pci_config_read(f->pci, 0, now, sizeof(now)), 0);
    assert_memory_equal(fresh, now, sizeof(now));
    assert_int_equal(vdev_pci_bar_access(f->pci, 0, 0, entry, 8, false), 8);
    assert_int_equal(entry[0], 0);
    assert_int_equal(vdev_pci_bar_access(f->pci, 0, PCI_MSIX_ENTRY_VECTOR_CTRL, &ctrl, 4,
                                         false), 4);
    assert_int_equal(ctrl, 1);                         /* masked again */
    assert_int_equal(vdev_pci_irq_mode(f->pci), VDEV_PCI_IRQ_INTX);
}

/* Without FLR advertised, the bit is read-only and nothing is reset. */
static void test_flr_not_advertised(void **state)
{
    struct pci_fixture *f = *state;
    unsigned exp;

    f->cfg.pcie.flr = false;
    fx_build(f);
    exp = vdev_pci_find_cap(f->pci, PCI_CAP_ID_EXP, 0);
    assert_false(fx_rd32(f, exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
    fx_wr16(f, exp + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR);
    assert_int_equal(f->resets[VDEV_PCI_RESET_FLR], 0);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_DEVCTL) & PCI_EXP_DEVCTL_BCR_FLR, 0);
    assert_int_equal(fx_rd16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
}

/* A root complex integrated endpoint has no link registers. */
static void test_express_rc_integrated(void **state)
{
    struct pci_fixture *f = *state;
    unsigned exp;

    f->cfg.pcie.root_complex_integrated = true;
    fx_build(f);
    exp = vdev_pci_find_cap(f->pci, PCI_CAP_ID_EXP, 0);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_FLAGS), 2 | PCI_EXP_TYPE_RC_END << 4);
    assert_int_equal(fx_rd32(f, exp + PCI_EXP_LNKCAP), 0);
    assert_int_equal(fx_rd16(f, exp + PCI_EXP_LNKSTA), 0);
}

/* vdev_pci_reset: config space back to reset values, then ops->reset(BUS). */
static void test_bus_reset(void **state)
{
    struct pci_fixture *f = *state;

    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
    fx_wr8(f, PCI_INTERRUPT_LINE, 5);
    vdev_pci_reset(f->pci);
    assert_int_equal(f->resets[VDEV_PCI_RESET_BUS], 1);
    assert_int_equal(f->resets[VDEV_PCI_RESET_FLR], 0);
    assert_int_equal(fx_rd16(f, PCI_COMMAND), 0);
    assert_int_equal(fx_rd8(f, PCI_INTERRUPT_LINE), 0);
}

/* A vendor capability: its length byte is set, its data is there, and only the
 * bits of its write mask change (the header never does). */
static void test_vendor_cap(void **state)
{
    struct pci_fixture *f = *state;
    unsigned v = vdev_pci_find_cap(f->pci, PCI_CAP_ID_VNDR, 0);
    uint8_t ones[FX_VENDOR_LEN];

    assert_int_equal(fx_rd8(f, v + 2), FX_VENDOR_LEN);
    assert_int_equal(fx_rd32(f, v + 4), 0xe5d4c3b2);
    memset(ones, 0xff, sizeof(ones));
    assert_int_equal(vdev_pci_config_write(f->pci, v, ones, sizeof(ones)), 0);
    assert_int_equal(fx_rd8(f, v), PCI_CAP_ID_VNDR);
    assert_int_equal(fx_rd8(f, v + 1), 0);
    assert_int_equal(fx_rd8(f, v + 2), FX_VENDOR_LEN);
    assert_int_equal(fx_rd8(f, v + 3), 0xa1);
    assert_int_equal(fx_rd32(f, v + 4), 0xe5d4cfff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cap_chain, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cap_chain_subset, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ext_cap_chain, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ext_cap_none, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pm, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_express_registers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_express_devsta_w1c, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flr, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flr_not_advertised, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_express_rc_integrated, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bus_reset, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_vendor_cap, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
