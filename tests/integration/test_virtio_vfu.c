/* test_virtio_vfu.c — virtio-blk served over vfio-user as a virtio-pci
 * function (virtio_vfu.h), driven by vdev's vfio-user client playing the
 * guest's driver step by step as Linux's virtio_pci_modern does (vp_driver.c
 * over REGION_READ/WRITE): verified I/O on two queues, split and packed, with
 * MSI-X interrupts on the SET_IRQS eventfds; doorbells through the ioeventfds
 * of DEVICE_GET_REGION_IO_FDS; a DEVICE_RESET in the middle of I/O; a DMA map
 * change under running queues; and a second client after the first has gone. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "helpers.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/loop.h"
#include "vdev/mem.h"
#include "vdev/vfio_user_client.h"
#include "vdev/virtio_pci.h"
#include "vdev/virtio_vfu.h"
#include "vdev/virtq_driver.h"
#include "vdev/workers.h"
#include "virtio-pci/vp_driver.h"

#define TIMEOUT_MS  10000
#define GPA         0x100000000ull       /* guest memory at 4 GiB */
#define MEM_SIZE    (4ull << 20)
#define BUF_GPA     (GPA + (1ull << 20))
#define DISK_SIZE   (16ull << 20)
#define QUEUES      2

struct t {
    int fds_before;
    char dir[64], sock[96], img[96];
    struct vdev_loop *loop;
    pthread_t thread;
    struct vdev_workers *workers;
    struct vdev_virtio_dev *dev;
    struct vdev_virtio_vfu *v;
    struct vdev_vfuc *c;
    int memfd;
    uint8_t *guest;
    struct vdev_mem *gmem;               /* the guest memory, for the driver's rings */
    int irq[QUEUES + 1];
    struct vpd_vfuc vc;                  /* the driver's access paths */
    struct vpd d;
};

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

/* --- fixture -------------------------------------------------------------------- */

/* A VMM's connection: VERSION, the guest's memory mapped, one MSI-X eventfd
 * per vector, the function probed. */
