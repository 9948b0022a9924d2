/* The back-end channel ("Back-end communication"): the test holds the back-end's
 * end (the fd that came with SET_BACKEND_REQ_FD) and sends requests on it. The
 * client answers when need_reply is set, with 0 or non-zero; counts config
 * changes; turns in-band calls into its call eventfd; serves the channel while a
 * request of its own waits for a reply; and closes the channel, with every fd
 * that came on it, on a request that breaks the protocol. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vdev/sock.h"
#include "vdev/vhost_user_client.h"
#include "fake_backend.h"

struct t {
    int fds_before;
    struct fb *fb;
    struct vdev_vuc *c;
    int chan;                 /* the back-end's end of the channel (the fake's) */
    unsigned n;               /* messages of the negotiation */
    unsigned calls;           /* handler calls */
    struct vdev_vuc_backend_req last;
    int handler_ret;
};

static int setup(void **state)
{
    static struct t t;

    alarm(60);
    memset(&t, 0, sizeof(t));
    t.fds_before = test_count_fds();
    t.fb = fb_new();
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;

    vdev_vuc_close(t->c);
    t->c = NULL;
    fb_free(t->fb);
    assert_no_fd_leak(t->fds_before);
    alarm(0);
    return 0;
}

static int handler(void *opaque, const struct vdev_vuc_backend_req *req)
{
    struct t *t = opaque;

    t->calls++;
    t->last = *req;
    for (unsigned i = 0; i < req->nfds; i++)
        assert_true(fcntl(req->fds[i], F_GETFD) >= 0);   /* open while we look */
    return t->handler_ret;
}

/* Negotiates BACKEND_REQ, REPLY_ACK and more, with the script's tail after. */
static void start(struct t *t, uint64_t features, uint64_t pf, void (*tail)(struct fb *))
{
    struct offer o = {
        .features = BIT(F_PROTOCOL_FEATURES) | features,
        .pf = BIT(PF_BACKEND_REQ) | BIT(PF_REPLY_ACK) | pf,
        .expect_pf = BIT(PF_BACKEND_REQ) | BIT(PF_REPLY_ACK) | pf,
    };

    t->n = script_negotiate(t->fb, &o);
    if (tail)
        tail(t->fb);
    fb_start(t->fb);
    assert_int_equal(vdev_vuc_attach(t->fb->client_sock, &t->c), 0);
    t->fb->client_sock = -1;
    vdev_vuc_set_timeout(t->c, 2000);
    vdev_vuc_set_backend_handler(t->c, handler, t);
    assert_int_equal(vdev_vuc_negotiate(t->c, BIT(F_PROTOCOL_FEATURES) | features, ~0ull), 0);
    fb_wait(t->fb, t->n);
    t->chan = fb_msg(t->fb, t->n - 1)->fds[0];
    assert_true(t->chan >= 0);
}

static void chan_send(int fd, uint32_t request, uint32_t flags, const void *payload,
                      uint32_t size, const int *fds, size_t nfds)
{
    uint8_t buf[12 + 128];

    put32(buf, 0, request);
    put32(buf, 4, flags);
    put32(buf, 8, size);
    if (size)
        memcpy(buf + 12, payload, size);
    assert_int_equal(vdev_sock_send(fd, buf, 12 + size, fds, nfds, 1000), 0);
}

/* The client's answer on the channel: request, flags V1|REPLY, a u64. */
static uint64_t chan_reply(int fd, uint32_t request)
{
    uint8_t buf[12 + 8];
    size_t n = 0;

    assert_int_equal(vdev_sock_recv(fd, buf, sizeof(buf), NULL, 0, &n, 1000), 0);
    assert_int_equal(get32(buf, 0), request);
    assert_int_equal(get32(buf, 4), FB_V1 | FB_REPLY);
    assert_int_equal(get32(buf, 8), 8);
    return get64(buf, 12);
}

static bool chan_quiet(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 50) == 0;
}

/* CONFIG_CHANGE_MSG with need_reply: counted, handed to the handler, acked 0. */
static void test_config_change_acked(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    chan_send(t->chan, B_CONFIG_CHANGE_MSG, FB_V1 | FB_NEED_REPLY, NULL, 0, NULL, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_reply(t->chan, B_CONFIG_CHANGE_MSG) == 0);
    assert_true(vdev_vuc_config_changes(t->c) == 1);
    assert_int_equal(t->calls, 1);
    assert_int_equal(t->last.request, B_CONFIG_CHANGE_MSG);
    assert_int_equal(t->last.size, 0);
}

