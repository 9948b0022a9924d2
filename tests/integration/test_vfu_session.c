/* test_vfu_session.c — vdev's vfio-user client against vdev's server and the
 * tiny test device (test_vfu_fixture.h), over a real UNIX socket: every command
 * the core implements, as a well-behaved VMM uses it, and what a client's end
 * releases. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>

#include "test_vfu_fixture.h"
#include "vdev/mem.h"

#define IOVA   0x100000ull
#define PAGE   4096ull

/* VERSION: the server's limits come back, defaults filled in. */
static void test_version_caps(void **state)
{
    struct vfx *f = *state;

    assert_int_equal(f->caps.major, 0);
    assert_int_equal(f->caps.minor, 0);
    assert_int_equal(f->caps.max_msg_fds, VDEV_VFU_DEFAULT_MAX_MSG_FDS);
    assert_int_equal(f->caps.max_data_xfer_size, VDEV_VFU_DEFAULT_MAX_XFER);
    assert_int_equal(f->caps.pgsizes, VDEV_VFU_DEFAULT_PGSIZES);
    assert_int_equal(f->caps.max_dma_maps, VDEV_VFU_DEFAULT_MAX_DMA_MAPS);
}

/* DEVICE_GET_INFO: the device's counts, RESET because it has a reset op. */
static void test_device_info(void **state)
{
    struct vfx *f = *state;
    struct vfio_device_info info;

    assert_int_equal(vdev_vfuc_device_info(f->c, &info), 0);
    assert_int_equal(info.argsz, 16);
    assert_int_equal(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
    assert_int_equal(info.num_regions, VFIO_PCI_NUM_REGIONS);
    assert_int_equal(info.num_irqs, VFIO_PCI_NUM_IRQS);
}

/* DEVICE_GET_REGION_INFO: a plain region, an absent one, and an mmap-able one
 * whose fd maps the device's memory and whose sparse cap names its 2nd page. */
static void test_region_info(void **state)
{
    struct vfx *f = *state;
    struct vdev_vfuc_region r;
    uint8_t *p;

    assert_int_equal(vdev_vfuc_region_info(f->c, VFIO_PCI_BAR0_REGION_INDEX, &r), 0);
    assert_int_equal(r.info.size, TDEV_BAR0_SIZE);
    assert_int_equal(r.info.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
    assert_int_equal(r.fd, -1);

    assert_int_equal(vdev_vfuc_region_info(f->c, VFIO_PCI_BAR1_REGION_INDEX, &r), 0);
    assert_int_equal(r.info.size, 0);

    assert_int_equal(vdev_vfuc_region_info(f->c, VFIO_PCI_BAR2_REGION_INDEX, &r), 0);
    assert_int_equal(r.info.size, TDEV_BAR2_SIZE);
    assert_true(r.info.flags & VFIO_REGION_INFO_FLAG_MMAP);
    assert_true(r.info.flags & VFIO_REGION_INFO_FLAG_CAPS);
    assert_int_equal(r.info.cap_offset, sizeof(struct vfio_region_info));
    assert_int_equal(r.nr_areas, 1);
    assert_int_equal(r.areas[0].offset, 0x1000);
    assert_int_equal(r.areas[0].size, 0x1000);
    assert_true(r.fd >= 0);
    f->dev.bar2[0x1234] = 0xa5;
    p = mmap(NULL, r.areas[0].size, PROT_READ, MAP_SHARED, r.fd,
             (off_t)(r.info.offset + r.areas[0].offset));
    assert_true(p != MAP_FAILED);
    assert_int_equal(p[0x234], 0xa5);
    munmap(p, r.areas[0].size);
    close(r.fd);
}

/* A reply too small for the caps: the fixed part, argsz the size needed. */
static void test_region_info_short_argsz(void **state)
{
    struct vfx *f = *state;
    struct vfio_region_info req = { .argsz = sizeof(req),
                                    .index = VFIO_PCI_BAR2_REGION_INDEX };
    struct vfio_region_info out;
    uint32_t size = 0;

    assert_int_equal(vdev_vfuc_request(f->c, VFU_CMD_DEVICE_GET_REGION_INFO, 0, &req,
                                       sizeof(req), NULL, 0, &out, sizeof(out), &size), 0);
    assert_int_equal(size, sizeof(out));
    assert_int_equal(out.argsz, sizeof(out) + 16 + 16);
    assert_int_equal(out.cap_offset, 0);
}

/* DEVICE_GET_REGION_IO_FDS: the device's sub-regions, each distinct fd once
 * (a copy of the device's own: a write to it is seen by the device); none for
 * a region without. */
static void test_region_io_fds(void **state)
{
    struct vfx *f = *state;
    struct vdev_vfuc_io_fd subs[8];
    int fds[8];
    uint32_t n = 0;
    size_t nfds = 0;

    assert_int_equal(vdev_vfuc_region_io_fds(f->c, VFIO_PCI_BAR0_REGION_INDEX, subs, 8,
                                             &n, fds, &nfds), 0);
    assert_int_equal(n, 3);
    assert_int_equal(nfds, 2);
    assert_int_equal(subs[0].fd_index, subs[2].fd_index);
    assert_int_not_equal(subs[0].fd_index, subs[1].fd_index);
    assert_int_equal(subs[1].offset, TDEV_REG_DOORBELL);
    assert_int_equal(subs[1].type, 0);
    assert_int_equal(subs[1].datamatch, 7);
    assert_int_equal(subs[2].type, 1);
    assert_int_equal(subs[2].datamatch, 0x5c1);
    assert_int_equal(eventfd_write(fds[subs[1].fd_index], 5), 0);
    assert_int_equal(vfx_eventfd_count(f->dev.io_ev[0]), 5);
    assert_int_equal(vfx_eventfd_count(f->dev.io_ev[1]), 0);
    close(fds[0]);
    close(fds[1]);

    assert_int_equal(vdev_vfuc_region_io_fds(f->c, VFIO_PCI_BAR2_REGION_INDEX, subs, 8,
                                             &n, fds, &nfds), 0);
    assert_int_equal(n, 0);
    assert_int_equal(nfds, 0);
}

static void test_irq_info(void **state)
{
    struct vfx *f = *state;
    struct vfio_irq_info info;

    assert_int_equal(vdev_vfuc_irq_info(f->c, VFIO_PCI_MSIX_IRQ_INDEX, &info), 0);
    assert_int_equal(info.count, TDEV_MSIX_COUNT);
    assert_int_equal(info.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE |
                                 VFIO_IRQ_INFO_NORESIZE);
    assert_int_equal(vdev_vfuc_irq_info(f->c, VFIO_PCI_MSI_IRQ_INDEX, &info), 0);
    assert_int_equal(info.count, 0);
}

/* REGION_WRITE reaches the device; REGION_READ returns what it holds. */
static void test_region_rw(void **state)
{
    struct vfx *f = *state;
    uint32_t v = 0x12345678, back = 0;
    uint16_t vendor = 0;

    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_SCRATCH0, &v, 4, false), 0);
    assert_int_equal(tdev_reg(f, TDEV_REG_SCRATCH0), v);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_REG_SCRATCH0, &back, 4), 0);
    assert_int_equal(back, v);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_CONFIG_REGION_INDEX,
                                           PCI_VENDOR_ID, &vendor, 2), 0);
    assert_int_equal(vendor, 0x1af4);
}

