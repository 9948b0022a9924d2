/* The type 0 header: read-only registers, command and status bits, BAR sizing
 * for each kind of BAR, and the access rules (sizes, ranges, alignment). */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "pci/pci_internal.h"
#include "pci_fixture.h"

#define STATUS_W1C (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
                    PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT | \
                    PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

/* The IDs, class and pin are what the device declared, and writes of all-ones
 * to every read-only byte of the header leave it as it was. */
static void test_readonly_header(void **state)
{
    struct pci_fixture *f = *state;
    static const unsigned ro[] = {
        PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_CLASS_REVISION, PCI_LATENCY_TIMER,
        PCI_HEADER_TYPE, PCI_BIST, PCI_CARDBUS_CIS, PCI_SUBSYSTEM_VENDOR_ID,
        PCI_SUBSYSTEM_ID, PCI_ROM_ADDRESS, PCI_CAPABILITY_LIST, PCI_INTERRUPT_PIN,
        PCI_MIN_GNT, PCI_MAX_LAT, PCI_BASE_ADDRESS_5,
    };

    assert_int_equal(fx_rd16(f, PCI_VENDOR_ID), 0x1b36);
    assert_int_equal(fx_rd16(f, PCI_DEVICE_ID), 0x0bad);
    assert_int_equal(fx_rd32(f, PCI_CLASS_REVISION), 0x01800207);
    assert_int_equal(fx_rd16(f, PCI_SUBSYSTEM_VENDOR_ID), 0x1af4);
    assert_int_equal(fx_rd16(f, PCI_SUBSYSTEM_ID), 0x1100);
    assert_int_equal(fx_rd8(f, PCI_INTERRUPT_PIN), 1);
    assert_int_equal(fx_rd8(f, PCI_HEADER_TYPE), 0);

    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        uint8_t before = fx_rd8(f, ro[i]);
        fx_wr8(f, ro[i], 0xff);
        assert_int_equal(fx_rd8(f, ro[i]), before);
    }
    assert_int_equal(fx_rd32(f, PCI_ROM_ADDRESS), 0);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_5), 0);
}

/* Cache line size and interrupt line are the driver's to write. */
static void test_writable_header_bytes(void **state)
{
    struct pci_fixture *f = *state;

    fx_wr8(f, PCI_CACHE_LINE_SIZE, 0x10);
    fx_wr8(f, PCI_INTERRUPT_LINE, 0x0b);
    assert_int_equal(fx_rd8(f, PCI_CACHE_LINE_SIZE), 0x10);
    assert_int_equal(fx_rd8(f, PCI_INTERRUPT_LINE), 0x0b);
}

/* Command: decode, bus master, parity, SERR and INTx disable stick; every
 * other bit is hardwired 0. */
static void test_command_bits(void **state)
{
    struct pci_fixture *f = *state;
    uint16_t rw = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                  PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;

    assert_int_equal(fx_rd16(f, PCI_COMMAND), 0);
    fx_wr16(f, PCI_COMMAND, 0xffff);
    assert_int_equal(fx_rd16(f, PCI_COMMAND), rw);
    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_int_equal(fx_rd16(f, PCI_COMMAND), PCI_COMMAND_MEMORY);
}

/* A function without I/O BARs and without a pin cannot enable I/O decode or
 * disable INTx. */
static void test_command_without_io(void **state)
{
    struct pci_fixture *f = *state;

    f->cfg.bars[1].type = VDEV_PCI_BAR_NONE;
    f->cfg.interrupt_pin = 0;
    fx_build(f);
    fx_wr16(f, PCI_COMMAND, 0xffff);
    assert_int_equal(fx_rd16(f, PCI_COMMAND) & (PCI_COMMAND_IO | PCI_COMMAND_INTX_DISABLE), 0);
    assert_true(fx_rd16(f, PCI_COMMAND) & PCI_COMMAND_MEMORY);
}

/* Status: the capability list bit is set and read-only; error bits clear only
 * where 1 is written. */
