/* test_vfu_fixture.c — the tiny test device, the server on its thread, and the
 * connected client (test_vfu_fixture.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>

#include "test_vfu_fixture.h"
#include "vdev/loop.h"
#include "vdev/mem.h"
#include "vdev/sock.h"

/* --- the device ----------------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static int tdev_get_info(void *opaque, struct vdev_vfu_device_info *info)
{
    info->flags = VFIO_DEVICE_FLAGS_PCI;
    info->num_regions = VFIO_PCI_NUM_REGIONS;
    info->num_irqs = VFIO_PCI_NUM_IRQS;
    return 0;
}

static int tdev_region_info(void *opaque, uint32_t index, struct vdev_vfu_region *r)
{
    struct tdev *d = opaque;

    switch (index) {
    case VFIO_PCI_BAR0_REGION_INDEX:
        r->size = TDEV_BAR0_SIZE;
        r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        break;
    case VFIO_PCI_BAR2_REGION_INDEX:
        r->size = TDEV_BAR2_SIZE;
        r->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                   VFIO_REGION_INFO_FLAG_MMAP;
        r->fd = d->bar2_fd;
        r->nr_mmap_areas = 1;
        r->mmap_areas[0].offset = 0x1000;
        r->mmap_areas[0].size = 0x1000;
        break;
    case VFIO_PCI_CONFIG_REGION_INDEX:
        r->size = TDEV_CONFIG_SIZE;
        r->flags = VFIO_REGION_INFO_FLAG_READ;
        break;
    default:
        break;
    }
    return 0;
}

static void wait_sem(sem_t *s)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += VFX_TIMEOUT_MS / 1000;
    assert_int_equal(sem_timedwait(s, &ts), 0);
}

/* The doorbell, the DMA and the hold registers act; the rest is storage. */
static void bar0_write(struct tdev *d, uint64_t off, const void *buf, uint32_t len)
{
    memcpy(d->bar0 + off, buf, len);
    if (off == TDEV_REG_HOLD) {
        sem_post(&d->held);
        wait_sem(&d->hold);
    }
    if (off == TDEV_REG_DOORBELL && len == 4)
        d->last_trigger = vdev_vfu_server_irq_trigger(d->srv, VFIO_PCI_MSIX_IRQ_INDEX,
                                                      get32(d->bar0 + off));
    if (off == TDEV_REG_DMA_HI && len == 4) {
        uint64_t addr = get32(d->bar0 + TDEV_REG_DMA_LO) |
                        (uint64_t)get32(d->bar0 + TDEV_REG_DMA_HI) << 32;
        uint32_t v = 0xffffffffu;

        if (vdev_vfu_server_dma_read(d->srv, addr, &v, sizeof(v)) < 0)
            v = 0xffffffffu;
        put32(d->bar0 + TDEV_REG_DMA_DATA, v);
    }
    if (off == TDEV_REG_DMA_CMD && len == 4) {
        uint64_t addr = get32(d->bar0 + TDEV_REG_DMA_LO) |
                        (uint64_t)get32(d->bar0 + TDEV_REG_DMA_HI) << 32;
        uint32_t n = get32(d->bar0 + TDEV_REG_DMA_LEN), cmd = get32(d->bar0 + off);
        int ret = -EINVAL;

        if (n <= TDEV_BAR2_SIZE && cmd == 1)
            ret = vdev_vfu_server_dma_read(d->srv, addr, d->bar2, n);
        else if (n <= TDEV_BAR2_SIZE && cmd == 2)
            ret = vdev_vfu_server_dma_write(d->srv, addr, d->bar2, n);
        put32(d->bar0 + TDEV_REG_DMA_STATUS, (uint32_t)ret);
    }
}