/* A posted write gets no reply and is applied before the next command's
 * reply: a stray reply would be taken for the read's and fail it. */
static void test_posted_write(void **state)
{
    struct vfx *f = *state;
    uint32_t v = 0xcafef00d, back = 0;

    for (uint32_t i = 0; i < 8; i++) {
        v += i;
        assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                                TDEV_REG_SCRATCH0, &v, 4, true), 0);
    }
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_REG_SCRATCH0, &back, 4), 0);
    assert_int_equal(back, v);
}

/* DMA_MAP with a memfd lands in the server's memory map by IOVA: the device
 * reads client memory; after DMA_UNMAP it cannot. */
static void test_dma_shared(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dma", 4 * PAGE);
    uint32_t word = 0xdeadbeef, lo = (uint32_t)(IOVA + PAGE + 8), hi = 0;
    uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);

    assert_true(p != MAP_FAILED);
    memcpy(p + 2 * PAGE + 8, &word, 4);          /* offset PAGE in the fd */
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, 2 * PAGE, mfd, PAGE,
                                       VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(f->dev.maps, 1);
    assert_true(f->dev.last_shared);
    assert_int_equal(vdev_mem_count(vdev_vfu_server_mem(f->srv)), 1);

    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DMA_LO, &lo, 4, false), 0);
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DMA_HI, &hi, 4, false), 0);
    assert_int_equal(tdev_reg(f, TDEV_REG_DMA_DATA), word);

    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, 2 * PAGE, 0), 0);
    assert_int_equal(f->dev.unmaps, 1);
    assert_int_equal(vdev_mem_count(vdev_vfu_server_mem(f->srv)), 0);
    /* Each change of the map came between dma_quiesce(true) and (false). */
    assert_int_equal(f->dev.quiesces, 2);
    assert_int_equal(f->dev.resumes, 2);
    assert_false(f->dev.quiesced);
    assert_false(f->dev.changed_unquiesced);
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DMA_HI, &hi, 4, false), 0);
    assert_int_equal(tdev_reg(f, TDEV_REG_DMA_DATA), 0xffffffffu);
    munmap(p, 4 * PAGE);
    close(mfd);
}