static void test_status_w1c(void **state)
{
    struct pci_fixture *f = *state;

    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST);
    fx_wr16(f, PCI_STATUS, 0xffff);
    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST);

    assert_int_equal(vdev_pci_set_status_bits(f->pci, STATUS_W1C), 0);
    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST | STATUS_W1C);
    fx_wr16(f, PCI_STATUS, 0);                          /* writing 0 clears nothing */
    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST | STATUS_W1C);
    fx_wr16(f, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT);
    assert_int_equal(fx_rd16(f, PCI_STATUS),
                     PCI_STATUS_CAP_LIST | (STATUS_W1C & ~PCI_STATUS_REC_MASTER_ABORT));
    fx_wr8(f, PCI_STATUS + 1, 0xff);                    /* the rest, bytewise */
    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST);

    /* A device cannot set a bit that is not an error bit. */
    assert_int_equal(vdev_pci_set_status_bits(f->pci, PCI_STATUS_INTERRUPT), -EINVAL);
    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST);
}

/* Without any capability, the status bit and the pointer are 0. */
static void test_status_no_caps(void **state)
{
    struct pci_fixture *f = *state;

    memset(&f->cfg.msix, 0, sizeof(f->cfg.msix));
    memset(&f->cfg.msi, 0, sizeof(f->cfg.msi));
    memset(&f->cfg.pcie, 0, sizeof(f->cfg.pcie));
    f->cfg.pm = false;
    f->cfg.n_vendor_caps = f->cfg.n_vendor_ext_caps = 0;
    fx_build(f);
    assert_int_equal(fx_rd16(f, PCI_STATUS), 0);
    assert_int_equal(fx_rd8(f, PCI_CAPABILITY_LIST), 0);
    assert_int_equal(vdev_pci_config_size(f->pci), PCI_CFG_SPACE_SIZE);
}

/* Writing all-ones to a BAR reads back its size mask and its type bits; an
 * address is kept to the BAR's alignment. */
static void test_bar_sizing_mem32(void **state)
{
    struct pci_fixture *f = *state;

    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_0), PCI_BASE_ADDRESS_MEM_TYPE_32);
    fx_wr32(f, PCI_BASE_ADDRESS_0, 0xffffffff);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_0), ~(FX_BAR0_SIZE - 1));
    fx_wr32(f, PCI_BASE_ADDRESS_0, 0xfebf1234);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_0), 0xfebf0000);

    fx_wr32(f, PCI_BASE_ADDRESS_4, 0xffffffff);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_4),
                     ~(FX_BAR4_SIZE - 1) | PCI_BASE_ADDRESS_MEM_PREFETCH);
}

static void test_bar_sizing_io(void **state)
{
    struct pci_fixture *f = *state;
    bool is_io = false;

    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_1), PCI_BASE_ADDRESS_SPACE_IO);
    fx_wr32(f, PCI_BASE_ADDRESS_1, 0xffffffff);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_1),
                     ~(FX_BAR1_SIZE - 1) | PCI_BASE_ADDRESS_SPACE_IO);
    fx_wr32(f, PCI_BASE_ADDRESS_1, 0xc042);             /* bit 1 reserved, stays 0 */
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_1), 0xc041);
    assert_int_equal(vdev_pci_bar_size(f->pci, 1, &is_io), FX_BAR1_SIZE);
    assert_true(is_io);
}

/* A 64-bit BAR: the lower slot carries the type and the low mask, the upper
 * slot the high mask; an 8 GiB BAR has address bit 32 read-only. */