static int tdev_region_access(void *opaque, uint32_t index, uint64_t offset, void *buf,
                              uint32_t len, bool is_write)
{
    struct tdev *d = opaque;
    uint8_t *base;

    switch (index) {
    case VFIO_PCI_BAR0_REGION_INDEX:
        if (is_write) {
            bar0_write(d, offset, buf, len);
            return 0;
        }
        base = d->bar0;
        break;
    case VFIO_PCI_BAR2_REGION_INDEX:
        base = d->bar2;
        break;
    case VFIO_PCI_CONFIG_REGION_INDEX:
        base = d->config;
        break;
    default:
        return -EINVAL;          /* the server never asks: it checked the size */
    }
    if (is_write)
        memcpy(base + offset, buf, len);
    else
        memcpy(buf, base + offset, len);
    return 0;
}

static int tdev_irq_info(void *opaque, uint32_t index, uint32_t *count, uint32_t *flags)
{
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        *count = 1;
        *flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
                 VFIO_IRQ_INFO_AUTOMASKED;
        break;
    case VFIO_PCI_MSIX_IRQ_INDEX:
        *count = TDEV_MSIX_COUNT;
        *flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
                 VFIO_IRQ_INFO_NORESIZE;
        break;
    case VFIO_PCI_ERR_IRQ_INDEX:
        *count = 1;
        *flags = VFIO_IRQ_INFO_EVENTFD;
        break;
    default:
        *count = 0;
        *flags = 0;
        break;
    }
    return 0;
}

static void tdev_set_irqs(void *opaque, uint32_t index, uint32_t start, uint32_t count,
                          uint32_t flags)
{
    struct tdev *d = opaque;

    d->set_irqs++;
}

static int tdev_reset(void *opaque)
{
    struct tdev *d = opaque;

    memset(d->bar0, 0, sizeof(d->bar0));
    d->resets++;
    d->running = true;
    return 0;
}

static void tdev_dma_map(void *opaque, uint64_t iova, uint64_t size, uint32_t prot,
                         bool shared)
{
    struct tdev *d = opaque;

    d->maps++;
    d->last_shared = shared;
    d->changed_unquiesced |= !d->quiesced;
}

static void tdev_dma_unmap(void *opaque, uint64_t iova, uint64_t size)
{
    struct tdev *d = opaque;

    d->unmaps++;
    d->changed_unquiesced |= !d->quiesced;
}

static void tdev_dma_quiesce(void *opaque, bool quiesce)
{
    struct tdev *d = opaque;

    if (quiesce)
        d->quiesces++;
    else
        d->resumes++;
    d->quiesced = quiesce;
}

static int tdev_region_io_fds(void *opaque, uint32_t index, struct vdev_vfu_io_fd *out,
                              uint32_t max, uint32_t *count)
{
    struct tdev *d = opaque;

    *count = 0;
    if (index != VFIO_PCI_BAR0_REGION_INDEX || max < 3)
        return 0;
    out[0] = (struct vdev_vfu_io_fd){ .offset = TDEV_REG_SCRATCH0, .size = 4,
                                      .fd = d->io_ev[1],
                                      .type = VDEV_VFU_IO_FD_IOREGIONFD,
                                      .datamatch = 0x5c0 };
    out[1] = (struct vdev_vfu_io_fd){ .offset = TDEV_REG_DOORBELL, .size = 4,
                                      .fd = d->io_ev[0],
                                      .type = VDEV_VFU_IO_FD_IOEVENTFD,
                                      .flags = 1, .datamatch = 7 };
    out[2] = (struct vdev_vfu_io_fd){ .offset = TDEV_REG_SCRATCH1, .size = 4,
                                      .fd = d->io_ev[1],
                                      .type = VDEV_VFU_IO_FD_IOREGIONFD,
                                      .datamatch = 0x5c1 };
    *count = 3;
    return 0;
}

static int tdev_mig_arc(void *opaque, uint32_t from, uint32_t to)
{
    struct tdev *d = opaque;

    if (from == VFIO_DEVICE_STATE_RESUMING && to == VFIO_DEVICE_STATE_STOP) {
        if (d->mig_pos != sizeof(d->mig_buf))
            return -EINVAL;     /* "incomplete": the SET fails */
        memcpy(d->bar0, d->mig_buf, sizeof(d->bar0));
    }
    if (to == VFIO_DEVICE_STATE_STOP_COPY)
        memcpy(d->mig_buf, d->bar0, sizeof(d->mig_buf));
    if (to == VFIO_DEVICE_STATE_STOP_COPY || to == VFIO_DEVICE_STATE_RESUMING)
        d->mig_pos = 0;
    d->running = to == VFIO_DEVICE_STATE_RUNNING;
    d->arcs++;
    return 0;
}

