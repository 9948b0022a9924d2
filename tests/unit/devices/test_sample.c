/* The sample PCI device (dev_sample.h), driven as a transport drives it:
 * config space through pci.h, BAR 0 through vdev_pci_bar_access and then
 * vdev_sample_bar_access; guest memory is a memfd in a vdev_mem, interrupts
 * come on a real eventfd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "helpers.h"
#include "vdev/dev_sample.h"
#include "vdev/mem.h"
#include "vdev/pci.h"

#define MEM_SIZE   0x10000u
#define RW_GPA     0x100000u            /* the memfd, read-write */
#define RO_GPA     0x200000u            /* the same memfd again, read-only */
#define SRC        (RW_GPA + 0x1000u)
#define DST        (RW_GPA + 0x8000u)

struct fixture {
    int fds_before;
    int memfd;
    uint8_t *host;                      /* the memfd, as the guest sees it */
    struct vdev_mem *mem;
    bool no_mem;                        /* dma_mem answers NULL */
    struct vdev_sample *dev;
    int irq_fd;
};

static struct vdev_mem *fixture_mem(void *opaque)
{
    struct fixture *f = opaque;

    return f->no_mem ? NULL : f->mem;
}

static struct vdev_sample *new_device(struct fixture *f)
{
    struct vdev_sample_config c = { .dma_mem = fixture_mem, .opaque = f };
    struct vdev_sample *d = NULL;

    assert_int_equal(vdev_sample_new(&c, &d), 0);
    return d;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct vdev_mem_region rw = { .gpa = RW_GPA, .size = MEM_SIZE, .access = VDEV_MEM_RW };
    struct vdev_mem_region ro = { .gpa = RO_GPA, .size = MEM_SIZE, .access = VDEV_MEM_READ };

    assert_non_null(f);
    f->fds_before = test_count_fds();
    f->memfd = test_memfd("sample-guest", MEM_SIZE);
    f->host = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
    assert_true(f->host != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&f->mem), 0);
    rw.fd = ro.fd = f->memfd;
    assert_int_equal(vdev_mem_add(f->mem, &rw), 0);
    assert_int_equal(vdev_mem_add(f->mem, &ro), 0);
    f->dev = new_device(f);
    f->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(f->irq_fd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    vdev_sample_free(f->dev);
    vdev_mem_free(f->mem);
    munmap(f->host, MEM_SIZE);
    close(f->memfd);
    close(f->irq_fd);
    assert_no_fd_leak(f->fds_before);
    free(f);
    return 0;
}

/* --- the driver's side ------------------------------------------------------- */

/* A BAR 0 access as the transport routes it: MSI-X first, then the device. */
static int bar_rw(struct vdev_sample *d, uint64_t off, void *buf, uint32_t len, bool write)
{
    int ret = vdev_pci_bar_access(vdev_sample_pci(d), VDEV_SAMPLE_BAR, off, buf, len, write);

    if (ret != 0)
        return ret < 0 ? ret : 0;
    return vdev_sample_bar_access(d, VDEV_SAMPLE_BAR, off, buf, len, write);
}

static uint32_t rd32(struct vdev_sample *d, uint64_t off)
{
    uint32_t v = 0xdeadbeef;

    assert_int_equal(bar_rw(d, off, &v, 4, false), 0);
    return v;
}

static void wr32(struct vdev_sample *d, uint64_t off, uint32_t v)
{
    assert_int_equal(bar_rw(d, off, &v, 4, true), 0);
}

static void wr64(struct vdev_sample *d, uint64_t off, uint64_t v)
{
    assert_int_equal(bar_rw(d, off, &v, 8, true), 0);
}