/* A map without fd is recorded but not shared; it overlaps like any other and
 * unmaps like any other. */
static void test_dma_not_shared(void **state)
{
    struct vfx *f = *state;

    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, -1, 0, VDEV_VFUC_DMA_READ), 0);
    assert_int_equal(f->dev.maps, 1);
    assert_false(f->dev.last_shared);
    assert_int_equal(vdev_mem_count(vdev_vfu_server_mem(f->srv)), 0);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, -1, 0, VDEV_VFUC_DMA_READ),
                     -EEXIST);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, PAGE, 0), 0);
    assert_int_equal(f->dev.unmaps, 1);
}

/* DMA_UNMAP with VFIO_DMA_UNMAP_FLAG_ALL removes every window. */
static void test_dma_unmap_all(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dma", 4 * PAGE);

    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA + i * 2 * PAGE, PAGE,
                                           i % 2 ? -1 : mfd, i * PAGE,
                                           VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_mem_count(vdev_vfu_server_mem(f->srv)), 2);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL), 0);
    assert_int_equal(f->dev.unmaps, 4);
    assert_int_equal(vdev_mem_count(vdev_vfu_server_mem(f->srv)), 0);
    assert_int_equal(vdev_vfuc_dma_unmap(f->c, IOVA, PAGE, 0), -ENOENT);
    close(mfd);
}

/* SET_IRQS with eventfds: the device's doorbell signals its vector's eventfd and
 * no other. */
static void test_irq_eventfd_trigger(void **state)
{
    struct vfx *f = *state;
    int ev[4] = { vfx_eventfd(), vfx_eventfd(), vfx_eventfd(), vfx_eventfd() };
    uint32_t vec = 2;

    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 4, ev), 0);
    assert_int_equal(f->dev.set_irqs, 1);
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DOORBELL, &vec, 4, false), 0);
    assert_int_equal(f->dev.last_trigger, 0);
    assert_int_equal(vfx_eventfd_count(ev[2]), 1);
    assert_int_equal(vfx_eventfd_count(ev[0]), 0);
    assert_int_equal(vfx_eventfd_count(ev[1]), 0);
    assert_int_equal(vfx_eventfd_count(ev[3]), 0);
    for (int i = 0; i < 4; i++)
        close(ev[i]);
}

