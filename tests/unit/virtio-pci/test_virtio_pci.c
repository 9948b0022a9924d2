/* test_virtio_pci.c — the virtio-pci transport driven the way Linux's
 * virtio_pci_modern drives it (vp_driver.c), by direct calls: the function's
 * identity and capabilities, feature negotiation, queues set up through the
 * common configuration, echo requests on both ring layouts with MSI-X
 * interrupts, vector masking with the pending bit, INTx with the ISR, a reset
 * in the middle of I/O, a memory change with the rings carried over, the PCI
 * configuration access window, virtio-blk, and the wrong accesses. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "helpers.h"
#include "vdev/dev_echo.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/mem.h"
#include "vdev/pci.h"
#include "vdev/virtio_pci.h"
#include "vdev/virtq_driver.h"
#include "vdev/workers.h"
#include "vp_driver.h"

#define GPA       0x100100000ull    /* above 4 GiB: both address halves count */
#define MEM_SIZE  (4ull << 20)
#define BUF_GPA   (GPA + (1ull << 20))      /* request buffers from here */
#define QUEUES    2
#define WAIT_MS   5000

struct t {
    int fds_before;
    int memfd;
    uint8_t *guest;
    struct vdev_mem *mem;
    struct vdev_workers *workers;
    struct vdev_virtio_dev *dev;
    bool blk;
    struct vdev_virtio_pci *vp;
    int irq[QUEUES + 2];                    /* MSI-X vectors, then INTx */
    struct vpd d;
};

static int ops_cfg(void *o, uint64_t off, void *buf, size_t len, bool write)
{
    return vdev_virtio_pci_config_access(((struct t *)o)->vp, off, buf, len, write);
}

static int ops_bar(void *o, unsigned bar, uint64_t off, void *buf, size_t len, bool write)
{
    return vdev_virtio_pci_bar_access(((struct t *)o)->vp, bar, off, buf, len, write);
}

static int ops_irq_fd(void *o, int v)
{
    struct t *t = o;

    return v < 0 ? t->irq[QUEUES + 1] : t->irq[v];
}

static const struct vpd_ops direct = { ops_cfg, ops_bar, ops_irq_fd };

static void *gp(struct t *t, uint64_t gpa)
{
    return t->guest + (gpa - GPA);
}

static struct t *setup_dev(bool hold, bool blk)
{
    struct t *t = calloc(1, sizeof(*t));
    struct vdev_workers_config wc = { .threads = 2, .name = "vpt" };
    struct vdev_mem_region r = { .gpa = GPA, .size = MEM_SIZE,
                                 .access = VDEV_MEM_READ | VDEV_MEM_WRITE };
    struct vdev_virtio_pci_config vc;
    struct vdev_pci *pci;

    assert_non_null(t);
    alarm(60);
    t->fds_before = test_count_fds();
    t->memfd = test_memfd("vpt-guest", MEM_SIZE);
    t->guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
    assert_true(t->guest != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&t->mem), 0);
    r.fd = t->memfd;
    assert_int_equal(vdev_mem_add(t->mem, &r), 0);
    assert_int_equal(vdev_workers_new(&wc, &t->workers), 0);
    t->blk = blk;
    if (blk) {
        struct vdev_virtio_blk_config bc = { .backend = "null:size=16M",
                                             .num_queues = QUEUES };
        assert_int_equal(vdev_virtio_blk_new(&bc, &t->dev), 0);
    } else {
        struct vdev_echo_config ec = { .num_queues = QUEUES, .hold = hold };
        assert_int_equal(vdev_echo_new(&ec, &t->dev), 0);
    }
    vc = (struct vdev_virtio_pci_config){ .dev = t->dev, .workers = t->workers,
                                          .mem = t->mem };
    assert_int_equal(vdev_virtio_pci_new(&vc, &t->vp), 0);
    pci = vdev_virtio_pci_function(t->vp);
    for (unsigned i = 0; i < QUEUES + 2; i++) {
        t->irq[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(t->irq[i] >= 0);
        if (i <= QUEUES)
            assert_int_equal(vdev_pci_set_irq_fd(pci, VDEV_PCI_IRQ_MSIX, i, t->irq[i]), 0);
    }
    assert_int_equal(vdev_pci_set_irq_fd(pci, VDEV_PCI_IRQ_INTX, 0, t->irq[QUEUES + 1]), 0);
    vpd_probe(&t->d, &direct, t);
    return t;
}