static int tdev_mig_save(void *opaque, void *buf, uint32_t len, uint32_t *done)
{
    struct tdev *d = opaque;
    uint32_t n = sizeof(d->mig_buf) - d->mig_pos;

    *done = n < len ? n : len;
    memcpy(buf, d->mig_buf + d->mig_pos, *done);
    d->mig_pos += *done;
    return 0;
}

static int tdev_mig_load(void *opaque, const void *buf, uint32_t len)
{
    struct tdev *d = opaque;

    if (len > sizeof(d->mig_buf) - d->mig_pos)
        return -EFBIG;
    memcpy(d->mig_buf + d->mig_pos, buf, len);
    d->mig_pos += len;
    return 0;
}

static const struct vdev_vfu_device_ops tdev_ops = {
    .mig_arc = tdev_mig_arc,
    .mig_save = tdev_mig_save,
    .mig_load = tdev_mig_load,
    .region_io_fds = tdev_region_io_fds,
    .get_info = tdev_get_info,
    .region_info = tdev_region_info,
    .region_access = tdev_region_access,
    .irq_info = tdev_irq_info,
    .set_irqs = tdev_set_irqs,
    .reset = tdev_reset,
    .dma_map = tdev_dma_map,
    .dma_unmap = tdev_dma_unmap,
    .dma_quiesce = tdev_dma_quiesce,
};

static void tdev_init(struct tdev *d)
{
    memset(d, 0, sizeof(*d));
    d->bar2_fd = test_memfd("vfu-bar2", TDEV_BAR2_SIZE);
    d->bar2 = mmap(NULL, TDEV_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   d->bar2_fd, 0);
    assert_true(d->bar2 != MAP_FAILED);
    put32(d->config + PCI_VENDOR_ID, 0x10ee1af4u);
    d->running = true;
    d->io_ev[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->io_ev[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_true(d->io_ev[0] >= 0 && d->io_ev[1] >= 0);
    assert_int_equal(sem_init(&d->hold, 0, 0), 0);
    assert_int_equal(sem_init(&d->held, 0, 0), 0);
}

static void tdev_fini(struct tdev *d)
{
    munmap(d->bar2, TDEV_BAR2_SIZE);
    close(d->bar2_fd);
    close(d->io_ev[0]);
    close(d->io_ev[1]);
    sem_destroy(&d->hold);
    sem_destroy(&d->held);
}

/* --- the server --------------------------------------------------------------- */

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

/* The server's opaque is the device, a member of the fixture. */
static void on_disconnect(void *opaque)
{
    struct vfx *f = (struct vfx *)((char *)opaque - offsetof(struct vfx, dev));

    sem_post(&f->gone);
}

static void server_start(struct vfx *f)
{
    struct vdev_vfu_server_config sc = {
        .loop = f->loop,
        .ops = &tdev_ops,
        .opaque = &f->dev,
        .socket_path = f->path,
        .listen_fd = -1,
        .conn_fd = -1,
        .max_dma_maps = f->opts.max_dma_maps,
        .max_data_xfer_size = f->opts.max_data_xfer_size,
        .on_disconnect = on_disconnect,
    };

    assert_int_equal(vdev_vfu_server_new(&sc, &f->srv), 0);
    f->dev.srv = f->srv;
}

void vfx_wait_gone(struct vfx *f)
{
    wait_sem(&f->gone);
}

void vfx_hold(struct vfx *f)
{
    uint32_t one = 1;

    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_HOLD, &one, 4, true), 0);
    wait_sem(&f->dev.held);
}

void vfx_release(struct vfx *f)
{
    sem_post(&f->dev.hold);
}

struct vdev_vfuc *vfx_connect(struct vfx *f)
{
    struct vdev_vfuc *c = NULL;