/* MASK holds a vector's interrupt; UNMASK delivers what was held. */
static void test_irq_mask_unmask(void **state)
{
    struct vfx *f = *state;
    int ev = vfx_eventfd();
    uint32_t vec = 0;

    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &ev), 0);
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
                                        0, 1, NULL), 0);
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DOORBELL, &vec, 4, false), 0);
    assert_int_equal(f->dev.last_trigger, -EAGAIN);
    assert_int_equal(vfx_eventfd_count(ev), 0);
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_NONE |
                                        VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, NULL), 0);
    assert_int_equal(vfx_eventfd_count(ev), 1);
    close(ev);
}

/* The client triggers vectors itself with DATA_BOOL: only those set fire. */
static void test_irq_bool_trigger(void **state)
{
    struct vfx *f = *state;
    int ev[3] = { vfx_eventfd(), vfx_eventfd(), vfx_eventfd() };
    uint8_t which[3] = { 0, 1, 0 };

    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 4, 3, ev), 0);
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_BOOL |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 4, 3, which), 0);
    assert_int_equal(vfx_eventfd_count(ev[0]), 0);
    assert_int_equal(vfx_eventfd_count(ev[1]), 1);
    assert_int_equal(vfx_eventfd_count(ev[2]), 0);
    for (int i = 0; i < 3; i++)
        close(ev[i]);
}

/* -1 de-assigns a vector (its fd is closed by the server); count 0 with
 * DATA_NONE disables the whole index. */
static void test_irq_deassign_and_disable(void **state)
{
    struct vfx *f = *state;
    int ev[3] = { vfx_eventfd(), vfx_eventfd(), vfx_eventfd() };
    int some[3] = { ev[0], -1, ev[2] };
    uint32_t vec = 1;
    int base;

    base = test_count_fds();
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 3, ev), 0);
    assert_int_equal(test_count_fds(), base + 3);           /* the server's copies */
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 3, some), 0);
    assert_int_equal(test_count_fds(), base + 2);
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DOORBELL, &vec, 4, false), 0);
    assert_int_equal(f->dev.last_trigger, -ENOENT);
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_NONE |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, NULL), 0);
    assert_int_equal(test_count_fds(), base);
    vec = 0;
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DOORBELL, &vec, 4, false), 0);
    assert_int_equal(f->dev.last_trigger, -ENOENT);
    for (int i = 0; i < 3; i++)
        close(ev[i]);
}

/* More eventfds than the server takes in one message go in several. */
static void test_irq_many_eventfds(void **state)
{
    struct vfx *f = *state;
    int ev[TDEV_MSIX_COUNT];
    uint32_t vec = TDEV_MSIX_COUNT - 1;

    assert_true(TDEV_MSIX_COUNT > f->caps.max_msg_fds);
    for (unsigned i = 0; i < TDEV_MSIX_COUNT; i++)
        ev[i] = vfx_eventfd();
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, TDEV_MSIX_COUNT,
                                        ev), 0);
    assert_int_equal(f->dev.set_irqs, 2);
    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_DOORBELL, &vec, 4, false), 0);
    assert_int_equal(vfx_eventfd_count(ev[TDEV_MSIX_COUNT - 1]), 1);
    for (unsigned i = 0; i < TDEV_MSIX_COUNT; i++)
        close(ev[i]);
}

/* REGION_WRITE_MULTI, once negotiated: every write is made, in order; posted
 * too. */
