/* Interrupts through real eventfds: MSI-X table, PBA, per-vector and function
 * masks; MSI with per-vector masking; INTx and its disable bit; the fds the
 * function keeps; interrupts raised from another thread while the driver masks. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "pci_fixture.h"

#define MSIX_CTRL(v) ((v) * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL)

struct irq_fixture {
    struct pci_fixture *f;
    int fd[FX_MSIX_VECTORS];
    unsigned msix, msi;          /* capability offsets */
};

static int irq_setup(void **state)
{
    static struct irq_fixture x;
    int ret = fx_setup(state);

    x.f = *state;
    for (unsigned v = 0; v < FX_MSIX_VECTORS; v++)
        x.fd[v] = fx_eventfd();
    x.msix = vdev_pci_find_cap(x.f->pci, PCI_CAP_ID_MSIX, 0);
    x.msi = vdev_pci_find_cap(x.f->pci, PCI_CAP_ID_MSI, 0);
    *state = &x;
    return ret;
}

static int irq_teardown(void **state)
{
    struct irq_fixture *x = *state;

    for (unsigned v = 0; v < FX_MSIX_VECTORS; v++)
        close(x->fd[v]);
    *state = x->f;
    return fx_teardown(state);
}

static void set_fds(struct irq_fixture *x, enum vdev_pci_irq_mode kind, unsigned n)
{
    for (unsigned v = 0; v < n; v++)
        assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, kind, v, x->fd[v]), 0);
}

static uint32_t table_rd(struct irq_fixture *x, uint64_t off)
{
    uint32_t v;
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, off, &v, 4, false), 4);
    return v;
}

static void table_wr(struct irq_fixture *x, uint64_t off, uint32_t v)
{
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, off, &v, 4, true), 4);
}

static uint64_t pba(struct irq_fixture *x)
{
    uint64_t v;
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, FX_PBA_OFFSET, &v, 8, false), 8);
    return v;
}

static void msix_enable(struct irq_fixture *x, uint16_t flags)
{
    fx_wr16(x->f, x->msix + PCI_MSIX_FLAGS, flags);
}

/* The capability describes the table and PBA; only the two control bits are
 * writable. */
static void test_msix_capability(void **state)
{
    struct irq_fixture *x = *state;

    assert_int_equal(fx_rd16(x->f, x->msix + PCI_MSIX_FLAGS), FX_MSIX_VECTORS - 1);
    assert_int_equal(fx_rd32(x->f, x->msix + PCI_MSIX_TABLE), 0);
    assert_int_equal(fx_rd32(x->f, x->msix + PCI_MSIX_PBA), FX_PBA_OFFSET);
    msix_enable(x, 0xffff);
    assert_int_equal(fx_rd16(x->f, x->msix + PCI_MSIX_FLAGS),
                     PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (FX_MSIX_VECTORS - 1));
    fx_wr32(x->f, x->msix + PCI_MSIX_TABLE, 0xffffffff);
    assert_int_equal(fx_rd32(x->f, x->msix + PCI_MSIX_TABLE), 0);
    assert_int_equal(vdev_pci_irq_count(x->f->pci, VDEV_PCI_IRQ_MSIX), FX_MSIX_VECTORS);
    assert_int_equal(vdev_pci_irq_count(x->f->pci, VDEV_PCI_IRQ_MSI), FX_MSI_VECTORS);
    assert_int_equal(vdev_pci_irq_count(x->f->pci, VDEV_PCI_IRQ_INTX), 1);
}

/* Table entries start masked; address bits 1:0 and Vector Control's reserved
 * bits are read-only; qword and dword accesses work. */
