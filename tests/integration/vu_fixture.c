/* vu_fixture.c — the back-end on its thread, the hand-written front-end, the
 * guest's memory and rings. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/virtio_config.h>

#include "vu_fixture.h"
#include "vdev/dev_echo.h"
#include "vdev/log.h"
#include "vdev/loop.h"
#include "vdev/mem.h"
#include "vdev/sock.h"
#include "vdev/vhost_user.h"
#include "vdev/virtq.h"
#include "vdev/virtq_driver.h"
#include "vdev/workers.h"

/* --- the log ---------------------------------------------------------------- */

#define LOG_LINES 512

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[LOG_LINES][256];
static unsigned log_count;

static void log_handler(enum vdev_log_level level, const char *line, void *opaque)
{
    pthread_mutex_lock(&log_lock);
    snprintf(log_lines[log_count % LOG_LINES], sizeof(log_lines[0]), "%s", line);
    log_count++;
    pthread_mutex_unlock(&log_lock);
    if (level <= VDEV_LOG_WARN)
        fprintf(stderr, "  log: %s\n", line);
}

void vf_log_clear(void)
{
    pthread_mutex_lock(&log_lock);
    log_count = 0;
    pthread_mutex_unlock(&log_lock);
}

static bool logged(const char *needle)
{
    bool found = false;

    pthread_mutex_lock(&log_lock);
    for (unsigned i = 0; i < log_count && i < LOG_LINES && !found; i++)
        found = strstr(log_lines[i], needle) != NULL;
    pthread_mutex_unlock(&log_lock);
    return found;
}

bool vf_log_wait(const char *needle, int ms)
{
    for (int waited = 0; waited <= ms; waited += 5) {
        if (logged(needle))
            return true;
        usleep(5000);
    }
    return false;
}

/* --- set-up and teardown --------------------------------------------------- */

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

int vf_sealed_memfd(const char *name, uint64_t size)
{
    int fd = test_memfd(name, size);

    assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    return fd;
}

static void guest_new(struct vf *f)
{
    struct vdev_mem_region r = {
        .gpa = 0, .size = VF_MEM_SIZE, .access = VDEV_MEM_RW, .user_addr = VF_UVA_BASE,
    };

    f->memfd = vf_sealed_memfd(VF_MEM_NAME, VF_MEM_SIZE);
    f->guest = mmap(NULL, VF_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
    assert_true(f->guest != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&f->gmem), 0);
    r.fd = f->memfd;
    assert_int_equal(vdev_mem_add(f->gmem, &r), 0);
}

static int setup_with(void **state, const struct vf_opts *o)
{
    struct vf *f = calloc(1, sizeof(*f));
    struct vdev_workers_config wc = { .threads = 2, .name = "vut" };
    struct vdev_echo_config ec = { .num_queues = VF_RINGS, .hold = o->hold,
                                   .net = o->net };
    struct vdev_vu_backend_config bc = { .listen_fd = -1, .conn_fd = -1 };

    assert_non_null(f);
    f->opts = *o;
    f->fds_before = test_count_fds();
    f->sock = -1;
    for (unsigned i = 0; i < VF_RINGS; i++)
        f->ring[i].kick = f->ring[i].call = f->ring[i].err = -1;
    vdev_log_set_handler(log_handler, NULL);
    vf_log_clear();

    guest_new(f);
    assert_int_equal(vdev_loop_new(&f->loop), 0);
    assert_int_equal(vdev_workers_new(&wc, &f->workers), 0);
    assert_int_equal(vdev_echo_new(&ec, &f->dev), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/vdev-vut-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
    bc.loop = f->loop;
    bc.workers = f->workers;
    bc.dev = f->dev;
    bc.socket_path = f->path;
    bc.max_mem_slots = o->max_mem_slots;
    bc.io_timeout_ms = VF_IO_TIMEOUT;
    assert_int_equal(vdev_vu_backend_new(&bc, &f->be), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f->loop), 0);
    vf_connect(f);
    *state = f;
    return 0;
}

int vf_setup(void **state)
{
    struct vf_opts o = { 0 };

    return setup_with(state, &o);
}

int vf_setup_hold(void **state)
{
    struct vf_opts o = { .hold = true };

    return setup_with(state, &o);
}

int vf_setup_slots8(void **state)
{
    struct vf_opts o = { .max_mem_slots = 8 };

    return setup_with(state, &o);
}

int vf_setup_net(void **state)
{
    struct vf_opts o = { .net = true };

    return setup_with(state, &o);
}

