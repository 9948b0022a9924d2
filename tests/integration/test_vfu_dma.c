/* test_vfu_dma.c — the device reaching client memory through vdev's server and
 * client: DMA_READ/DMA_WRITE over the twin socket for windows mapped without
 * fd, in place for windows shared with an fd, and the errors of both sides.
 * The device copies between client memory and its BAR2 on a register write
 * (test_vfu_fixture.h); the fixture's teardown checks no fd is left open. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <sys/mman.h>

#include "test_vfu_fixture.h"
#include "vdev/sock.h"

#define IOVA   0x40000ull
#define PAGE   4096ull
#define XFER   4096u              /* the client's max_data_xfer_size */

/* Replaces the fixture's client with one that offers twin-socket mode. */
static void twin_client(struct vfx *f)
{
    struct vdev_vfuc_offer o = { .twin_socket = true, .max_data_xfer_size = XFER };

    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    assert_int_equal(vdev_vfuc_negotiate(f->c, &o, &f->caps), 0);
}

static void reg_write(struct vfx *f, uint32_t off, uint32_t v)
{
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX, off, &v, 4,
                                            false), 0);
}

/* The device copies len bytes: cmd 1 client memory -> BAR2, 2 the reverse;
 * returns its status. */
static int device_dma(struct vfx *f, uint64_t iova, uint32_t len, uint32_t cmd)
{
    reg_write(f, TDEV_REG_DMA_LO, (uint32_t)iova);
    reg_write(f, TDEV_REG_DMA_HI, (uint32_t)(iova >> 32));
    reg_write(f, TDEV_REG_DMA_LEN, len);
    reg_write(f, TDEV_REG_DMA_CMD, cmd);
    return (int)tdev_reg(f, TDEV_REG_DMA_STATUS);
}

static void test_twin_negotiated(void **state)
{
    struct vfx *f = *state;

    assert_false(f->caps.twin_socket);
    twin_client(f);
    assert_true(f->caps.twin_socket);
}

/* A window without fd: the device reads and writes it through DMA_READ and
 * DMA_WRITE, in pieces of the client's max_data_xfer_size (a bigger piece
 * would be refused by the client). */
static void test_dma_local_window(void **state)
{
    struct vfx *f = *state;
    uint32_t len = 2 * XFER - 10;     /* two pieces; BAR2 holds 8 KiB */
    uint8_t *mem = malloc(4 * PAGE);

    assert_non_null(mem);
    twin_client(f);
    for (unsigned i = 0; i < 4 * PAGE; i++)
        mem[i] = (uint8_t)(i * 7);
    assert_int_equal(vdev_vfuc_dma_map_local(f->c, IOVA, 4 * PAGE, mem,
                                             VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(device_dma(f, IOVA + 5, len, 1), 0);
    assert_memory_equal(f->dev.bar2, mem + 5, len);

    memset(f->dev.bar2, 0x3c, len);
    assert_int_equal(device_dma(f, IOVA + PAGE, len, 2), 0);
    for (uint32_t i = 0; i < len; i++)
        assert_int_equal(mem[PAGE + i], 0x3c);
    assert_int_equal(mem[PAGE - 1], (uint8_t)((PAGE - 1) * 7));  /* untouched */
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, 4 * PAGE, 0), 0);
    free(mem);
}

/* A range over a shared window and a local one next to it: each part the
 * way its window allows. */