static void test_msix_table_registers(void **state)
{
    struct irq_fixture *x = *state;
    uint32_t q[2] = { 0xfee0100f, 0x12345678 };

    for (unsigned v = 0; v < FX_MSIX_VECTORS; v++)
        assert_int_equal(table_rd(x, MSIX_CTRL(v)), 1);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, 16, q, 8, true), 8);
    table_wr(x, 16 + PCI_MSIX_ENTRY_DATA, 0xabcd);
    table_wr(x, MSIX_CTRL(1), 0xfffffffe);
    assert_int_equal(table_rd(x, 16 + PCI_MSIX_ENTRY_LOWER_ADDR), 0xfee0100c);
    assert_int_equal(table_rd(x, 16 + PCI_MSIX_ENTRY_UPPER_ADDR), 0x12345678);
    assert_int_equal(table_rd(x, 16 + PCI_MSIX_ENTRY_DATA), 0xabcd);
    assert_int_equal(table_rd(x, MSIX_CTRL(1)), 0);
    assert_int_equal(table_rd(x, MSIX_CTRL(0)), 1);    /* neighbours untouched */
    assert_int_equal(table_rd(x, MSIX_CTRL(2)), 1);
}

/* Odd sizes, misaligned offsets and accesses that straddle the table or PBA
 * are refused and change nothing; accesses elsewhere are not ours. */
static void test_msix_bad_bar_access(void **state)
{
    struct irq_fixture *x = *state;
    uint8_t buf[16] = { 0 };

    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, 0, buf, 2, true), -EINVAL);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, 2, buf, 4, true), -EINVAL);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, MSIX_CTRL(0), buf, 8, true), -EINVAL);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, 0, buf, 16, true), -EINVAL);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, MSIX_CTRL(3), buf, 8, true),
                     -EINVAL);                          /* past the table's end */
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, FX_PBA_OFFSET - 4, buf, 8, false),
                     -EINVAL);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 6, 0, buf, 4, false), -EINVAL);
    for (unsigned v = 0; v < FX_MSIX_VECTORS; v++)
        assert_int_equal(table_rd(x, MSIX_CTRL(v)), 1);

    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, 0x1000, buf, 4, true), 0);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, FX_PBA_OFFSET + 8, buf, 4, false), 0);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 4, 0, buf, 4, false), 0);
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, UINT64_MAX - 1, buf, 4, false), 0);
}

/* An unmasked vector fires its own eventfd, once per interrupt. */
static void test_msix_delivery(void **state)
{
    struct irq_fixture *x = *state;

    set_fds(x, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(vdev_pci_irq_mode(x->f->pci), VDEV_PCI_IRQ_MSIX);
    table_wr(x, MSIX_CTRL(2), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 2), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 2), 0);
    assert_int_equal(fx_events(x->fd[2]), 2);
    assert_int_equal(fx_events(x->fd[0]), 0);
    assert_int_equal(pba(x), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, FX_MSIX_VECTORS), -EINVAL);
}

/* A masked vector sets its pending bit and does not fire; unmasking fires it
 * once and clears the bit. */
static void test_msix_mask_pending_unmask(void **state)
{
    struct irq_fixture *x = *state;
    uint64_t bits = 0xff;

    set_fds(x, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    table_wr(x, MSIX_CTRL(3), 1);
    assert_int_equal(vdev_pci_irq(x->f->pci, 3), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 3), 0);
    assert_int_equal(fx_events(x->fd[3]), 0);
    assert_int_equal(pba(x), 1u << 3);

    /* The PBA is read-only, and writing it touches nothing else. */
    assert_int_equal(vdev_pci_bar_access(x->f->pci, 0, FX_PBA_OFFSET, &bits, 8, true), 8);
    assert_int_equal(pba(x), 1u << 3);
    assert_int_equal(table_rd(x, PCI_MSIX_ENTRY_LOWER_ADDR), 0);

    table_wr(x, MSIX_CTRL(3), 0);
    assert_int_equal(fx_events(x->fd[3]), 1);
    assert_int_equal(pba(x), 0);
    table_wr(x, MSIX_CTRL(3), 1);                       /* masking again sends nothing */
    table_wr(x, MSIX_CTRL(3), 0);
    assert_int_equal(fx_events(x->fd[3]), 0);
}

/* A VMM that emulates the table itself never writes ours: its entries' reset
 * mask does not hold interrupts then (the function mask still does); after the
 * driver's first write to the table, each entry's mask bit applies. */
