/* test_virtio_vfu_mig.c — live migration of a running virtio-blk served over
 * vfio-user (virtio_vfu.h) from one server to a second one on the same image
 * file, as a VMM does it (vfio-user.rst, "VFIO_USER_DEVICE_FEATURE",
 * "VFIO_USER_MIG_DATA_READ/WRITE"): the guest (vdev's client playing Linux's
 * virtio_pci_modern, vp_driver.c) runs verified I/O on the source and leaves
 * requests in flight; the source goes RUNNING -> STOP -> STOP_COPY and its
 * state is read out; the target goes RESUMING, takes the state and runs; the
 * guest's memory and interrupts move to the target, which completes what the
 * source had not and serves new I/O. Every byte written is checked in the
 * image. The two servers are in this process, each with its own loop thread,
 * workers and device. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
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
#define SLOT_GPA    (GPA + (1ull << 20))  /* one 8 KiB request slot each */
#define SLOT_SIZE   0x2000ull
#define DATA_LEN    4096u
#define DISK_SIZE   (16ull << 20)
#define QUEUES      2
#define INFLIGHT    12                   /* per queue, kicked before the stop */
#define LATE        2                    /* per queue, made available after it */
#define CHUNK       4096u

extern char **environ;

/* One server: its loop thread, workers and device, on the shared image; or a
 * vdevd process ($VDEVD) serving the image with transport=vfio-user. */
struct side {
    char sock[96];
    pid_t pid;                           /* vdevd's, or 0 */
    struct vdev_loop *loop;
    pthread_t thread;
    struct vdev_workers *workers;
    struct vdev_virtio_dev *dev;
    struct vdev_virtio_vfu *v;
};

struct t {
    bool vdevd;                          /* the servers are vdevd processes */
    int fds_before;
    char dir[64], img[96];
    struct side src, dst;
    struct vdev_vfuc *c;                 /* the guest's connection now */
    struct vdev_vfuc *c_src, *c_dst;
    int memfd;
    uint8_t *guest;
    struct vdev_mem *gmem;
    int irq[QUEUES + 2];
    struct vpd d;
};

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

/* --- the driver's access paths, over whichever connection is the guest's ------- */

static int over_cfg(void *o, uint64_t off, void *buf, size_t len, bool write)
{
    struct t *t = o;

    return write ? vdev_vfuc_region_write(t->c, VFIO_PCI_CONFIG_REGION_INDEX, off, buf,
                                          (uint32_t)len, false)
                 : vdev_vfuc_region_read(t->c, VFIO_PCI_CONFIG_REGION_INDEX, off, buf,
                                         (uint32_t)len);
}

static int over_bar(void *o, unsigned bar, uint64_t off, void *buf, size_t len, bool write)
{
    struct t *t = o;

    return write ? vdev_vfuc_region_write(t->c, bar, off, buf, (uint32_t)len, false)
                 : vdev_vfuc_region_read(t->c, bar, off, buf, (uint32_t)len);
}

static int over_irq_fd(void *o, int v)
{
    struct t *t = o;

    assert_true(v >= 0 && v <= QUEUES);
    return t->irq[v];
}

static const struct vpd_ops over_vfio_user = { over_cfg, over_bar, over_irq_fd };

/* --- fixture -------------------------------------------------------------------- */

/* vdevd --device virtio-blk,file=IMG,socket=S,transport=vfio-user: the same
 * device a VMM's vdevd serves, in its own process. */
static void side_spawn(struct t *t, struct side *s, uint16_t queues)
{
    char dev[320];
    char *argv[] = { getenv("VDEVD"), "--log-level", "warn", "--device", dev, NULL };

    assert_non_null(argv[0]);
    snprintf(dev, sizeof(dev), "virtio-blk,file=%s,socket=%s,transport=vfio-user,"
             "num-queues=%u", t->img, s->sock, queues);
    assert_int_equal(posix_spawn(&s->pid, argv[0], NULL, NULL, argv, environ), 0);
    for (int i = 0; i < 10000 && access(s->sock, F_OK) < 0; i++)
        usleep(1000);
}

