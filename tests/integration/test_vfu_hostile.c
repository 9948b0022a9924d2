/* test_vfu_hostile.c — vdev's vfio-user server against a client that breaks the
 * rules: every error path the server implements answers with the errno the
 * spec or VFIO gives, leaks no fd, and leaves the connection serving (or, where
 * the stream cannot be trusted, drops it and serves the next client). The
 * fixture's teardown runs a clean session and checks no fd is left open. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "test_vfu_fixture.h"
#include "vdev/mem.h"
#include "vdev/sock.h"

#define IOVA  0x100000ull
#define PAGE  4096ull

/* The connection still serves: a register round trip. */
static void assert_serves(struct vfx *f)
{
    uint32_t v = 0x77, back = 0;

    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_SCRATCH0, &v, 4, false), 0);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_REG_SCRATCH0, &back, 4), 0);
    assert_int_equal(back, v);
}

static int request(struct vfx *f, uint16_t cmd, const void *p, uint32_t size)
{
    return vdev_vfuc_request(f->c, cmd, 0, p, size, NULL, 0, NULL, 0, NULL);
}

/* Every command with a payload one byte short of its fixed part (or, for
 * DEVICE_RESET, one byte too long) is EINVAL, and the next command is served. */
static void test_short_payloads(void **state)
{
    static const struct { uint16_t cmd; uint32_t size; } cases[] = {
        { VFU_CMD_DMA_MAP, sizeof(struct vfu_dma_map) - 1 },
        { VFU_CMD_DMA_UNMAP, sizeof(struct vfu_dma_unmap) - 1 },
        { VFU_CMD_DEVICE_GET_INFO, 15 },
        { VFU_CMD_DEVICE_GET_REGION_INFO, sizeof(struct vfio_region_info) - 1 },
        { VFU_CMD_DEVICE_GET_IRQ_INFO, sizeof(struct vfio_irq_info) - 1 },
        { VFU_CMD_DEVICE_SET_IRQS, sizeof(struct vfio_irq_set) - 1 },
        { VFU_CMD_REGION_READ, sizeof(struct vfu_region_access) - 1 },
        { VFU_CMD_REGION_WRITE, sizeof(struct vfu_region_access) - 1 },
        { VFU_CMD_DEVICE_RESET, 1 },
        { VFU_CMD_VERSION, 3 },
    };
    struct vfx *f = *state;
    uint8_t zeros[64] = { 0 };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(request(f, cases[i].cmd, zeros, cases[i].size), -EINVAL);
        assert_true(vdev_vfuc_connected(f->c));
    }
    assert_int_equal(f->dev.resets, 0);
    assert_serves(f);
}

/* Before VERSION nothing else is served; a short VERSION is refused and a good
 * one then succeeds. */
static void test_version_first(void **state)
{
    struct vfx *f = *state;
    struct vfio_device_info info;
    uint8_t v[3] = { 0 };

    /* The fixture's client is negotiated: a fresh one must take its place (one
     * client at a time). */
    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    assert_int_equal(vdev_vfuc_device_info(f->c, &info), -EINVAL);
    assert_int_equal(request(f, VFU_CMD_VERSION, v, 3), -EINVAL);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), 0);
    assert_int_equal(vdev_vfuc_device_info(f->c, &info), 0);
}

/* The capabilities JSON is parsed strictly: each of these is EINVAL, the
 * connection lives, and a good VERSION afterwards is served. */
static void test_version_bad_json(void **state)
{
    static const char *bad[] = {
        "{\"capabilities\":{\"max_msg_fds\":\"8\"}}",
        "{\"capabilities\":{\"max_msg_fds\":-1}}",
        "{\"capabilities\":{\"max_data_xfer_size\":1.5}}",
        "{\"capabilities\":{\"pgsizes\":0}}",
        "{\"capabilities\":[]}",
        "{\"capabilities\":{\"twin_socket\":true}}",
        "{\"capabilities\":{\"migration\":{\"pgsize\":\"x\"}}}",
        "{\"capabilities\":{}} trailing",
        "[1,2]",
        "{\"capabilities\":",
        "{'capabilities':{}}",
    };
    struct vfx *f = *state;
    uint8_t msg[128];
    struct vfu_version v = { .major = 0, .minor = 0 };

    /* The fixture's client is negotiated: a fresh one must go first in line. */
    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]) + 1;

        memcpy(msg, &v, sizeof(v));
        memcpy(msg + sizeof(v), bad[i], n);
        assert_int_equal(request(f, VFU_CMD_VERSION, msg, (uint32_t)(sizeof(v) + n)),
                         -EINVAL);
    }
    /* No NUL at the end, and a NUL inside. */
    memcpy(msg + sizeof(v), "{}", 2);
    assert_int_equal(request(f, VFU_CMD_VERSION, msg, sizeof(v) + 2), -EINVAL);
    memcpy(msg + sizeof(v), "{}\0{}\0", 6);
    assert_int_equal(request(f, VFU_CMD_VERSION, msg, sizeof(v) + 6), -EINVAL);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), 0);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), -EINVAL);   /* twice */
    assert_serves(f);
}