static int setup(void **state)      { *state = setup_dev(false, false); return 0; }
static int setup_hold(void **state) { *state = setup_dev(true, false); return 0; }
static int setup_blk(void **state)  { *state = setup_dev(false, true); return 0; }

static int teardown(void **state)
{
    struct t *t = *state;

    vdev_virtio_pci_free(t->vp);
    vpd_queues_free(&t->d);
    if (t->blk)
        vdev_virtio_blk_free(t->dev);
    else
        vdev_echo_free(t->dev);
    vdev_workers_free(t->workers);
    vdev_mem_free(t->mem);
    munmap(t->guest, MEM_SIZE);
    close(t->memfd);
    for (unsigned i = 0; i < QUEUES + 2; i++)
        close(t->irq[i]);
    assert_no_fd_leak(t->fds_before);
    alarm(0);
    free(t);
    return 0;
}

/* Linux's order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, MSI-X,
 * queues, DRIVER_OK. Queue n's vector is n + 1 (0 is for configuration). */
static void bring_up(struct t *t, bool packed, bool msix)
{
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
                    (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_FLUSH) |
                    (packed ? 1ull << VIRTIO_F_RING_PACKED : 0);

    vpd_reset(&t->d);
    assert_true(vpd_negotiate(&t->d, want));
    assert_int_equal(!!(t->d.features & (1ull << VIRTIO_F_RING_PACKED)), packed);
    vpd_msix_enable(&t->d, msix);
    for (uint16_t q = 0; q < QUEUES; q++)
        vpd_queue_setup(&t->d, q, 64, t->mem, GPA + q * 0x10000ull,
                        msix ? (uint16_t)(q + 1) : VIRTIO_MSI_NO_VECTOR);
    vpd_driver_ok(&t->d);
}

/* An echo request on queue q; returns its id. Payload at BUF_GPA + slot * 8 KiB,
 * reply right after. */
static uint16_t echo_submit(struct t *t, uint16_t q, unsigned slot, uint32_t len)
{
    uint64_t gpa = BUF_GPA + slot * 8192ull;
    struct vdev_vqd_buf out = { gpa, len }, in = { gpa + 4096, len + VDEV_ECHO_HDR_SIZE };
    uint8_t *p = gp(t, gpa);
    uint16_t id;

    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(slot * 7 + i);
    assert_int_equal(vdev_vqd_add(t->d.q[q].drv, &out, 1, &in, 1, false, &id), 0);
    return id;
}

static void echo_check(struct t *t, unsigned slot, uint32_t len, uint32_t used)
{
    uint64_t gpa = BUF_GPA + slot * 8192ull;
    uint32_t hdr[2];

    assert_int_equal(used, len + VDEV_ECHO_HDR_SIZE);
    memcpy(hdr, gp(t, gpa + 4096), sizeof(hdr));
    assert_int_equal(le32toh(hdr[1]), len);
    assert_memory_equal(gp(t, gpa + 4096 + VDEV_ECHO_HDR_SIZE), gp(t, gpa), len);
}

/* Reaps one used buffer from q, waiting on interrupt vector v. */
static void reap_one(struct t *t, uint16_t q, int v, uint16_t *id, uint32_t *len)
{
    for (int tries = 0; tries < 100; tries++) {
        if (vdev_vqd_get_used(t->d.q[q].drv, id, len) == 1)
            return;
        assert_true(vpd_wait_irq(&t->d, v, WAIT_MS));
    }
    fail_msg("queue %u: nothing used", q);
}

