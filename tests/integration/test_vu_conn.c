/* test_vu_conn.c — the connection: the socket path, one front-end at a time,
 * what a front-end's end releases, --fd, streams the back-end drops, and the
 * back-end channel with in-band notifications. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vu_fixture.h"
#include "vdev/loop.h"
#include "vdev/sock.h"
#include "vdev/vhost_user.h"

#define BIT(n) (1ull << (n))

static int try_new(struct vf *f, struct vdev_loop *loop, const char *path,
                   struct vdev_vu_backend **out)
{
    struct vdev_vu_backend_config c = {
        .loop = loop, .workers = f->workers, .dev = f->dev, .socket_path = path,
        .listen_fd = -1, .conn_fd = -1,
    };

    return vdev_vu_backend_new(&c, out);
}

/* A path a live back-end listens on is -EADDRINUSE; a dead back-end's socket
 * file is replaced; another file is left alone (-EEXIST). */
static void test_socket_path_rules(void **state)
{
    struct vf *f = *state;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct vdev_vu_backend *b = NULL;
    struct vdev_loop *loop;
    char path[200];
    int fd;

    assert_int_equal(vdev_loop_new(&loop), 0);
    assert_int_equal(try_new(f, loop, f->path, &b), -EADDRINUSE);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale", f->dir);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);                                    /* the file stays, nobody listens */
    assert_int_equal(try_new(f, loop, sa.sun_path, &b), 0);
    vdev_vu_backend_free(b);
    assert_int_equal(access(sa.sun_path, F_OK), -1);

    snprintf(path, sizeof(path), "%s/file", f->dir);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    assert_int_equal(try_new(f, loop, path, &b), -EEXIST);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);

    memset(path, 'x', sizeof(path) - 1);
    path[sizeof(path) - 1] = 0;
    assert_int_equal(try_new(f, loop, path, &b), -ENAMETOOLONG);
    vdev_loop_free(loop);
}

/* A second front-end waits in the backlog until the first has gone. */
static void test_second_frontend_waits(void **state)
{
    struct vf *f = *state;
    int first = f->sock;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    f->sock = -1;
    vf_connect(f);
    vf_send(f, VU_GET_FEATURES, 0, NULL, 0, NULL, 0);
    assert_true(vf_silent(f, 200));
    close(first);
    assert_int_equal(vf_recv(f, VU_GET_FEATURES, NULL, 0, NULL), 8);
}

/* When the front-end goes, guest memory is unmapped and every fd it handed over
 * is closed; the next front-end starts from scratch. */
static void test_disconnect_releases(void **state)
{
    struct vf *f = *state;
    int fds, maps = test_count_maps(VF_MEM_NAME);

    vf_sync(f);
    fds = test_count_fds();
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_ring_setup(f, 1, 256);
    vf_echo(f, 0, "running");
    assert_int_equal(test_count_maps(VF_MEM_NAME), maps + 1);
    vf_connect(f);                                /* the old connection ends */
    vf_sync(f);
    assert_int_equal(test_count_maps(VF_MEM_NAME), maps);
    vf_ring_free(f, 0);
    vf_ring_free(f, 1);
    assert_no_fd_leak(fds);
    /* Nothing of the old session is left: ring 0 has no size, no addresses. */
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_get_vring_base(f, 0), 0);
}

/* A payload larger than any request takes drops the connection, not drained. */
static void test_oversize_payload(void **state)
{
    struct vf *f = *state;
    uint8_t junk[512] = { 0 };

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_send(f, VU_SET_CONFIG, VU_FLAG_NEED_REPLY, junk, VU_MAX_PAYLOAD + 1, NULL, 0);
    assert_true(vf_closed(f, VF_TIMEOUT));
    assert_true(vf_log_wait("dropping the connection", VF_TIMEOUT));

    vf_connect(f);
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    {
        struct vu_header h = { .request = VU_SET_OWNER, .flags = VU_VERSION,
                               .size = 0xffffffffu };

        assert_int_equal(vdev_sock_send(f->sock, &h, sizeof(h), NULL, 0, 1000), 0);
    }
    assert_true(vf_closed(f, VF_TIMEOUT));
}

/* A front-end that stops half-way through a message cannot hold the control
 * thread: after the io timeout the connection is dropped. */
static void test_stall_mid_message(void **state)
{
    struct vf *f = *state;
    struct vu_header h = { .request = VU_SET_FEATURES, .flags = VU_VERSION, .size = 8 };
    uint8_t half[12 + 3] = { 0 };

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    memcpy(half, &h, sizeof(h));
    assert_int_equal(vdev_sock_send(f->sock, half, sizeof(half), NULL, 0, 1000), 0);
    assert_true(vf_closed(f, VF_IO_TIMEOUT + VF_TIMEOUT));

    vf_connect(f);                                /* half a header */
    assert_int_equal(vdev_sock_send(f->sock, &h, 5, NULL, 0, 1000), 0);
    assert_true(vf_closed(f, VF_IO_TIMEOUT + VF_TIMEOUT));
}

/* INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK: the back-end closes the
 * connection ("In-band notifications"). */
static void test_inband_needs_backend_req(void **state)
{
    struct vf *f = *state;
    uint64_t pf = BIT(VU_PF_INBAND_NOTIFICATIONS) | BIT(VU_PF_REPLY_ACK);

    vf_get_u64(f, VU_GET_PROTOCOL_FEATURES);
    vf_send(f, VU_SET_PROTOCOL_FEATURES, 0, &pf, sizeof(pf), NULL, 0);
    assert_true(vf_closed(f, VF_TIMEOUT));

    vf_connect(f);
    pf = BIT(VU_PF_INBAND_NOTIFICATIONS) | BIT(VU_PF_BACKEND_REQ);
    vf_send(f, VU_SET_PROTOCOL_FEATURES, 0, &pf, sizeof(pf), NULL, 0);
    assert_true(vf_closed(f, VF_TIMEOUT));
}