static void test_msix_table_never_written(void **state)
{
    struct irq_fixture *x = *state;

    set_fds(x, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    assert_int_equal(vdev_pci_irq(x->f->pci, 2), 0);
    assert_int_equal(fx_events(x->fd[2]), 0);           /* function mask */
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(fx_events(x->fd[2]), 1);            /* sent on clearing it */
    assert_int_equal(vdev_pci_irq(x->f->pci, 2), 0);
    assert_int_equal(fx_events(x->fd[2]), 1);            /* entry never written */
    table_wr(x, PCI_MSIX_ENTRY_DATA, 0x40);             /* entry 0's data */
    assert_int_equal(vdev_pci_irq(x->f->pci, 2), 0);
    assert_int_equal(fx_events(x->fd[2]), 0);            /* entry 2 still at reset */
    assert_int_equal(pba(x), 1u << 2);
}

/* Function Mask holds every vector pending; clearing it fires each unmasked
 * pending vector, and leaves a still-masked one pending. */
static void test_msix_function_mask(void **state)
{
    struct irq_fixture *x = *state;

    set_fds(x, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS);
    table_wr(x, MSIX_CTRL(0), 0);
    table_wr(x, MSIX_CTRL(1), 0);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 1), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 2), 0);    /* also masked on its own */
    assert_int_equal(pba(x), 0x7);
    assert_int_equal(fx_events(x->fd[0]) + fx_events(x->fd[1]) + fx_events(x->fd[2]), 0);

    /* Unmasking the vector alone does nothing while the function is masked. */
    table_wr(x, MSIX_CTRL(2), 1);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(fx_events(x->fd[0]), 1);
    assert_int_equal(fx_events(x->fd[1]), 1);
    assert_int_equal(fx_events(x->fd[2]), 0);
    assert_int_equal(pba(x), 0x4);
}

/* With MSI-X disabled the table's pending bits are left alone; enabling it
 * (unmasked) then delivers what is pending. */
static void test_msix_enable_delivers_pending(void **state)
{
    struct irq_fixture *x = *state;

    set_fds(x, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    assert_int_equal(vdev_pci_irq(x->f->pci, 1), 0);
    msix_enable(x, PCI_MSIX_FLAGS_MASKALL);              /* disabled, still masked */
    table_wr(x, MSIX_CTRL(1), 0);
    msix_enable(x, 0);                                   /* disabled, unmasked */
    assert_int_equal(fx_events(x->fd[1]), 0);
    assert_int_equal(pba(x), 0x2);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(fx_events(x->fd[1]), 1);
    assert_int_equal(pba(x), 0);
}

/* A vector without an eventfd is lost, and said so. */
static void test_msix_no_fd(void **state)
{
    struct irq_fixture *x = *state;

    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    table_wr(x, MSIX_CTRL(0), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), -ENOENT);
    set_fds(x, VDEV_PCI_IRQ_MSIX, 1);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), 0);
    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_MSIX, 0, -1), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), -ENOENT);
    assert_int_equal(fx_events(x->fd[0]), 1);
}

/* The function keeps its own copy of each fd: one more open fd per vector,
 * released on removal and by vdev_pci_free (the fixture checks the latter). */
static void test_irq_fd_copies(void **state)
{
    struct irq_fixture *x = *state;
    int before = test_count_fds();

    set_fds(x, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS);
    assert_int_equal(test_count_fds(), before + FX_MSIX_VECTORS);
    set_fds(x, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS);     /* replacing closes the old */
    assert_int_equal(test_count_fds(), before + FX_MSIX_VECTORS);
    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_MSIX, 0, -1), 0);
    assert_int_equal(test_count_fds(), before + FX_MSIX_VECTORS - 1);
    set_fds(x, VDEV_PCI_IRQ_MSI, 2);
    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_INTX, 0, x->fd[0]), 0);
    assert_int_equal(test_count_fds(), before + FX_MSIX_VECTORS + 2);

    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_MSIX, FX_MSIX_VECTORS,
                                         x->fd[0]), -EINVAL);
    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_INTX, 1, x->fd[0]), -EINVAL);
    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_NONE, 0, x->fd[0]), -EINVAL);
    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_MSI, 0, 100000), -EBADF);
    assert_int_equal(test_count_fds(), before + FX_MSIX_VECTORS + 2);
}