/* A major version we do not speak: the error reply, then the connection is
 * closed ("closes the connection if it cannot support the advertised
 * version"). */
static void test_version_bad_major(void **state)
{
    struct vfx *f = *state;
    struct vfu_version v = { .major = 1, .minor = 0 };
    uint32_t x;

    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    assert_int_equal(request(f, VFU_CMD_VERSION, &v, sizeof(v)), -ENOTSUP);
    vfx_wait_gone(f);
    assert_true(vdev_vfuc_region_read(f->c, 0, 0, &x, 4) < 0);
    assert_false(vdev_vfuc_connected(f->c));
}

/* Region index out of range, offset + count past the end or wrapping, count
 * above max_data_xfer_size, a write's data not matching its count, a write to a
 * read-only region: each EINVAL; the device is not called. */
static void test_region_access_bounds(void **state)
{
    struct vfx *f = *state;
    struct vfu_region_access a = { .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4 };
    uint8_t wr[sizeof(a) + 8] = { 0 };
    struct vdev_vfuc_region r;
    uint32_t x = 1;

    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_NUM_REGIONS, 0, &x, 4),
                     -EINVAL);
    assert_int_equal(vdev_vfuc_region_write(f->c, 1000, 0, &x, 4, false), -EINVAL);
    assert_int_equal(vdev_vfuc_region_info(f->c, UINT32_MAX, &r), -EINVAL);
    assert_int_equal(vdev_vfuc_region_info(f->c, VFIO_PCI_NUM_REGIONS, &r), -EINVAL);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_BAR0_SIZE - 2, &x, 4), -EINVAL);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           UINT64_MAX - 1, &x, 4), -EINVAL);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR1_REGION_INDEX, 0, &x, 4),
                     -EINVAL);                       /* a region of size 0 */
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_CONFIG_REGION_INDEX, 0, &x,
                                            4, false), -EINVAL);

    a.offset = 0;
    a.count = f->caps.max_data_xfer_size + 1;
    assert_int_equal(request(f, VFU_CMD_REGION_READ, &a, sizeof(a)), -EINVAL);
    a.count = 8;                                     /* 8 announced, 4 sent */
    memcpy(wr, &a, sizeof(a));
    assert_int_equal(request(f, VFU_CMD_REGION_WRITE, wr, sizeof(a) + 4), -EINVAL);
    a.count = 2;                                     /* 2 announced, 8 sent */
    memcpy(wr, &a, sizeof(a));
    assert_int_equal(request(f, VFU_CMD_REGION_WRITE, wr, sizeof(a) + 8), -EINVAL);
    assert_int_equal(tdev_reg(f, TDEV_REG_SCRATCH0), 0);
    assert_serves(f);
}

/* The client checks the server's max_data_xfer_size before it sends. */
static void test_client_xfer_limit(void **state)
{
    struct vfx *f = *state;
    uint8_t *buf = calloc(1, f->caps.max_data_xfer_size + 1);

    assert_non_null(buf);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR2_REGION_INDEX, 0, buf,
                                           f->caps.max_data_xfer_size + 1), -E2BIG);
    assert_true(vdev_vfuc_connected(f->c));
    free(buf);
}

