/* test_vu_frontend_backend.c — vdev's vhost-user front-end (vhost_user_client.h)
 * against vdev's own back-end (vhost_user.h) serving the echo device, over a real
 * UNIX socket: negotiation, shared memory, two queues of echo requests (split
 * and packed), the configuration space, stopping and starting a queue, a
 * reconnect of the front-end, and requests in flight across a restart of the
 * back-end handed over by the inflight area. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>

#include "helpers.h"
#include "vdev/dev_echo.h"
#include "vdev/loop.h"
#include "vdev/vhost_user.h"
#include "vdev/vhost_user_client.h"
#include "vdev/virtq_driver.h"
#include "vdev/workers.h"

#define MIB          (1024 * 1024ull)
#define QUEUES       2
#define QSIZE        256
#define WAIT_MS      10000       /* generous: a wait that runs out fails the test */
#define CONNECT_MS   5000
#define SLOT_SIZE    8192        /* one request's buffers: out then in */
#define MAX_PAYLOAD  4000
#define MAX_REQS     512         /* request slots per queue */

/* One request: its payload (out, one or two buffers) and its reply buffer. */
struct req {
    uint64_t gpa;                /* SLOT_SIZE bytes of guest memory */
    uint32_t len;                /* readable bytes */
    uint32_t sum;
    bool outstanding, done;
};

struct fb {
    int fds_before;
    bool hold;

    /* the back-end */
    struct vdev_loop *loop;
    pthread_t thread;
    bool running;
    struct vdev_workers *workers;
    struct vdev_virtio_dev *dev;
    struct vdev_vu_backend *be;
    char dir[48], path[96];

    /* the front-end */
    struct vdev_vuc *c;
    bool packed;
    struct req reqs[QUEUES][MAX_REQS];
    unsigned nreqs[QUEUES];
    int id_to_req[QUEUES][65536];
    unsigned completed[QUEUES];
};

/* --- the back-end ----------------------------------------------------------- */

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

static void backend_start(struct fb *f)
{
    struct vdev_echo_config ec = { .num_queues = QUEUES, .hold = f->hold };
    struct vdev_vu_backend_config bc = { .listen_fd = -1, .conn_fd = -1 };

    assert_int_equal(vdev_echo_new(&ec, &f->dev), 0);
    bc.loop = f->loop;
    bc.workers = f->workers;
    bc.dev = f->dev;
    bc.socket_path = f->path;
    assert_int_equal(vdev_vu_backend_new(&bc, &f->be), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f->loop), 0);
    f->running = true;
}

/* Stops the loop, then frees the back-end and its device: to the front-end, a
 * back-end that crashed; the socket path is free again. */
static void backend_stop(struct fb *f)
{
    if (!f->running)
        return;
    vdev_loop_stop(f->loop);
    pthread_join(f->thread, NULL);
    vdev_vu_backend_free(f->be);
    vdev_echo_free(f->dev);
    f->be = NULL;
    f->dev = NULL;
    f->running = false;
}