/* MSI: enable and Multiple Message Enable are writable; the address's low
 * bits are not; an interrupt fires the vector's fd, folded to what is enabled. */
static void test_msi_delivery(void **state)
{
    struct irq_fixture *x = *state;
    unsigned m = x->msi;
    uint16_t flags = fx_rd16(x->f, m + PCI_MSI_FLAGS);

    assert_int_equal(flags, 2 << 1 | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
    fx_wr32(x->f, m + PCI_MSI_ADDRESS_LO, 0xffffffff);
    assert_int_equal(fx_rd32(x->f, m + PCI_MSI_ADDRESS_LO), 0xfffffffc);
    fx_wr32(x->f, m + PCI_MSI_DATA_64, 0xffffffff);       /* extended data is RO 0 */
    assert_int_equal(fx_rd32(x->f, m + PCI_MSI_DATA_64), 0xffff);

    set_fds(x, VDEV_PCI_IRQ_MSI, FX_MSI_VECTORS);
    fx_wr16(x->f, m + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | 2 << 4);   /* 4 vectors */
    assert_int_equal(vdev_pci_irq_mode(x->f->pci), VDEV_PCI_IRQ_MSI);
    assert_int_equal(vdev_pci_irq(x->f->pci, 3), 0);
    assert_int_equal(fx_events(x->fd[3]), 1);

    fx_wr16(x->f, m + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | 1 << 4);   /* 2 vectors */
    assert_int_equal(vdev_pci_irq(x->f->pci, 3), 0);
    assert_int_equal(fx_events(x->fd[3]), 0);
    assert_int_equal(fx_events(x->fd[1]), 1);

    /* MSI-X, once enabled, wins. */
    set_fds(x, VDEV_PCI_IRQ_MSIX, 1);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(vdev_pci_irq_mode(x->f->pci), VDEV_PCI_IRQ_MSIX);
}

/* MSI per-vector mask: a masked vector's pending bit (read-only) is set, and
 * clearing the mask fires it and clears the bit. */
static void test_msi_mask_pending(void **state)
{
    struct irq_fixture *x = *state;
    unsigned m = x->msi;

    set_fds(x, VDEV_PCI_IRQ_MSI, FX_MSI_VECTORS);
    fx_wr16(x->f, m + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | 2 << 4);
    fx_wr32(x->f, m + PCI_MSI_MASK_64, 0xffffffff);
    assert_int_equal(fx_rd32(x->f, m + PCI_MSI_MASK_64), 0xf);    /* 4 vectors */
    assert_int_equal(vdev_pci_irq(x->f->pci, 2), 0);
    assert_int_equal(fx_events(x->fd[2]), 0);
    assert_int_equal(fx_rd32(x->f, m + PCI_MSI_PENDING_64), 1u << 2);
    fx_wr32(x->f, m + PCI_MSI_PENDING_64, 0);
    assert_int_equal(fx_rd32(x->f, m + PCI_MSI_PENDING_64), 1u << 2);

    fx_wr32(x->f, m + PCI_MSI_MASK_64, 0x1);
    assert_int_equal(fx_events(x->fd[2]), 1);
    assert_int_equal(fx_rd32(x->f, m + PCI_MSI_PENDING_64), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), 0);           /* still masked */
    assert_int_equal(fx_events(x->fd[0]), 0);
    assert_int_equal(fx_rd32(x->f, m + PCI_MSI_PENDING_64), 1);
}

/* INTx: an interrupt raises the status bit and fires; with Interrupt Disable it
 * only raises the bit, and clearing the disable fires it; deassert clears it. */
