/* test_vdevd.c — the vdevd program as a user runs it: its command line, its
 * errors (one line, exit status 1), a disk served over a socket and over an
 * inherited fd to vdev's own front-end with the bytes checked in the image
 * file, the next front-end after one has gone, read-only, and a clean stop on
 * SIGTERM and SIGINT. The binary comes from $VDEVD. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include <linux/vfio.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "helpers.h"
#include "vdev/mem.h"
#include "vdev/vfio_user_client.h"
#include "vdev/vhost_user_client.h"
#include "vdev/virtio_pci.h"
#include "vdev/virtq_driver.h"
#include "virtio-pci/vp_driver.h"

extern char **environ;

#define MIB         (1024 * 1024ull)
#define DISK_SIZE   (8 * MIB)
#define WAIT_MS     10000
#define CONNECT_MS  5000
#define QSIZE       64

struct vt {
    char dir[48], img[96], sock[96], out[96], err[96];
    pid_t pid;
    int fds_before;
};

static const char *vdevd_path(void)
{
    const char *p = getenv("VDEVD");

    assert_non_null(p);
    return p;
}

static int setup(void **state)
{
    struct vt *t = calloc(1, sizeof(*t));
    int fd;

    assert_non_null(t);
    alarm(120);
    t->fds_before = test_count_fds();
    snprintf(t->dir, sizeof(t->dir), "/tmp/vdev-vdevd-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->img, sizeof(t->img), "%s/disk.img", t->dir);
    snprintf(t->sock, sizeof(t->sock), "%s/disk.sock", t->dir);
    snprintf(t->out, sizeof(t->out), "%s/stdout", t->dir);
    snprintf(t->err, sizeof(t->err), "%s/stderr", t->dir);
    fd = open(t->img, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, DISK_SIZE), 0);
    close(fd);
    t->pid = -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct vt *t = *state;

    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    unlink(t->img);
    unlink(t->sock);
    unlink(t->out);
    unlink(t->err);
    rmdir(t->dir);
    assert_no_fd_leak(t->fds_before);
    alarm(0);
    free(t);
    return 0;
}

/* Starts vdevd with args (NULL-terminated), stdout and stderr to files; when
 * pass_fd >= 0 it becomes the child's fd 3. */
