/* Replies the front-end must refuse: another request's code, no reply flag,
 * another version, unknown flag bits, a short, long or huge payload, fds where
 * none belong or too many, a reply cut short, no reply at all. Each is an error,
 * closes the connection ("receives a wrong reply it will close the connection"),
 * and leaves no fd behind: the count of open fds drops by exactly the client's
 * socket. A reply in due form that reports failure is -EREMOTEIO and keeps the
 * connection. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vdev/vhost_user_client.h"
#include "fake_backend.h"

/* Messages 0 and 1: GET_FEATURES with bit 30, SET_PROTOCOL_FEATURES. */
static void script_pf(struct fb *fb)
{
    fb_reply_u64(fb, R_GET_FEATURES, BIT(F_PROTOCOL_FEATURES));
    fb_none(fb);
}

static void do_pf(struct fb_test *t, uint64_t pf)
{
    uint64_t f;

    assert_int_equal(vdev_vuc_get_features(t->c, &f), 0);
    assert_int_equal(vdev_vuc_set_protocol_features(t->c, pf), 0);
}

/* The call failed with err, the connection is closed (one fd fewer: the
 * client's socket; plus the fds the request carried, which the fake now holds),
 * and later requests say so. */
static void assert_dropped_sent(struct fb_test *t, int fds_before_call, int ret, int err,
                                int sent)
{
    uint64_t f;

    assert_int_equal(ret, err);
    assert_false(vdev_vuc_connected(t->c));
    assert_int_equal(test_count_fds(), fds_before_call - 1 + sent);
    assert_int_equal(vdev_vuc_get_features(t->c, &f), -ENOTCONN);
}

static void assert_dropped(struct fb_test *t, int fds_before_call, int ret, int err)
{
    assert_dropped_sent(t, fds_before_call, ret, err, 0);
}

/* GET_FEATURES answered by the step s, which the test has spoilt. */
static void get_features_refused(struct fb_test *t, int err)
{
    uint64_t f = 0;
    int before;

    fb_test_attach(t);
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_get_features(t->c, &f), err);
}

static void test_wrong_request(void **state)
{
    struct fb_test *t = *state;

    fb_reply_u64(t->fb, R_GET_PROTOCOL_FEATURES, 1);
    get_features_refused(t, -EPROTO);
}

static void test_no_reply_flag(void **state)
{
    struct fb_test *t = *state;

    fb_reply_u64(t->fb, R_GET_FEATURES, 1)->flags = FB_V1;
    get_features_refused(t, -EPROTO);
}

static void test_wrong_version(void **state)
{
    struct fb_test *t = *state;

    fb_reply_u64(t->fb, R_GET_FEATURES, 1)->flags = 0x2 | FB_REPLY;
    get_features_refused(t, -EPROTO);
}

static void test_version_zero(void **state)
{
    struct fb_test *t = *state;

    fb_reply_u64(t->fb, R_GET_FEATURES, 1)->flags = FB_REPLY;
    get_features_refused(t, -EPROTO);
}

static void test_unknown_flags(void **state)
{
    struct fb_test *t = *state;

    fb_reply_u64(t->fb, R_GET_FEATURES, 1)->flags = FB_V1 | FB_REPLY | 0x10;
    get_features_refused(t, -EPROTO);
}

/* Some back-ends leave need_reply set in a reply: that is taken. */
static void test_need_reply_in_reply(void **state)
{
    struct fb_test *t = *state;
    uint64_t f = 0;

    fb_reply_u64(t->fb, R_GET_FEATURES, 7)->flags = FB_V1 | FB_REPLY | FB_NEED_REPLY;
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_get_features(t->c, &f), 0);
    assert_true(f == 7);
    assert_true(vdev_vuc_connected(t->c));
}

static void test_short_payload(void **state)
{
    struct fb_test *t = *state;
    struct fb_step *s = fb_reply_u64(t->fb, R_GET_FEATURES, 1);

    s->size = s->sent = 4;
    get_features_refused(t, -EPROTO);
}

