/* test_virtio_pci_state.c — the virtio-pci transport's migration calls
 * (virtio_pci.h: set_running, save, load) by direct calls, on virtio-blk with
 * a null back-end: save and load only while stopped; a queue the driver starts
 * while stopped starts when the device runs; a stream with any field out of
 * range or of another layout is refused and changes nothing; a stream loads
 * into a second function, whose queue then goes on where the first stopped. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "helpers.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/mem.h"
#include "vdev/pci.h"
#include "vdev/virtio_pci.h"
#include "vdev/virtq_driver.h"
#include "vdev/workers.h"
#include "vp_driver.h"

#define GPA       0x100100000ull
#define MEM_SIZE  (2ull << 20)
#define BUF_GPA   (GPA + (1ull << 20))
#define QUEUES    2
#define WAIT_MS   5000
#define STATE_CAP 16384

/* Offsets in the stream (state.c's layout). */
#define OFF_NQ        6
#define OFF_STATUS    54
#define OFF_FEATURES  36
#define OFF_CFGVEC    52
#define OFF_Q0        64
#define OFF_Q_SIZE    0
#define OFF_Q_VECTOR  2
#define OFF_Q_ENABLED 4

struct fn {
    struct vdev_virtio_dev *dev;
    struct vdev_virtio_pci *vp;
};

struct t {
    int fds_before;
    int memfd;
    uint8_t *guest;
    struct vdev_mem *mem;
    struct vdev_workers *workers;
    struct fn a, b;
    struct fn *cur;                          /* the function the driver reaches */
    int irq[QUEUES + 1];
    struct vpd d;
};

static int ops_cfg(void *o, uint64_t off, void *buf, size_t len, bool write)
{
    return vdev_virtio_pci_config_access(((struct t *)o)->cur->vp, off, buf, len, write);
}

static int ops_bar(void *o, unsigned bar, uint64_t off, void *buf, size_t len, bool write)
{
    return vdev_virtio_pci_bar_access(((struct t *)o)->cur->vp, bar, off, buf, len, write);
}

static int ops_irq_fd(void *o, int v)
{
    assert_true(v >= 0 && v <= QUEUES);
    return ((struct t *)o)->irq[v];
}

static const struct vpd_ops direct = { ops_cfg, ops_bar, ops_irq_fd };

static void fn_new(struct t *t, struct fn *f)
{
    struct vdev_virtio_blk_config bc = { .backend = "null:size=16M", .num_queues = QUEUES };
    struct vdev_virtio_pci_config vc = { .workers = t->workers, .mem = t->mem };

    assert_int_equal(vdev_virtio_blk_new(&bc, &f->dev), 0);
    vc.dev = f->dev;
    assert_int_equal(vdev_virtio_pci_new(&vc, &f->vp), 0);
    for (unsigned i = 0; i <= QUEUES; i++)
        assert_int_equal(vdev_pci_set_irq_fd(vdev_virtio_pci_function(f->vp),
                                             VDEV_PCI_IRQ_MSIX, i, t->irq[i]), 0);
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    struct vdev_workers_config wc = { .threads = 1, .name = "vps" };
    struct vdev_mem_region r = { .gpa = GPA, .size = MEM_SIZE,
                                 .access = VDEV_MEM_READ | VDEV_MEM_WRITE };

    assert_non_null(t);
    alarm(60);
    t->fds_before = test_count_fds();
    t->memfd = test_memfd("vps-guest", MEM_SIZE);
    t->guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
    assert_true(t->guest != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&t->mem), 0);
    r.fd = t->memfd;
    assert_int_equal(vdev_mem_add(t->mem, &r), 0);
    assert_int_equal(vdev_workers_new(&wc, &t->workers), 0);
    for (unsigned i = 0; i <= QUEUES; i++) {
        t->irq[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(t->irq[i] >= 0);
    }
    fn_new(t, &t->a);
    fn_new(t, &t->b);
    t->cur = &t->a;
    vpd_probe(&t->d, &direct, t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;

    vdev_virtio_pci_free(t->a.vp);
    vdev_virtio_pci_free(t->b.vp);
    vdev_virtio_blk_free(t->a.dev);
    vdev_virtio_blk_free(t->b.dev);
    vpd_queues_free(&t->d);
    vdev_workers_free(t->workers);
    vdev_mem_free(t->mem);
    munmap(t->guest, MEM_SIZE);
    close(t->memfd);
    for (unsigned i = 0; i <= QUEUES; i++)
        close(t->irq[i]);
    assert_no_fd_leak(t->fds_before);
    alarm(0);
    free(t);
    return 0;
}

static void bring_up_until_queues(struct t *t)
{
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_FLUSH) |
                    (1ull << VIRTIO_BLK_F_MQ) | (1ull << VIRTIO_RING_F_EVENT_IDX);

    memset(t->guest, 0, 0x40000);
    vpd_reset(&t->d);
    assert_true(vpd_negotiate(&t->d, want));
    vpd_msix_enable(&t->d, true);
    for (uint16_t q = 0; q < QUEUES; q++)
        vpd_queue_setup(&t->d, q, 64, t->mem, GPA + q * 0x10000ull, (uint16_t)(q + 1));
}