static int recv_backend_msg(int fd, struct vu_header *h, void *p, uint32_t cap)
{
    int ret = vdev_sock_recv(fd, h, sizeof(*h), NULL, 0, NULL, VF_TIMEOUT);

    if (ret < 0)
        return ret;
    assert_true(h->size <= cap);
    return vdev_sock_recv(fd, p, h->size, NULL, 0, NULL, VF_TIMEOUT);
}

struct on_loop {
    struct vdev_vu_backend *be;
    atomic_int ret;
    atomic_bool done;
};

static void config_changed_on_loop(void *opaque)
{
    struct on_loop *o = opaque;

    atomic_store(&o->ret, vdev_vu_backend_config_changed(o->be));
    atomic_store(&o->done, true);
}

static int config_changed(struct vf *f)
{
    struct on_loop o = { .be = f->be };

    assert_int_equal(vdev_loop_call(f->loop, config_changed_on_loop, &o), 0);
    while (!atomic_load(&o.done))
        usleep(1000);
    return atomic_load(&o.ret);
}

/* In-band notifications: a ring kicked by VRING_KICK, its used buffers signalled
 * by BACKEND_VRING_CALL on the back-end channel; BACKEND_CONFIG_CHANGE_MSG goes
 * there too, but not while the device is suspended. */
static void test_inband_notifications(void **state)
{
    struct vf *f = *state;
    struct vu_header h;
    struct vhost_vring_state s;
    uint16_t id;
    int ch[2], before;

    test_socketpair(ch);
    vf_negotiate(f, 0, VF_PF_DEFAULT | BIT(VU_PF_BACKEND_REQ) |
                 BIT(VU_PF_INBAND_NOTIFICATIONS));
    assert_int_equal(vf_req(f, VU_SET_BACKEND_REQ_FD, NULL, 0, &ch[1], 1), 0);
    close(ch[1]);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    assert_int_equal(vf_req_u64(f, VU_SET_VRING_CALL, 0 | VU_VRING_NOFD), 0);
    assert_int_equal(vf_req_u64(f, VU_SET_VRING_KICK, 0 | VU_VRING_NOFD), 0);

    id = vf_submit(f, 0, "in band");
    assert_int_equal(vf_req_state(f, VU_VRING_KICK, 0, 0), 0);
    assert_int_equal(recv_backend_msg(ch[0], &h, &s, sizeof(s)), 0);
    assert_int_equal(h.request, VU_BACKEND_VRING_CALL);
    assert_int_equal(h.flags, VU_VERSION);
    assert_int_equal(h.size, sizeof(s));
    assert_int_equal(s.index, 0);
    vf_check_echo(f, 0, id, "in band");

    assert_int_equal(config_changed(f), 0);
    assert_int_equal(recv_backend_msg(ch[0], &h, NULL, 0), 0);
    assert_int_equal(h.request, VU_BACKEND_CONFIG_CHANGE_MSG);
    vf_get_vring_base(f, 0);                      /* suspended: nothing is sent */
    assert_int_equal(config_changed(f), -EAGAIN);

    /* The channel must be a socket. */
    before = test_count_fds();
    {
        int efd = eventfd(0, EFD_CLOEXEC);

        assert_int_not_equal(vf_req(f, VU_SET_BACKEND_REQ_FD, NULL, 0, &efd, 1), 0);
        close(efd);
    }
    vf_sync(f);
    assert_no_fd_leak(before);
    close(ch[0]);
}

static atomic_int disconnects;

static void on_disconnect(void *opaque)
{
    atomic_fetch_add(&disconnects, 1);
}

static void *run_loop(void *loop)
{
    vdev_loop_run(loop);
    return NULL;
}

/* --fd: a connected socket is served; when it ends, on_disconnect is called and
 * everything of it is released. */
static void test_connected_fd(void **state)
{
    struct vf *f = *state;
    struct vdev_vu_backend_config c = {
        .workers = f->workers, .dev = f->dev, .listen_fd = -1,
        .on_disconnect = on_disconnect,
    };
    struct vdev_vu_backend *b;
    struct vdev_loop *loop;
    pthread_t t;
    int sv[2], before, saved = f->sock;

    vf_sync(f);                                   /* the fixture's connection is in */
    before = test_count_fds();

    assert_int_equal(vdev_loop_new(&loop), 0);
    test_socketpair(sv);
    c.loop = loop;
    c.conn_fd = sv[1];
    assert_int_equal(vdev_vu_backend_new(&c, &b), 0);
    assert_int_equal(pthread_create(&t, NULL, run_loop, loop), 0);

    f->sock = sv[0];
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_get_u64(f, VU_GET_QUEUE_NUM), VF_RINGS);
    close(sv[0]);
    f->sock = saved;
    for (int i = 0; i < 2000 && atomic_load(&disconnects) == 0; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&disconnects), 1);

    vdev_loop_stop(loop);
    pthread_join(t, NULL);
    vdev_vu_backend_free(b);
    vdev_loop_free(loop);
    assert_no_fd_leak(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_socket_path_rules, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_second_frontend_waits, vf_setup,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_releases, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_oversize_payload, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_stall_mid_message, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_inband_needs_backend_req, vf_setup,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_inband_notifications, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_connected_fd, vf_setup, vf_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