static void side_start(struct t *t, struct side *s, const char *name, uint16_t queues)
{
    struct vdev_workers_config wc = { .threads = 2, .name = "vmig" };
    struct vdev_virtio_vfu_config vc = { .listen_fd = -1, .conn_fd = -1 };
    struct vdev_virtio_blk_config bc = { .num_queues = queues };
    char spec[160];

    snprintf(s->sock, sizeof(s->sock), "%s/%s", t->dir, name);
    if (t->vdevd) {
        side_spawn(t, s, queues);
        return;
    }
    snprintf(spec, sizeof(spec), "file:path=%s", t->img);
    bc.backend = spec;
    assert_int_equal(vdev_loop_new(&s->loop), 0);
    assert_int_equal(vdev_workers_new(&wc, &s->workers), 0);
    assert_int_equal(vdev_virtio_blk_new(&bc, &s->dev), 0);
    vc.loop = s->loop;
    vc.workers = s->workers;
    vc.dev = s->dev;
    vc.socket_path = s->sock;
    assert_int_equal(vdev_virtio_vfu_new(&vc, &s->v), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, loop_main, s->loop), 0);
}

static void side_stop(struct side *s)
{
    int st;

    if (s->pid > 0) {                    /* SIGTERM: a clean stop, status 0 */
        assert_int_equal(kill(s->pid, SIGTERM), 0);
        assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        return;
    }
    vdev_loop_stop(s->loop);
    pthread_join(s->thread, NULL);
    vdev_virtio_vfu_free(s->v);
    vdev_virtio_blk_free(s->dev);
    vdev_workers_free(s->workers);
    vdev_loop_free(s->loop);
    unlink(s->sock);
}

static void connect_to(struct side *s, struct vdev_vfuc **out)
{
    assert_int_equal(vdev_vfuc_connect(s->sock, TIMEOUT_MS, out), 0);
    assert_int_equal(vdev_vfuc_negotiate(*out, NULL, NULL), 0);
}

/* The VMM's interrupt routing: the same eventfds on either side. */
static void set_irqs(struct t *t, struct vdev_vfuc *c)
{
    int fds[QUEUES + 1];

    for (unsigned i = 0; i <= QUEUES; i++)
        fds[i] = t->irq[i];
    assert_int_equal(vdev_vfuc_set_irqs(c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                                        0, QUEUES + 1, fds), 0);
}

static int setup_with(void **state, uint16_t dst_queues, bool vdevd)
{
    struct t *t = calloc(1, sizeof(*t));
    struct vdev_mem_region r = { .gpa = GPA, .size = MEM_SIZE,
                                 .access = VDEV_MEM_READ | VDEV_MEM_WRITE };
    int fd;

    assert_non_null(t);
    alarm(120);
    t->vdevd = vdevd;
    t->fds_before = test_count_fds();
    snprintf(t->dir, sizeof(t->dir), "/tmp/vdev-vmig-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->img, sizeof(t->img), "%s/disk.img", t->dir);
    fd = open(t->img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, DISK_SIZE), 0);
    close(fd);
    side_start(t, &t->src, "src", QUEUES);
    side_start(t, &t->dst, "dst", dst_queues);

    t->memfd = test_memfd("vmig-guest", MEM_SIZE);
    t->guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd, 0);
    assert_true(t->guest != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&t->gmem), 0);
    r.fd = t->memfd;
    assert_int_equal(vdev_mem_add(t->gmem, &r), 0);
    for (unsigned i = 0; i <= QUEUES; i++) {
        t->irq[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(t->irq[i] >= 0);
    }
    /* The source as the guest's VMM has it; the target as a VMM prepares one
     * before the migration: connected, its interrupts routed. */
    connect_to(&t->src, &t->c_src);
    assert_int_equal(vdev_vfuc_dma_map(t->c_src, GPA, MEM_SIZE, t->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    set_irqs(t, t->c_src);
    connect_to(&t->dst, &t->c_dst);
    t->c = t->c_src;
    vpd_probe(&t->d, &over_vfio_user, t);
    *state = t;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, QUEUES, false);
}

static int setup_other_layout(void **state)
{
    return setup_with(state, QUEUES + 1, false);
}

static int setup_vdevd(void **state)
{
    return setup_with(state, QUEUES, true);
}

static int teardown(void **state)
{
    struct t *t = *state;

    vdev_vfuc_close(t->c_src);
    vdev_vfuc_close(t->c_dst);
    side_stop(&t->src);
    side_stop(&t->dst);
    vpd_queues_free(&t->d);
    vdev_mem_free(t->gmem);
    munmap(t->guest, MEM_SIZE);
    close(t->memfd);
    for (unsigned i = 0; i <= QUEUES; i++)
        close(t->irq[i]);
    unlink(t->img);
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

    memset(t->guest, 0, 0x40000);
    vpd_reset(&t->d);
    assert_true(vpd_negotiate(&t->d, want));
    vpd_msix_enable(&t->d, true);
    for (uint16_t q = 0; q < QUEUES; q++)
        vpd_queue_setup(&t->d, q, 64, t->gmem, GPA + q * 0x10000ull, (uint16_t)(q + 1));
    vpd_driver_ok(&t->d);
}

static uint8_t seed_of(unsigned slot, unsigned round)
{
    return (uint8_t)(slot * 29u + round * 101u + 3u);
}

static void fill(uint8_t *p, uint32_t len, uint8_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 7u);
}