/* A server configured for 4 KiB transfers and 2 DMA windows holds to both. */
static void test_small_limits(void **state)
{
    struct vfx *f = *state;
    struct vfu_region_access a = { .region = VFIO_PCI_BAR2_REGION_INDEX, .count = 4097 };
    uint8_t buf[4096];

    assert_int_equal(f->caps.max_data_xfer_size, 4096);
    assert_int_equal(f->caps.max_dma_maps, 2);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR2_REGION_INDEX, 0, buf,
                                           sizeof(buf)), 0);
    assert_int_equal(request(f, VFU_CMD_REGION_READ, &a, sizeof(a)), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, -1, 0, VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + PAGE, PAGE, -1, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + 2 * PAGE, PAGE, -1, 0,
                                       VDEV_VFUC_DMA_RW), -ENOSPC);
    assert_serves(f);
}

/* A map over any part of a window is EEXIST; nothing of it is mapped. */
static void test_dma_overlap(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dma", 8 * PAGE);

    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + 2 * PAGE, 2 * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + 2 * PAGE, 2 * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), -EEXIST);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + PAGE, 2 * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), -EEXIST);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + 3 * PAGE, 2 * PAGE, -1, 0,
                                       VDEV_VFUC_DMA_RW), -EEXIST);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, 8 * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), -EEXIST);
    assert_int_equal(f->dev.maps, 1);
    assert_int_equal(vdev_mem_count(vdev_vfu_server_mem(f->srv)), 1);
    /* Touching either side is fine. */
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, 2 * PAGE, mfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + 4 * PAGE, PAGE, -1, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    close(mfd);
}

/* DMA_UNMAP of what was never mapped, or of part of a window: ENOENT. The
 * dirty bitmap flag is ENOTSUP, unknown flags and ALL with a range EINVAL. */
static void test_dma_unmap_errors(void **state)
{
    struct vfx *f = *state;

    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, PAGE, 0), -ENOENT);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, 2 * PAGE, -1, 0, VDEV_VFUC_DMA_RW),
                     0);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, PAGE, 0), -ENOENT);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA + PAGE, PAGE, 0), -ENOENT);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, 2 * PAGE,
                                         VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP), -ENOTSUP);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, 2 * PAGE, 1u << 7), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, 2 * PAGE, VFIO_DMA_UNMAP_FLAG_ALL),
                     -EINVAL);
    assert_int_equal(f->dev.unmaps, 0);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, 2 * PAGE, 0), 0);
}

/* DMA_MAP arguments: size 0, unaligned, wrapping, no access, unknown flags, an
 * offset without fd, a wrong argsz, two fds, an fd too small. */
static void test_dma_map_errors(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dma", PAGE);
    int two[2] = { mfd, mfd };
    struct vfu_dma_map m = { .argsz = sizeof(m), .flags = 3, .addr = IOVA,
                             .size = PAGE };

    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, 0, -1, 0, 3), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + 1, PAGE, -1, 0, 3), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE + 1, -1, 0, 3), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, mfd, 1, 3), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_map(f->c, UINT64_MAX - PAGE + 1, 2 * PAGE, -1, 0, 3),
                     -EOVERFLOW);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, -1, 0, 0), -EINVAL);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, 2 * PAGE, mfd, 0, 3), -ERANGE);
    m.flags = 1u << 5;
    assert_int_equal(request(f, VFU_CMD_DMA_MAP, &m, sizeof(m)), -EINVAL);
    m.flags = 3;
    m.offset = PAGE;                                 /* no fd */
    assert_int_equal(request(f, VFU_CMD_DMA_MAP, &m, sizeof(m)), -EINVAL);
    m.offset = 0;
    m.argsz = 16;
    assert_int_equal(request(f, VFU_CMD_DMA_MAP, &m, sizeof(m)), -EINVAL);
    m.argsz = sizeof(m);
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DMA_MAP, 0, &m, sizeof(m), two, 2,
                                       NULL, 0, NULL), -EINVAL);
    assert_int_equal(f->dev.maps, 0);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, mfd, 0, 3), 0);
    close(mfd);
}

static int set_irqs_raw(struct vfx *f, const struct vfio_irq_set *s, const void *data,
                        uint32_t data_size, const int *fds, size_t nfds)
{
    uint8_t buf[sizeof(*s) + 64];

    memcpy(buf, s, sizeof(*s));
    if (data_size)
        memcpy(buf + sizeof(*s), data, data_size);
    return vdev_vfuc_request(f->c, VFU_CMD_DEVICE_SET_IRQS, 0, buf,
                             (uint32_t)sizeof(*s) + data_size, fds, nfds, NULL, 0, NULL);
}

