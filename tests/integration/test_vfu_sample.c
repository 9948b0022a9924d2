/* The sample PCI device served by vdev's vfio-user server through the
 * pci_vfu adapter, driven by vdev's vfio-user client as a VMM would drive it:
 * DMA_MAP of a memfd, config space and registers with REGION_READ/WRITE, the
 * completion interrupt on the MSI-X eventfd given with SET_IRQS. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "helpers.h"
#include "vdev/dev_sample.h"
#include "vdev/loop.h"
#include "vdev/pci_vfu.h"
#include "vdev/vfio_user.h"
#include "vdev/vfio_user_client.h"
#include "vfio-user/proto.h"

#define TIMEOUT_MS  10000          /* generous: a wait that runs out fails */
#define MEM_SIZE    0x10000u
#define IOVA        0x40000000u
#define SRC         (IOVA + 0x1000u)
#define DST         (IOVA + 0x8000u)
#define BAR0        VFIO_PCI_BAR0_REGION_INDEX
#define CONFIG      VFIO_PCI_CONFIG_REGION_INDEX

/* One served sample device: the migration test has a source and a target. */
struct side {
    char path[128];
    struct vdev_sample *dev;
    struct vdev_pci_vfu *adapter;
    struct vdev_vfu_server *srv;
};

struct fixture {
    int fds_before;
    char dir[64];
    struct vdev_loop *loop;
    pthread_t thread;
    struct side src, dst;          /* dst: the migration test's target */
    struct vdev_vfuc *c;           /* connected to src */
    int memfd;
    uint8_t *host;                 /* the memfd, as the VMM sees it */
    int irq_fd;
};

/* --- the server side: what a daemon does to serve the sample device ---------- */

/* DMA goes to the memory of the client connected at the time (loop thread). */
static struct vdev_mem *sample_dma_mem(void *opaque)
{
    struct side *side = opaque;

    return vdev_vfu_server_mem(side->srv);
}

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

/* What a daemon does to serve the sample device (before the loop runs). */
static void serve(struct fixture *f, struct side *side, const char *name)
{
    struct vdev_sample_config dc = { .dma_mem = sample_dma_mem, .opaque = side };
    struct vdev_pci_vfu_config ac = { .dev = vdev_sample_vfu_device(), .loop = f->loop };
    struct vdev_vfu_server_config sc = {
        .loop = f->loop, .socket_path = side->path, .listen_fd = -1, .conn_fd = -1,
    };

    snprintf(side->path, sizeof(side->path), "%s/%s", f->dir, name);
    assert_int_equal(vdev_sample_new(&dc, &side->dev), 0);
    ac.pci = vdev_sample_pci(side->dev);
    ac.opaque = side->dev;
    assert_int_equal(vdev_pci_vfu_new(&ac, &side->adapter), 0);
    sc.ops = vdev_pci_vfu_ops(side->adapter);
    sc.opaque = side->adapter;
    assert_int_equal(vdev_vfu_server_new(&sc, &side->srv), 0);
    vdev_pci_vfu_attach(side->adapter, side->srv);
}

/* After the loop stopped. */
static void unserve(struct side *side)
{
    vdev_vfu_server_free(side->srv);
    vdev_pci_vfu_free(side->adapter);
    vdev_sample_free(side->dev);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->fds_before = test_count_fds();
    snprintf(f->dir, sizeof(f->dir), "/tmp/vfu-sample-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(vdev_loop_new(&f->loop), 0);
    serve(f, &f->src, "src");
    serve(f, &f->dst, "dst");
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f->loop), 0);

    f->memfd = test_memfd("vfu-sample-guest", MEM_SIZE);
    f->host = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
    assert_true(f->host != MAP_FAILED);
    f->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(f->irq_fd >= 0);
    assert_int_equal(vdev_vfuc_connect(f->src.path, TIMEOUT_MS, &f->c), 0);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    vdev_vfuc_close(f->c);
    vdev_loop_stop(f->loop);
    pthread_join(f->thread, NULL);
    unserve(&f->src);
    unserve(&f->dst);
    vdev_loop_free(f->loop);
    munmap(f->host, MEM_SIZE);
    close(f->memfd);
    close(f->irq_fd);
    rmdir(f->dir);
    assert_no_fd_leak(f->fds_before);
    free(f);
    return 0;
}

/* --- the VMM side ------------------------------------------------------------- */

static uint32_t rd32(struct vdev_vfuc *c, uint32_t region, uint64_t off)
{
    uint32_t v = 0;

    assert_int_equal(vdev_vfuc_region_read(c, region, off, &v, 4), 0);
    return v;
}

static void wr32(struct vdev_vfuc *c, uint32_t region, uint64_t off, uint32_t v)
{
    assert_int_equal(vdev_vfuc_region_write(c, region, off, &v, 4, false), 0);
}