static void check(const uint8_t *p, uint32_t len, uint8_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(seed + i * 7u))
            fail_msg("byte %u: %#x, not %#x", i, p[i], (uint8_t)(seed + i * 7u));
}

/* A request in slot `slot` (header, status, DATA_LEN bytes of data) made
 * available on queue q; a write carries its slot's pattern. Not kicked. */
static uint16_t add_req(struct t *t, uint16_t q, unsigned slot, uint32_t type,
                        uint64_t sector, uint8_t seed)
{
    uint64_t base = SLOT_GPA + slot * SLOT_SIZE;
    struct virtio_blk_outhdr *h = gp(t, base);
    struct vdev_vqd_buf out[2] = { { base, sizeof(*h) } }, in[2];
    unsigned n_out = 1, n_in = 0;
    uint16_t id;

    assert_true((slot + 1) * SLOT_SIZE <= MEM_SIZE - (1ull << 20));
    h->type = htole32(type);
    h->ioprio = 0;
    h->sector = htole64(sector);
    *(uint8_t *)gp(t, base + 64) = 0xff;
    if (type == VIRTIO_BLK_T_OUT) {
        fill(gp(t, base + 4096), DATA_LEN, seed);
        out[n_out++] = (struct vdev_vqd_buf){ base + 4096, DATA_LEN };
    } else {
        memset(gp(t, base + 4096), 0, DATA_LEN);
        in[n_in++] = (struct vdev_vqd_buf){ base + 4096, DATA_LEN };
    }
    in[n_in++] = (struct vdev_vqd_buf){ base + 64, 1 };
    assert_int_equal(vdev_vqd_add(t->d.q[q].drv, out, n_out, in, n_in, false, &id), 0);
    return id;
}

static uint8_t slot_status(struct t *t, unsigned slot)
{
    return *(uint8_t *)gp(t, SLOT_GPA + slot * SLOT_SIZE + 64);
}

/* Reaps n used buffers of queue q, waiting on its vector; each must be one
 * of ids (each once). */
static void reap(struct t *t, uint16_t q, const uint16_t *ids, unsigned n)
{
    bool seen[VPD_MAX_QUEUES * 64] = { 0 };
    unsigned got = 0;

    for (int tries = 0; got < n; ) {
        uint16_t id;
        uint32_t len;
        int ret = vdev_vqd_get_used(t->d.q[q].drv, &id, &len);

        assert_true(ret >= 0);
        if (ret == 1) {
            unsigned k = 0;
            while (k < n && ids[k] != id)
                k++;
            assert_true(k < n);
            assert_false(seen[k]);
            seen[k] = true;
            got++;
            continue;
        }
        assert_true(tries++ < 100);
        assert_true(vpd_wait_irq(&t->d, q + 1, TIMEOUT_MS));
    }
}

static void check_image(struct t *t, uint64_t sector, uint8_t seed)
{
    uint8_t buf[DATA_LEN];
    int fd = open(t->img, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, sizeof(buf), (off_t)(sector * 512)), (ssize_t)sizeof(buf));
    check(buf, sizeof(buf), seed);
    close(fd);
}

/* Rounds of a write on one queue, then a read of it on the other, each
 * checked in guest memory and in the image. */