/* Without need_reply nothing is sent back. */
static void test_config_change_no_reply(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    chan_send(t->chan, B_CONFIG_CHANGE_MSG, FB_V1, NULL, 0, NULL, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_quiet(t->chan));
    assert_true(vdev_vuc_config_changes(t->c) == 1);
}

/* The handler's failure is a non-zero answer. */
static void test_handler_failure(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    t->handler_ret = -EIO;
    chan_send(t->chan, B_CONFIG_CHANGE_MSG, FB_V1 | FB_NEED_REPLY, NULL, 0, NULL, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_reply(t->chan, B_CONFIG_CHANGE_MSG) != 0);
}

/* A request whose feature was not negotiated, or of an unknown type, is
 * answered with failure; the handler does not see it; the channel stays. */
static void test_not_negotiated_and_unknown(void **state)
{
    struct t *t = *state;
    uint8_t st[8] = { 0 };

    start(t, 0, 0, NULL);
    chan_send(t->chan, B_VRING_CALL, FB_V1 | FB_NEED_REPLY, st, 8, NULL, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_reply(t->chan, B_VRING_CALL) != 0);
    chan_send(t->chan, B_CONFIG_CHANGE_MSG, FB_V1 | FB_NEED_REPLY, NULL, 0, NULL, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_reply(t->chan, B_CONFIG_CHANGE_MSG) != 0);
    chan_send(t->chan, 99, FB_V1 | FB_NEED_REPLY, st, 8, NULL, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_reply(t->chan, 99) != 0);
    assert_int_equal(t->calls, 0);
    assert_true(vdev_vuc_backend_fd(t->c) >= 0);
    assert_true(vdev_vuc_config_changes(t->c) == 0);
}

/* Requests that break the protocol close the channel and every fd with them. */
static void refused(struct t *t, uint32_t request, uint32_t flags, uint32_t size,
                    int nfds)
{
    uint8_t p[128] = { 0 };
    int fds[2] = { -1, -1 }, before;

    for (int i = 0; i < nfds; i++)
        fds[i] = test_memfd("vuc-chan", 4096);
    before = test_count_fds();
    chan_send(t->chan, request, flags, p, size, fds, (size_t)nfds);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), -EPROTO);
    assert_int_equal(vdev_vuc_backend_fd(t->c), -1);
    assert_int_equal(test_count_fds(), before - 1);      /* the client's end */
    assert_int_equal(t->calls, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 0), -ENOTCONN);
    assert_true(vdev_vuc_connected(t->c));                /* the main channel stays */
    vdev_close_fds(fds, 2);
}

static void test_wrong_size(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    refused(t, B_CONFIG_CHANGE_MSG, FB_V1, 8, 0);
}

static void test_reply_flag_in_request(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    refused(t, B_CONFIG_CHANGE_MSG, FB_V1 | FB_REPLY, 0, 0);
}

static void test_wrong_version(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    refused(t, B_CONFIG_CHANGE_MSG, 0x2, 0, 0);
}

static void test_too_long(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    refused(t, 99, FB_V1, 100, 0);          /* past any back-end request */
}

/* fds only with BACKEND_SEND_FD. */
static void test_fds_without_send_fd(void **state)
{
    struct t *t = *state;

    start(t, 0, BIT(PF_CONFIG), NULL);
    refused(t, B_CONFIG_CHANGE_MSG, FB_V1, 0, 2);
}

/* With BACKEND_SEND_FD and HOST_NOTIFIER, a host notifier request's fd reaches
 * the handler and is closed after it. */
static void test_host_notifier_fd(void **state)
{
    struct t *t = *state;
    uint8_t area[24];
    int fd = test_memfd("vuc-chan-notifier", 4096), before;

    start(t, 0, BIT(PF_BACKEND_SEND_FD) | BIT(11 /* HOST_NOTIFIER */), NULL);
    put64(area, 0, 3);
    put64(area, 8, 4096);
    put64(area, 16, 0);
    before = test_count_fds();
    chan_send(t->chan, B_VRING_HOST_NOTIFIER_MSG, FB_V1 | FB_NEED_REPLY, area, 24, &fd, 1);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_reply(t->chan, B_VRING_HOST_NOTIFIER_MSG) == 0);
    assert_int_equal(t->calls, 1);
    assert_int_equal(t->last.nfds, 1);
    assert_true(t->last.payload.area.u64 == 3 && t->last.payload.area.size == 4096);
    assert_int_equal(test_count_fds(), before);
    close(fd);
}