static void echo_round(struct t *t, unsigned n, bool use_ioeventfd)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t q = (uint16_t)(i % QUEUES), id, rid;
        uint32_t len = 1 + (i * 37) % 1500, used;

        id = echo_submit(t, q, i, len);
        if (use_ioeventfd) {
            uint64_t one = 1;
            if (vdev_vqd_kick_prepare(t->d.q[q].drv))
                assert_int_equal(write(vdev_virtio_pci_notify_fd(t->vp, q), &one, 8), 8);
        } else {
            vpd_notify(&t->d, q);
        }
        reap_one(t, q, q + 1, &rid, &used);
        assert_int_equal(rid, id);
        echo_check(t, i, len, used);
    }
}

/* --- tests ------------------------------------------------------------------ */

/* 4.1.2: IDs and revision; 4.1.4: every structure in BAR 0 where the
 * capabilities say, the notify multiplier, one MSI-X vector per queue plus
 * configuration. */
static void test_identity(void **state)
{
    struct t *t = *state;
    struct vpd *d = &t->d;

    assert_int_equal(vpd_cfg_read(d, PCI_DEVICE_ID, 2), 0x10f0);   /* a test device */
    assert_int_equal(vpd_cfg_read(d, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
    assert_int_equal(d->common.bar, 0);
    assert_int_equal(d->common.off, VDEV_VIRTIO_PCI_COMMON_OFF);
    assert_int_equal(d->isr.off, VDEV_VIRTIO_PCI_ISR_OFF);
    assert_int_equal(d->device.off, VDEV_VIRTIO_PCI_DEVICE_OFF);
    assert_int_equal(d->notify.off, VDEV_VIRTIO_PCI_NOTIFY_OFF);
    assert_int_equal(d->notify_mult, VDEV_VIRTIO_PCI_NOTIFY_MULT);
    assert_true(d->cfgwin.at != 0);
    assert_int_equal(d->msix_vectors, QUEUES + 1);
    assert_int_equal(d->nq, QUEUES);
    /* BAR 0 is 64-bit memory: sizing reads back the size. */
    vpd_cfg_write(d, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    assert_int_equal(vpd_cfg_read(d, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_MEM_MASK,
                     (uint32_t)~(VDEV_VIRTIO_PCI_BAR_SIZE - 1));
    assert_int_equal(vpd_cfg_read(d, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_MEM_TYPE_MASK,
                     PCI_BASE_ADDRESS_MEM_TYPE_64);
}

static void test_echo_split(void **state)
{
    struct t *t = *state;

    bring_up(t, false, true);
    echo_round(t, 64, false);
    echo_round(t, 64, true);
}

static void test_echo_packed(void **state)
{
    struct t *t = *state;

    bring_up(t, true, true);
    echo_round(t, 100, false);
    echo_round(t, 30, true);
}

/* Configuration space reads through the device structure. */
static void test_device_config(void **state)
{
    struct t *t = *state;
    uint32_t magic = 0;

    bring_up(t, false, true);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VDEV_VIRTIO_PCI_DEVICE_OFF +
                                                VDEV_ECHO_CFG_MAGIC, &magic, 4, false), 0);
    assert_int_equal(le32toh(magic), VDEV_ECHO_MAGIC);
}

/* A masked vector does not fire; its pending bit is set, and unmasking fires
 * it (PCI 6.8.2.9). */
static void test_msix_mask(void **state)
{
    struct t *t = *state;
    uint16_t id, rid;
    uint32_t used;

    bring_up(t, false, true);
    vpd_msix_mask(&t->d, 1, true);
    id = echo_submit(t, 0, 0, 100);
    vpd_notify(&t->d, 0);
    for (int i = 0; i < 10000 && !vpd_msix_pending(&t->d, 1); i++)
        usleep(1000);
    assert_true(vpd_msix_pending(&t->d, 1));
    assert_false(vpd_wait_irq(&t->d, 1, 0));
    vpd_msix_mask(&t->d, 1, false);
    assert_true(vpd_wait_irq(&t->d, 1, WAIT_MS));
    assert_false(vpd_msix_pending(&t->d, 1));
    assert_int_equal(vdev_vqd_get_used(t->d.q[0].drv, &rid, &used), 1);
    assert_int_equal(rid, id);
}

/* Without MSI-X: INTx and ISR bit 0; reading the ISR clears it (4.1.4.5). */
static void test_intx(void **state)
{
    struct t *t = *state;
    uint16_t id, rid;
    uint32_t used;
    uint8_t isr = 0;

    bring_up(t, false, false);
    id = echo_submit(t, 1, 0, 10);
    vpd_notify(&t->d, 1);
    assert_true(vpd_wait_irq(&t->d, -1, WAIT_MS));
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VDEV_VIRTIO_PCI_ISR_OFF, &isr, 1,
                                                false), 0);
    assert_int_equal(isr, 1);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VDEV_VIRTIO_PCI_ISR_OFF, &isr, 1,
                                                false), 0);
    assert_int_equal(isr, 0);
    assert_int_equal(vdev_vqd_get_used(t->d.q[1].drv, &rid, &used), 1);
    assert_int_equal(rid, id);
}