static void verified_io(struct t *t, unsigned rounds, unsigned round0)
{
    for (unsigned i = 0; i < rounds; i++) {
        unsigned r = round0 + i;
        uint16_t wq = (uint16_t)(r % QUEUES), rq = (uint16_t)((r + 1) % QUEUES);
        uint64_t sector = 16384 + r * 8;
        uint16_t id;

        id = add_req(t, wq, 0, VIRTIO_BLK_T_OUT, sector, seed_of(0, r));
        vpd_notify(&t->d, wq);
        reap(t, wq, &id, 1);
        assert_int_equal(slot_status(t, 0), VIRTIO_BLK_S_OK);
        id = add_req(t, rq, 1, VIRTIO_BLK_T_IN, sector, 0);
        vpd_notify(&t->d, rq);
        reap(t, rq, &id, 1);
        assert_int_equal(slot_status(t, 1), VIRTIO_BLK_S_OK);
        check(gp(t, SLOT_GPA + SLOT_SIZE + 4096), DATA_LEN, seed_of(0, r));
        check_image(t, sector, seed_of(0, r));
    }
}

/* --- migration, the VMM's side ---------------------------------------------------- */

static size_t read_state(struct vdev_vfuc *c, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    uint32_t got;

    do {
        assert_true(len + CHUNK <= cap);
        assert_int_equal(vdev_vfuc_mig_read(c, buf + len, CHUNK, &got), 0);
        len += got;
    } while (got == CHUNK);
    return len;
}

static int write_state(struct vdev_vfuc *c, const uint8_t *buf, size_t len)
{
    for (size_t off = 0; off < len; off += CHUNK) {
        int ret = vdev_vfuc_mig_write(c, buf + off,
                                      (uint32_t)(len - off < CHUNK ? len - off : CHUNK));
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* The source stopped and its state read out. */
static size_t stop_and_save(struct t *t, uint8_t *buf, size_t cap)
{
    uint64_t flags = 0;
    uint32_t st = 0;

    assert_int_equal(vdev_vfuc_mig_flags(t->c_src, &flags), 0);
    assert_true(flags & VFIO_MIGRATION_STOP_COPY);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_src, VFIO_DEVICE_STATE_STOP), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_src, VFIO_DEVICE_STATE_STOP_COPY), 0);
    assert_int_equal(vdev_vfuc_mig_state(t->c_src, &st), 0);
    assert_int_equal(st, VFIO_DEVICE_STATE_STOP_COPY);
    return read_state(t->c_src, buf, cap);
}

/* --- tests ---------------------------------------------------------------------- */

/* Requests in flight at the stop: INFLIGHT writes per queue kicked just
 * before it (the source finishes or has not taken them), LATE more made
 * available after it (the source never sees them). After the migration the
 * target completes every one, and serves new I/O. */
static void migrate_running(struct t *t, bool packed)
{
    static uint8_t stream[1 << 16];
    uint16_t ids[QUEUES][INFLIGHT + LATE];
    uint64_t features;
    size_t len;
    uint32_t st = 0;

    bring_up(t, packed);
    features = t->d.features;
    verified_io(t, 6, 0);

    for (uint16_t q = 0; q < QUEUES; q++) {
        for (unsigned k = 0; k < INFLIGHT; k++) {
            unsigned slot = 2 + q * (INFLIGHT + LATE) + k;
            ids[q][k] = add_req(t, q, slot, VIRTIO_BLK_T_OUT, slot * 8, seed_of(slot, 0));
        }
        vpd_notify(&t->d, q);
    }
    len = stop_and_save(t, stream, sizeof(stream));
    assert_true(len > 0 && len <= sizeof(stream));
    for (uint16_t q = 0; q < QUEUES; q++)
        for (unsigned k = INFLIGHT; k < INFLIGHT + LATE; k++) {
            unsigned slot = 2 + q * (INFLIGHT + LATE) + k;
            ids[q][k] = add_req(t, q, slot, VIRTIO_BLK_T_OUT, slot * 8, seed_of(slot, 0));
        }

    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RESUMING), 0);
    assert_int_equal(write_state(t->c_dst, stream, len), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RUNNING), 0);
    assert_int_equal(vdev_vfuc_mig_state(t->c_dst, &st), 0);
    assert_int_equal(st, VFIO_DEVICE_STATE_RUNNING);

    /* The guest's VMM now talks to the target: interrupts, then its memory
     * (the queues start when the map comes). */
    set_irqs(t, t->c_dst);
    assert_int_equal(vdev_vfuc_dma_map(t->c_dst, GPA, MEM_SIZE, t->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    t->c = t->c_dst;
    vdev_vfuc_close(t->c_src);
    t->c_src = NULL;

    /* The driver's view moved whole: status, features, queue registers. */
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_STATUS, 1) &
                     VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_DRIVER_OK);
    vpd_common_write(&t->d, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_GF, 4), (uint32_t)features);
    vpd_common_write(&t->d, VIRTIO_PCI_COMMON_Q_SELECT, 1, 2);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_Q_MSIX, 2), 2);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_Q_DESCLO, 4),
                     (uint32_t)t->d.q[1].desc);

    for (uint16_t q = 0; q < QUEUES; q++) {
        reap(t, q, ids[q], INFLIGHT + LATE);
        for (unsigned k = 0; k < INFLIGHT + LATE; k++) {
            unsigned slot = 2 + q * (INFLIGHT + LATE) + k;
            assert_int_equal(slot_status(t, slot), VIRTIO_BLK_S_OK);
            check_image(t, slot * 8, seed_of(slot, 0));
        }
    }
    verified_io(t, 12, 100);
}