static void test_bar_sizing_mem64_pair(void **state)
{
    struct pci_fixture *f = *state;
    bool is_io = true;

    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_2),
                     PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    fx_wr32(f, PCI_BASE_ADDRESS_2, 0xffffffff);
    fx_wr32(f, PCI_BASE_ADDRESS_3, 0xffffffff);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_2),
                     PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_3), (uint32_t)(~(FX_BAR2_SIZE - 1) >> 32));
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_3), 0xfffffffe);

    fx_wr32(f, PCI_BASE_ADDRESS_2, 0x12345678);
    fx_wr32(f, PCI_BASE_ADDRESS_3, 0x00000013);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_2),
                     PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_3), 0x00000012);

    assert_int_equal(vdev_pci_bar_size(f->pci, 2, &is_io), FX_BAR2_SIZE);
    assert_false(is_io);
    assert_int_equal(vdev_pci_bar_size(f->pci, 3, NULL), 0);   /* the upper half */
    assert_int_equal(vdev_pci_bar_size(f->pci, 6, NULL), 0);
}

/* A small 64-bit BAR sizes its low dword too. */
static void test_bar_sizing_mem64_small(void **state)
{
    struct pci_fixture *f = *state;

    f->cfg.bars[2].size = 0x1000;
    f->cfg.bars[2].prefetchable = false;
    fx_build(f);
    fx_wr32(f, PCI_BASE_ADDRESS_2, 0xffffffff);
    fx_wr32(f, PCI_BASE_ADDRESS_3, 0xffffffff);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_2), 0xfffff000 | PCI_BASE_ADDRESS_MEM_TYPE_64);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_3), 0xffffffff);
}

/* BAR decode follows the command register. */
static void test_bar_enabled(void **state)
{
    struct pci_fixture *f = *state;

    assert_false(vdev_pci_bar_enabled(f->pci, 0));
    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_true(vdev_pci_bar_enabled(f->pci, 0));
    assert_true(vdev_pci_bar_enabled(f->pci, 2));
    assert_false(vdev_pci_bar_enabled(f->pci, 1));     /* I/O */
    assert_false(vdev_pci_bar_enabled(f->pci, 5));     /* none */
    fx_wr16(f, PCI_COMMAND, PCI_COMMAND_IO);
    assert_true(vdev_pci_bar_enabled(f->pci, 1));
    assert_false(vdev_pci_bar_enabled(f->pci, 0));
}

/* Accesses of a bad size or outside config space fail with -EINVAL and change
 * nothing, for a 4096-byte (PCIe) and a 256-byte function. */
static void check_bad_accesses(struct pci_fixture *f, size_t size)
{
    static uint8_t before[4096], after[4096], ones[4096];
    static const struct { uint64_t off; size_t len; } bad[] = {
        { PCI_COMMAND, 0 }, { PCI_COMMAND, 3 }, { PCI_COMMAND, 5 }, { PCI_COMMAND, 6 },
        { UINT64_MAX, 1 }, { UINT64_MAX - 1, 4 }, { 1ull << 32, 4 },
    };
    uint8_t buf[8];

    memset(ones, 0xff, sizeof(ones));
    fx_wr16(f, PCI_COMMAND, 0);
    assert_int_equal(vdev_pci_config_read(f->pci, 0, before, size), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(vdev_pci_config_write(f->pci, bad[i].off, ones, bad[i].len), -EINVAL);
        assert_int_equal(vdev_pci_config_read(f->pci, bad[i].off, buf, bad[i].len), -EINVAL);
    }
    /* Past the end by one byte, and one dword straddling the end. */
    assert_int_equal(vdev_pci_config_read(f->pci, size, buf, 1), -EINVAL);
    assert_int_equal(vdev_pci_config_write(f->pci, size, ones, 1), -EINVAL);
    assert_int_equal(vdev_pci_config_read(f->pci, size - 2, buf, 4), -EINVAL);
    assert_int_equal(vdev_pci_config_write(f->pci, size - 2, ones, 4), -EINVAL);
    assert_int_equal(vdev_pci_config_write(f->pci, 0, ones, size + 4), -EINVAL);
    /* The last byte and the last dword are in range. */
    assert_int_equal(vdev_pci_config_read(f->pci, size - 1, buf, 1), 0);
    assert_int_equal(vdev_pci_config_read(f->pci, size - 4, buf, 4), 0);

    assert_int_equal(vdev_pci_config_read(f->pci, 0, after, size), 0);
    assert_memory_equal(before, after, size);
}