static int setup_with(void **state, bool hold)
{
    struct fb *f = calloc(1, sizeof(*f));
    struct vdev_workers_config wc = { .threads = 2, .name = "vufb" };

    assert_non_null(f);
    alarm(120);
    f->hold = hold;
    f->fds_before = test_count_fds();
    assert_int_equal(vdev_loop_new(&f->loop), 0);
    assert_int_equal(vdev_workers_new(&wc, &f->workers), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/vdev-vufb-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
    backend_start(f);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

static int setup_hold(void **state)
{
    return setup_with(state, true);
}

static int teardown(void **state)
{
    struct fb *f = *state;

    vdev_vuc_close(f->c);
    backend_stop(f);
    vdev_workers_free(f->workers);
    vdev_loop_free(f->loop);
    rmdir(f->dir);
    assert_no_fd_leak(f->fds_before);
    alarm(0);
    free(f);
    return 0;
}

/* --- the front-end ---------------------------------------------------------- */

/* Every feature both sides support, in the layout asked for; no dirty log. */
static void connect_negotiate(struct fb *f, bool packed)
{
    uint64_t want = ~0ull & ~(1ull << VHOST_F_LOG_ALL);

    if (!packed)
        want &= ~(1ull << VIRTIO_F_RING_PACKED);
    f->packed = packed;
    assert_int_equal(vdev_vuc_connect(f->path, CONNECT_MS, &f->c), 0);
    assert_int_equal(vdev_vuc_negotiate(f->c, want, VDEV_VUC_PF_SUPPORTED), 0);
    assert_true(vdev_vuc_features(f->c) & (1ull << VIRTIO_F_VERSION_1));
    assert_int_equal(!!(vdev_vuc_features(f->c) & (1ull << VIRTIO_F_RING_PACKED)), packed);
    assert_true(vdev_vuc_protocol_features(f->c) & (1ull << VDEV_VUC_PF_MQ));
    assert_true(vdev_vuc_protocol_features(f->c) & (1ull << VDEV_VUC_PF_CONFIG));
    assert_true(vdev_vuc_queue_num(f->c) >= QUEUES);
    assert_int_equal(vdev_vuc_mem_add(f->c, 16 * MIB, NULL), 0);
}

/* A new request slot on queue q: its payload varies with n in length (1 ..
 * MAX_PAYLOAD) and content. */
static struct req *req_new(struct fb *f, unsigned q, unsigned n)
{
    struct req *r;
    uint8_t *p;

    assert_true(f->nreqs[q] < MAX_REQS);
    r = &f->reqs[q][f->nreqs[q]++];
    assert_int_equal(vdev_vuc_alloc(f->c, SLOT_SIZE, 64, &r->gpa), 0);
    p = vdev_vuc_host(f->c, r->gpa, SLOT_SIZE);
    assert_non_null(p);
    memset(p, 0xee, SLOT_SIZE);
    r->len = 1 + (n * 7919u + q * 131u) % MAX_PAYLOAD;
    r->sum = 0;
    for (uint32_t i = 0; i < r->len; i++) {
        p[i] = (uint8_t)(n * 31u + i * 7u + q);
        r->sum += p[i];
    }
    return r;
}

/* Makes request r available on queue q: the payload in one buffer, or in two
 * for odd lengths; the reply buffer just after. -ENOSPC when the ring is full. */
static int req_submit(struct fb *f, unsigned q, struct req *r)
{
    struct vdev_vqd_buf out[2], in = {
        .gpa = r->gpa + MAX_PAYLOAD + 64, .len = VDEV_ECHO_HDR_SIZE + r->len,
    };
    unsigned n_out = 1;
    uint16_t id;
    int ret;

    out[0] = (struct vdev_vqd_buf){ .gpa = r->gpa, .len = r->len };
    if (r->len > 1 && (r->len & 1)) {
        out[0].len = r->len / 2;
        out[1] = (struct vdev_vqd_buf){ .gpa = r->gpa + r->len / 2,
                                        .len = r->len - r->len / 2 };
        n_out = 2;
    }
    ret = vdev_vuc_submit(f->c, q, out, n_out, &in, 1, false, &id);
    if (ret < 0)
        return ret;
    assert_int_equal(f->id_to_req[q][id], -1);
    f->id_to_req[q][id] = (int)(r - f->reqs[q]);
    r->outstanding = true;
    return 0;
}

/* Checks request r's reply in guest memory: {le32 sum, le32 length, payload}. */
static void req_check(struct fb *f, unsigned q, struct req *r, uint32_t used_len)
{
    const uint8_t *p = vdev_vuc_host(f->c, r->gpa, SLOT_SIZE);
    const uint8_t *reply = p + MAX_PAYLOAD + 64;
    uint32_t hdr[2];

    (void)q;
    assert_int_equal(used_len, VDEV_ECHO_HDR_SIZE + r->len);
    memcpy(hdr, reply, sizeof(hdr));
    assert_int_equal(le32toh(hdr[0]), r->sum);
    assert_int_equal(le32toh(hdr[1]), r->len);
    assert_memory_equal(reply + VDEV_ECHO_HDR_SIZE, p, r->len);
}

/* Reaps what queue q has used, checking each reply once. */
static void reap_all(struct fb *f, unsigned q)
{
    uint16_t id;
    uint32_t len;
    int ret;

    while ((ret = vdev_vuc_reap(f->c, q, &id, &len)) == 1) {
        int i = f->id_to_req[q][id];
        struct req *r;

        assert_true(i >= 0);
        r = &f->reqs[q][i];
        assert_true(r->outstanding);
        assert_false(r->done);
        req_check(f, q, r, len);
        r->outstanding = false;
        r->done = true;
        f->id_to_req[q][id] = -1;
        f->completed[q]++;
    }
    assert_int_equal(ret, 0);
}

static void reset_ids(struct fb *f)
{
    memset(f->id_to_req, 0xff, sizeof(f->id_to_req));
}

/* n new requests on each of queues [0, nq): submitted as room allows, kicked,
 * waited for, reaped and checked; returns when all are done. */
static void serve(struct fb *f, unsigned nq, unsigned n)
{
    unsigned first[QUEUES], next[QUEUES];

    for (unsigned q = 0; q < nq; q++) {
        first[q] = f->nreqs[q];
        for (unsigned k = 0; k < n; k++)
            req_new(f, q, first[q] + k);
        next[q] = first[q];
    }
    for (;;) {
        bool busy = false;

        for (unsigned q = 0; q < nq; q++) {
            while (next[q] < first[q] + n) {
                int ret = req_submit(f, q, &f->reqs[q][next[q]]);

                if (ret == -ENOSPC)
                    break;
                assert_int_equal(ret, 0);
                next[q]++;
            }
            assert_true(vdev_vuc_kick(f->c, q) >= 0);
        }
        for (unsigned q = 0; q < nq; q++) {
            bool pending = false;

            for (unsigned k = first[q]; k < first[q] + n && !pending; k++)
                pending = !f->reqs[q][k].done;
            if (!pending)
                continue;
            busy = true;
            assert_int_equal(vdev_vuc_wait(f->c, q, WAIT_MS), 1);
            reap_all(f, q);
        }
        if (!busy)
            break;
    }
    for (unsigned q = 0; q < nq; q++)
        for (unsigned k = first[q]; k < first[q] + n; k++)
            assert_true(f->reqs[q][k].done);
}

static void free_reqs(struct fb *f)
{
    for (unsigned q = 0; q < QUEUES; q++) {
        for (unsigned i = 0; i < f->nreqs[q]; i++)
            assert_int_equal(vdev_vuc_free(f->c, f->reqs[q][i].gpa, SLOT_SIZE), 0);
        f->nreqs[q] = 0;
    }
}

/* --- the tests ------------------------------------------------------------------ */

/* The whole life of a session: every feature both support, 16 MiB shared, two
 * queues of 200 requests each all echoed right, the configuration space read,
 * and a queue stopped at its base and started again goes on serving. */
static void session(struct fb *f, bool packed)
{
    uint8_t cfg[VDEV_ECHO_CFG_SIZE];
    uint32_t magic, base;

    reset_ids(f);
    connect_negotiate(f, packed);
    for (unsigned q = 0; q < QUEUES; q++)
        assert_int_equal(vdev_vuc_queue_setup(f->c, q, QSIZE, 0), 0);

    serve(f, QUEUES, 200);
    assert_int_equal(f->completed[0], 200);
    assert_int_equal(f->completed[1], 200);

    assert_int_equal(vdev_vuc_get_config(f->c, 0, cfg, sizeof(cfg)), 0);
    memcpy(&magic, cfg + VDEV_ECHO_CFG_MAGIC, sizeof(magic));
    assert_int_equal(le32toh(magic), VDEV_ECHO_MAGIC);

    /* Stop queue 0: its base is where the driver is; start it again there. */
    assert_int_equal(vdev_vuc_queue_stop(f->c, 0, &base), 0);
    if (!packed)
        assert_int_equal(base & 0xffff, 200);
    assert_int_equal(vdev_vuc_queue_start(f->c, 0), 0);
    serve(f, QUEUES, 50);
    assert_int_equal(f->completed[0], 250);
    assert_int_equal(f->completed[1], 250);

    free_reqs(f);
    for (unsigned q = 0; q < QUEUES; q++)
        vdev_vuc_queue_free(f->c, q);
}

static void test_session_split(void **state)
{
    session(*state, false);
}

static void test_session_packed(void **state)
{
    session(*state, true);
}

/* The front-end drops its connection and comes back on the same path: the
 * back-end takes the replayed set-up and serves the queues from where they were. */
static void reconnect(struct fb *f, bool packed)
{
    reset_ids(f);
    connect_negotiate(f, packed);
    for (unsigned q = 0; q < QUEUES; q++)
        assert_int_equal(vdev_vuc_queue_setup(f->c, q, QSIZE, 0), 0);
    serve(f, QUEUES, 60);

    vdev_vuc_disconnect(f->c);
    assert_false(vdev_vuc_connected(f->c));
    assert_int_equal(vdev_vuc_reconnect(f->c, f->path, CONNECT_MS), 0);
    assert_true(vdev_vuc_connected(f->c));

    serve(f, QUEUES, 100);
    assert_int_equal(f->completed[0], 160);
    assert_int_equal(f->completed[1], 160);
    free_reqs(f);
}

static void test_reconnect_split(void **state)
{
    reconnect(*state, false);
}

static void test_reconnect_packed(void **state)
{
    reconnect(*state, true);
}

/* Waits (generously) until the device holds n requests. */
static void wait_held(struct fb *f, uint64_t n)
{
    for (int waited = 0; waited < WAIT_MS && vdev_echo_held(f->dev) < n; waited += 5)
        usleep(5000);
    assert_int_equal(vdev_echo_held(f->dev), n);
}

/* Four requests held by the device when the back-end goes away: a new back-end
 * on the same path, handed the inflight area on the front-end's reconnect,
 * completes each of them exactly once, and serves new requests after. */
static void test_inflight_backend_restart(void **state)
{
    struct fb *f = *state;
    struct vdev_vuc_inflight info;
    uint16_t id;
    uint32_t len;
    int kick_fd, call_fd;

    reset_ids(f);
    connect_negotiate(f, false);
    assert_true(vdev_vuc_protocol_features(f->c) & (1ull << VDEV_VUC_PF_INFLIGHT_SHMFD));
    assert_int_equal(vdev_vuc_inflight_setup(f->c, QUEUES, QSIZE), 0);
    assert_true(vdev_vuc_inflight(f->c, &info) >= 0);    /* the kept area's fd */
    assert_true(info.mmap_size > 0);
    assert_int_equal(vdev_vuc_queue_setup(f->c, 0, QSIZE, 0), 0);

    for (unsigned k = 0; k < 4; k++)
        assert_int_equal(req_submit(f, 0, req_new(f, 0, k)), 0);
    assert_true(vdev_vuc_kick(f->c, 0) >= 0);
    wait_held(f, 4);

    /* The back-end goes; a new one, with a new device, takes the path. */
    backend_stop(f);
    backend_start(f);
    vdev_vuc_disconnect(f->c);
    assert_int_equal(vdev_vuc_reconnect(f->c, f->path, CONNECT_MS), 0);

    /* A kick after the restart, as in test_vu_inflight.c: the new device is
     * handed the four from the inflight area. */
    assert_int_equal(vdev_vuc_queue_fds(f->c, 0, &kick_fd, &call_fd), 0);
    assert_int_equal(eventfd_write(kick_fd, 1), 0);
    wait_held(f, 4);
    assert_int_equal(vdev_echo_release(f->dev, 4), 0);
    while (f->completed[0] < 4) {
        assert_int_equal(vdev_vuc_wait(f->c, 0, WAIT_MS), 1);
        reap_all(f, 0);
    }
    for (unsigned k = 0; k < 4; k++)
        assert_true(f->reqs[0][k].done);
    assert_int_equal(vdev_vuc_reap(f->c, 0, &id, &len), 0);

    /* One more request is the only one to come back: none of the four twice. */
    assert_int_equal(vdev_echo_release(f->dev, 1), 0);
    assert_int_equal(req_submit(f, 0, req_new(f, 0, 4)), 0);
    assert_true(vdev_vuc_kick(f->c, 0) >= 0);
    while (f->completed[0] < 5) {
        assert_int_equal(vdev_vuc_wait(f->c, 0, WAIT_MS), 1);
        reap_all(f, 0);
    }
    assert_true(f->reqs[0][4].done);
    assert_int_equal(vdev_echo_held(f->dev), 0);
    free_reqs(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflight_backend_restart, setup_hold,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