/* SET_IRQS: start + count wrapping or past the vectors, a bad index, flags with
 * two data or two action bits, argsz not the payload's size, bool data of the
 * wrong length, fds not matching count, fds without DATA_EVENTFD, masking an
 * index that cannot be masked: EINVAL each, no fd kept. */
static void test_set_irqs_errors(void **state)
{
    struct vfx *f = *state;
    int ev[2] = { vfx_eventfd(), vfx_eventfd() };
    uint8_t bools[4] = { 1, 1, 1, 1 };
    const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    struct vfio_irq_set s = { .argsz = sizeof(s), .flags = trig,
                              .index = VFIO_PCI_MSIX_IRQ_INDEX };
    int base = test_count_fds();

    s.start = UINT32_MAX;
    s.count = 2;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);
    s.start = TDEV_MSIX_COUNT - 1;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);
    s.start = 0;
    s.index = VFIO_PCI_NUM_IRQS;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);
    s.index = VFIO_PCI_MSIX_IRQ_INDEX;
    s.flags = trig | VFIO_IRQ_SET_DATA_NONE;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);
    s.flags = trig | VFIO_IRQ_SET_ACTION_MASK;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);
    s.flags = trig | (1u << 9);
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);
    s.flags = trig;
    s.argsz = sizeof(s) + 4;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);
    s.argsz = sizeof(s);
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 1), -EINVAL);   /* 1 fd of 2 */
    s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, 2), -EINVAL);   /* fds, no data */
    s.flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
    s.argsz = sizeof(s) + 4;
    assert_int_equal(set_irqs_raw(f, &s, bools, 4, NULL, 0), -EINVAL); /* 4 of 2 */
    s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    s.argsz = sizeof(s);
    s.start = 1;
    s.count = 0;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, NULL, 0), -EINVAL);  /* 0 at 1 */
    s.index = VFIO_PCI_ERR_IRQ_INDEX;
    s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK;
    s.start = 0;
    s.count = 1;
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, NULL, 0), -EINVAL);  /* not maskable */
    assert_int_equal(f->dev.set_irqs, 0);
    assert_int_equal(test_count_fds(), base);
    close(ev[0]);
    close(ev[1]);
    assert_serves(f);
}

/* More fds than the server announced in max_msg_fds: all are closed, the
 * command is refused with EMSGSIZE, and the connection lives. */
static void test_too_many_fds(void **state)
{
    struct vfx *f = *state;
    uint32_t n = f->caps.max_msg_fds + 1;
    int ev[TDEV_MSIX_COUNT];
    struct vfio_irq_set s = { .argsz = sizeof(s),
                              .flags = VFIO_IRQ_SET_DATA_EVENTFD |
                                       VFIO_IRQ_SET_ACTION_TRIGGER,
                              .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = n };
    int base;

    assert_true(n <= TDEV_MSIX_COUNT);
    for (uint32_t i = 0; i < n; i++)
        ev[i] = vfx_eventfd();
    base = test_count_fds();
    assert_int_equal(set_irqs_raw(f, &s, NULL, 0, ev, n), -EMSGSIZE);
    assert_int_equal(test_count_fds(), base);
    assert_int_equal(f->dev.set_irqs, 0);
    for (uint32_t i = 0; i < n; i++)
        close(ev[i]);
    assert_serves(f);
}

/* fds on a command that takes none are closed, and the command refused. */
static void test_fds_where_none_belong(void **state)
{
    struct vfx *f = *state;
    int ev = vfx_eventfd();
    struct vfio_device_info req = { .argsz = 16 };
    int base = test_count_fds();

    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_GET_INFO, 0, &req, 16, &ev,
                                       1, NULL, 0, NULL), -EINVAL);
    assert_int_equal(test_count_fds(), base);
    close(ev);
    assert_serves(f);
}

/* Unknown commands are ENOSYS, the spec's commands this core does not serve
 * (or not without its capability: REGION_WRITE_MULTI) ENOTSUP, a command with
 * the Error flag or another type EINVAL. */
static void test_unknown_commands(void **state)
{
    struct vfx *f = *state;
    uint8_t zeros[32] = { 0 };

    assert_int_equal(request(f, 14, NULL, 0), -ENOSYS);
    assert_int_equal(request(f, 0, NULL, 0), -ENOSYS);
    assert_int_equal(request(f, 999, NULL, 0), -ENOSYS);
    assert_int_equal(request(f, VFU_CMD_REGION_WRITE_MULTI, zeros, 32), -ENOTSUP);
    assert_int_equal(request(f, VFU_CMD_DMA_READ, zeros, 16), -ENOTSUP);
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_RESET, VFU_F_ERROR, NULL, 0,
                                       NULL, 0, NULL, 0, NULL), -EINVAL);
    assert_int_equal(f->dev.resets, 0);
    assert_serves(f);
}