static void start_copy(struct vdev_sample *d, uint64_t src, uint64_t dst, uint32_t len)
{
    wr64(d, VDEV_SAMPLE_REG_SRC, src);
    wr64(d, VDEV_SAMPLE_REG_DST, dst);
    wr32(d, VDEV_SAMPLE_REG_LEN, len);
    wr32(d, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
}

static uint8_t *at(struct fixture *f, uint64_t gpa)
{
    return f->host + (gpa - RW_GPA);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static uint64_t irq_events(int fd)
{
    eventfd_t n = 0;

    if (eventfd_read(fd, &n) < 0)
        return 0;
    return n;
}

/* MSI-X on in the capability's Message Control, with the eventfd on vector 0.
 * The table's vector stays masked, as reset leaves it (6.8.2.9). */
static void enable_msix(struct fixture *f)
{
    struct vdev_pci *pci = vdev_sample_pci(f->dev);
    unsigned cap = vdev_pci_find_cap(pci, PCI_CAP_ID_MSIX, 0);
    uint16_t ctrl;

    assert_int_not_equal(cap, 0);
    assert_int_equal(vdev_pci_config_read(pci, cap + PCI_MSIX_FLAGS, &ctrl, 2), 0);
    ctrl |= PCI_MSIX_FLAGS_ENABLE;
    assert_int_equal(vdev_pci_config_write(pci, cap + PCI_MSIX_FLAGS, &ctrl, 2), 0);
    assert_int_equal(vdev_pci_set_irq_fd(pci, VDEV_PCI_IRQ_MSIX, 0, f->irq_fd), 0);
}

static void unmask_vector0(struct fixture *f)
{
    wr32(f->dev, VDEV_SAMPLE_MSIX_OFF + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

/* --- tests ------------------------------------------------------------------- */

/* The function says who it is in config space and in its ID registers, which
 * ignore writes. */
static void test_sample_identity(void **state)
{
    struct fixture *f = *state;
    struct vdev_pci *pci = vdev_sample_pci(f->dev);
    uint16_t vendor, device;
    uint32_t class_rev;
    bool is_io = true;

    assert_int_equal(vdev_pci_config_read(pci, PCI_VENDOR_ID, &vendor, 2), 0);
    assert_int_equal(vdev_pci_config_read(pci, PCI_DEVICE_ID, &device, 2), 0);
    assert_int_equal(vdev_pci_config_read(pci, PCI_CLASS_REVISION, &class_rev, 4), 0);
    assert_int_equal(vendor, VDEV_SAMPLE_VENDOR_ID);
    assert_int_equal(device, VDEV_SAMPLE_DEVICE_ID);
    assert_int_equal(class_rev >> 8, VDEV_SAMPLE_CLASS);
    assert_int_equal(vdev_pci_bar_size(pci, 0, &is_io), VDEV_SAMPLE_BAR_SIZE);
    assert_false(is_io);
    assert_int_equal(vdev_pci_irq_count(pci, VDEV_PCI_IRQ_MSIX), 1);

    wr32(f->dev, VDEV_SAMPLE_REG_ID, 0);
    wr32(f->dev, VDEV_SAMPLE_REG_VERSION, 0);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_ID), VDEV_SAMPLE_ID);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_VERSION), VDEV_SAMPLE_VERSION);
}

/* A copy lands at DST, sets DONE; DONE and ERROR are write-1-to-clear, one at a
 * time. */
static void test_sample_copy_lands(void **state)
{
    struct fixture *f = *state;
    uint8_t want[3000];

    fill(at(f, SRC), sizeof(want), 3);
    memcpy(want, at(f, SRC), sizeof(want));
    memset(at(f, DST), 0, sizeof(want) + 1);

    start_copy(f->dev, SRC, DST, sizeof(want));
    assert_memory_equal(at(f, DST), want, sizeof(want));
    assert_int_equal(at(f, DST)[sizeof(want)], 0);          /* not a byte more */
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_ERRNO), 0);

    wr32(f->dev, VDEV_SAMPLE_REG_STATUS, VDEV_SAMPLE_STATUS_ERROR);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
    wr32(f->dev, VDEV_SAMPLE_REG_STATUS, VDEV_SAMPLE_STATUS_DONE);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), 0);
    wr32(f->dev, VDEV_SAMPLE_REG_CMD, 2);                    /* not a command */
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), 0);
}

/* Overlapping ranges copy as memmove does. */
static void test_sample_copy_overlap(void **state)
{
    struct fixture *f = *state;
    uint8_t want[100];

    fill(at(f, SRC), sizeof(want), 9);
    memcpy(want, at(f, SRC), sizeof(want));
    start_copy(f->dev, SRC, SRC + 10, sizeof(want));
    assert_memory_equal(at(f, SRC + 10), want, sizeof(want));
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
}