int vf_teardown(void **state)
{
    struct vf *f = *state;

    /* The back-end must still serve a clean session after whatever the test did. */
    if (f->opts.hold)
        vdev_echo_release(f->dev, 1);
    vf_clean_session(f);

    close(f->sock);
    vdev_loop_stop(f->loop);
    pthread_join(f->thread, NULL);
    vdev_vu_backend_free(f->be);
    vdev_workers_free(f->workers);
    vdev_echo_free(f->dev);
    vdev_loop_free(f->loop);
    rmdir(f->dir);

    for (unsigned i = 0; i < VF_RINGS; i++)
        vf_ring_free(f, i);
    vdev_mem_free(f->gmem);
    munmap(f->guest, VF_MEM_SIZE);
    close(f->memfd);
    vdev_log_set_handler(NULL, NULL);
    assert_int_equal(test_count_maps(VF_MEM_NAME), 0);
    assert_no_fd_leak(f->fds_before);
    free(f);
    return 0;
}

/* --- messages ---------------------------------------------------------------- */

struct wire {
    struct vu_header hdr;
    uint8_t payload[4096];
} __attribute__((packed));

void vf_send(struct vf *f, uint32_t req, uint32_t flags, const void *p,
             uint32_t size, const int *fds, size_t nfds)
{
    struct wire w;
    size_t n = size < sizeof(w.payload) ? size : sizeof(w.payload);

    w.hdr.request = req;
    w.hdr.flags = VU_VERSION | flags;
    w.hdr.size = size;
    if (n)
        memcpy(w.payload, p, n);
    assert_int_equal(vdev_sock_send(f->sock, &w, sizeof(w.hdr) + n, fds, nfds,
                                    VF_TIMEOUT), 0);
}

int vf_recv(struct vf *f, uint32_t req, void *p, uint32_t cap, int *fd)
{
    struct vu_header h;
    uint8_t buf[4096];
    int fds[8];
    size_t nfds = 0, more = 0;
    int ret = vdev_sock_recv(f->sock, &h, sizeof(h), fds, 8, &nfds, VF_TIMEOUT);

    if (ret < 0)
        return ret;
    assert_int_equal(h.request, req);
    assert_int_equal(h.flags & VU_FLAG_VERSION_MASK, VU_VERSION);
    assert_true(h.flags & VU_FLAG_REPLY);
    assert_true(h.size <= sizeof(buf));
    ret = vdev_sock_recv(f->sock, buf, h.size, fds + nfds, 8 - nfds, &more, VF_TIMEOUT);
    assert_int_equal(ret, 0);
    nfds += more;
    if (fd) {
        *fd = nfds ? fds[0] : -1;
        if (nfds)
            fds[0] = -1;
    }
    vdev_close_fds(fds, nfds);
    assert_true(h.size <= cap || p == NULL);
    if (p && h.size)
        memcpy(p, buf, h.size);
    return (int)h.size;
}

uint64_t vf_req(struct vf *f, uint32_t req, const void *p, uint32_t size,
                const int *fds, size_t nfds)
{
    uint64_t ack = ~0ull;

    vf_send(f, req, VU_FLAG_NEED_REPLY, p, size, fds, nfds);
    assert_int_equal(vf_recv(f, req, &ack, sizeof(ack), NULL), (int)sizeof(ack));
    return ack;
}

uint64_t vf_req_u64(struct vf *f, uint32_t req, uint64_t v)
{
    return vf_req(f, req, &v, sizeof(v), NULL, 0);
}

uint64_t vf_req_state(struct vf *f, uint32_t req, uint32_t index, uint32_t num)
{
    struct vhost_vring_state s = { .index = index, .num = num };

    return vf_req(f, req, &s, sizeof(s), NULL, 0);
}

uint64_t vf_get_u64(struct vf *f, uint32_t req)
{
    uint64_t v = 0;

    vf_send(f, req, 0, NULL, 0, NULL, 0);
    assert_int_equal(vf_recv(f, req, &v, sizeof(v), NULL), (int)sizeof(v));
    return v;
}

void vf_sync(struct vf *f)
{
    vf_get_u64(f, VU_GET_FEATURES);
}

bool vf_silent(struct vf *f, int ms)
{
    struct pollfd p = { .fd = f->sock, .events = POLLIN };

    return poll(&p, 1, ms) == 0;
}