/* DEVICE_GET_REGION_IO_FDS: flags or count set, argsz below the header, a
 * region out of range: EINVAL. An argsz too small for the entries: the header
 * alone with the count needed, and no fd (the client says E2BIG). */
static void test_region_io_fds_errors(void **state)
{
    struct vfx *f = *state;
    struct vfu_region_io_fds req = { .argsz = 16, .flags = 1 };
    struct vfu_region_io_fds out;
    struct vdev_vfuc_io_fd subs[1];
    int fds[8];
    uint32_t n = 0, size = 0;
    size_t nfds = 9;
    int base = test_count_fds();

    assert_int_equal(request(f, VFU_CMD_DEVICE_GET_REGION_IO_FDS, &req, 16), -EINVAL);
    req.flags = 0;
    req.count = 1;
    assert_int_equal(request(f, VFU_CMD_DEVICE_GET_REGION_IO_FDS, &req, 16), -EINVAL);
    req.count = 0;
    req.argsz = 15;
    assert_int_equal(request(f, VFU_CMD_DEVICE_GET_REGION_IO_FDS, &req, 16), -EINVAL);
    req.argsz = 16;
    req.index = VFIO_PCI_NUM_REGIONS;
    assert_int_equal(request(f, VFU_CMD_DEVICE_GET_REGION_IO_FDS, &req, 16), -EINVAL);
    req.index = VFIO_PCI_BAR0_REGION_INDEX;
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_GET_REGION_IO_FDS, 0, &req,
                                       16, NULL, 0, &out, sizeof(out), &size), 0);
    assert_int_equal(size, 16);
    assert_int_equal(out.argsz, 16 + 3 * 40);
    assert_int_equal(out.count, 3);
    assert_int_equal(vdev_vfuc_region_io_fds(f->c, VFIO_PCI_BAR0_REGION_INDEX, subs, 1,
                                             &n, fds, &nfds), -E2BIG);
    assert_int_equal(n, 3);
    assert_int_equal(nfds, 0);
    assert_int_equal(test_count_fds(), base);
    assert_serves(f);
}

/* REGION_WRITE_MULTI, negotiated: a write of 0 or 9 bytes, wr_cnt not matching
 * the payload, a bad region or range in any write: EINVAL, and no write of
 * the message is made. */
static void test_write_multi_errors(void **state)
{
    struct vfx *f = *state;
    struct vdev_vfuc_offer o = { .write_multiple = true };
    struct vdev_vfuc_write w[2] = {
        { .offset = TDEV_REG_SCRATCH0, .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4,
          .data = { 1, 2, 3, 4 } },
        { .offset = TDEV_REG_SCRATCH1, .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4 },
    };
    uint8_t msg[8 + 2 * 24] = { 0 };
    uint64_t cnt = 3;                               /* 3 announced, 2 sent */

    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    assert_int_equal(vdev_vfuc_negotiate(f->c, &o, &f->caps), 0);
    assert_true(f->caps.write_multiple);

    w[1].region = VFIO_PCI_NUM_REGIONS;
    assert_int_equal(vdev_vfuc_region_write_multi(f->c, w, 2, false), -EINVAL);
    w[1].region = VFIO_PCI_CONFIG_REGION_INDEX;     /* read-only */
    assert_int_equal(vdev_vfuc_region_write_multi(f->c, w, 2, false), -EINVAL);
    w[1].region = VFIO_PCI_BAR0_REGION_INDEX;
    w[1].offset = TDEV_BAR0_SIZE - 2;
    assert_int_equal(vdev_vfuc_region_write_multi(f->c, w, 2, false), -EINVAL);
    assert_int_equal(tdev_reg(f, TDEV_REG_SCRATCH0), 0);

    memcpy(msg, &cnt, 8);
    assert_int_equal(request(f, VFU_CMD_REGION_WRITE_MULTI, msg, sizeof(msg)), -EINVAL);
    cnt = 2;
    memcpy(msg, &cnt, 8);
    memcpy(msg + 8, &w[0], 24);
    memcpy(msg + 8 + 24, &w[0], 24);
    msg[8 + 24 + 12] = 9;                           /* the 2nd write's count: 9 */
    assert_int_equal(request(f, VFU_CMD_REGION_WRITE_MULTI, msg, sizeof(msg)), -EINVAL);
    msg[8 + 24 + 12] = 0;
    assert_int_equal(request(f, VFU_CMD_REGION_WRITE_MULTI, msg, sizeof(msg)), -EINVAL);
    assert_int_equal(tdev_reg(f, TDEV_REG_SCRATCH0), 0);
    assert_serves(f);
}