static void test_bad_access_express(void **state)
{
    struct pci_fixture *f = *state;

    assert_int_equal(vdev_pci_config_size(f->pci), PCI_CFG_SPACE_EXP_SIZE);
    check_bad_accesses(f, PCI_CFG_SPACE_EXP_SIZE);
}

static void test_bad_access_conventional(void **state)
{
    struct pci_fixture *f = *state;
    uint32_t v;

    memset(&f->cfg.pcie, 0, sizeof(f->cfg.pcie));
    f->cfg.n_vendor_ext_caps = 0;
    fx_build(f);
    assert_int_equal(vdev_pci_config_size(f->pci), PCI_CFG_SPACE_SIZE);
    check_bad_accesses(f, PCI_CFG_SPACE_SIZE);
    assert_int_equal(vdev_pci_config_read(f->pci, PCI_CFG_SPACE_SIZE, &v, 4), -EINVAL);
}

/* Unaligned accesses work byte by byte: a dword at 0x03 covers the device ID's
 * high byte and the command register plus the status low byte. */
static void test_unaligned_access(void **state)
{
    struct pci_fixture *f = *state;
    uint8_t w[4] = { 0xff, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0xff, 0xff };
    uint8_t r[4];

    assert_int_equal(vdev_pci_config_write(f->pci, 0x03, w, 4), 0);
    assert_int_equal(fx_rd16(f, PCI_DEVICE_ID), 0x0bad);
    assert_int_equal(fx_rd16(f, PCI_COMMAND),
                     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR |
                     PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST);

    assert_int_equal(vdev_pci_config_read(f->pci, 0x01, r, 2), 0);
    assert_int_equal(r[0], 0x1b);
    assert_int_equal(r[1], 0xad);
    assert_int_equal(vdev_pci_config_read(f->pci, 0x3b, r, 4), 0);   /* ..line, pin.. */
    assert_int_equal(r[2], 1);
}

/* A multi-dword write is applied dword by dword, with each register's masks. */
static void test_large_write(void **state)
{
    struct pci_fixture *f = *state;
    uint8_t ones[PCI_STD_HEADER_SIZEOF];

    memset(ones, 0xff, sizeof(ones));
    assert_int_equal(vdev_pci_config_write(f->pci, 0, ones, sizeof(ones)), 0);
    assert_int_equal(fx_rd16(f, PCI_VENDOR_ID), 0x1b36);
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_0), ~(FX_BAR0_SIZE - 1));
    assert_int_equal(fx_rd32(f, PCI_BASE_ADDRESS_3), 0xfffffffe);
    assert_int_equal(fx_rd8(f, PCI_INTERRUPT_LINE), 0xff);
    assert_int_equal(fx_rd16(f, PCI_STATUS), PCI_STATUS_CAP_LIST);
}

/* Random writes anywhere, of any size: the valid ones are accepted, the others
 * refused, and no bit outside the write masks ever differs from its reset
 * value (read-only bits stay, W1C bits are never set by a write). */