static void wr16(struct vdev_vfuc *c, uint32_t region, uint64_t off, uint16_t v)
{
    assert_int_equal(vdev_vfuc_region_write(c, region, off, &v, 2, false), 0);
}

/* The capability list walked as a driver walks it. */
static unsigned find_cap(struct fixture *f, uint8_t id)
{
    uint8_t pos = 0;

    assert_int_equal(vdev_vfuc_region_read(f->c, CONFIG, PCI_CAPABILITY_LIST, &pos, 1), 0);
    for (int n = 0; pos && n < 48; n++) {
        uint8_t hdr[2];

        assert_int_equal(vdev_vfuc_region_read(f->c, CONFIG, pos, hdr, 2), 0);
        if (hdr[0] == id)
            return pos;
        pos = hdr[1];
    }
    fail_msg("capability %u not found", id);
    return 0;
}

/* What a driver does at probe: memory decoding on, MSI-X on with the eventfd
 * on vector 0, vector 0 unmasked in the table. */
static void driver_probe(struct fixture *f)
{
    unsigned msix = find_cap(f, PCI_CAP_ID_MSIX);
    int fds[1] = { f->irq_fd };
    struct vfio_irq_info irq = { 0 };
    uint16_t ctrl = 0;

    wr16(f->c, CONFIG, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    assert_int_equal(vdev_vfuc_region_read(f->c, CONFIG, msix + PCI_MSIX_FLAGS, &ctrl, 2),
                     0);
    wr16(f->c, CONFIG, msix + PCI_MSIX_FLAGS, ctrl | PCI_MSIX_FLAGS_ENABLE);

    assert_int_equal(vdev_vfuc_irq_info(f->c, VFIO_PCI_MSIX_IRQ_INDEX, &irq), 0);
    assert_int_equal(irq.count, VDEV_SAMPLE_MSIX_VECTORS);
    assert_true(irq.flags & VFIO_IRQ_INFO_EVENTFD);
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, fds), 0);
    wr32(f->c, BAR0, VDEV_SAMPLE_MSIX_OFF + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
}