/* An error in a No_reply command gets no reply either: the next command's
 * reply is the next message on the socket. */
static void test_no_reply_error_is_silent(void **state)
{
    struct vfx *f = *state;
    uint32_t x = 1;

    assert_int_equal(vdev_vfuc_region_write(f->c, 1000, 0, &x, 4, true), 0);
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_BAR0_SIZE, &x, 4, true), 0);
    assert_serves(f);
}

/* Several commands in one write are all served, in order, each answered with
 * its own id: the server reads in batches. */
static void test_pipelined_commands(void **state)
{
    struct vfx *f = *state;
    uint8_t buf[3 * 32 + 64];
    size_t n = 0;
    struct vfio_device_info info = { .argsz = 16 };
    struct vfu_region_access a = { .offset = TDEV_REG_SCRATCH0,
                                   .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4 };
    uint32_t v = 0xabcd;
    struct vfu_header h;
    uint8_t reply[64];

    h = (struct vfu_header){ .msg_id = 100, .command = VFU_CMD_DEVICE_GET_INFO,
                             .msg_size = 32 };
    memcpy(buf + n, &h, 16);
    memcpy(buf + n + 16, &info, 16);
    n += 32;
    h = (struct vfu_header){ .msg_id = 101, .command = VFU_CMD_REGION_WRITE,
                             .msg_size = 36, .flags = VFU_F_NO_REPLY };
    memcpy(buf + n, &h, 16);
    memcpy(buf + n + 16, &a, 16);
    memcpy(buf + n + 32, &v, 4);
    n += 36;
    h = (struct vfu_header){ .msg_id = 102, .command = VFU_CMD_REGION_READ,
                             .msg_size = 32 };
    memcpy(buf + n, &h, 16);
    memcpy(buf + n + 16, &a, 16);
    n += 32;
    vfx_hold(f);
    assert_int_equal(vdev_sock_send(vdev_vfuc_socket(f->c), buf, n, NULL, 0,
                                    VFX_TIMEOUT_MS), 0);
    vfx_release(f);

    vfx_raw_recv(f, &h, reply, sizeof(reply));
    assert_int_equal(h.msg_id, 100);
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY);
    assert_int_equal(h.msg_size, 32);
    vfx_raw_recv(f, &h, reply, sizeof(reply));
    assert_int_equal(h.msg_id, 102);
    assert_int_equal(h.msg_size, 16 + 16 + 4);
    assert_memory_equal(reply + 16, &v, 4);
    assert_serves(f);
}

/* Commands queued while the server is busy arrive in one batch: a command
 * without fd, then two DMA_MAPs each with its own memfd. Each fd goes to the
 * message it came with (the device reads each window's own contents), and the
 * command before them gets none. */
static void test_pipelined_fds(void **state)
{
    struct vfx *f = *state;
    int m1 = test_memfd("vfu-dma1", PAGE), m2 = test_memfd("vfu-dma2", PAGE);
    uint32_t w1 = 0x11111111, w2 = 0x22222222, got = 0;
    struct vfu_dma_map d = { .argsz = sizeof(d), .flags = 3, .size = PAGE };
    struct vfio_device_info info = { .argsz = 16 };
    struct vfu_header h;
    uint8_t reply[16];
    struct vdev_mem *mem;

    assert_int_equal(pwrite(m1, &w1, 4, 0), 4);
    assert_int_equal(pwrite(m2, &w2, 4, 0), 4);
    vfx_hold(f);
    vfx_raw_send(f, 6, VFU_CMD_DEVICE_GET_INFO, 0, &info, 16, NULL, 0);
    d.addr = IOVA;
    vfx_raw_send(f, 7, VFU_CMD_DMA_MAP, 0, &d, sizeof(d), &m1, 1);
    d.addr = IOVA + PAGE;
    vfx_raw_send(f, 8, VFU_CMD_DMA_MAP, 0, &d, sizeof(d), &m2, 1);
    vfx_release(f);
    for (uint16_t id = 6; id <= 8; id++) {
        vfx_raw_recv(f, &h, reply, sizeof(reply));
        assert_int_equal(h.msg_id, id);
        assert_int_equal(h.flags, VFU_F_TYPE_REPLY);
    }
    assert_int_equal(f->dev.maps, 2);
    assert_true(f->dev.last_shared);
    mem = vdev_vfu_server_mem(f->srv);
    assert_int_equal(vdev_mem_read(mem, IOVA, &got, 4), 0);
    assert_int_equal(got, w1);
    assert_int_equal(vdev_mem_read(mem, IOVA + PAGE, &got, 4), 0);
    assert_int_equal(got, w2);
    close(m1);
    close(m2);
}