static pid_t spawn_vdevd(struct vt *t, const char *const *args, int pass_fd)
{
    posix_spawn_file_actions_t fa;
    char *argv[32];
    unsigned n = 0;
    pid_t pid;

    argv[n++] = (char *)vdevd_path();
    while (*args && n < 31)
        argv[n++] = (char *)*args++;
    argv[n] = NULL;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    posix_spawn_file_actions_addopen(&fa, 1, t->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, t->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (pass_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, pass_fd, 3);
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;

    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* The whole of a small file, NUL-terminated. */
static char *slurp(const char *path)
{
    static char buf[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static unsigned count_lines(const char *s)
{
    unsigned n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* vdevd with args must fail at once: exit 1 and exactly one line on stderr,
 * which says what is wrong (contains want). */
static void expect_refusal(struct vt *t, const char *const *args, const char *want)
{
    const char *err;

    assert_int_equal(wait_exit(spawn_vdevd(t, args, -1)), 1);
    err = slurp(t->err);
    assert_int_equal(count_lines(err), 1);
    assert_true(strncmp(err, "vdevd: ", 7) == 0);
    if (!strstr(err, want))
        fail_msg("stderr '%s' does not say '%s'", err, want);
}

/* --- the front-end side ----------------------------------------------------- */

struct io {
    struct vdev_vuc *c;
    uint64_t hdr, data, status;      /* guest addresses */
};

static void io_start(struct io *io, struct vdev_vuc *c, unsigned queues)
{
    uint64_t want = ~0ull & ~(1ull << VHOST_F_LOG_ALL) & ~(1ull << VIRTIO_F_RING_PACKED);

    io->c = c;
    assert_int_equal(vdev_vuc_negotiate(c, want, VDEV_VUC_PF_SUPPORTED), 0);
    assert_int_equal(vdev_vuc_mem_add(c, 4 * MIB, NULL), 0);
    for (unsigned q = 0; q < queues; q++)
        assert_int_equal(vdev_vuc_queue_setup(c, (uint16_t)q, QSIZE, 0), 0);
    assert_int_equal(vdev_vuc_alloc(c, 64, 64, &io->hdr), 0);
    assert_int_equal(vdev_vuc_alloc(c, 64 * 1024, 4096, &io->data), 0);
    assert_int_equal(vdev_vuc_alloc(c, 64, 64, &io->status), 0);
}

/* One virtio-blk request of len data bytes on queue q; returns its status. */
static uint8_t blk_req(struct io *io, uint16_t q, uint32_t type, uint64_t sector,
                       uint32_t len)
{
    struct virtio_blk_outhdr *h = vdev_vuc_host(io->c, io->hdr, sizeof(*h));
    uint8_t *status = vdev_vuc_host(io->c, io->status, 1);
    struct vdev_vqd_buf out[2] = { { .gpa = io->hdr, .len = sizeof(*h) } };
    struct vdev_vqd_buf in[2];
    unsigned n_out = 1, n_in = 0;
    uint16_t id, rid;
    uint32_t used;

    h->type = htole32(type);
    h->ioprio = 0;
    h->sector = htole64(sector);
    *status = 0xff;
    if (len && type == VIRTIO_BLK_T_OUT)
        out[n_out++] = (struct vdev_vqd_buf){ .gpa = io->data, .len = len };
    else if (len)
        in[n_in++] = (struct vdev_vqd_buf){ .gpa = io->data, .len = len };
    in[n_in++] = (struct vdev_vqd_buf){ .gpa = io->status, .len = 1 };
    assert_int_equal(vdev_vuc_submit(io->c, q, out, n_out, in, n_in, false, &id), 0);
    assert_true(vdev_vuc_kick(io->c, q) >= 0);
    for (;;) {
        int ret = vdev_vuc_reap(io->c, q, &rid, &used);
        if (ret == 1)
            break;
        assert_int_equal(ret, 0);
        assert_int_equal(vdev_vuc_wait(io->c, q, WAIT_MS), 1);
    }
    assert_int_equal(rid, id);
    return *status;
}

static void fill(struct io *io, uint32_t len, uint8_t seed)
{
    uint8_t *p = vdev_vuc_host(io->c, io->data, len);

    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i * 13u);
}

/* The image file holds at off what fill(seed) wrote. */
static void assert_image(struct vt *t, uint64_t off, uint32_t len, uint8_t seed)
{
    uint8_t *buf = malloc(len);
    int fd = open(t->img, O_RDONLY | O_CLOEXEC);

    assert_non_null(buf);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
    for (uint32_t i = 0; i < len; i++)
        if (buf[i] != (uint8_t)(seed + i * 13u))
            fail_msg("image byte %llu: %#x", (unsigned long long)(off + i), buf[i]);
    free(buf);
}

/* Writes on one queue, reads back on another, checks the image file; reads the
 * configuration space. */
static void exercise_disk(struct vt *t, struct io *io, unsigned queues, uint8_t seed)
{
    uint8_t *data = vdev_vuc_host(io->c, io->data, 8192);
    struct virtio_blk_config cfg;

    assert_int_equal(vdev_vuc_get_config(io->c, 0, &cfg, sizeof(cfg)), 0);
    assert_int_equal(le64toh(cfg.capacity), DISK_SIZE / 512);
    if (queues > 1)
        assert_int_equal(le16toh(cfg.num_queues), queues);

    fill(io, 8192, seed);
    assert_int_equal(blk_req(io, (uint16_t)(queues - 1), VIRTIO_BLK_T_OUT, 24, 8192),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(blk_req(io, 0, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
    memset(data, 0, 8192);
    assert_int_equal(blk_req(io, 0, VIRTIO_BLK_T_IN, 24, 8192), VIRTIO_BLK_S_OK);
    for (uint32_t i = 0; i < 8192; i++)
        assert_int_equal(data[i], (uint8_t)(seed + i * 13u));
    assert_image(t, 24 * 512, 8192, seed);
    /* Past the end of the disk: an error, and the device serves on. */
    assert_int_equal(blk_req(io, 0, VIRTIO_BLK_T_IN, DISK_SIZE / 512, 512),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_req(io, 0, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
}

/* --- tests ------------------------------------------------------------------ */

/* vhost-user.rst "Backend program conventions": the capabilities JSON of a
 * block back-end with --read-only and --blk-file. */
static void test_print_capabilities(void **state)
{
    struct vt *t = *state;
    const char *args[] = { "--print-capabilities", NULL };
    json_object *o, *v;
    bool ro = false, file = false;

    assert_int_equal(wait_exit(spawn_vdevd(t, args, -1)), 0);
    o = json_tokener_parse(slurp(t->out));
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "type", &v));
    assert_string_equal(json_object_get_string(v), "block");
    assert_true(json_object_object_get_ex(o, "features", &v));
    assert_true(json_object_is_type(v, json_type_array));
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        const char *f = json_object_get_string(json_object_array_get_idx(v, i));
        ro |= !strcmp(f, "read-only");
        file |= !strcmp(f, "blk-file");
    }
    assert_true(ro && file);
    json_object_put(o);
}

static void test_help_and_version(void **state)
{
    struct vt *t = *state;
    const char *help[] = { "--help", NULL }, *version[] = { "--version", NULL };

    assert_int_equal(wait_exit(spawn_vdevd(t, help, -1)), 0);
    assert_non_null(strstr(slurp(t->out), "--device"));
    assert_non_null(strstr(slurp(t->out), "--socket-path"));
    assert_int_equal(wait_exit(spawn_vdevd(t, version, -1)), 0);
    assert_true(strncmp(slurp(t->out), "vdevd ", 6) == 0);
}

/* Each wrong command line: one line naming the mistake, exit status 1. */
static void test_bad_options(void **state)
{
    struct vt *t = *state;
    char dev[256], dev2[512];

    expect_refusal(t, (const char *[]){ NULL }, "no device");
    expect_refusal(t, (const char *[]){ "--bogus", NULL }, "unknown option");
    expect_refusal(t, (const char *[]){ "--device", NULL }, "needs a value");
    expect_refusal(t, (const char *[]){ "--device", "virtio-net,null=1G,socket=/x", NULL },
                   "unknown device type");
    expect_refusal(t, (const char *[]){ "--device", "virtio-blk,null=1G", NULL },
                   "socket=PATH and fd=N");
    expect_refusal(t, (const char *[]){ "--device", "virtio-blk,socket=/x", NULL },
                   "file=PATH and null=SIZE");
    expect_refusal(t, (const char *[]){ "--device", "virtio-blk,null=1Q,socket=/x", NULL },
                   "not a size");
    expect_refusal(t, (const char *[]){ "--device", "virtio-blk,null=1G,socket=/x,"
                                        "num-queues=0", NULL }, "num-queues");
    expect_refusal(t, (const char *[]){ "--device", "virtio-blk,null=1G,socket=/x,"
                                        "poll=maybe", NULL }, "poll=maybe");
    expect_refusal(t, (const char *[]){ "--device", "virtio-blk,null=1G,socket=/x,"
                                        "colour=blue", NULL }, "unknown key");
    expect_refusal(t, (const char *[]){ "--log-level", "loud", "--device",
                                        "virtio-blk,null=1G,socket=/x", NULL },
                   "--log-level");
    expect_refusal(t, (const char *[]){ "--socket-path=/x", NULL }, "--blk-file");
    expect_refusal(t, (const char *[]){ "--socket-path=/x", "--fd=3", "--blk-file=/y",
                                        NULL }, "exactly one");
    snprintf(dev, sizeof(dev), "virtio-blk,file=%s,socket=%s", t->img, t->sock);
    snprintf(dev2, sizeof(dev2), "virtio-blk,id=other,file=%s,socket=%s", t->img,
             t->sock);
    expect_refusal(t, (const char *[]){ "--device", dev, "--device", dev2, NULL },
                   "two devices listen");
    /* A device that cannot be made: a serial longer than 20 bytes. */
    snprintf(dev, sizeof(dev), "virtio-blk,file=%s,socket=%s,serial=%s", t->img,
             t->sock, "123456789012345678901");
    expect_refusal(t, (const char *[]){ "--device", dev, NULL }, "disk0");
    assert_int_equal(access(t->sock, F_OK), -1);
}

static void test_missing_file(void **state)
{
    struct vt *t = *state;
    char dev[256];

    snprintf(dev, sizeof(dev), "virtio-blk,file=%s/nothing.img,socket=%s", t->dir,
             t->sock);
    expect_refusal(t, (const char *[]){ "--device", dev, NULL }, "No such file");
    assert_int_equal(access(t->sock, F_OK), -1);
}

/* Serves a file on a socket: I/O lands in the file; a second front-end is
 * served after the first has gone; SIGTERM stops vdevd with status 0 and
 * removes the socket. */
static void test_serve_socket(void **state)
{
    struct vt *t = *state;
    char dev[256];
    struct vdev_vuc *c;
    struct io io;

    snprintf(dev, sizeof(dev), "virtio-blk,id=d0,file=%s,socket=%s,num-queues=2",
             t->img, t->sock);
    t->pid = spawn_vdevd(t, (const char *[]){ "--device", dev, NULL }, -1);
    assert_int_equal(vdev_vuc_connect(t->sock, CONNECT_MS, &c), 0);
    io_start(&io, c, 2);
    exercise_disk(t, &io, 2, 7);
    vdev_vuc_close(c);

    assert_int_equal(vdev_vuc_connect(t->sock, CONNECT_MS, &c), 0);
    io_start(&io, c, 1);
    exercise_disk(t, &io, 1, 99);
    vdev_vuc_close(c);

    assert_int_equal(kill(t->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
    assert_int_equal(access(t->sock, F_OK), -1);
    assert_non_null(strstr(slurp(t->err), "front-end connected"));
    assert_non_null(strstr(slurp(t->err), "features"));
}

/* A second vdevd on a socket a live vdevd holds: one line, status 1, and the
 * first serves on. */
static void test_socket_in_use(void **state)
{
    struct vt *t = *state;
    char dev[256];
    struct vdev_vuc *c;
    struct io io;
    pid_t second;

    snprintf(dev, sizeof(dev), "virtio-blk,file=%s,socket=%s", t->img, t->sock);
    t->pid = spawn_vdevd(t, (const char *[]){ "--device", dev, NULL }, -1);
    assert_int_equal(vdev_vuc_connect(t->sock, CONNECT_MS, &c), 0);
    strcat(t->err, "2");             /* the first vdevd keeps its own */
    second = spawn_vdevd(t, (const char *[]){ "--device", dev, NULL }, -1);
    assert_int_equal(wait_exit(second), 1);
    assert_int_equal(count_lines(slurp(t->err)), 1);
    assert_non_null(strstr(slurp(t->err), "in use"));
    unlink(t->err);
    t->err[strlen(t->err) - 1] = '\0';
    io_start(&io, c, 1);
    exercise_disk(t, &io, 1, 3);
    vdev_vuc_close(c);
    assert_int_equal(kill(t->pid, SIGINT), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
}

/* The conventions' form on an inherited connected socket: served, and vdevd
 * exits 0 when that front-end goes (nothing else can come). */
static void test_serve_fd(void **state)
{
    struct vt *t = *state;
    char file[128];
    struct vdev_vuc *c;
    struct io io;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    snprintf(file, sizeof(file), "--blk-file=%s", t->img);
    t->pid = spawn_vdevd(t, (const char *[]){ "--fd=3", file, NULL }, sv[1]);
    close(sv[1]);
    assert_int_equal(vdev_vuc_attach(sv[0], &c), 0);
    io_start(&io, c, 1);
    exercise_disk(t, &io, 1, 42);
    vdev_vuc_close(c);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
}

/* --read-only: VIRTIO_BLK_F_RO offered, a write fails, the file is untouched. */
static void test_read_only(void **state)
{
    struct vt *t = *state;
    char sock[128], file[128];
    struct vdev_vuc *c;
    struct io io;
    uint8_t zero[512] = { 0 }, buf[512];
    int fd;

    snprintf(sock, sizeof(sock), "--socket-path=%s", t->sock);
    snprintf(file, sizeof(file), "--blk-file=%s", t->img);
    t->pid = spawn_vdevd(t, (const char *[]){ sock, file, "--read-only", NULL }, -1);
    assert_int_equal(vdev_vuc_connect(t->sock, CONNECT_MS, &c), 0);
    io_start(&io, c, 1);
    assert_true(vdev_vuc_features(c) & (1ull << VIRTIO_BLK_F_RO));
    fill(&io, 512, 5);
    assert_int_not_equal(blk_req(&io, 0, VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(blk_req(&io, 0, VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
    vdev_vuc_close(c);
    fd = open(t->img, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    close(fd);
    assert_memory_equal(buf, zero, sizeof(buf));
    assert_int_equal(kill(t->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
}

/* --- vfio-user ----------------------------------------------------------------- */

/* transport=vfio-user: the same disk as a virtio-pci function; a write through
 * it lands in the image. */
static void test_serve_vfio_user(void **state)
{
    const uint64_t gpa = 0x100000000ull, size = 1 << 20;
    struct vt *t = *state;
    struct vpd_vfuc g;
    int irq;
    struct vdev_mem_region r = { .gpa = gpa, .size = size,
                                 .access = VDEV_MEM_READ | VDEV_MEM_WRITE };
    struct vdev_mem *mem;
    struct vpd d;
    struct virtio_blk_outhdr *h;
    struct vdev_vqd_buf out[2], in;
    uint8_t *guest;
    char dev[256];
    int memfd, fds[2];
    uint16_t id, rid;
    uint32_t used;

    snprintf(dev, sizeof(dev), "virtio-blk,file=%s,socket=%s,transport=vfio-user",
             t->img, t->sock);
    t->pid = spawn_vdevd(t, (const char *[]){ "--device", dev, NULL }, -1);
    for (int i = 0; i < 5000 && access(t->sock, F_OK) < 0; i++)
        usleep(1000);
    assert_int_equal(vdev_vfuc_connect(t->sock, 10000, &g.c), 0);
    assert_int_equal(vdev_vfuc_negotiate(g.c, NULL, NULL), 0);
    memfd = test_memfd("vdevd-vfu-guest", size);
    guest = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    assert_true(guest != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&mem), 0);
    r.fd = memfd;
    assert_int_equal(vdev_mem_add(mem, &r), 0);
    assert_int_equal(vdev_vfuc_dma_map(g.c, gpa, size, memfd, 0, VDEV_VFUC_DMA_RW), 0);
    irq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    fds[0] = fds[1] = irq;
    g.irq = fds;
    g.nirq = 2;
    assert_int_equal(vdev_vfuc_set_irqs(g.c, VFIO_PCI_MSIX_IRQ_INDEX,
                                        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                                        0, 2, fds), 0);

    vpd_probe(&d, &vpd_vfuc_ops, &g);
    assert_int_equal(vpd_cfg_read(&d, 2, 2), 0x1042);
    vpd_reset(&d);
    assert_true(vpd_negotiate(&d, 1ull << VIRTIO_F_VERSION_1));
    vpd_msix_enable(&d, true);
    vpd_queue_setup(&d, 0, 64, mem, gpa, 1);
    vpd_driver_ok(&d);

    h = (void *)(guest + 0x40000);
    h->type = htole32(VIRTIO_BLK_T_OUT);
    h->ioprio = 0;
    h->sector = htole64(16);
    memset(guest + 0x41000, 0x5a, 4096);
    guest[0x40040] = 0xff;
    out[0] = (struct vdev_vqd_buf){ gpa + 0x40000, sizeof(*h) };
    out[1] = (struct vdev_vqd_buf){ gpa + 0x41000, 4096 };
    in = (struct vdev_vqd_buf){ gpa + 0x40040, 1 };
    assert_int_equal(vdev_vqd_add(d.q[0].drv, out, 2, &in, 1, false, &id), 0);
    vpd_notify(&d, 0);
    while (vdev_vqd_get_used(d.q[0].drv, &rid, &used) != 1)
        assert_true(vpd_wait_irq(&d, 1, 10000));
    assert_int_equal(rid, id);
    assert_int_equal(guest[0x40040], VIRTIO_BLK_S_OK);
    {
        uint8_t buf[4096], want[4096];
        int fd = open(t->img, O_RDONLY | O_CLOEXEC);

        memset(want, 0x5a, sizeof(want));
        assert_int_equal(pread(fd, buf, sizeof(buf), 16 * 512), (ssize_t)sizeof(buf));
        close(fd);
        assert_memory_equal(buf, want, sizeof(buf));
    }
    vdev_vfuc_close(g.c);
    vpd_queues_free(&d);
    vdev_mem_free(mem);
    munmap(guest, size);
    close(memfd);
    close(irq);
    assert_int_equal(kill(t->pid, SIGTERM), 0);
    assert_int_equal(wait_exit(t->pid), 0);
    t->pid = -1;
    assert_non_null(strstr(slurp(t->err), "vfio-user"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_print_capabilities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_vfio_user, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