/* A UNIX socket closed with data unread gives ECONNRESET, not end of file. */
bool vf_closed(struct vf *f, int ms)
{
    struct pollfd p = { .fd = f->sock, .events = POLLIN };
    ssize_t n;
    char c;

    if (poll(&p, 1, ms) != 1)
        return false;
    n = recv(f->sock, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

void vf_connect(struct vf *f)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (f->sock >= 0)
        close(f->sock);
    f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->sock >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    assert_int_equal(connect(f->sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
    f->pfeatures = 0;
    f->packed = false;
    f->skip_enable = false;
}

/* --- a session ------------------------------------------------------------------ */

void vf_negotiate(struct vf *f, uint64_t extra, uint64_t pf)
{
    uint64_t features, offered_pf;

    vf_send(f, VU_SET_OWNER, 0, NULL, 0, NULL, 0);
    features = vf_get_u64(f, VU_GET_FEATURES);
    assert_true(features & (1ull << VU_F_PROTOCOL_FEATURES));
    offered_pf = vf_get_u64(f, VU_GET_PROTOCOL_FEATURES);
    f->pfeatures = pf & offered_pf;
    vf_send(f, VU_SET_PROTOCOL_FEATURES, 0, &f->pfeatures, sizeof(f->pfeatures),
            NULL, 0);
    features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VU_F_PROTOCOL_FEATURES) | extra;
    f->packed = features & (1ull << VIRTIO_F_RING_PACKED);
    if (f->pfeatures & (1ull << VU_PF_REPLY_ACK))
        assert_int_equal(vf_req_u64(f, VU_SET_FEATURES, features), 0);
    else
        vf_send(f, VU_SET_FEATURES, 0, &features, sizeof(features), NULL, 0);
}

void vf_mem_table(struct vf *f)
{
    struct vu_mem_table t = { .nregions = 1 };

    t.regions[0] = (struct vu_mem_region){
        .guest_addr = 0, .size = VF_MEM_SIZE, .user_addr = VF_UVA_BASE, .mmap_offset = 0,
    };
    assert_int_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 32, &f->memfd, 1), 0);
}

void vf_inflight_fresh(struct vf *f, uint16_t n, uint16_t size)
{
    struct vu_inflight in = { .num_queues = n, .queue_size = size }, out;
    int fd = -1;

    vf_send(f, VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
    assert_int_equal(vf_recv(f, VU_GET_INFLIGHT_FD, &out, sizeof(out), &fd),
                     (int)sizeof(out));
    assert_true(fd >= 0);
    assert_int_equal(vf_req(f, VU_SET_INFLIGHT_FD, &out, sizeof(out), &fd, 1), 0);
    close(fd);
}

void *vf_host(struct vf *f, uint64_t gpa)
{
    assert_true(gpa < VF_MEM_SIZE);
    return f->guest + gpa;
}

uint64_t vf_uva(uint64_t gpa)
{
    return VF_UVA_BASE + gpa;
}

static int new_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    assert_true(fd >= 0);
    return fd;
}

void vf_ring_free(struct vf *f, unsigned i)
{
    struct vf_ring *r = &f->ring[i];

    vdev_vqd_free(r->drv);
    r->drv = NULL;
    if (r->kick >= 0)
        close(r->kick);
    if (r->call >= 0)
        close(r->call);
    if (r->err >= 0)
        close(r->err);
    r->kick = r->call = r->err = -1;
}