/* A msg_size below the header's own: the stream cannot be trusted, the
 * connection is dropped, and the next client is served. */
static void test_msg_size_too_small(void **state)
{
    struct vfx *f = *state;
    struct vfu_header h = { .msg_id = 1, .command = VFU_CMD_DEVICE_RESET, .msg_size = 8 };

    assert_int_equal(vdev_sock_send(vdev_vfuc_socket(f->c), &h, sizeof(h), NULL, 0,
                                    VFX_TIMEOUT_MS), 0);
    vfx_wait_gone(f);
    vdev_vfuc_close(f->c);
    f->c = NULL;
}

/* A msg_size larger than any command takes: dropped without reading it. */
static void test_msg_size_too_large(void **state)
{
    struct vfx *f = *state;
    struct vfu_header h = { .msg_id = 1, .command = VFU_CMD_REGION_WRITE,
                            .msg_size = UINT32_MAX };

    assert_int_equal(vdev_sock_send(vdev_vfuc_socket(f->c), &h, sizeof(h), NULL, 0,
                                    VFX_TIMEOUT_MS), 0);
    vfx_wait_gone(f);
    vdev_vfuc_close(f->c);
    f->c = NULL;
}

/* The client goes away part-way through a message that carries an fd: the
 * server drops the connection and closes the fd; nothing leaks (teardown). */
static void test_disconnect_mid_message(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dma", PAGE);
    uint8_t part[16 + 10] = { 0 };
    struct vfu_header h = { .msg_id = 1, .command = VFU_CMD_DMA_MAP, .msg_size = 48 };
    int base = test_count_fds();

    memcpy(part, &h, sizeof(h));
    assert_int_equal(vdev_sock_send(vdev_vfuc_socket(f->c), part, sizeof(part), &mfd, 1,
                                    VFX_TIMEOUT_MS), 0);
    vdev_vfuc_close(f->c);
    f->c = NULL;
    vfx_wait_gone(f);
    /* The client's socket, the server's end, and the server's copy of mfd. */
    assert_int_equal(test_count_fds(), base - 2);
    assert_int_equal(f->dev.maps, 0);
    close(mfd);
}

/* A reply sent to the server (it sends no command) is ignored with a log line,
 * and gets no reply. */
static void test_stray_reply(void **state)
{
    struct vfx *f = *state;

    vfx_raw_send(f, 55, VFU_CMD_DMA_READ, VFU_F_TYPE_REPLY, NULL, 0, NULL, 0);
    assert_serves(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, vfx_setup, vfx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_short_payloads),
        T(test_version_first),
        T(test_version_bad_json),
        T(test_version_bad_major),
        T(test_region_access_bounds),
        T(test_client_xfer_limit),
        cmocka_unit_test_setup_teardown(test_small_limits, vfx_setup_small,
                                        vfx_teardown),
        T(test_dma_overlap),
        T(test_dma_unmap_errors),
        T(test_dma_map_errors),
        T(test_set_irqs_errors),
        T(test_too_many_fds),
        T(test_fds_where_none_belong),
        T(test_unknown_commands),
        T(test_write_multi_errors),
        T(test_region_io_fds_errors),
        T(test_no_reply_error_is_silent),
        T(test_pipelined_commands),
        T(test_pipelined_fds),
        T(test_msg_size_too_small),
        T(test_msg_size_too_large),
        T(test_disconnect_mid_message),
        T(test_stray_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