static void test_dma_across_windows(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dma", PAGE);
    uint8_t local[PAGE], *shared;

    twin_client(f);
    shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    assert_true(shared != MAP_FAILED);
    memset(shared, 0x11, PAGE);
    memset(local, 0x22, PAGE);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, mfd, 0, VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_dma_map_local(f->c, IOVA + PAGE, PAGE, local,
                                             VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(device_dma(f, IOVA + PAGE - 8, 16, 1), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(f->dev.bar2[i], 0x11);
        assert_int_equal(f->dev.bar2[8 + i], 0x22);
    }
    munmap(shared, PAGE);
    close(mfd);
}

/* The server's checks: no window (EFAULT), past a window's end (EFAULT), a
 * read-only window written (EACCES). */
static void test_dma_server_checks(void **state)
{
    struct vfx *f = *state;
    uint8_t mem[PAGE];

    twin_client(f);
    assert_int_equal(vdev_vfuc_dma_map_local(f->c, IOVA, PAGE, mem, VDEV_VFUC_DMA_READ),
                     0);
    assert_int_equal(device_dma(f, IOVA + 2 * PAGE, 4, 1), -EFAULT);
    assert_int_equal(device_dma(f, IOVA + PAGE - 2, 4, 1), -EFAULT);
    assert_int_equal(device_dma(f, IOVA, 4, 2), -EACCES);
    assert_int_equal(device_dma(f, IOVA, 4, 1), 0);
}

/* A window the server has but the client never recorded (mapped by a raw
 * DMA_MAP): the client answers EFAULT, the device sees it, and the twin
 * socket still serves. */
static void test_dma_client_refuses(void **state)
{
    struct vfx *f = *state;
    struct vfu_dma_map m = { .argsz = sizeof(m), .flags = 3, .addr = IOVA + 8 * PAGE,
                             .size = PAGE };
    uint8_t mem[PAGE];

    twin_client(f);
    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DMA_MAP, 0, &m, sizeof(m), NULL, 0,
                                       NULL, 0, NULL), 0);
    assert_int_equal(device_dma(f, IOVA + 8 * PAGE, 4, 1), -EFAULT);
    memset(mem, 0x5e, sizeof(mem));
    assert_int_equal(vdev_vfuc_dma_map_local(f->c, IOVA, PAGE, mem, VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(device_dma(f, IOVA, 4, 1), 0);
    assert_int_equal(f->dev.bar2[3], 0x5e);
}

/* Without twin-socket mode a window without fd cannot be reached: ENOTSUP. */
static void test_dma_without_twin(void **state)
{
    struct vfx *f = *state;
    uint8_t mem[PAGE];

    assert_false(f->caps.twin_socket);
    assert_int_equal(vdev_vfuc_dma_map_local(f->c, IOVA, PAGE, mem, VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(device_dma(f, IOVA, 4, 1), -ENOTSUP);
}

/* After DMA_UNMAP the window is gone on both sides. */
static void test_dma_after_unmap(void **state)
{
    struct vfx *f = *state;
    uint8_t mem[PAGE];

    twin_client(f);
    assert_int_equal(vdev_vfuc_dma_map_local(f->c, IOVA, PAGE, mem, VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(device_dma(f, IOVA, 4, 1), 0);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL), 0);
    assert_int_equal(device_dma(f, IOVA, 4, 1), -EFAULT);
}

static void raw_region_write(struct vfx *f, uint16_t id, uint32_t off, uint32_t val,
                             bool wait)
{
    struct vfu_region_access a = { .offset = off,
                                   .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4 };
    uint8_t buf[20];
    struct vfu_header h;

    memcpy(buf, &a, 16);
    memcpy(buf + 16, &val, 4);
    vfx_raw_send(f, id, VFU_CMD_REGION_WRITE, 0, buf, 20, NULL, 0);
    if (!wait)
        return;
    vfx_raw_recv(f, &h, buf, sizeof(buf));
    assert_int_equal(h.msg_id, id);
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY);
}

static bool readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) == 1;
}

/* A raw client with twin-socket mode (the library's client never misbehaves):
 * accesses outside a window or without its access send nothing on the twin
 * socket; a DMA_READ answered with a reply of another id fails the device's
 * access with EPROTO, the server closes the twin socket (out of step), and the
 * main connection still serves. */