static void test_migrate_split(void **state)
{
    migrate_running(*state, false);
}

static void test_migrate_packed(void **state)
{
    migrate_running(*state, true);
}

/* The target refuses a stream it cannot take, and nothing changed: a
 * truncated stream, a corrupt one; then the right one is taken (the client may
 * send it again, pci_vfu.h) and the device runs. */
static void test_bad_stream_then_good(void **state)
{
    struct t *t = *state;
    static uint8_t stream[1 << 16], bad[1 << 16];
    size_t len;

    bring_up(t, false);
    verified_io(t, 2, 0);
    len = stop_and_save(t, stream, sizeof(stream));
    assert_true(len > 64);

    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RESUMING), 0);
    assert_int_equal(write_state(t->c_dst, stream, len - 1), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RUNNING), -EINVAL);
    memcpy(bad, stream, len);
    bad[len - 1] ^= 0xff;                 /* virtio-blk's own state: wce = 0xfe.. */
    assert_int_equal(write_state(t->c_dst, bad, len), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RUNNING), -EINVAL);
    memcpy(bad, stream, len);
    bad[12] ^= 1;                         /* the PCI section's length field */
    assert_int_equal(write_state(t->c_dst, bad, len), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RUNNING), -EINVAL);

    assert_int_equal(write_state(t->c_dst, stream, len), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RUNNING), 0);
    set_irqs(t, t->c_dst);
    assert_int_equal(vdev_vfuc_dma_map(t->c_dst, GPA, MEM_SIZE, t->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    t->c = t->c_dst;
    verified_io(t, 4, 50);
}

/* A stream from a device of another layout (the target has one queue more)
 * is refused; the target took nothing of it, and after a DEVICE_RESET it is
 * brought up and serves. */
static void test_other_layout_refused(void **state)
{
    struct t *t = *state;
    static uint8_t stream[1 << 16];
    uint32_t st = 0;
    size_t len;

    bring_up(t, false);
    verified_io(t, 2, 0);
    len = stop_and_save(t, stream, sizeof(stream));

    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RESUMING), 0);
    assert_int_equal(write_state(t->c_dst, stream, len), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(t->c_dst, VFIO_DEVICE_STATE_RUNNING), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_state(t->c_dst, &st), 0);
    assert_int_equal(st, VFIO_DEVICE_STATE_RESUMING);

    /* Nothing was taken: after a reset (which also leaves RESUMING) the
     * target's function is as new. */
    assert_int_equal(vdev_vfuc_reset(t->c_dst), 0);
    t->c = t->c_dst;
    vpd_queues_free(&t->d);
    vpd_probe(&t->d, &over_vfio_user, t);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_STATUS, 1), 0);
    assert_int_equal(vpd_common_read(&t->d, VIRTIO_PCI_COMMON_NUMQ, 2), QUEUES + 1);
    /* The reset also ended the migration stop: its queues serve. */
    set_irqs(t, t->c_dst);
    assert_int_equal(vdev_vfuc_dma_map(t->c_dst, GPA, MEM_SIZE, t->memfd, 0,
                                       VDEV_VFUC_DMA_RW), 0);
    bring_up(t, false);
    verified_io(t, 4, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_packed, setup, teardown),
        /* The same, from one vdevd process to another. */
        cmocka_unit_test_setup_teardown(test_migrate_split, setup_vdevd, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_packed, setup_vdevd, teardown),
        cmocka_unit_test_setup_teardown(test_bad_stream_then_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_layout_refused, setup_other_layout,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