/* FEATURES_OK is refused without VERSION_1 and for bits never offered. */
static void test_features_refused(void **state)
{
    struct t *t = *state;
    struct vpd *d = &t->d;

    vpd_reset(d);
    assert_false(vpd_negotiate(d, 1ull << VIRTIO_RING_F_EVENT_IDX));
    vpd_reset(d);
    vpd_common_write(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
                     VIRTIO_CONFIG_S_DRIVER, 1);
    vpd_common_write(d, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    vpd_common_write(d, VIRTIO_PCI_COMMON_GF, 1 | (1u << 30), 4);   /* VERSION_1, bit 62 */
    vpd_common_write(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
                     VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, 1);
    assert_false(vpd_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1) &
                 VIRTIO_CONFIG_S_FEATURES_OK);
    /* DRIVER_OK without FEATURES_OK does not take. */
    vpd_common_write(d, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
                     VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK, 1);
    assert_false(vpd_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1) &
                 VIRTIO_CONFIG_S_DRIVER_OK);
}

/* A reset while requests are in flight stops the queues and puts every queue
 * register back (4.1.4.3.1); the driver brings the device up again. */
static void test_reset_mid_io(void **state)
{
    struct t *t = *state;
    struct vpd *d = &t->d;

    bring_up(t, false, true);
    for (unsigned i = 0; i < 8; i++)
        echo_submit(t, (uint16_t)(i % QUEUES), i, 64);
    vpd_notify(d, 0);
    vpd_notify(d, 1);
    for (int i = 0; i < 10000 && vdev_echo_held(t->dev) < 8; i++)
        usleep(1000);
    assert_int_equal(vdev_echo_held(t->dev), 8);
    vpd_reset(d);
    assert_int_equal(vdev_echo_held(t->dev), 0);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
    vpd_queues_free(d);
    memset(t->guest, 0, 0x20000);           /* fresh rings */
    bring_up(t, false, true);
    assert_int_equal(vdev_echo_release(t->dev, 1000), 0);
    echo_round(t, 16, false);
}

/* A memory change in the middle: the rings stop and start where they were. */
static void test_quiesce_resume(void **state)
{
    struct t *t = *state;

    bring_up(t, true, true);
    echo_round(t, 20, false);
    vdev_virtio_pci_quiesce(t->vp);
    vdev_virtio_pci_resume(t->vp);
    echo_round(t, 20, true);
}