static void client_connect(struct t *t)
{
    int fds[QUEUES + 1];

    assert_int_equal(vdev_vfuc_connect(t->sock, TIMEOUT_MS, &t->c), 0);
    assert_int_equal(vdev_vfuc_negotiate(t->c, NULL, NULL), 0);
    assert_int_equal(vdev_vfuc_dma_map(t->c, GPA, MEM_SIZE, t->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    for (unsigned i = 0; i <= QUEUES; i++)
        fds[i] = t->irq[i];
    assert_int_equal(vdev_vfuc_set_irqs(t->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                                        0, QUEUES + 1, fds), 0);
    t->vc = (struct vpd_vfuc){ .c = t->c, .irq = t->irq, .nirq = QUEUES + 1 };
    vpd_probe(&t->d, &vpd_vfuc_ops, &t->vc);
}

static int setup_with(void **state, bool packed_unused)
{
    struct t *t = calloc(1, sizeof(*t));
    struct vdev_workers_config wc = { .threads = 2, .name = "vvfu" };
    struct vdev_mem_region r = { .gpa = GPA, .size = MEM_SIZE,
                                 .access = VDEV_MEM_READ | VDEV_MEM_WRITE };
    struct vdev_virtio_vfu_config vc = { .listen_fd = -1, .conn_fd = -1 };
    struct vdev_virtio_blk_config bc = { .num_queues = QUEUES };
    char spec[160];
    int fd;

    assert_non_null(t);
    alarm(120);
    t->fds_before = test_count_fds();
    snprintf(t->dir, sizeof(t->dir), "/tmp/vdev-vvfu-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
    snprintf(t->img, sizeof(t->img), "%s/disk.img", t->dir);
    fd = open(t->img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, DISK_SIZE), 0);
    close(fd);
    snprintf(spec, sizeof(spec), "file:path=%s", t->img);
    bc.backend = spec;

    assert_int_equal(vdev_loop_new(&t->loop), 0);
    assert_int_equal(vdev_workers_new(&wc, &t->workers), 0);
    assert_int_equal(vdev_virtio_blk_new(&bc, &t->dev), 0);
    vc.loop = t->loop;
    vc.workers = t->workers;
    vc.dev = t->dev;
    vc.socket_path = t->sock;
    assert_int_equal(vdev_virtio_vfu_new(&vc, &t->v), 0);
    assert_int_equal(pthread_create(&t->thread, NULL, loop_main, t->loop), 0);

    t->memfd = test_memfd("vvfu-guest", MEM_SIZE);
    t->guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
    assert_true(t->guest != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&t->gmem), 0);
    r.fd = t->memfd;
    assert_int_equal(vdev_mem_add(t->gmem, &r), 0);
    for (unsigned i = 0; i <= QUEUES; i++) {
        t->irq[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(t->irq[i] >= 0);
    }
    client_connect(t);
    *state = t;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

static int teardown(void **state)
{
    struct t *t = *state;

    vdev_vfuc_close(t->c);
    vdev_loop_stop(t->loop);
    pthread_join(t->thread, NULL);
    vdev_virtio_vfu_free(t->v);
    vdev_virtio_blk_free(t->dev);
    vdev_workers_free(t->workers);
    vdev_loop_free(t->loop);
    vpd_queues_free(&t->d);
    vdev_mem_free(t->gmem);
    munmap(t->guest, MEM_SIZE);
    close(t->memfd);
    for (unsigned i = 0; i <= QUEUES; i++)
        close(t->irq[i]);
    unlink(t->img);
    unlink(t->sock);
    rmdir(t->dir);
    assert_no_fd_leak(t->fds_before);
    alarm(0);
    free(t);
    return 0;
}

/* --- the guest ------------------------------------------------------------------ */

static void *gp(struct t *t, uint64_t gpa)
{
    return t->guest + (gpa - GPA);
}

static void bring_up(struct t *t, bool packed)
{
    uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
                    (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_FLUSH) |
                    (1ull << VIRTIO_BLK_F_MQ) | (packed ? 1ull << VIRTIO_F_RING_PACKED : 0);

    memset(t->guest, 0, 0x40000);                      /* fresh rings */
    vpd_reset(&t->d);
    assert_true(vpd_negotiate(&t->d, want));
    assert_int_equal(!!(t->d.features & (1ull << VIRTIO_F_RING_PACKED)), packed);
    vpd_msix_enable(&t->d, true);
    for (uint16_t q = 0; q < QUEUES; q++)
        vpd_queue_setup(&t->d, q, 128, t->gmem, GPA + q * 0x10000ull, (uint16_t)(q + 1));
    vpd_driver_ok(&t->d);
}

/* One request, kicked through the notify structure or the queue's ioeventfd,
 * completed with an interrupt on the queue's vector; returns its status. */
static uint8_t blk_req(struct t *t, uint16_t q, uint32_t type, uint64_t sector,
                       uint32_t len, int kick_fd)
{
    uint64_t base = BUF_GPA + q * 0x20000ull;
    struct virtio_blk_outhdr *h = gp(t, base);
    uint8_t *status = gp(t, base + 64);
    struct vdev_vqd_buf out[2] = { { base, sizeof(*h) } }, in[2];
    unsigned n_out = 1, n_in = 0;
    uint16_t id, rid;
    uint32_t used;

    h->type = htole32(type);
    h->ioprio = 0;
    h->sector = htole64(sector);
    *status = 0xff;
    if (type == VIRTIO_BLK_T_OUT)
        out[n_out++] = (struct vdev_vqd_buf){ base + 4096, len };
    else if (len)
        in[n_in++] = (struct vdev_vqd_buf){ base + 4096, len };
    in[n_in++] = (struct vdev_vqd_buf){ base + 64, 1 };
    assert_int_equal(vdev_vqd_add(t->d.q[q].drv, out, n_out, in, n_in, false, &id), 0);
    if (kick_fd >= 0) {
        uint64_t one = 1;
        if (vdev_vqd_kick_prepare(t->d.q[q].drv))
            assert_int_equal(write(kick_fd, &one, sizeof(one)), sizeof(one));
    } else {
        vpd_notify(&t->d, q);
    }
    for (int tries = 0; vdev_vqd_get_used(t->d.q[q].drv, &rid, &used) != 1; tries++) {
        assert_true(tries < 100);
        assert_true(vpd_wait_irq(&t->d, q + 1, TIMEOUT_MS));
    }
    assert_int_equal(rid, id);
    return *status;
}

static void fill(struct t *t, uint16_t q, uint32_t len, uint8_t seed)
{
    uint8_t *p = gp(t, BUF_GPA + q * 0x20000ull + 4096);

    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7u);
}

static void check(const uint8_t *p, uint32_t len, uint8_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(seed + i * 7u))
            fail_msg("byte %u: %#x, not %#x", i, p[i], (uint8_t)(seed + i * 7u));
}

/* Writes on one queue, reads back on the other, and checks the image file. */
static void verified_io(struct t *t, unsigned rounds, const int *kick_fds)
{
    uint8_t buf[16384];
    int fd = open(t->img, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    for (unsigned i = 0; i < rounds; i++) {
        uint16_t wq = (uint16_t)(i % QUEUES), rq = (uint16_t)((i + 1) % QUEUES);
        uint64_t sector = 8 + i * 40;
        uint8_t seed = (uint8_t)(i * 31 + 5);

        fill(t, wq, sizeof(buf), seed);
        assert_int_equal(blk_req(t, wq, VIRTIO_BLK_T_OUT, sector, sizeof(buf),
                                 kick_fds ? kick_fds[wq] : -1), VIRTIO_BLK_S_OK);
        memset(gp(t, BUF_GPA + rq * 0x20000ull + 4096), 0, sizeof(buf));
        assert_int_equal(blk_req(t, rq, VIRTIO_BLK_T_IN, sector, sizeof(buf),
                                 kick_fds ? kick_fds[rq] : -1), VIRTIO_BLK_S_OK);
        check(gp(t, BUF_GPA + rq * 0x20000ull + 4096), sizeof(buf), seed);
        assert_int_equal(pread(fd, buf, sizeof(buf), (off_t)(sector * 512)),
                         (ssize_t)sizeof(buf));
        check(buf, sizeof(buf), seed);
    }
    close(fd);
}

/* --- tests ---------------------------------------------------------------------- */

static void test_blk_split(void **state)
{
    struct t *t = *state;
    uint64_t cap = 0;

    assert_int_equal(vpd_cfg_read(&t->d, 2, 2), 0x1042);     /* 0x1040 + block */
    bring_up(t, false);
    assert_int_equal(vdev_vfuc_region_read(t->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           VDEV_VIRTIO_PCI_DEVICE_OFF, &cap, 8), 0);
    assert_int_equal(le64toh(cap), DISK_SIZE / 512);
    verified_io(t, 24, NULL);
}

static void test_blk_packed(void **state)
{
    struct t *t = *state;

    bring_up(t, true);
    verified_io(t, 24, NULL);
}

/* DEVICE_GET_REGION_IO_FDS gives each queue's notify address an ioeventfd;
 * doorbells written there reach the queue without a message. */
static void test_ioeventfds(void **state)
{
    struct t *t = *state;
    struct vdev_vfuc_io_fd subs[8];
    int fds[8], kick[QUEUES];
    size_t nfds = 8;
    uint32_t count = 0;

    assert_int_equal(vdev_vfuc_region_io_fds(t->c, VFIO_PCI_BAR0_REGION_INDEX, subs, 8,
                                             &count, fds, &nfds), 0);
    assert_int_equal(count, QUEUES);
    for (unsigned i = 0; i < count; i++) {
        assert_int_equal(subs[i].offset, VDEV_VIRTIO_PCI_NOTIFY_OFF +
                                         i * VDEV_VIRTIO_PCI_NOTIFY_MULT);
        assert_int_equal(subs[i].size, 2);
    }
    for (unsigned i = 0; i < QUEUES; i++)
        kick[i] = fds[subs[i].fd_index];
    bring_up(t, false);
    verified_io(t, 16, kick);
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
}

/* MSI-X interrupts go from the queue's worker straight to the VMM's eventfd:
 * with the server's loop stopped, a doorbell on the ioeventfd still gets its
 * request served and its interrupt delivered. MSI-X is not maskable through
 * SET_IRQS (its masking is the function's), INTx is. */
static void test_irq_without_loop(void **state)
{
    struct t *t = *state;
    struct vdev_vfuc_io_fd subs[8];
    struct vfio_irq_info info;
    int fds[8], kick[QUEUES];
    size_t nfds = 8;
    uint32_t count = 0;

    assert_int_equal(vdev_vfuc_irq_info(t->c, VFIO_PCI_MSIX_IRQ_INDEX, &info), 0);
    assert_int_equal(info.count, QUEUES + 1);
    assert_false(info.flags & VFIO_IRQ_INFO_MASKABLE);
    assert_int_equal(vdev_vfuc_irq_info(t->c, VFIO_PCI_INTX_IRQ_INDEX, &info), 0);
    assert_true(info.flags & VFIO_IRQ_INFO_MASKABLE);
    assert_int_not_equal(vdev_vfuc_set_irqs(t->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                            VFIO_IRQ_SET_DATA_NONE |
                                            VFIO_IRQ_SET_ACTION_MASK, 0, 1, NULL), 0);

    assert_int_equal(vdev_vfuc_region_io_fds(t->c, VFIO_PCI_BAR0_REGION_INDEX, subs, 8,
                                             &count, fds, &nfds), 0);
    for (unsigned i = 0; i < QUEUES; i++)
        kick[i] = fds[subs[i].fd_index];
    bring_up(t, false);
    vdev_loop_stop(t->loop);
    pthread_join(t->thread, NULL);
    for (uint16_t q = 0; q < QUEUES; q++)
        assert_int_equal(blk_req(t, q, VIRTIO_BLK_T_IN, 8, 4096, kick[q]), VIRTIO_BLK_S_OK);
    assert_int_equal(pthread_create(&t->thread, NULL, loop_main, t->loop), 0);
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
}

/* DEVICE_RESET while requests wait: queues stop, the device is back at reset
 * (status 0, queues disabled), and the driver brings it up again. */
static void test_reset_mid_io(void **state)
{
    struct t *t = *state;
    struct vdev_vqd_buf out = { BUF_GPA, 16 }, in = { BUF_GPA + 64, 1 };
    uint16_t id;

    bring_up(t, false);
    verified_io(t, 2, NULL);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(vdev_vqd_add(t->d.q[0].drv, &out, 1, &in, 1, false, &id), 0);
    assert_int_equal(vdev_vfuc_reset(t->c), 0);
    /* A function reset also turned memory decoding off: BAR reads float high
     * until the driver, as after any reset, probes and enables it again. */
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_STATUS, 1), 0xff);
    vpd_queues_free(&t->d);
    vpd_probe(&t->d, &vpd_vfuc_ops, &t->vc);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    vpd_common_write(&t->d, VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
    bring_up(t, false);
    verified_io(t, 8, NULL);
}

/* The DMA map changes under running queues (a window added, then removed):
 * the queues stop and go on where they were. */
static void test_dma_change(void **state)
{
    struct t *t = *state;
    int extra = test_memfd("vvfu-extra", 1 << 20);

    bring_up(t, true);
    verified_io(t, 6, NULL);
    assert_int_equal(vdev_vfuc_dma_map(t->c, GPA + (1ull << 30), 1 << 20, extra, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    verified_io(t, 6, NULL);
    assert_int_equal(vdev_vfuc_dma_unmap(t->c, GPA + (1ull << 30), 1 << 20, 0), 0);
    verified_io(t, 6, NULL);
    close(extra);
}

/* The client goes and another comes ("Client Disconnection": the device keeps
 * its state): once the new client maps the memory, the queues go on. */
static void test_second_client(void **state)
{
    struct t *t = *state;
    struct vpd keep;

    bring_up(t, false);
    verified_io(t, 4, NULL);
    keep = t->d;
    vdev_vfuc_close(t->c);
    t->c = NULL;
    client_connect(t);
    /* The driver's rings and state are the same guest's: keep them. */
    for (unsigned i = 0; i < VPD_MAX_QUEUES; i++)
        t->d.q[i] = keep.q[i];
    t->d.features = keep.features;
    assert_true(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_STATUS, 1) &
                VIRTIO_CONFIG_S_DRIVER_OK);
    verified_io(t, 4, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blk_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blk_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioeventfds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_without_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_mid_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_client, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