static void test_long_payload(void **state)
{
    struct fb_test *t = *state;
    uint8_t p[16] = { 1 };

    fb_reply(t->fb, R_GET_FEATURES, p, sizeof(p));
    get_features_refused(t, -EPROTO);
}

/* A size of 4 GiB is refused from the header: nothing waits for it. */
static void test_huge_size(void **state)
{
    struct fb_test *t = *state;
    struct fb_step *s = fb_reply_u64(t->fb, R_GET_FEATURES, 1);

    s->size = 0xffffffffu;
    get_features_refused(t, -EPROTO);
}

/* fds on a reply that takes none: refused, and closed. */
static void test_fds_on_reply(void **state)
{
    struct fb_test *t = *state;
    struct fb_step *s = fb_reply_u64(t->fb, R_GET_FEATURES, 1);

    s->fds[0] = test_memfd("vuc-replies-a", 4096);
    s->fds[1] = test_memfd("vuc-replies-b", 4096);
    s->nfds = 2;
    get_features_refused(t, -EPROTO);
}

/* More fds than a message may carry (8). */
static void test_too_many_fds(void **state)
{
    struct fb_test *t = *state;
    struct fb_step *s = fb_reply_u64(t->fb, R_GET_FEATURES, 1);

    for (int i = 0; i < 9; i++)
        s->fds[i] = test_memfd("vuc-replies-many", 4096);
    s->nfds = 9;
    get_features_refused(t, -EPROTO);
}

/* The header promises 8 bytes; 4 come, then the back-end hangs up. */
static void test_cut_short(void **state)
{
    struct fb_test *t = *state;
    struct fb_step *s = fb_reply_u64(t->fb, R_GET_FEATURES, 1);

    s->sent = 4;
    s->hangup_after = true;
    get_features_refused(t, -EPROTO);
}

static void test_hangup(void **state)
{
    struct fb_test *t = *state;

    fb_hangup(t->fb);
    get_features_refused(t, -ECONNRESET);
}

static void test_timeout(void **state)
{
    struct fb_test *t = *state;
    uint64_t f;
    int before;

    fb_none(t->fb);                       /* never answers */
    fb_test_attach(t);
    vdev_vuc_set_timeout(t->c, 100);
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_get_features(t->c, &f), -ETIMEDOUT);
}

/* ---- acks ---- */

static void test_ack_nonzero_keeps_connection(void **state)
{
    struct fb_test *t = *state;
    int before;

    script_pf(t->fb);
    fb_reply_u64(t->fb, R_SET_OWNER, 22);
    fb_reply_u64(t->fb, R_SET_OWNER, 0);
    fb_test_attach(t);
    do_pf(t, BIT(PF_REPLY_ACK));
    before = test_count_fds();
    assert_int_equal(vdev_vuc_set_owner(t->c), -EREMOTEIO);
    assert_true(vdev_vuc_connected(t->c));
    assert_int_equal(test_count_fds(), before);
    assert_int_equal(vdev_vuc_set_owner(t->c), 0);
}

static void test_ack_with_fd(void **state)
{
    struct fb_test *t = *state;
    struct fb_step *s;
    int before;

    script_pf(t->fb);
    s = fb_reply_u64(t->fb, R_SET_OWNER, 0);
    s->fds[0] = test_memfd("vuc-replies-ack", 4096);
    s->nfds = 1;
    fb_test_attach(t);
    do_pf(t, BIT(PF_REPLY_ACK));
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_set_owner(t->c), -EPROTO);
}

static void test_ack_short(void **state)
{
    struct fb_test *t = *state;
    struct fb_step *s;
    int before;

    script_pf(t->fb);
    s = fb_reply_u64(t->fb, R_SET_OWNER, 0);
    s->size = s->sent = 4;
    fb_test_attach(t);
    do_pf(t, BIT(PF_REPLY_ACK));
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_set_owner(t->c), -EPROTO);
}

static void test_ack_for_other_request(void **state)
{
    struct fb_test *t = *state;
    int before;

    script_pf(t->fb);
    fb_reply_u64(t->fb, R_SET_FEATURES, 0);
    fb_test_attach(t);
    do_pf(t, BIT(PF_REPLY_ACK));
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_set_owner(t->c), -EPROTO);
}