/* 4.1.4.9: the PCI configuration access window reads and writes BAR 0. */
static void test_cfg_window(void **state)
{
    struct t *t = *state;
    struct vpd *d = &t->d;
    unsigned at = d->cfgwin.at;

    vpd_cfg_write(d, at + offsetof(struct virtio_pci_cap, bar), 0, 1);
    vpd_cfg_write(d, at + offsetof(struct virtio_pci_cap, offset),
                  VDEV_VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ, 4);
    vpd_cfg_write(d, at + offsetof(struct virtio_pci_cap, length), 2, 4);
    assert_int_equal(vpd_cfg_read(d, at + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 4)
                     & 0xffff, QUEUES);
    /* A write through the window: queue_select. */
    vpd_cfg_write(d, at + offsetof(struct virtio_pci_cap, offset),
                  VDEV_VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_SELECT, 4);
    vpd_cfg_write(d, at + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 1, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
    /* A length of 3 does nothing. */
    vpd_cfg_write(d, at + offsetof(struct virtio_pci_cap, length), 3, 4);
    vpd_cfg_write(d, at + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data), 0, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
}

/* VIRTIO_F_RING_RESET (4.1.4.3.2): one queue reset while the other serves on;
 * it reads back done (queue_reset and queue_enable 0, registers at reset), and
 * the driver sets it up again on new rings. Without the feature, nothing. */
static void test_queue_reset(void **state)
{
    struct t *t = *state;
    struct vpd *d = &t->d;
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_RESET);

    vpd_reset(d);
    assert_true(vpd_negotiate(d, want & ~(1ull << VIRTIO_F_RING_RESET)));
    vpd_msix_enable(d, true);
    for (uint16_t q = 0; q < QUEUES; q++)
        vpd_queue_setup(d, q, 64, t->mem, GPA + q * 0x10000ull, (uint16_t)(q + 1));
    vpd_driver_ok(d);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_RESET, 1, 2);        /* not negotiated */
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    echo_round(t, 4, false);

    vpd_queues_free(d);
    memset(t->guest, 0, 0x40000);
    vpd_reset(d);
    assert_true(vpd_negotiate(d, want));
    assert_true(d->features & (1ull << VIRTIO_F_RING_RESET));
    vpd_msix_enable(d, true);
    for (uint16_t q = 0; q < QUEUES; q++)
        vpd_queue_setup(d, q, 64, t->mem, GPA + q * 0x10000ull, (uint16_t)(q + 1));
    vpd_driver_ok(d);
    echo_round(t, 4, false);

    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_RESET, 1, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_RESET, 2), 0);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0);
    {                                               /* queue 0 serves on */
        uint16_t id = echo_submit(t, 0, 0, 32), rid;
        uint32_t used;

        vpd_notify(d, 0);
        reap_one(t, 0, 1, &rid, &used);
        assert_int_equal(rid, id);
    }
    vdev_vqd_free(d->q[1].drv);
    d->q[1].drv = NULL;
    memset(gp(t, GPA + 0x20000), 0, 0x10000);
    vpd_queue_setup(d, 1, 32, t->mem, GPA + 0x20000, 2);           /* new rings */
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    echo_round(t, 8, true);
}