/* SRC and DST are 64-bit: written whole, read back in halves, and a half
 * written alone leaves the other. */
static void test_sample_regs_64(void **state)
{
    struct fixture *f = *state;
    uint64_t back = 0;

    wr64(f->dev, VDEV_SAMPLE_REG_SRC, 0x1122334455667788ull);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_SRC), 0x55667788u);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_SRC + 4), 0x11223344u);
    wr32(f->dev, VDEV_SAMPLE_REG_DST + 4, 0xaabbccddu);
    wr32(f->dev, VDEV_SAMPLE_REG_DST, 0x01020304u);
    assert_int_equal(bar_rw(f->dev, VDEV_SAMPLE_REG_DST, &back, 8, false), 0);
    assert_true(back == 0xaabbccdd01020304ull);
}

/* Completion raises vector 0: held pending while the table masks it, sent
 * when the driver unmasks it, and sent at once after that. */
static void test_sample_msix(void **state)
{
    struct fixture *f = *state;
    uint8_t pba;

    fill(at(f, SRC), 64, 1);
    enable_msix(f);
    wr32(f->dev, VDEV_SAMPLE_MSIX_OFF + PCI_MSIX_ENTRY_VECTOR_CTRL, 1);   /* mask */
    start_copy(f->dev, SRC, DST, 64);
    assert_int_equal(irq_events(f->irq_fd), 0);
    assert_int_equal(vdev_pci_bar_access(vdev_sample_pci(f->dev), 0, VDEV_SAMPLE_PBA_OFF,
                                         &pba, 1, false), -EINVAL);   /* 1 byte: no */
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_PBA_OFF) & 1, 1);

    unmask_vector0(f);
    assert_int_equal(irq_events(f->irq_fd), 1);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_PBA_OFF) & 1, 0);

    start_copy(f->dev, SRC, DST, 64);
    assert_int_equal(irq_events(f->irq_fd), 1);
}

/* Every bad copy sets ERROR with its reason, writes nothing, and still
 * interrupts: the driver is waiting. */
static void test_sample_bad_copies(void **state)
{
    struct fixture *f = *state;
    static const struct {
        uint64_t src, dst;
        uint32_t len;
        uint32_t err;
    } cases[] = {
        { 0x5000, DST, 16, EFAULT },                            /* SRC not mapped */
        { SRC, 0x5000, 16, EFAULT },                            /* DST not mapped */
        { RW_GPA + MEM_SIZE - 8, DST, 16, EFAULT },             /* SRC runs off */
        { SRC, RW_GPA + MEM_SIZE - 8, 16, EFAULT },             /* DST runs off */
        { UINT64_MAX - 3, DST, 16, EFAULT },                    /* SRC wraps */
        { SRC, RO_GPA + 0x100, 16, EACCES },                    /* DST read-only */
        { SRC, DST, 0, EINVAL },
        { SRC, DST, VDEV_SAMPLE_MAX_LEN + 1, EINVAL },
    };
    uint8_t before[MEM_SIZE];

    enable_msix(f);
    unmask_vector0(f);
    fill(f->host, MEM_SIZE, 5);
    memcpy(before, f->host, MEM_SIZE);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        start_copy(f->dev, cases[i].src, cases[i].dst, cases[i].len);
        assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_ERROR);
        assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_ERRNO), cases[i].err);
        assert_int_equal(irq_events(f->irq_fd), 1);
        assert_memory_equal(f->host, before, MEM_SIZE);
        wr32(f->dev, VDEV_SAMPLE_REG_STATUS, VDEV_SAMPLE_STATUS_ERROR);
    }
    /* The read-only window reads fine: a copy from it lands. */
    start_copy(f->dev, RO_GPA + 0x100, DST, 16);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
    assert_memory_equal(at(f, DST), at(f, RW_GPA + 0x100), 16);
}

/* Without guest memory (no client mapped any) a copy fails with ENODEV. */
static void test_sample_no_memory(void **state)
{
    struct fixture *f = *state;

    f->no_mem = true;
    start_copy(f->dev, SRC, DST, 16);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_ERROR);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_ERRNO), ENODEV);
}