static void test_intx(void **state)
{
    struct irq_fixture *x = *state;

    assert_int_equal(vdev_pci_irq_mode(x->f->pci), VDEV_PCI_IRQ_INTX);
    assert_int_equal(vdev_pci_set_irq_fd(x->f->pci, VDEV_PCI_IRQ_INTX, 0, x->fd[0]), 0);
    assert_int_equal(vdev_pci_irq(x->f->pci, 7), 0);
    assert_int_equal(fx_events(x->fd[0]), 1);
    assert_true(fx_rd16(x->f, PCI_STATUS) & PCI_STATUS_INTERRUPT);
    fx_wr16(x->f, PCI_STATUS, 0xffff);                          /* read-only */
    assert_true(fx_rd16(x->f, PCI_STATUS) & PCI_STATUS_INTERRUPT);
    vdev_pci_intx_deassert(x->f->pci);
    assert_false(fx_rd16(x->f, PCI_STATUS) & PCI_STATUS_INTERRUPT);

    fx_wr16(x->f, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), 0);
    assert_int_equal(fx_events(x->fd[0]), 0);
    assert_true(fx_rd16(x->f, PCI_STATUS) & PCI_STATUS_INTERRUPT);
    fx_wr16(x->f, PCI_COMMAND, 0);
    assert_int_equal(fx_events(x->fd[0]), 1);

    /* Deasserted before the disable is cleared: nothing fires. */
    fx_wr16(x->f, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), 0);
    vdev_pci_intx_deassert(x->f->pci);
    fx_wr16(x->f, PCI_COMMAND, 0);
    assert_int_equal(fx_events(x->fd[0]), 0);
}

/* No pin, no MSI, no MSI-X enabled: nowhere to send an interrupt. */
static void test_no_irq_mode(void **state)
{
    struct irq_fixture *x = *state;

    x->f->cfg.interrupt_pin = 0;
    fx_build(x->f);
    assert_int_equal(vdev_pci_irq_mode(x->f->pci), VDEV_PCI_IRQ_NONE);
    assert_int_equal(vdev_pci_irq(x->f->pci, 0), -ENODEV);
    assert_int_equal(vdev_pci_irq_count(x->f->pci, VDEV_PCI_IRQ_INTX), 0);
}

struct storm {
    struct vdev_pci *pci;
    unsigned n;
};

static void *raise_many(void *arg)
{
    struct storm *s = arg;

    for (unsigned i = 0; i < s->n; i++)
        vdev_pci_irq(s->pci, 0);
    return NULL;
}

/* A worker raises interrupts while the driver masks and unmasks the vector:
 * once everything is unmasked, every interrupt was either delivered or is
 * accounted for by a later one (the count of events is at least one, nothing is
 * left pending), whatever the interleaving. */
static void test_msix_concurrent_mask(void **state)
{
    struct irq_fixture *x = *state;
    struct storm s = { x->f->pci, 20000 };
    pthread_t t;

    set_fds(x, VDEV_PCI_IRQ_MSIX, 1);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(pthread_create(&t, NULL, raise_many, &s), 0);
    for (unsigned i = 0; i < 2000; i++) {
        table_wr(x, MSIX_CTRL(0), i & 1);
        msix_enable(x, PCI_MSIX_FLAGS_ENABLE | (i & 2 ? PCI_MSIX_FLAGS_MASKALL : 0));
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    table_wr(x, MSIX_CTRL(0), 0);
    msix_enable(x, PCI_MSIX_FLAGS_ENABLE);
    assert_int_equal(pba(x), 0);
    assert_true(fx_events(x->fd[0]) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_msix_capability, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_table_registers, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_bad_bar_access, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_delivery, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_table_never_written, irq_setup,
                                        irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_mask_pending_unmask, irq_setup,
                                        irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_function_mask, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_enable_delivers_pending, irq_setup,
                                        irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_no_fd, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_irq_fd_copies, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msi_delivery, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msi_mask_pending, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_intx, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_no_irq_mode, irq_setup, irq_teardown),
        cmocka_unit_test_setup_teardown(test_msix_concurrent_mask, irq_setup, irq_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