/* What a driver can do wrong is refused or ignored, and the device serves on. */
static void test_bad_accesses(void **state)
{
    struct t *t = *state;
    struct vpd *d = &t->d;
    uint32_t v = 0;
    uint64_t big = 0;

    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VDEV_VIRTIO_PCI_BAR_SIZE, &v, 4,
                                                false), -EINVAL);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VDEV_VIRTIO_PCI_BAR_SIZE - 2, &v,
                                                4, false), -EINVAL);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, 1, &v, 2, false), -EINVAL);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, 0, &v, 3, false), -EINVAL);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 4, 0, &v, 4, false), -EINVAL);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, UINT64_MAX - 1, &v, 4, true),
                     -EINVAL);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 2, VDEV_VIRTIO_PCI_MSIX_BAR_SIZE,
                                                &big, 8, false), -EINVAL);
    /* A queue that does not exist reads size 0 and takes nothing. */
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, QUEUES, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    /* A vector the function does not have reads back as none. */
    vpd_common_write(d, VIRTIO_PCI_COMMON_MSIX, QUEUES + 1, 2);
    assert_int_equal(vpd_common_read(d, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
    /* A notification for no queue is dropped. */
    v = htole32(7);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VDEV_VIRTIO_PCI_NOTIFY_OFF +
                                                7 * VDEV_VIRTIO_PCI_NOTIFY_MULT, &v, 2,
                                                true), 0);
    /* With memory decoding off, BAR reads float high. */
    vpd_cfg_write(d, PCI_COMMAND, 0, 2);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VIRTIO_PCI_COMMON_NUMQ, &v, 2,
                                                false), 0);
    assert_int_equal(v & 0xffff, 0xffff);
    vpd_cfg_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    bring_up(t, false, true);
    echo_round(t, 4, false);
}

/* Rings outside guest memory: the queue does not start at DRIVER_OK, the
 * device sets NEEDS_RESET and interrupts on the configuration vector. */
static void test_bad_ring_needs_reset(void **state)
{
    struct t *t = *state;
    struct vpd *d = &t->d;

    vpd_reset(d);
    assert_true(vpd_negotiate(d, 1ull << VIRTIO_F_VERSION_1));
    vpd_msix_enable(d, true);
    vpd_queue_setup(d, 0, 64, t->mem, GPA, 1);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_DESCLO, 0x1000, 4);   /* not guest memory */
    vpd_common_write(d, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    vpd_driver_ok(d);
    assert_true(vpd_common_read(d, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert_true(vpd_wait_irq(d, 0, WAIT_MS));
    assert_true(vdev_virtio_pci_status(t->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
    vpd_queues_free(d);
    bring_up(t, false, true);
    assert_false(vdev_virtio_pci_status(t->vp) & VIRTIO_CONFIG_S_NEEDS_RESET);
    echo_round(t, 4, false);
}

/* virtio-blk behind the transport: a write, a read back, the capacity. */
static void test_virtio_blk(void **state)
{
    struct t *t = *state;
    struct virtio_blk_outhdr *h = gp(t, BUF_GPA);
    uint8_t *status = gp(t, BUF_GPA + 64);
    uint64_t cap = 0;
    uint16_t id, rid;
    uint32_t used;

    assert_int_equal(vpd_cfg_read(&t->d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_BLOCK);
    assert_int_equal(vpd_cfg_read(&t->d, PCI_CLASS_DEVICE, 2), 0x0100);
    bring_up(t, false, true);
    assert_int_equal(vdev_virtio_pci_bar_access(t->vp, 0, VDEV_VIRTIO_PCI_DEVICE_OFF, &cap, 8,
                                                false), 0);
    assert_int_equal(le64toh(cap), (16u << 20) / 512);
    for (uint16_t q = 0; q < QUEUES; q++) {
        struct vdev_vqd_buf out = { BUF_GPA, sizeof(*h) }, in[2] = {
            { BUF_GPA + 4096, 4096 }, { BUF_GPA + 64, 1 } };

        h->type = htole32(VIRTIO_BLK_T_IN);
        h->sector = htole64(8);
        *status = 0xff;
        assert_int_equal(vdev_vqd_add(t->d.q[q].drv, &out, 1, in, 2, false, &id), 0);
        vpd_notify(&t->d, q);
        reap_one(t, q, q + 1, &rid, &used);
        assert_int_equal(rid, id);
        assert_int_equal(*status, VIRTIO_BLK_S_OK);
        assert_int_equal(used, 4097);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msix_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_mid_io, setup_hold, teardown),
        cmocka_unit_test_setup_teardown(test_quiesce_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cfg_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ring_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_virtio_blk, setup_blk, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