static void test_write_multi(void **state)
{
    struct vfx *f = *state;
    struct vdev_vfuc_offer o = { .write_multiple = true };
    struct vdev_vfuc_write w[3] = {
        { .offset = TDEV_REG_SCRATCH0, .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 4,
          .data = { 0x11, 0x22, 0x33, 0x44 } },
        { .offset = TDEV_REG_SCRATCH1, .region = VFIO_PCI_BAR0_REGION_INDEX, .count = 2,
          .data = { 0x55, 0x66 } },
        { .offset = 0x100, .region = VFIO_PCI_BAR2_REGION_INDEX, .count = 8,
          .data = { 1, 2, 3, 4, 5, 6, 7, 8 } },
    };
    uint32_t back = 0;

    assert_false(f->caps.write_multiple);
    assert_int_equal(vdev_vfuc_region_write_multi(f->c, w, 3, false), -ENOTSUP);
    vdev_vfuc_close(f->c);
    vfx_wait_gone(f);
    f->c = vfx_connect(f);
    assert_int_equal(vdev_vfuc_negotiate(f->c, &o, &f->caps), 0);
    assert_true(f->caps.write_multiple);
    assert_int_equal(vdev_vfuc_region_write_multi(f->c, w, 3, false), 0);
    assert_int_equal(tdev_reg(f, TDEV_REG_SCRATCH0), 0x44332211);
    assert_int_equal(tdev_reg(f, TDEV_REG_SCRATCH1) & 0xffff, 0x6655);
    assert_memory_equal(f->dev.bar2 + 0x100, w[2].data, 8);

    w[0].data[0] = 0x99;
    assert_int_equal(vdev_vfuc_region_write_multi(f->c, w, 1, true), 0);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_REG_SCRATCH0, &back, 4), 0);
    assert_int_equal(back, 0x44332299);
}

static void test_reset(void **state)
{
    struct vfx *f = *state;
    uint32_t v = 7;

    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_SCRATCH0, &v, 4, false), 0);
    assert_int_equal(vdev_vfuc_reset(f->c), 0);
    assert_int_equal(f->dev.resets, 1);
    assert_int_equal(tdev_reg(f, TDEV_REG_SCRATCH0), 0);
}

/* "Client Disconnection": DMA unmapped, irq fds closed, device state kept; the
 * next client is served. */
static void test_disconnect_releases(void **state)
{
    struct vfx *f = *state;
    int mfd = test_memfd("vfu-dma", PAGE);
    int ev = vfx_eventfd();
    uint32_t v = 0x600d, back = 0;
    int base = test_count_fds();

    assert_int_equal(vdev_vfuc_region_write(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                            TDEV_REG_SCRATCH0, &v, 4, false), 0);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, mfd, 0, VDEV_VFUC_DMA_RW), 0);
    assert_int_equal(vdev_vfuc_set_irqs(f->c, VFIO_PCI_INTX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD |
                                        VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &ev), 0);
    assert_int_equal(test_count_fds(), base + 1);     /* the server's eventfd copy */
    vdev_vfuc_close(f->c);
    f->c = NULL;
    vfx_wait_gone(f);
    assert_int_equal(f->dev.unmaps, 1);
    /* the server's eventfd copy and both ends of the socket */
    assert_int_equal(test_count_fds(), base - 2);

    f->c = vfx_connect(f);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), 0);
    assert_int_equal(vdev_vfuc_region_read(f->c, VFIO_PCI_BAR0_REGION_INDEX,
                                           TDEV_REG_SCRATCH0, &back, 4), 0);
    assert_int_equal(back, v);
    assert_int_equal(vdev_vfuc_dma_map(f->c, IOVA, PAGE, mfd, 0, VDEV_VFUC_DMA_RW), 0);
    close(mfd);
    close(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version_caps, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_device_info, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_region_info, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_region_info_short_argsz, vfx_setup,
                                        vfx_teardown),
        cmocka_unit_test_setup_teardown(test_region_io_fds, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_info, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_region_rw, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_posted_write, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_dma_shared, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_dma_not_shared, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_dma_unmap_all, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_eventfd_trigger, vfx_setup,
                                        vfx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_mask_unmask, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_bool_trigger, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_deassign_and_disable, vfx_setup,
                                        vfx_teardown),
        cmocka_unit_test_setup_teardown(test_irq_many_eventfds, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_write_multi, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_reset, vfx_setup, vfx_teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_releases, vfx_setup,
                                        vfx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