/* A GET_ID request (20 bytes in) on queue q, notified; its id. */
static uint16_t submit(struct t *t, uint16_t q)
{
    struct virtio_blk_outhdr *h = (void *)(t->guest + (BUF_GPA - GPA));
    struct vdev_vqd_buf out = { BUF_GPA, sizeof(*h) };
    struct vdev_vqd_buf in[2] = { { BUF_GPA + 512, 20 }, { BUF_GPA + 64, 1 } };
    uint16_t id;

    h->type = htole32(VIRTIO_BLK_T_GET_ID);
    h->sector = 0;
    t->guest[BUF_GPA + 64 - GPA] = 0xff;
    assert_int_equal(vdev_vqd_add(t->d.q[q].drv, &out, 1, in, 2, false, &id), 0);
    vpd_notify(&t->d, q);
    return id;
}

static void reap(struct t *t, uint16_t q, uint16_t want)
{
    uint16_t id;
    uint32_t len;

    for (int tries = 0; vdev_vqd_get_used(t->d.q[q].drv, &id, &len) != 1; tries++) {
        assert_true(tries < 100);
        assert_true(vpd_wait_irq(&t->d, q + 1, WAIT_MS));
    }
    assert_int_equal(id, want);
    assert_int_equal(t->guest[BUF_GPA + 64 - GPA], VIRTIO_BLK_S_OK);
}

static size_t save(struct vdev_virtio_pci *vp, uint8_t *buf)
{
    size_t len = 0;

    assert_int_equal(vdev_virtio_pci_save(vp, buf, STATE_CAP, &len), 0);
    assert_true(len > OFF_Q0 && len <= vdev_virtio_pci_state_max(vp));
    return len;
}

/* Save and load only with the queues stopped. */
static void test_needs_stop(void **state)
{
    struct t *t = *state;
    static uint8_t s[STATE_CAP];
    size_t len = 0;

    bring_up_until_queues(t);
    vpd_driver_ok(&t->d);
    assert_int_equal(vdev_virtio_pci_save(t->a.vp, s, sizeof(s), &len), -EBUSY);
    assert_int_equal(vdev_virtio_pci_set_running(t->a.vp, false), 0);
    len = save(t->a.vp, s);
    assert_int_equal(vdev_virtio_pci_load(t->b.vp, s, len), -EBUSY);
    assert_int_equal(vdev_virtio_pci_set_running(t->a.vp, true), 0);
    reap(t, 0, submit(t, 0));
}

/* DRIVER_OK written while stopped: the queues start when the device runs. */
static void test_start_while_stopped(void **state)
{
    struct t *t = *state;
    uint16_t id;

    assert_int_equal(vdev_virtio_pci_set_running(t->a.vp, false), 0);
    bring_up_until_queues(t);
    vpd_driver_ok(&t->d);
    id = submit(t, 1);
    assert_int_equal(vdev_virtio_pci_set_running(t->a.vp, true), 0);
    reap(t, 1, id);
}