static void test_twin_raw(void **state)
{
    struct vfx *f = *state;
    const char *caps = "{\"capabilities\":{\"twin_socket\":{\"supported\":true}}}";
    uint8_t buf[256];
    struct vfu_version v = { 0, 0 };
    struct vfu_dma_map m = { .argsz = sizeof(m), .flags = 1, .addr = IOVA, .size = PAGE };
    struct vfu_region_access a = { .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4 };
    struct vfu_header h;
    int twin = -1;
    size_t nfds = 0;

    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    memcpy(buf, &v, 4);
    memcpy(buf + 4, caps, strlen(caps) + 1);
    vfx_raw_send(f, 1, VFU_CMD_VERSION, 0, buf, (uint32_t)(4 + strlen(caps) + 1), NULL, 0);
    assert_int_equal(vdev_sock_recv(vdev_vfuc_socket(f->c), &h, 16, &twin, 1, &nfds,
                                    VFX_TIMEOUT_MS), 0);
    assert_int_equal(nfds, 1);
    assert_true(h.msg_size - 16 <= sizeof(buf));
    assert_int_equal(vdev_sock_recv(vdev_vfuc_socket(f->c), buf, h.msg_size - 16, NULL,
                                    0, NULL, VFX_TIMEOUT_MS), 0);
    assert_non_null(strstr((char *)buf + 4, "\"fd_index\":0"));
    vfx_raw_send(f, 2, VFU_CMD_DMA_MAP, 0, &m, sizeof(m), NULL, 0);   /* read-only */
    vfx_raw_recv(f, &h, buf, sizeof(buf));
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY);

    /* Outside the window: the device's read fails, nothing is sent. */
    raw_region_write(f, 3, TDEV_REG_DMA_LO, (uint32_t)(IOVA + 2 * PAGE), true);
    raw_region_write(f, 4, TDEV_REG_DMA_HI, 0, true);
    assert_int_equal(tdev_reg(f, TDEV_REG_DMA_DATA), 0xffffffffu);
    assert_false(readable(twin));
    /* A write into the read-only window: EACCES, nothing sent. */
    raw_region_write(f, 5, TDEV_REG_DMA_LO, (uint32_t)IOVA, true);
    raw_region_write(f, 6, TDEV_REG_DMA_LEN, 4, true);
    raw_region_write(f, 7, TDEV_REG_DMA_CMD, 2, true);
    assert_int_equal((int)tdev_reg(f, TDEV_REG_DMA_STATUS), -EACCES);
    assert_false(readable(twin));

    /* A read of the window: DMA_READ on the twin socket, answered wrongly. */
    raw_region_write(f, 8, TDEV_REG_DMA_HI, 0, false);
    assert_int_equal(vdev_sock_recv(twin, &h, 16, NULL, 0, NULL, VFX_TIMEOUT_MS), 0);
    assert_int_equal(h.command, VFU_CMD_DMA_READ);
    assert_int_equal(h.flags, VFU_F_TYPE_COMMAND);
    assert_int_equal(h.msg_size, 32);
    assert_int_equal(vdev_sock_recv(twin, buf + 16, 16, NULL, 0, NULL, VFX_TIMEOUT_MS), 0);
    h.msg_id++;                                   /* the wrong id */
    h.flags = VFU_F_TYPE_REPLY;
    h.msg_size = 36;
    memcpy(buf, &h, 16);
    memcpy(buf + 32, "abcd", 4);
    /* One send: the server closes the socket as soon as it sees the header. */
    assert_int_equal(vdev_sock_send(twin, buf, 36, NULL, 0, VFX_TIMEOUT_MS), 0);
    vfx_raw_recv(f, &h, buf, sizeof(buf));
    assert_int_equal(h.msg_id, 8);
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY);
    assert_int_equal(tdev_reg(f, TDEV_REG_DMA_DATA), 0xffffffffu);
    assert_int_equal(vdev_sock_recv(twin, &h, 16, NULL, 0, NULL, VFX_TIMEOUT_MS),
                     -ECONNRESET);                /* the server closed its end */
    close(twin);
    a.offset = TDEV_REG_SCRATCH0;
    vfx_raw_send(f, 9, VFU_CMD_REGION_READ, 0, &a, 16, NULL, 0);
    vfx_raw_recv(f, &h, buf, sizeof(buf));
    assert_int_equal(h.msg_id, 9);
    assert_int_equal(h.flags, VFU_F_TYPE_REPLY);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, vfx_setup, vfx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_twin_negotiated),
        T(test_dma_local_window),
        T(test_dma_across_windows),
        T(test_dma_server_checks),
        T(test_dma_client_refuses),
        T(test_dma_without_twin),
        T(test_dma_after_unmap),
        T(test_twin_raw),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