/* ---- request-specific replies ---- */

static void test_vring_base_other_ring(void **state)
{
    struct fb_test *t = *state;
    uint8_t p[8];
    uint32_t b;
    int before;

    put32(p, 0, 1);
    put32(p, 4, 5);
    fb_reply(t->fb, R_GET_VRING_BASE, p, 8);
    fb_test_attach(t);
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_get_vring_base(t->c, 0, &b), -EPROTO);
}

/* GET_CONFIG: an empty reply is the back-end's error; any other size but the
 * one asked for, or another offset or size in it, breaks the protocol. */
static void test_config_empty(void **state)
{
    struct fb_test *t = *state;
    uint8_t buf[8];

    script_pf(t->fb);
    fb_reply(t->fb, R_GET_CONFIG, NULL, 0);
    fb_test_attach(t);
    do_pf(t, BIT(PF_CONFIG));
    assert_int_equal(vdev_vuc_get_config(t->c, 0, buf, 8), -EREMOTEIO);
    assert_true(vdev_vuc_connected(t->c));
}

static void config_refused(struct fb_test *t, const uint8_t *reply, uint32_t size)
{
    uint8_t buf[8];
    int before;

    script_pf(t->fb);
    fb_reply(t->fb, R_GET_CONFIG, reply, size);
    fb_test_attach(t);
    do_pf(t, BIT(PF_CONFIG));
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_get_config(t->c, 0, buf, 8), -EPROTO);
}

static void test_config_short(void **state)
{
    uint8_t r[20] = { 0 };

    put32(r, 4, 8);
    config_refused(*state, r, 19);
}

static void test_config_long(void **state)
{
    uint8_t r[21] = { 0 };

    put32(r, 4, 8);
    config_refused(*state, r, 21);
}

static void test_config_other_offset(void **state)
{
    uint8_t r[20] = { 0 };

    put32(r, 0, 4);
    put32(r, 4, 8);
    config_refused(*state, r, 20);
}

/* GET_INFLIGHT_FD: an area needs its fd, and one long enough; no area, no fd. */
static void inflight_refused(struct fb_test *t, uint64_t mmap_size, int fd)
{
    uint8_t r[24] = { 0 };
    struct vdev_vuc_inflight info;
    struct fb_step *s;
    int before, got = -1;

    put64(r, 0, mmap_size);
    script_pf(t->fb);
    s = fb_reply(t->fb, R_GET_INFLIGHT_FD, r, 24);
    if (fd >= 0) {
        s->fds[0] = fd;
        s->nfds = 1;
    }
    fb_test_attach(t);
    do_pf(t, BIT(PF_INFLIGHT_SHMFD));
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_get_inflight_fd(t->c, 1, 64, &info, &got),
                   -EPROTO);
    assert_int_equal(got, -1);
}

static void test_inflight_no_fd(void **state)
{
    inflight_refused(*state, 4096, -1);
}

static void test_inflight_small_fd(void **state)
{
    inflight_refused(*state, 8192, test_memfd("vuc-replies-small", 4096));
}

static void test_inflight_fd_without_area(void **state)
{
    inflight_refused(*state, 0, test_memfd("vuc-replies-zero", 4096));
}

/* The 20 bytes of fields are enough; mmap_size 0 and no fd: no area. */
static void test_inflight_no_area(void **state)
{
    struct fb_test *t = *state;
    uint8_t r[20] = { 0 };
    struct vdev_vuc_inflight info;
    int fd = 5;

    script_pf(t->fb);
    fb_reply(t->fb, R_GET_INFLIGHT_FD, r, 20);
    fb_test_attach(t);
    do_pf(t, BIT(PF_INFLIGHT_SHMFD));
    assert_int_equal(vdev_vuc_get_inflight_fd(t->c, 1, 64, &info, &fd), 0);
    assert_int_equal(fd, -1);
    assert_true(vdev_vuc_connected(t->c));
}

/* SET_DEVICE_STATE_FD: "must not both indicate an error and return a file
 * descriptor"; bit 8 says whether an fd comes. */