/* The stream moves to the second function; the driver goes on there. */
static void test_round_trip(void **state)
{
    struct t *t = *state;
    static uint8_t s[STATE_CAP], s2[STATE_CAP];
    size_t len;

    bring_up_until_queues(t);
    vpd_driver_ok(&t->d);
    for (int i = 0; i < 5; i++)
        reap(t, 0, submit(t, 0));
    assert_int_equal(vdev_virtio_pci_set_running(t->a.vp, false), 0);
    len = save(t->a.vp, s);
    assert_int_equal(vdev_virtio_pci_set_running(t->b.vp, false), 0);
    assert_int_equal(vdev_virtio_pci_load(t->b.vp, s, len), 0);
    assert_int_equal(save(t->b.vp, s2), len);
    assert_memory_equal(s, s2, len);
    assert_int_equal(vdev_virtio_pci_set_running(t->b.vp, true), 0);
    t->cur = &t->b;
    assert_int_equal(vdev_virtio_pci_status(t->b.vp) & VIRTIO_CONFIG_S_DRIVER_OK,
                     VIRTIO_CONFIG_S_DRIVER_OK);
    for (int i = 0; i < 5; i++)
        reap(t, 0, submit(t, 0));
}

/* One field out of range at a time: refused, and the target unchanged. */
static void test_refused_unchanged(void **state)
{
    struct t *t = *state;
    static uint8_t s[STATE_CAP], bad[STATE_CAP], before[STATE_CAP], after[STATE_CAP];
    static const struct { size_t off; uint8_t xor; } flips[] = {
        { 0, 0xff },                                        /* magic */
        { OFF_NQ, 1 },                                      /* queue count */
        { 8, 4 },                                           /* total length */
        { OFF_FEATURES + 7, 0x80 },                         /* feature 63, never offered */
        { OFF_STATUS, 0x40 },                               /* NEEDS_RESET as status */
        { OFF_STATUS, VIRTIO_CONFIG_S_FEATURES_OK },        /* DRIVER_OK without it */
        { OFF_CFGVEC + 1, 0x10 },                           /* vector 0x1000 */
        { OFF_Q0 + OFF_Q_SIZE + 1, 0x10 },                  /* size above the max */
        { OFF_Q0 + OFF_Q_VECTOR, 0x40 },                    /* vector 0x41 */
        { OFF_Q0 + OFF_Q_ENABLED, 1 },                      /* runs, not enabled */
        { OFF_Q0 + OFF_Q_ENABLED, 2 },                      /* enabled = 3 */
    };
    size_t len, n;

    bring_up_until_queues(t);
    vpd_driver_ok(&t->d);
    reap(t, 0, submit(t, 0));
    assert_int_equal(vdev_virtio_pci_set_running(t->a.vp, false), 0);
    len = save(t->a.vp, s);
    assert_int_equal(vdev_virtio_pci_set_running(t->b.vp, false), 0);
    n = save(t->b.vp, before);
    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        memcpy(bad, s, len);
        bad[flips[i].off] ^= flips[i].xor;
        assert_int_equal(vdev_virtio_pci_load(t->b.vp, bad, len), -EINVAL);
    }
    assert_int_equal(vdev_virtio_pci_load(t->b.vp, s, len - 1), -EINVAL);
    assert_int_equal(vdev_virtio_pci_load(t->b.vp, s, 10), -EINVAL);
    memcpy(bad, s, len);
    bad[len - 1] = 0x7f;                                    /* virtio-blk's wce word */
    assert_int_equal(vdev_virtio_pci_load(t->b.vp, bad, len), -EINVAL);
    assert_int_equal(save(t->b.vp, after), n);
    assert_memory_equal(before, after, n);
    assert_int_equal(vdev_virtio_pci_load(t->b.vp, s, len), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_needs_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_while_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_unchanged, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