/* Accesses of a size, alignment or place the registers do not take are
 * refused and change nothing. */
static void test_sample_bad_access(void **state)
{
    struct fixture *f = *state;
    uint64_t v = 0x1234;

    wr32(f->dev, VDEV_SAMPLE_REG_LEN, 77);
    assert_int_equal(vdev_sample_bar_access(f->dev, 0, VDEV_SAMPLE_REG_LEN, &v, 2, true),
                     -EINVAL);
    assert_int_equal(vdev_sample_bar_access(f->dev, 0, VDEV_SAMPLE_REG_LEN + 1, &v, 4,
                                            true), -EINVAL);
    assert_int_equal(vdev_sample_bar_access(f->dev, 0, VDEV_SAMPLE_REG_LEN, &v, 8, true),
                     -EINVAL);
    assert_int_equal(vdev_sample_bar_access(f->dev, 1, VDEV_SAMPLE_REG_LEN, &v, 4, true),
                     -EINVAL);
    assert_int_equal(vdev_sample_bar_access(f->dev, 0, VDEV_SAMPLE_BAR_SIZE, &v, 4, true),
                     -EINVAL);
    assert_int_equal(vdev_sample_bar_access(f->dev, 0, UINT64_MAX - 1, &v, 4, false),
                     -EINVAL);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_LEN), 77);
    assert_int_equal(rd32(f->dev, 0x7fc), 0);                /* not a register */
}

/* A reset of the function clears the registers and turns MSI-X off. */
static void test_sample_reset(void **state)
{
    struct fixture *f = *state;
    struct vdev_pci *pci = vdev_sample_pci(f->dev);

    enable_msix(f);
    start_copy(f->dev, 0x5000, DST, 16);                    /* ERROR, ERRNO */
    assert_int_equal(vdev_pci_irq_mode(pci), VDEV_PCI_IRQ_MSIX);

    vdev_pci_reset(pci);
    for (uint32_t off = VDEV_SAMPLE_REG_SRC; off <= VDEV_SAMPLE_REG_ERRNO; off += 4)
        assert_int_equal(rd32(f->dev, off), 0);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_ID), VDEV_SAMPLE_ID);
    assert_int_equal(vdev_pci_irq_mode(pci), VDEV_PCI_IRQ_NONE);
}

static void program(struct vdev_sample *d)
{
    wr64(d, VDEV_SAMPLE_REG_SRC, SRC);
    wr64(d, VDEV_SAMPLE_REG_DST, DST);
    wr32(d, VDEV_SAMPLE_REG_LEN, 256);
}

/* The registers survive save and load into a new device, which then runs the
 * copy they describe. */