static void start_copy(struct vdev_vfuc *c, uint64_t src, uint64_t dst, uint32_t len)
{
    wr32(c, BAR0, VDEV_SAMPLE_REG_SRC, (uint32_t)src);
    wr32(c, BAR0, VDEV_SAMPLE_REG_SRC + 4, (uint32_t)(src >> 32));
    wr32(c, BAR0, VDEV_SAMPLE_REG_DST, (uint32_t)dst);
    wr32(c, BAR0, VDEV_SAMPLE_REG_DST + 4, (uint32_t)(dst >> 32));
    wr32(c, BAR0, VDEV_SAMPLE_REG_LEN, len);
    wr32(c, BAR0, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
}

/* Blocks until the interrupt comes (or the wait runs out: the test fails). */
static void wait_irq(struct fixture *f)
{
    struct pollfd p = { .fd = f->irq_fd, .events = POLLIN };
    eventfd_t n = 0;

    assert_int_equal(poll(&p, 1, TIMEOUT_MS), 1);
    assert_int_equal(eventfd_read(f->irq_fd, &n), 0);
    assert_true(n >= 1);
}

static uint8_t *at(struct fixture *f, uint64_t iova)
{
    return f->host + (iova - IOVA);
}

/* --- migration, as the client's side of VFIO_USER_DEVICE_FEATURE and
 * MIG_DATA_READ/WRITE (vfio-user.rst), sent raw: the client has no calls for
 * them yet. */

#define MIG_CHUNK 16u              /* small, so a stream takes several messages */

/* Sets the device state (enum vfio_device_mig_state); the server's answer. */
static int mig_set_state(struct vdev_vfuc *c, uint32_t state)
{
    struct vfio_device_feature f = {
        .flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
    };
    struct vfio_device_feature_mig_state st = { .device_state = state, .data_fd = -1 };
    uint8_t msg[sizeof(f) + sizeof(st)], reply[sizeof(msg)];
    uint32_t rsize = 0;

    f.argsz = sizeof(msg);
    memcpy(msg, &f, sizeof(f));
    memcpy(msg + sizeof(f), &st, sizeof(st));
    return vdev_vfuc_request(c, VFU_CMD_DEVICE_FEATURE, 0, msg, sizeof(msg), NULL, 0,
                             reply, sizeof(reply), &rsize);
}

/* Reads the saved state in chunks until the device has no more. */
static size_t mig_read_all(struct vdev_vfuc *c, uint8_t *out, size_t cap)
{
    size_t len = 0;

    for (;;) {
        struct vfu_mig_data d = { .argsz = sizeof(d) + MIG_CHUNK, .size = MIG_CHUNK };
        uint8_t reply[sizeof(d) + MIG_CHUNK];
        uint32_t rsize = 0;

        assert_int_equal(vdev_vfuc_request(c, VFU_CMD_MIG_DATA_READ, 0, &d, sizeof(d),
                                           NULL, 0, reply, sizeof(reply), &rsize), 0);
        memcpy(&d, reply, sizeof(d));
        assert_int_equal(rsize, sizeof(d) + d.size);
        if (d.size == 0)
            return len;
        assert_true(len + d.size <= cap);
        memcpy(out + len, reply + sizeof(d), d.size);
        len += d.size;
    }
}

/* Writes a stream in chunks; the first error the server answers, or 0. */
static int mig_write_all(struct vdev_vfuc *c, const uint8_t *data, size_t len)
{
    for (size_t off = 0; off < len; off += MIG_CHUNK) {
        uint32_t n = (uint32_t)(len - off < MIG_CHUNK ? len - off : MIG_CHUNK);
        struct vfu_mig_data d = { .argsz = sizeof(d) + n, .size = n };
        uint8_t msg[sizeof(d) + MIG_CHUNK];
        uint32_t rsize = 0;
        int ret;

        memcpy(msg, &d, sizeof(d));
        memcpy(msg + sizeof(d), data + off, n);
        ret = vdev_vfuc_request(c, VFU_CMD_MIG_DATA_WRITE, 0, msg, sizeof(d) + n, NULL, 0,
                                NULL, 0, &rsize);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* --- tests -------------------------------------------------------------------- */

/* The client sees a PCI device with the sample's IDs, a 4 KiB BAR 0, the
 * config region and reset. */
static void test_vfu_sample_describes_itself(void **state)
{
    struct fixture *f = *state;
    struct vfio_device_info info = { 0 };
    struct vdev_vfuc_region bar0 = { 0 }, bar1 = { 0 }, cfg = { 0 };

    assert_int_equal(vdev_vfuc_device_info(f->c, &info), 0);
    assert_true(info.flags & VFIO_DEVICE_FLAGS_PCI);
    assert_true(info.flags & VFIO_DEVICE_FLAGS_RESET);
    assert_int_equal(info.num_regions, VFIO_PCI_NUM_REGIONS);
    assert_int_equal(info.num_irqs, VFIO_PCI_NUM_IRQS);
    assert_int_equal(vdev_vfuc_region_info(f->c, BAR0, &bar0), 0);
    assert_int_equal(bar0.info.size, VDEV_SAMPLE_BAR_SIZE);
    assert_int_equal(bar0.fd, -1);
    assert_int_equal(vdev_vfuc_region_info(f->c, VFIO_PCI_BAR1_REGION_INDEX, &bar1), 0);
    assert_int_equal(bar1.info.size, 0);
    assert_int_equal(vdev_vfuc_region_info(f->c, CONFIG, &cfg), 0);
    assert_int_equal(cfg.info.size, 256);
    assert_int_equal(rd32(f->c, CONFIG, PCI_VENDOR_ID),
                     VDEV_SAMPLE_DEVICE_ID << 16 | VDEV_SAMPLE_VENDOR_ID);

    /* Decoding off: BAR 0 reads as nobody's. On: the ID register. */
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_ID), 0xffffffffu);
    wr16(f->c, CONFIG, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_ID), VDEV_SAMPLE_ID);
}

/* A copy programmed over the wire lands in the client's memory and its
 * completion arrives on the client's MSI-X eventfd. */
static void test_vfu_sample_copy(void **state)
{
    struct fixture *f = *state;

    for (uint32_t i = 0; i < 4096; i++)
        at(f, SRC)[i] = (uint8_t)(i * 13 + 1);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, MEM_SIZE, f->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    driver_probe(f);

    start_copy(f->c, SRC, DST, 4096);
    wait_irq(f);
    assert_memory_equal(at(f, DST), at(f, SRC), 4096);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
    wr32(f->c, BAR0, VDEV_SAMPLE_REG_STATUS, VDEV_SAMPLE_STATUS_DONE);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_STATUS), 0);

    /* Outside the DMA map: an error, no write, and still an interrupt. */
    memset(at(f, DST), 0x5a, 16);
    start_copy(f->c, SRC, IOVA + MEM_SIZE - 8, 16);
    wait_irq(f);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_ERROR);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_ERRNO), EFAULT);
    assert_int_equal(at(f, DST)[0], 0x5a);
}

/* After DMA_UNMAP the window is gone: a copy into it fails with EFAULT and
 * still interrupts. */
static void test_vfu_sample_after_unmap(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, MEM_SIZE, f->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    driver_probe(f);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, MEM_SIZE, 0), 0);
    start_copy(f->c, SRC, DST, 16);
    wait_irq(f);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_ERROR);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_ERRNO), EFAULT);
}