void vf_ring_resend(struct vf *f, unsigned i, uint32_t base)
{
    struct vf_ring *r = &f->ring[i];
    struct vhost_vring_addr a = {
        .index = i,
        .desc_user_addr = vf_uva(r->desc),
        .avail_user_addr = vf_uva(r->driver),
        .used_user_addr = vf_uva(r->device),
    };

    assert_int_equal(vf_req_state(f, VU_SET_VRING_NUM, i, r->size), 0);
    assert_int_equal(vf_req_state(f, VU_SET_VRING_BASE, i, base), 0);
    assert_int_equal(vf_req(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
    assert_int_equal(vf_req(f, VU_SET_VRING_CALL, &(uint64_t){ i }, 8, &r->call, 1), 0);
    assert_int_equal(vf_req(f, VU_SET_VRING_ERR, &(uint64_t){ i }, 8, &r->err, 1), 0);
    assert_int_equal(vf_req(f, VU_SET_VRING_KICK, &(uint64_t){ i }, 8, &r->kick, 1), 0);
    if (!f->skip_enable)
        assert_int_equal(vf_req_state(f, VU_SET_VRING_ENABLE, i, 1), 0);
}

void vf_ring_setup(struct vf *f, unsigned i, uint16_t size)
{
    struct vf_ring *r = &f->ring[i];
    uint64_t base = 0x100000ull * (i + 1);
    struct vdev_vqd_config c = {
        .size = size, .packed = f->packed,
        .desc_gpa = base, .driver_gpa = base + 0x10000, .device_gpa = base + 0x20000,
        .mem = f->gmem, .kick_fd = -1,
    };

    vf_ring_free(f, i);
    r->size = size;
    r->packed = f->packed;
    r->desc = c.desc_gpa;
    r->driver = c.driver_gpa;
    r->device = c.device_gpa;
    r->kick = new_eventfd();
    r->call = new_eventfd();
    r->err = new_eventfd();
    assert_int_equal(vdev_vqd_new(&c, &r->drv), 0);
    vf_ring_resend(f, i, f->packed ? 0x80008000u : 0);
}

uint16_t vf_submit(struct vf *f, unsigned i, const char *msg)
{
    uint64_t out_gpa = VF_BUF_GPA + 4096ull * (f->next_buf++ % 128) * 2;
    struct vdev_vqd_buf out = { .gpa = out_gpa, .len = (uint32_t)strlen(msg) };
    struct vdev_vqd_buf in = { .gpa = out_gpa + 4096, .len = 256 };
    uint16_t id;

    memcpy(vf_host(f, out.gpa), msg, out.len);
    memset(vf_host(f, in.gpa), 0xee, in.len);
    assert_int_equal(vdev_vqd_add(f->ring[i].drv, &out, 1, &in, 1, false, &id), 0);
    vdev_vqd_kick_prepare(f->ring[i].drv);        /* publishes */
    return id;
}

void vf_kick(struct vf *f, unsigned i)
{
    uint64_t one = 1;

    assert_int_equal(write(f->ring[i].kick, &one, sizeof(one)), (ssize_t)sizeof(one));
}

bool vf_wait_call(struct vf *f, unsigned i, int ms)
{
    struct pollfd p = { .fd = f->ring[i].call, .events = POLLIN };
    uint64_t n;

    if (poll(&p, 1, ms) != 1)
        return false;
    return read(f->ring[i].call, &n, sizeof(n)) == (ssize_t)sizeof(n);
}

void vf_check_echo(struct vf *f, unsigned i, uint16_t id, const char *msg)
{
    uint16_t got;
    uint32_t len, sum = 0, hdr[2], n = (uint32_t)strlen(msg);
    uint64_t in_gpa = 0;

    assert_int_equal(vdev_vqd_get_used(f->ring[i].drv, &got, &len), 1);
    assert_int_equal(got, id);
    assert_int_equal(len, 8 + n);
    for (uint32_t k = 0; k < n; k++)
        sum += (uint8_t)msg[k];
    /* The reply went to the buffer after the request's out buffer: find it. */
    for (unsigned b = 0; b < 128; b++) {
        uint64_t o = VF_BUF_GPA + 4096ull * b * 2;

        if (memcmp(vf_host(f, o), msg, n) == 0 &&
            memcmp((uint8_t *)vf_host(f, o + 4096) + 8, msg, n) == 0)
            in_gpa = o + 4096;
    }
    assert_true(in_gpa != 0);
    memcpy(hdr, vf_host(f, in_gpa), sizeof(hdr));
    assert_int_equal(le32toh(hdr[0]), sum);
    assert_int_equal(le32toh(hdr[1]), n);
}

void vf_echo(struct vf *f, unsigned i, const char *msg)
{
    uint16_t id = vf_submit(f, i, msg);

    vf_kick(f, i);
    assert_true(vf_wait_call(f, i, VF_TIMEOUT));
    vf_check_echo(f, i, id, msg);
}

uint32_t vf_get_vring_base(struct vf *f, unsigned i)
{
    struct vhost_vring_state s = { .index = i, .num = 0 }, out;

    vf_send(f, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
    assert_int_equal(vf_recv(f, VU_GET_VRING_BASE, &out, sizeof(out), NULL),
                     (int)sizeof(out));
    assert_int_equal(out.index, i);
    return out.num;
}

void vf_clean_session(struct vf *f)
{
    char msg[32];

    vf_connect(f);
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_inflight_fresh(f, 1, 256);
    vf_ring_setup(f, 0, 256);
    snprintf(msg, sizeof(msg), "clean session %u", f->next_buf);
    vf_echo(f, 0, msg);
    assert_int_equal(vf_get_vring_base(f, 0), 1);
    vf_ring_free(f, 0);
}