static void test_sample_migrate(void **state)
{
    struct fixture *f = *state;
    uint8_t stream[VDEV_SAMPLE_STATE_SIZE + 8];
    struct vdev_sample *dst_dev = new_device(f);
    size_t len = 0;

    program(f->dev);
    start_copy(f->dev, 0x5000, DST, 256);                   /* ERROR, EFAULT */
    wr64(f->dev, VDEV_SAMPLE_REG_SRC, SRC);
    assert_int_equal(vdev_sample_save(f->dev, stream, sizeof(stream), &len), 0);
    assert_int_equal(len, VDEV_SAMPLE_STATE_SIZE);
    assert_int_equal(vdev_sample_load(dst_dev, stream, len), 0);

    for (uint32_t off = VDEV_SAMPLE_REG_SRC; off <= VDEV_SAMPLE_REG_ERRNO; off += 4)
        assert_int_equal(rd32(dst_dev, off), rd32(f->dev, off));
    assert_int_equal(rd32(dst_dev, VDEV_SAMPLE_REG_ERRNO), EFAULT);

    fill(at(f, SRC), 256, 11);
    wr32(dst_dev, VDEV_SAMPLE_REG_STATUS, VDEV_SAMPLE_STATUS_ERROR);
    wr32(dst_dev, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
    assert_int_equal(rd32(dst_dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
    assert_memory_equal(at(f, DST), at(f, SRC), 256);
    vdev_sample_free(dst_dev);
}

/* A device stopped for migration drops a copy command: no DMA, no interrupt,
 * no status; running again, it copies. */
static void test_sample_stopped(void **state)
{
    struct fixture *f = *state;

    enable_msix(f);
    unmask_vector0(f);
    fill(at(f, SRC), 32, 2);
    memset(at(f, DST), 0, 32);
    vdev_sample_set_running(f->dev, false);
    start_copy(f->dev, SRC, DST, 32);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), 0);
    assert_int_equal(at(f, DST)[0], 0);
    assert_int_equal(irq_events(f->irq_fd), 0);

    vdev_sample_set_running(f->dev, true);
    wr32(f->dev, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
    assert_memory_equal(at(f, DST), at(f, SRC), 32);
    assert_int_equal(irq_events(f->irq_fd), 1);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* load refuses a stream that is short, long, of another device or version, or
 * that says BUSY, and then the device is as it was; save needs the room. */
static void test_sample_load_rejects(void **state)
{
    struct fixture *f = *state;
    uint8_t good[VDEV_SAMPLE_STATE_SIZE + 1] = { 0 }, bad[sizeof(good)];
    uint8_t before[VDEV_SAMPLE_STATE_SIZE], after[VDEV_SAMPLE_STATE_SIZE];
    size_t len;

    program(f->dev);
    assert_int_equal(vdev_sample_save(f->dev, good, VDEV_SAMPLE_STATE_SIZE - 1, &len),
                     -ENOSPC);
    assert_int_equal(vdev_sample_save(f->dev, good, sizeof(good), &len), 0);
    assert_int_equal(vdev_sample_save(f->dev, before, sizeof(before), &len), 0);

    /* Another device's registers, so a load that slipped through would show. */
    wr64(f->dev, VDEV_SAMPLE_REG_SRC, 0xabc);
    assert_int_equal(vdev_sample_save(f->dev, before, sizeof(before), &len), 0);

    assert_int_equal(vdev_sample_load(f->dev, good, 0), -EBADMSG);
    assert_int_equal(vdev_sample_load(f->dev, good, 11), -EBADMSG);
    assert_int_equal(vdev_sample_load(f->dev, good, VDEV_SAMPLE_STATE_SIZE - 1), -EBADMSG);
    assert_int_equal(vdev_sample_load(f->dev, good, VDEV_SAMPLE_STATE_SIZE + 1), -EBADMSG);

    memcpy(bad, good, sizeof(bad));
    bad[0] ^= 1;                                             /* magic */
    assert_int_equal(vdev_sample_load(f->dev, bad, VDEV_SAMPLE_STATE_SIZE), -EBADMSG);

    memcpy(bad, good, sizeof(bad));
    put_le32(bad + 4, 2);                                    /* version */
    assert_int_equal(vdev_sample_load(f->dev, bad, VDEV_SAMPLE_STATE_SIZE),
                     -EPROTONOSUPPORT);

    memcpy(bad, good, sizeof(bad));
    put_le32(bad + 8, 29);                                   /* payload length */
    assert_int_equal(vdev_sample_load(f->dev, bad, VDEV_SAMPLE_STATE_SIZE + 1), -EBADMSG);
    put_le32(bad + 8, 0xffffffffu);
    assert_int_equal(vdev_sample_load(f->dev, bad, VDEV_SAMPLE_STATE_SIZE), -EBADMSG);

    memcpy(bad, good, sizeof(bad));
    put_le32(bad + 32, VDEV_SAMPLE_STATUS_BUSY);             /* STATUS */
    assert_int_equal(vdev_sample_load(f->dev, bad, VDEV_SAMPLE_STATE_SIZE), -EBADMSG);

    assert_int_equal(vdev_sample_save(f->dev, after, sizeof(after), &len), 0);
    assert_memory_equal(after, before, sizeof(before));
    assert_int_equal(vdev_sample_load(f->dev, good, VDEV_SAMPLE_STATE_SIZE), 0);
    assert_int_equal(rd32(f->dev, VDEV_SAMPLE_REG_SRC), (uint32_t)SRC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sample_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_copy_lands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_copy_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_regs_64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_msix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_bad_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_no_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_bad_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_load_rejects, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
