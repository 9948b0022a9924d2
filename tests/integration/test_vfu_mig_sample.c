/* test_vfu_mig_sample.c — a live migration of the sample PCI device between two
 * server processes (fork), run by vdev_vfuc_migrate() as a VMM would: DMA
 * logging on the source before the VMM's first pass over guest memory, the
 * device writing guest memory after that pass, its dirty pages reported and
 * carried to the target's memory, the device state streamed, and the device
 * working on the target afterwards with the registers it had. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/pci_regs.h>

#include "helpers.h"
#include "vdev/dev_sample.h"
#include "vdev/loop.h"
#include "vdev/pci_vfu.h"
#include "vdev/vfio_user.h"
#include "vdev/vfio_user_client.h"

#define TIMEOUT_MS 10000
#define MEM_SIZE   0x10000u
#define IOVA       0x40000000ull
#define PAGE       4096u
#define SRC_OFF    0x1000u
#define DST_OFF    0x8000u
#define LEN        64u
#define BAR0       VFIO_PCI_BAR0_REGION_INDEX
#define CONFIG     VFIO_PCI_CONFIG_REGION_INDEX

/* --- a server process: the sample device on a connected socket ----------------- */

struct server_proc {
    struct vdev_loop *loop;
    struct vdev_vfu_server *srv;
};

static struct vdev_mem *proc_dma_mem(void *opaque)
{
    return vdev_vfu_server_mem(((struct server_proc *)opaque)->srv);
}

/* The child's loop: on_disconnect gets the server's opaque (the adapter). */
static struct vdev_loop *child_loop;

static void proc_gone(void *opaque)
{
    vdev_loop_stop(child_loop);
}

/* The child: serves one client, then frees everything; exits 0 if all went. */
static void serve_child(int fd)
{
    struct server_proc p = { 0 };
    struct vdev_sample *dev = NULL;
    struct vdev_pci_vfu *ad = NULL;
    struct vdev_sample_config dc = { .dma_mem = proc_dma_mem, .opaque = &p };
    struct vdev_pci_vfu_config ac = { .dev = vdev_sample_vfu_device() };
    struct vdev_vfu_server_config sc = { .socket_path = NULL, .listen_fd = -1,
                                         .conn_fd = fd, .on_disconnect = proc_gone };

    if (vdev_loop_new(&p.loop) < 0 || vdev_sample_new(&dc, &dev) < 0)
        _exit(2);
    child_loop = p.loop;
    ac.loop = p.loop;
    ac.pci = vdev_sample_pci(dev);
    ac.opaque = dev;
    if (vdev_pci_vfu_new(&ac, &ad) < 0)
        _exit(3);
    sc.loop = p.loop;
    sc.ops = vdev_pci_vfu_ops(ad);
    sc.opaque = ad;
    if (vdev_vfu_server_new(&sc, &p.srv) < 0)
        _exit(4);
    vdev_pci_vfu_attach(ad, p.srv);
    vdev_loop_run(p.loop);
    vdev_vfu_server_free(p.srv);
    vdev_pci_vfu_free(ad);
    vdev_sample_free(dev);
    vdev_loop_free(p.loop);
    _exit(0);
}

struct side {
    pid_t pid;
    struct vdev_vfuc *c;
    int memfd;
    uint8_t *host;
};