/* DEVICE_RESET clears the registers and the driver's config (decoding, MSI-X). */
static void test_vfu_sample_reset(void **state)
{
    struct fixture *f = *state;

    driver_probe(f);
    wr32(f->c, BAR0, VDEV_SAMPLE_REG_LEN, 123);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_LEN), 123);
    assert_int_equal(vdev_vfuc_reset(f->c), 0);
    assert_int_equal(rd32(f->c, CONFIG, PCI_COMMAND) & 0xffff, 0);
    wr16(f->c, CONFIG, PCI_COMMAND, PCI_COMMAND_MEMORY);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_LEN), 0);
}

/* The registers migrate to a second device over the wire: the source, once
 * stopped, drops a copy command; its state is read out in STOP_COPY; the
 * target refuses a stream that is too long or corrupt, takes the real one on
 * its way to RUNNING, and then runs the copy the registers describe. */
static void test_vfu_sample_migrate(void **state)
{
    struct fixture *f = *state;
    static const uint32_t regs[] = {
        VDEV_SAMPLE_REG_SRC, VDEV_SAMPLE_REG_SRC + 4, VDEV_SAMPLE_REG_DST,
        VDEV_SAMPLE_REG_DST + 4, VDEV_SAMPLE_REG_LEN, VDEV_SAMPLE_REG_STATUS,
        VDEV_SAMPLE_REG_ERRNO,
    };
    uint32_t want[sizeof(regs) / sizeof(regs[0])];
    uint8_t stream[VDEV_SAMPLE_STATE_SIZE + 8], junk[VDEV_SAMPLE_STATE_SIZE + 1] = { 0 };
    struct vdev_vfuc *c2 = NULL;
    size_t len;

    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, MEM_SIZE, f->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    driver_probe(f);
    start_copy(f->c, 0x1000, DST, 16);                      /* ERROR, EFAULT */
    wait_irq(f);
    wr32(f->c, BAR0, VDEV_SAMPLE_REG_SRC, (uint32_t)SRC);
    wr32(f->c, BAR0, VDEV_SAMPLE_REG_LEN, 64);
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
        want[i] = rd32(f->c, BAR0, regs[i]);

    assert_int_equal(mig_set_state(f->c, VFIO_DEVICE_STATE_STOP), 0);
    memset(at(f, DST), 0x33, 64);
    wr32(f->c, BAR0, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
    assert_int_equal(at(f, DST)[0], 0x33);
    assert_int_equal(rd32(f->c, BAR0, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_ERROR);
    assert_int_equal(mig_set_state(f->c, VFIO_DEVICE_STATE_STOP_COPY), 0);
    len = mig_read_all(f->c, stream, sizeof(stream));
    assert_int_equal(len, VDEV_SAMPLE_STATE_SIZE);

    assert_int_equal(vdev_vfuc_connect(f->dst.path, TIMEOUT_MS, &c2), 0);
    assert_int_equal(vdev_vfuc_negotiate(c2, NULL, NULL), 0);
    assert_int_equal(mig_set_state(c2, VFIO_DEVICE_STATE_RESUMING), 0);
    assert_int_equal(mig_write_all(c2, junk, sizeof(junk)), -EFBIG);
    assert_int_equal(mig_set_state(c2, VFIO_DEVICE_STATE_RUNNING), -EBADMSG);
    stream[0] ^= 1;
    assert_int_equal(mig_write_all(c2, stream, len), 0);
    assert_int_equal(mig_set_state(c2, VFIO_DEVICE_STATE_RUNNING), -EBADMSG);
    stream[0] ^= 1;
    assert_int_equal(mig_write_all(c2, stream, len), 0);
    assert_int_equal(mig_set_state(c2, VFIO_DEVICE_STATE_RUNNING), 0);

    /* Config space is not in the stream: the target's driver enables decoding. */
    wr16(c2, CONFIG, PCI_COMMAND, PCI_COMMAND_MEMORY);
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
        assert_int_equal(rd32(c2, BAR0, regs[i]), want[i]);

    for (uint32_t i = 0; i < 64; i++)
        at(f, SRC)[i] = (uint8_t)(i + 100);
    assert_int_equal(vdev_vfuc_dma_map(c2, IOVA, MEM_SIZE, f->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    wr32(c2, BAR0, VDEV_SAMPLE_REG_STATUS, VDEV_SAMPLE_STATUS_ERROR);
    wr32(c2, BAR0, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
    assert_int_equal(rd32(c2, BAR0, VDEV_SAMPLE_REG_STATUS), VDEV_SAMPLE_STATUS_DONE);
    assert_memory_equal(at(f, DST), at(f, SRC), 64);
    vdev_vfuc_close(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vfu_sample_describes_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfu_sample_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfu_sample_after_unmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfu_sample_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vfu_sample_migrate, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