static void device_state_reply(struct fb_test *t, uint64_t v, bool with_fd, int err)
{
    struct fb_step *s;
    int sv[2], bfd = 5, before, ret;

    test_socketpair(sv);
    script_pf(t->fb);
    s = fb_reply_u64(t->fb, R_SET_DEVICE_STATE_FD, v);
    if (with_fd) {
        s->fds[0] = test_memfd("vuc-replies-state", 4096);
        s->nfds = 1;
    }
    fb_test_attach(t);
    do_pf(t, BIT(PF_DEVICE_STATE));
    before = test_count_fds();
    ret = vdev_vuc_set_device_state_fd(t->c, 0, 0, sv[0], &bfd);
    if (err == -EREMOTEIO) {
        assert_int_equal(ret, err);
        assert_true(vdev_vuc_connected(t->c));
        assert_int_equal(test_count_fds(), before + 1);     /* the fake's copy */
    } else {
        assert_dropped_sent(t, before, ret, err, 1);
    }
    assert_int_equal(bfd, 5);
    close(sv[0]);
    close(sv[1]);
}

static void test_state_error_with_fd(void **state)
{
    device_state_reply(*state, 1, true, -EPROTO);
}

static void test_state_nofd_with_fd(void **state)
{
    device_state_reply(*state, 0x100, true, -EPROTO);
}

static void test_state_fd_missing(void **state)
{
    device_state_reply(*state, 0, false, -EPROTO);
}

static void test_state_error(void **state)
{
    device_state_reply(*state, 0x105, false, -EREMOTEIO);
}

/* SET_LOG_BASE: its reply is empty or a u64, without fds. */
static void log_base_reply(struct fb_test *t, uint32_t size, bool with_fd)
{
    uint8_t p[8] = { 0 };
    struct fb_step *s;
    int log = test_memfd("vuc-replies-log", 4096), before;

    script_pf(t->fb);
    s = fb_reply(t->fb, R_SET_LOG_BASE, p, size);
    if (with_fd) {
        s->fds[0] = test_memfd("vuc-replies-logr", 4096);
        s->nfds = 1;
    }
    fb_test_attach(t);
    do_pf(t, BIT(PF_LOG_SHMFD));
    before = test_count_fds();
    assert_dropped_sent(t, before, vdev_vuc_set_log_base(t->c, log, 4096, 0), -EPROTO, 1);
    close(log);
}

static void test_log_base_odd_size(void **state)
{
    log_base_reply(*state, 4, false);
}

static void test_log_base_fd(void **state)
{
    log_base_reply(*state, 8, true);
}

static void test_status_wide(void **state)
{
    struct fb_test *t = *state;
    uint8_t st = 9;
    int before;

    script_pf(t->fb);
    fb_reply_u64(t->fb, R_GET_STATUS, 0x100);
    fb_test_attach(t);
    do_pf(t, BIT(PF_STATUS));
    before = test_count_fds();
    assert_dropped(t, before, vdev_vuc_get_status(t->c, &st), -EPROTO);
    assert_int_equal(st, 9);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fb_test_setup, fb_test_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_wrong_request),
        T(test_no_reply_flag),
        T(test_wrong_version),
        T(test_version_zero),
        T(test_unknown_flags),
        T(test_need_reply_in_reply),
        T(test_short_payload),
        T(test_long_payload),
        T(test_huge_size),
        T(test_fds_on_reply),
        T(test_too_many_fds),
        T(test_cut_short),
        T(test_hangup),
        T(test_timeout),
        T(test_ack_nonzero_keeps_connection),
        T(test_ack_with_fd),
        T(test_ack_short),
        T(test_ack_for_other_request),
        T(test_vring_base_other_ring),
        T(test_config_empty),
        T(test_config_short),
        T(test_config_long),
        T(test_config_other_offset),
        T(test_inflight_no_fd),
        T(test_inflight_small_fd),
        T(test_inflight_fd_without_area),
        T(test_inflight_no_area),
        T(test_state_error_with_fd),
        T(test_state_nofd_with_fd),
        T(test_state_fd_missing),
        T(test_state_error),
        T(test_log_base_odd_size),
        T(test_log_base_fd),
        T(test_status_wide),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