static void side_start(struct side *s, const char *name)
{
    int sv[2];

    test_socketpair(sv);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        /* Only its own socket: a copy of another side's would keep that
         * connection open past the VMM's close. */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != sv[0])
                close(fd);
        serve_child(sv[0]);
    }
    close(sv[0]);
    assert_int_equal(vdev_vfuc_from_fd(sv[1], TIMEOUT_MS, &s->c), 0);
    assert_int_equal(vdev_vfuc_negotiate(s->c, NULL, NULL), 0);
    s->memfd = test_memfd(name, MEM_SIZE);
    s->host = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
    assert_true(s->host != MAP_FAILED);
    assert_int_equal(vdev_vfuc_dma_map(s->c, IOVA, MEM_SIZE, s->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
}

/* Closes the connection: the child serves no one more and must exit 0. */
static void side_stop(struct side *s)
{
    int status = -1;

    vdev_vfuc_close(s->c);
    assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    munmap(s->host, MEM_SIZE);
    close(s->memfd);
}

static void wr16(struct vdev_vfuc *c, uint32_t region, uint64_t off, uint16_t v)
{
    assert_int_equal(vdev_vfuc_region_write(c, region, off, &v, 2, false), 0);
}

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

/* Programs and runs one copy of LEN bytes; returns the status register. */
static uint32_t copy(struct vdev_vfuc *c, uint64_t src, uint64_t dst)
{
    wr32(c, BAR0, VDEV_SAMPLE_REG_STATUS, VDEV_SAMPLE_STATUS_DONE | VDEV_SAMPLE_STATUS_ERROR);
    wr32(c, BAR0, VDEV_SAMPLE_REG_SRC, (uint32_t)src);
    wr32(c, BAR0, VDEV_SAMPLE_REG_SRC + 4, (uint32_t)(src >> 32));
    wr32(c, BAR0, VDEV_SAMPLE_REG_DST, (uint32_t)dst);
    wr32(c, BAR0, VDEV_SAMPLE_REG_DST + 4, (uint32_t)(dst >> 32));
    wr32(c, BAR0, VDEV_SAMPLE_REG_LEN, LEN);
    wr32(c, BAR0, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
    return rd32(c, BAR0, VDEV_SAMPLE_REG_STATUS);
}

/* The VMM's side of the dirty pages: each dirty page of the source's memory is
 * copied into the target's; the pages seen are counted. */
struct carry {
    struct side *src, *dst;
    uint64_t seen[MEM_SIZE / PAGE];
    int reports;
};

static int carry_dirty(void *opaque, uint64_t iova, uint64_t len, uint64_t page_size,
                       const uint8_t *bitmap)
{
    struct carry *k = opaque;

    k->reports++;
    if (iova != IOVA || len != MEM_SIZE || page_size != PAGE)
        return -EINVAL;
    for (uint64_t i = 0; i < len / page_size; i++) {
        if (!(bitmap[i / 8] & (1u << (i % 8))))
            continue;
        memcpy(k->dst->host + i * PAGE, k->src->host + i * PAGE, PAGE);
        k->seen[i]++;
    }
    return 0;
}

static void test_migrate_sample_between_processes(void **state)
{
    int fds_before = test_count_fds();
    struct side src = { 0 }, dst = { 0 };
    struct vfio_device_feature_dma_logging_range r = { IOVA, MEM_SIZE };
    struct carry k = { .src = &src, .dst = &dst };
    struct vdev_vfuc_migration m = {
        .ranges = &r, .nranges = 1, .chunk = 16, .on_dirty = carry_dirty, .opaque = &k,
        .logging_started = true,
    };
    uint64_t page = PAGE;
    uint32_t st = 0;

    (void)state;
    side_start(&src, "mig-src-guest");
    side_start(&dst, "mig-dst-guest");
    wr16(src.c, CONFIG, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    for (unsigned i = 0; i < MEM_SIZE; i++)
        src.host[i] = (uint8_t)(i * 13 + i / 251 + 1);     /* no 4 KiB period */

    /* The VMM: logging first, then its pass over all of memory. */
    assert_int_equal(vdev_vfuc_dma_logging_start(src.c, &page, &r, 1), 0);
    memcpy(dst.host, src.host, MEM_SIZE);
    /* The device writes after that pass: only the log can carry it. */
    assert_int_equal(copy(src.c, IOVA + SRC_OFF, IOVA + DST_OFF), VDEV_SAMPLE_STATUS_DONE);
    assert_memory_equal(src.host + DST_OFF, src.host + SRC_OFF, LEN);
    assert_memory_not_equal(dst.host + DST_OFF, src.host + DST_OFF, LEN);
    /* The registers point elsewhere when the device stops (they migrate). */
    wr32(src.c, BAR0, VDEV_SAMPLE_REG_SRC, (uint32_t)(IOVA + 0x3000));

    assert_int_equal(vdev_vfuc_migrate(src.c, dst.c, &m), 0);
    assert_false(m.used_pre_copy);             /* the adapter offers STOP_COPY only */
    assert_int_equal(m.data_bytes, VDEV_SAMPLE_STATE_SIZE);
    assert_int_equal(k.reports, 1);
    for (unsigned i = 0; i < MEM_SIZE / PAGE; i++)
        assert_int_equal(k.seen[i], i == DST_OFF / PAGE ? 1 : 0);
    assert_memory_equal(dst.host, src.host, MEM_SIZE);
    assert_int_equal(vdev_vfuc_mig_state(src.c, &st), 0);
    assert_int_equal(st, VFIO_DEVICE_STATE_STOP);
    assert_int_equal(vdev_vfuc_mig_state(dst.c, &st), 0);
    assert_int_equal(st, VFIO_DEVICE_STATE_RUNNING);
    /* Logging was stopped on the source. */
    assert_int_equal(vdev_vfuc_dma_logging_report(src.c, IOVA, MEM_SIZE, PAGE, k.seen,
                                                  sizeof(k.seen)), -EINVAL);

    /* The target works, with the registers the source had (the VMM restores
     * the config space, which it keeps itself, as QEMU's vfio-pci does). */
    wr16(dst.c, CONFIG, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    assert_int_equal(rd32(dst.c, BAR0, VDEV_SAMPLE_REG_SRC), (uint32_t)(IOVA + 0x3000));
    assert_int_equal(rd32(dst.c, BAR0, VDEV_SAMPLE_REG_LEN), LEN);
    wr32(dst.c, BAR0, VDEV_SAMPLE_REG_CMD, VDEV_SAMPLE_CMD_COPY);
    assert_true(rd32(dst.c, BAR0, VDEV_SAMPLE_REG_STATUS) & VDEV_SAMPLE_STATUS_DONE);
    assert_memory_equal(dst.host + DST_OFF, dst.host + 0x3000, LEN);
    assert_memory_not_equal(src.host + DST_OFF, src.host + 0x3000, LEN);

    side_stop(&src);
    side_stop(&dst);
    assert_no_fd_leak(fds_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_sample_between_processes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