/* The back-end closing its end ends the channel, nothing else. */
static void test_channel_eof(void **state)
{
    struct t *t = *state;
    const struct fb_msg *m;

    start(t, 0, 0, NULL);
    m = fb_msg(t->fb, t->n - 1);
    shutdown(m->fds[0], SHUT_RDWR);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), -ECONNRESET);
    assert_int_equal(vdev_vuc_backend_fd(t->c), -1);
    assert_true(vdev_vuc_connected(t->c));
}

static void test_process_timeout(void **state)
{
    struct t *t = *state;

    start(t, 0, 0, NULL);
    assert_int_equal(vdev_vuc_backend_process(t->c, 50), 0);
}

/* Memory and queue 0, acked. */
static void mem_and_queue(struct fb *fb)
{
    static const uint32_t acked[] = {
        R_SET_MEM_TABLE, R_SET_VRING_NUM, R_SET_VRING_ADDR, R_SET_VRING_BASE,
        R_SET_VRING_CALL, R_SET_VRING_KICK, R_SET_VRING_ENABLE,
    };

    for (unsigned i = 0; i < sizeof(acked) / sizeof(acked[0]); i++)
        fb_reply_u64(fb, acked[i], 0);
}

/* An in-band VRING_CALL wakes vdev_vuc_wait() through the queue's call eventfd. */
static void test_inband_call(void **state)
{
    struct t *t = *state;
    uint8_t st[8] = { 0 };

    start(t, BIT(VIRTIO_F_VERSION_1), BIT(PF_INBAND_NOTIFICATIONS), mem_and_queue);
    assert_int_equal(vdev_vuc_mem_add(t->c, 1024 * 1024, NULL), 0);
    assert_int_equal(vdev_vuc_queue_setup(t->c, 0, 16, 0), 0);
    assert_int_equal(vdev_vuc_wait(t->c, 0, 50), 0);
    put32(st, 0, 0);
    put32(st, 4, 0);
    chan_send(t->chan, B_VRING_CALL, FB_V1 | FB_NEED_REPLY, st, 8, NULL, 0);
    assert_int_equal(vdev_vuc_wait(t->c, 0, 2000), 1);
    assert_true(chan_reply(t->chan, B_VRING_CALL) == 0);
    /* A call for a queue that is not set up fails. */
    put32(st, 0, 5);
    chan_send(t->chan, B_VRING_CALL, FB_V1 | FB_NEED_REPLY, st, 8, NULL, 0);
    assert_int_equal(vdev_vuc_backend_process(t->c, 1000), 1);
    assert_true(chan_reply(t->chan, B_VRING_CALL) != 0);
}

/* A back-end that asks something, and waits for the answer, before it answers
 * GET_CONFIG: the client serves the channel while it waits. */
static void get_config_after_question(struct fb *fb)
{
    uint8_t r[12 + 4] = { 0 };
    struct fb_step *s;

    put32(r, 4, 4);
    s = fb_reply(fb, R_GET_CONFIG, r, sizeof(r));
    s->backend_first = true;
    s->breq = B_CONFIG_CHANGE_MSG;
    s->bflags = FB_V1 | FB_NEED_REPLY;
    s->bsize = 0;
}

static void test_served_while_waiting(void **state)
{
    struct t *t = *state;
    uint8_t buf[4];

    start(t, 0, BIT(PF_CONFIG), get_config_after_question);
    assert_int_equal(vdev_vuc_get_config(t->c, 0, buf, 4), 0);
    assert_true(t->fb->bgot);
    assert_int_equal(t->fb->breply_request, B_CONFIG_CHANGE_MSG);
    assert_int_equal(t->fb->breply_flags, FB_V1 | FB_REPLY);
    assert_true(t->fb->breply_u64 == 0);
    assert_true(vdev_vuc_config_changes(t->c) == 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_change_acked),
        T(test_config_change_no_reply),
        T(test_handler_failure),
        T(test_not_negotiated_and_unknown),
        T(test_wrong_size),
        T(test_reply_flag_in_request),
        T(test_wrong_version),
        T(test_too_long),
        T(test_fds_without_send_fd),
        T(test_host_notifier_fd),
        T(test_channel_eof),
        T(test_process_timeout),
        T(test_inband_call),
        T(test_served_while_waiting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