static void test_random_writes(void **state)
{
    struct pci_fixture *f = *state;
    static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 8, 16, 64 };
    static uint8_t initial[PCI_CFG_SPACE_EXP_SIZE], now[PCI_CFG_SPACE_EXP_SIZE];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t buf[64];

    assert_int_equal(vdev_pci_config_read(f->pci, 0, initial, sizeof(initial)), 0);
    vdev_log_set_level(VDEV_LOG_ERR);            /* thousands of refused writes */
    for (unsigned i = 0; i < 20000; i++) {
        uint64_t off;
        size_t len;
        bool valid;

        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        off = (seed >> 8) % (PCI_CFG_SPACE_EXP_SIZE + 16);
        len = lens[(seed >> 40) % (sizeof(lens) / sizeof(lens[0]))];
        for (size_t b = 0; b < sizeof(buf); b++)
            buf[b] = (uint8_t)(seed >> (b % 8 * 8)) ^ (uint8_t)b;
        valid = (len == 1 || len == 2 || (len && len % 4 == 0)) &&
                off + len <= PCI_CFG_SPACE_EXP_SIZE;
        assert_int_equal(vdev_pci_config_write(f->pci, off, buf, len), valid ? 0 : -EINVAL);
    }
    vdev_log_set_level(VDEV_LOG_INFO);
    /* The writes hit the side-effect registers too, Initiate FLR among them. */
    assert_true(f->resets[VDEV_PCI_RESET_FLR] > 0);
    assert_int_equal(vdev_pci_config_read(f->pci, 0, now, sizeof(now)), 0);
    for (unsigned o = 0; o < PCI_CFG_SPACE_EXP_SIZE; o++)
        assert_int_equal(now[o] & ~f->pci->wmask[o], initial[o] & ~f->pci->wmask[o]);
}

/* Declarations that describe no real function are refused. */
static void test_new_rejects_bad_config(void **state)
{
    struct pci_fixture *f = *state;
    struct vdev_pci *pci = NULL;
    struct vdev_pci_config c;
    static const uint8_t big[200] = { 0 };

#define REJECT(mutate) do {                                               \
        fx_full_config(&c);                                               \
        mutate;                                                           \
        assert_int_equal(vdev_pci_new(&c, NULL, NULL, &pci), -EINVAL);    \
        assert_null(pci);                                                 \
    } while (0)

    REJECT(c.bars[4].size = 0x3000);                         /* not a power of two */
    REJECT(c.bars[4].size = 8);                              /* memory BAR < 16 */
    REJECT(c.bars[1].size = 512);                            /* I/O BAR > 256 */
    REJECT(c.bars[1].prefetchable = true);                   /* I/O prefetchable */
    REJECT(c.bars[5] = c.bars[2]);                           /* 64-bit in the last slot */
    REJECT(c.bars[3] = c.bars[4]);                           /* upper half taken */
    REJECT(c.bars[4].size = 1ull << 32);                     /* 32-bit BAR of 4 GiB */
    REJECT(c.msix.table_offset = FX_BAR0_SIZE - 16);         /* table past the BAR */
    REJECT(c.msix.pba_offset = 0x30);                        /* PBA inside the table */
    REJECT(c.msix.table_offset = 4);                         /* not 8-byte aligned */
    REJECT(c.msix.table_bar = 1);                            /* in an I/O BAR */
    REJECT((c.msix.pba_bar = 1, c.msix.pba_offset = 0));     /* fits, but I/O */
    REJECT(c.msix.pba_bar = 5);                              /* in no BAR */
    REJECT(c.msix.vectors = 2049);
    REJECT(c.msi.vectors = 3);
    REJECT(c.msi.vectors = 64);
    REJECT(c.interrupt_pin = 5);
    REJECT(c.class_code = 0x1000000);
    REJECT(c.n_vendor_caps = VDEV_PCI_MAX_VENDOR_CAPS + 1);
    REJECT(c.vendor_caps[0].len = 2);
    REJECT((c.vendor_caps[0] = (struct vdev_pci_vendor_cap){ big, 200, NULL })); /* no room */
    REJECT(c.pcie.present = false);                          /* extended caps need PCIe */
    REJECT(c.vendor_ext_caps[0].vsec_rev = 16);
    REJECT(c.vendor_ext_caps[0].data = NULL);
#undef REJECT

    fx_full_config(&c);
    assert_int_equal(vdev_pci_new(&c, NULL, NULL, &pci), 0);
    vdev_pci_free(pci);
    (void)f;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readonly_header, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_writable_header_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_command_bits, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_command_without_io, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_status_w1c, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_status_no_caps, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing_mem32, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing_io, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing_mem64_pair, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing_mem64_small, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bar_enabled, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_access_express, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_access_conventional, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unaligned_access, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_large_write, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_random_writes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_new_rejects_bad_config, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