    assert_int_equal(vdev_vfuc_connect(f->path, VFX_TIMEOUT_MS, &c), 0);
    return c;
}

static int setup_with(void **state, const struct vfx_opts *o)
{
    struct vfx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->opts = *o;
    f->fds_before = test_count_fds();
    assert_int_equal(sem_init(&f->gone, 0, 0), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/vfu-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
    tdev_init(&f->dev);
    assert_int_equal(vdev_loop_new(&f->loop), 0);
    server_start(f);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f->loop), 0);
    f->c = vfx_connect(f);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, &f->caps), 0);
    *state = f;
    return 0;
}

int vfx_setup(void **state)
{
    struct vfx_opts o = { 0 };

    return setup_with(state, &o);
}

int vfx_setup_small(void **state)
{
    struct vfx_opts o = { .max_dma_maps = 2, .max_data_xfer_size = 4096 };

    return setup_with(state, &o);
}

/* A clean session: the server must still serve whatever the test did. */
static void clean_session(struct vfx *f)
{
    struct vdev_vfuc *c = vfx_connect(f);
    uint32_t v = 0x5a5a5a5a, back = 0;

    assert_int_equal(vdev_vfuc_negotiate(c, NULL, NULL), 0);
    assert_int_equal(vdev_vfuc_region_write(c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_SCRATCH1, &v, 4, false), 0);
    assert_int_equal(vdev_vfuc_region_read(c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_REG_SCRATCH1, &back, 4), 0);
    assert_int_equal(back, v);
    vdev_vfuc_close(c);
    vfx_wait_gone(f);
}

int vfx_teardown(void **state)
{
    struct vfx *f = *state;

    if (f->c) {
        bool was = vdev_vfuc_connected(f->c);

        vdev_vfuc_close(f->c);
        /* A client the server dropped already was waited for by its test. */
        if (was)
            vfx_wait_gone(f);
    }
    clean_session(f);
    vdev_loop_stop(f->loop);
    pthread_join(f->thread, NULL);
    vdev_vfu_server_free(f->srv);
    vdev_loop_free(f->loop);
    tdev_fini(&f->dev);
    rmdir(f->dir);
    sem_destroy(&f->gone);
    assert_no_fd_leak(f->fds_before);
    free(f);
    return 0;
}

/* --- raw messages ------------------------------------------------------------- */

void vfx_raw_send(struct vfx *f, uint16_t id, uint16_t cmd, uint32_t flags,
                  const void *payload, uint32_t size, const int *fds, size_t nfds)
{
    uint8_t *m = malloc(sizeof(struct vfu_header) + size);
    struct vfu_header h = { .msg_id = id, .command = cmd,
                            .msg_size = (uint32_t)sizeof(h) + size, .flags = flags };

    assert_non_null(m);
    memcpy(m, &h, sizeof(h));
    if (size)
        memcpy(m + sizeof(h), payload, size);
    assert_int_equal(vdev_sock_send(vdev_vfuc_socket(f->c), m, sizeof(h) + size, fds,
                                    nfds, VFX_TIMEOUT_MS), 0);
    free(m);
}

void vfx_raw_recv(struct vfx *f, struct vfu_header *h, void *buf, size_t cap)
{
    int sock = vdev_vfuc_socket(f->c);
    size_t n;

    assert_int_equal(vdev_sock_recv(sock, h, sizeof(*h), NULL, 0, NULL,
                                    VFX_TIMEOUT_MS), 0);
    assert_true(h->msg_size >= sizeof(*h));
    n = h->msg_size - sizeof(*h);
    assert_true(n <= cap);
    assert_int_equal(vdev_sock_recv(sock, buf, n, NULL, 0, NULL, VFX_TIMEOUT_MS), 0);
}

uint32_t tdev_reg(struct vfx *f, uint32_t off)
{
    return get32(f->dev.bar0 + off);
}

int vfx_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    assert_true(fd >= 0);
    return fd;
}

uint64_t vfx_eventfd_count(int fd)
{
    eventfd_t v = 0;

    if (eventfd_read(fd, &v) < 0)
        return 0;
    return v;
}
