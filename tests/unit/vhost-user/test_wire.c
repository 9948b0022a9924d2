/* The front-end's requests, byte for byte as vhost-user.rst lays them out: the
 * header (request id, flags with version 1 and need_reply only when REPLY_ACK is
 * negotiated, payload size), each payload field at its offset, and the fds that
 * go with it, counted and identified. Payloads are written here field by field
 * from the spec, not with proto.h's structs. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vdev/vhost_user_client.h"
#include "fake_backend.h"

/* Messages 0 and 1: GET_FEATURES offering bit 30, SET_PROTOCOL_FEATURES. */
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

static int memfd(const char *name, uint64_t size)
{
    return test_memfd(name, size);
}

/* GET_FEATURES: no payload, a u64 back. SET_FEATURES: a u64. */
static void test_features(void **state)
{
    struct fb_test *t = *state;
    uint8_t p[8];
    uint64_t f = 0;

    fb_reply_u64(t->fb, R_GET_FEATURES, 0x123400000001ull);
    fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_get_features(t->c, &f), 0);
    assert_true(f == 0x123400000001ull);
    assert_int_equal(vdev_vuc_set_features(t->c, 0x100000001ull), 0);
    fb_test_finish(t);

    fb_check(t->fb, 0, R_GET_FEATURES, FB_V1, NULL, 0, 0);
    put64(p, 0, 0x100000001ull);
    fb_check(t->fb, 1, R_SET_FEATURES, FB_V1, p, 8, 0);
    assert_int_equal(t->fb->nmsgs, 2);
}

/* GET/SET_PROTOCOL_FEATURES after bit 30 is offered; bits this client does not
 * implement and INBAND_NOTIFICATIONS without its companions are refused unsent. */
static void test_protocol_features(void **state)
{
    struct fb_test *t = *state;
    uint8_t p[8];
    uint64_t pf = 0, f;

    fb_reply_u64(t->fb, R_GET_FEATURES, BIT(F_PROTOCOL_FEATURES));
    fb_reply_u64(t->fb, R_GET_PROTOCOL_FEATURES, 0xfffffull);
    fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_get_protocol_features(t->c, &pf), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_get_features(t->c, &f), 0);
    assert_int_equal(vdev_vuc_get_protocol_features(t->c, &pf), 0);
    assert_true(pf == 0xfffffull);
    assert_int_equal(vdev_vuc_set_protocol_features(t->c, BIT(PF_XEN_MMAP)), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_protocol_features(t->c, BIT(PF_PAGEFAULT)), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_protocol_features(t->c, BIT(PF_INBAND_NOTIFICATIONS) |
                                                          BIT(PF_REPLY_ACK)), -EINVAL);
    assert_int_equal(vdev_vuc_set_protocol_features(t->c, BIT(PF_MQ) | BIT(PF_CONFIG)), 0);
    assert_true(vdev_vuc_protocol_features(t->c) == (BIT(PF_MQ) | BIT(PF_CONFIG)));
    fb_test_finish(t);

    fb_check(t->fb, 0, R_GET_FEATURES, FB_V1, NULL, 0, 0);
    fb_check(t->fb, 1, R_GET_PROTOCOL_FEATURES, FB_V1, NULL, 0, 0);
    put64(p, 0, BIT(PF_MQ) | BIT(PF_CONFIG));
    fb_check(t->fb, 2, R_SET_PROTOCOL_FEATURES, FB_V1, p, 8, 0);
    assert_int_equal(t->fb->nmsgs, 3);
}

/* Without bit 30 there are no protocol features and no SET_VRING_ENABLE. */
static void test_no_bit_30(void **state)
{
    struct fb_test *t = *state;
    uint64_t f, pf;

    fb_reply_u64(t->fb, R_GET_FEATURES, 1);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_get_features(t->c, &f), 0);
    assert_int_equal(vdev_vuc_get_protocol_features(t->c, &pf), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_protocol_features(t->c, 0), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_vring_enable(t->c, 0, true), -EOPNOTSUPP);
    fb_test_finish(t);
    assert_int_equal(t->fb->nmsgs, 1);
}

/* SET_OWNER, RESET_OWNER, RESET_DEVICE: a header and nothing else. */
static void test_owner_reset(void **state)
{
    struct fb_test *t = *state;

    script_pf(t->fb);
    fb_none(t->fb);
    fb_none(t->fb);
    fb_none(t->fb);
    fb_test_attach(t);
    do_pf(t, BIT(PF_RESET_DEVICE));
    assert_int_equal(vdev_vuc_set_owner(t->c), 0);
    assert_int_equal(vdev_vuc_reset_owner(t->c), 0);
    assert_int_equal(vdev_vuc_reset_device(t->c), 0);
    fb_test_finish(t);
    fb_check(t->fb, 2, R_SET_OWNER, FB_V1, NULL, 0, 0);
    fb_check(t->fb, 3, R_RESET_OWNER, FB_V1, NULL, 0, 0);
    fb_check(t->fb, 4, R_RESET_DEVICE, FB_V1, NULL, 0, 0);
}

/* SET_MEM_TABLE: num regions, padding, then each region's guest address, size,
 * user address, mmap offset; one fd per region, in the same order. */
static void test_mem_table(void **state)
{
    struct fb_test *t = *state;
    int m0 = memfd("vuc-wire-m0", 0x10000), m1 = memfd("vuc-wire-m1", 0x20000);
    struct vdev_vuc_region r[9] = {
        { .gpa = 0x100000, .size = 0x10000, .user_addr = 0x7f0000001000,
          .mmap_offset = 0, .fd = m0 },
        { .gpa = 0x400000, .size = 0x8000, .user_addr = 0x7f0000100000,
          .mmap_offset = 0x18000, .fd = m1 },
    };
    uint8_t p[8 + 2 * 32] = { 0 };

    fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_set_mem_table(t->c, r, 9), -EINVAL);
    assert_int_equal(vdev_vuc_set_mem_table(t->c, r, 2), 0);
    fb_test_finish(t);

    put32(p, 0, 2);
    put32(p, 4, 0);
    put64(p, 8, 0x100000);
    put64(p, 16, 0x10000);
    put64(p, 24, 0x7f0000001000);
    put64(p, 32, 0);
    put64(p, 40, 0x400000);
    put64(p, 48, 0x8000);
    put64(p, 56, 0x7f0000100000);
    put64(p, 64, 0x18000);
    fb_check(t->fb, 0, R_SET_MEM_TABLE, FB_V1, p, sizeof(p), 2);
    assert_true(same_file(fb_msg(t->fb, 0)->fds[0], m0));
    assert_true(same_file(fb_msg(t->fb, 0)->fds[1], m1));
    assert_int_equal(t->fb->nmsgs, 1);
    close(m0);
    close(m1);
}

/* GET_MAX_MEM_SLOTS; ADD_MEM_REG: 64-bit padding then a region, exactly one fd;
 * REM_MEM_REG: the same layout and no fd. */
static void test_mem_slots(void **state)
{
    struct fb_test *t = *state;
    int m = memfd("vuc-wire-slot", 0x10000);
    struct vdev_vuc_region r = {
        .gpa = 0x200000, .size = 0x10000, .user_addr = 0x7f1234560000,
        .mmap_offset = 0x1000, .fd = m,
    };
    uint8_t p[40] = { 0 };
    uint64_t slots = 0;

    script_pf(t->fb);
    fb_reply_u64(t->fb, R_GET_MAX_MEM_SLOTS, 509);
    fb_none(t->fb);
    fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_add_mem_reg(t->c, &r), -EOPNOTSUPP);
    do_pf(t, BIT(PF_CONFIGURE_MEM_SLOTS));
    assert_int_equal(vdev_vuc_get_max_mem_slots(t->c, &slots), 0);
    assert_true(slots == 509);
    assert_int_equal(vdev_vuc_add_mem_reg(t->c, &r), 0);
    assert_int_equal(vdev_vuc_rem_mem_reg(t->c, &r), 0);
    fb_test_finish(t);

    fb_check(t->fb, 2, R_GET_MAX_MEM_SLOTS, FB_V1, NULL, 0, 0);
    put64(p, 0, 0);
    put64(p, 8, 0x200000);
    put64(p, 16, 0x10000);
    put64(p, 24, 0x7f1234560000);
    put64(p, 32, 0x1000);
    fb_check(t->fb, 3, R_ADD_MEM_REG, FB_V1, p, 40, 1);
    assert_true(same_file(fb_msg(t->fb, 3)->fds[0], m));
    fb_check(t->fb, 4, R_REM_MEM_REG, FB_V1, p, 40, 0);
    close(m);
}

/* SET_LOG_BASE with LOG_SHMFD: a log description (size, offset) and the fd; the
 * back-end's reply may be empty or a u64. */
static void test_log_base(void **state)
{
    struct fb_test *t = *state;
    int log = memfd("vuc-wire-log", 0x3000);
    uint8_t p[16];

    script_pf(t->fb);
    fb_reply(t->fb, R_SET_LOG_BASE, NULL, 0);
    fb_reply_u64(t->fb, R_SET_LOG_BASE, 0x2000);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_set_log_base(t->c, log, 0x2000, 0x1000), -EOPNOTSUPP);
    do_pf(t, BIT(PF_LOG_SHMFD));
    assert_int_equal(vdev_vuc_set_log_base(t->c, log, 0x2000, 0x1000), 0);
    assert_int_equal(vdev_vuc_set_log_base(t->c, log, 0x2000, 0x1000), 0);
    assert_true(vdev_vuc_connected(t->c));
    fb_test_finish(t);

    put64(p, 0, 0x2000);
    put64(p, 8, 0x1000);
    fb_check(t->fb, 2, R_SET_LOG_BASE, FB_V1, p, 16, 1);
    assert_true(same_file(fb_msg(t->fb, 2)->fds[0], log));
    fb_check(t->fb, 3, R_SET_LOG_BASE, FB_V1, p, 16, 1);
    close(log);
}

/* The ring requests: vring state (index, num), vring address (index, flags,
 * descriptor, used, available, log), and the u64 of KICK/CALL/ERR: the index in
 * bits 0-7, bit 8 when no fd goes with it. */
static void test_vring_requests(void **state)
{
    struct fb_test *t = *state;
    struct vhost_vring_addr a = {
        .index = 2, .flags = 1, .desc_user_addr = 0x7f0000010000,
        .used_user_addr = 0x7f0000030000, .avail_user_addr = 0x7f0000020000,
        .log_guest_addr = 0x30000,
    };
    int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
    int err = eventfd(0, EFD_CLOEXEC);
    uint8_t p[40], reply[8];
    uint32_t base = 0;

    put32(reply, 0, 2);
    put32(reply, 4, 0x1234);
    for (int i = 0; i < 3; i++)
        fb_none(t->fb);
    fb_reply(t->fb, R_GET_VRING_BASE, reply, 8);
    for (int i = 0; i < 6; i++)
        fb_none(t->fb);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_set_vring_num(t->c, 2, 256), 0);
    assert_int_equal(vdev_vuc_set_vring_addr(t->c, &a), 0);
    assert_int_equal(vdev_vuc_set_vring_base(t->c, 2, 0x80058003u), 0);
    assert_int_equal(vdev_vuc_get_vring_base(t->c, 2, &base), 0);
    assert_int_equal(base, 0x1234);
    assert_int_equal(vdev_vuc_set_vring_kick(t->c, 256, kick), -EINVAL);
    assert_int_equal(vdev_vuc_set_vring_kick(t->c, 2, kick), 0);
    assert_int_equal(vdev_vuc_set_vring_kick(t->c, 255, -1), 0);
    assert_int_equal(vdev_vuc_set_vring_call(t->c, 2, call), 0);
    assert_int_equal(vdev_vuc_set_vring_call(t->c, 2, -1), 0);
    assert_int_equal(vdev_vuc_set_vring_err(t->c, 2, err), 0);
    assert_int_equal(vdev_vuc_set_vring_err(t->c, 0, -1), 0);
    fb_test_finish(t);

    put32(p, 0, 2);
    put32(p, 4, 256);
    fb_check(t->fb, 0, R_SET_VRING_NUM, FB_V1, p, 8, 0);
    put32(p, 0, 2);
    put32(p, 4, 1);
    put64(p, 8, 0x7f0000010000);
    put64(p, 16, 0x7f0000030000);
    put64(p, 24, 0x7f0000020000);
    put64(p, 32, 0x30000);
    fb_check(t->fb, 1, R_SET_VRING_ADDR, FB_V1, p, 40, 0);
    put32(p, 0, 2);
    put32(p, 4, 0x80058003u);
    fb_check(t->fb, 2, R_SET_VRING_BASE, FB_V1, p, 8, 0);
    put32(p, 0, 2);
    put32(p, 4, 0);          /* "num field is currently reserved and must be set to 0" */
    fb_check(t->fb, 3, R_GET_VRING_BASE, FB_V1, p, 8, 0);
    put64(p, 0, 2);
    fb_check(t->fb, 4, R_SET_VRING_KICK, FB_V1, p, 8, 1);
    assert_true(same_file(fb_msg(t->fb, 4)->fds[0], kick));
    put64(p, 0, 255 | 0x100);
    fb_check(t->fb, 5, R_SET_VRING_KICK, FB_V1, p, 8, 0);
    put64(p, 0, 2);
    fb_check(t->fb, 6, R_SET_VRING_CALL, FB_V1, p, 8, 1);
    assert_true(same_file(fb_msg(t->fb, 6)->fds[0], call));
    put64(p, 0, 2 | 0x100);
    fb_check(t->fb, 7, R_SET_VRING_CALL, FB_V1, p, 8, 0);
    put64(p, 0, 2);
    fb_check(t->fb, 8, R_SET_VRING_ERR, FB_V1, p, 8, 1);
    assert_true(same_file(fb_msg(t->fb, 8)->fds[0], err));
    put64(p, 0, 0x100);
    fb_check(t->fb, 9, R_SET_VRING_ERR, FB_V1, p, 8, 0);
    assert_int_equal(t->fb->nmsgs, 10);
    close(kick);
    close(call);
    close(err);
}

/* GET_QUEUE_NUM (MQ) and SET_VRING_ENABLE (a vring state: index, 1 or 0). */
static void test_queue_num_enable(void **state)
{
    struct fb_test *t = *state;
    uint8_t p[8];
    uint64_t n = 0;

    script_pf(t->fb);
    fb_reply_u64(t->fb, R_GET_QUEUE_NUM, 4);
    fb_none(t->fb);
    fb_none(t->fb);
    fb_test_attach(t);
    do_pf(t, BIT(PF_MQ));
    assert_int_equal(vdev_vuc_get_queue_num(t->c, &n), 0);
    assert_true(n == 4);
    assert_int_equal(vdev_vuc_set_vring_enable(t->c, 3, true), 0);
    assert_int_equal(vdev_vuc_set_vring_enable(t->c, 3, false), 0);
    fb_test_finish(t);
    fb_check(t->fb, 2, R_GET_QUEUE_NUM, FB_V1, NULL, 0, 0);
    put32(p, 0, 3);
    put32(p, 4, 1);
    fb_check(t->fb, 3, R_SET_VRING_ENABLE, FB_V1, p, 8, 0);
    put32(p, 4, 0);
    fb_check(t->fb, 4, R_SET_VRING_ENABLE, FB_V1, p, 8, 0);
}

/* GET_CONFIG: offset, size, flags, then size bytes; the reply is the same shape.
 * SET_CONFIG: the same with the bytes to write and the flags given. */
static void test_config(void **state)
{
    struct fb_test *t = *state;
    uint8_t req[12 + 8] = { 0 }, reply[12 + 8], buf[8] = { 0 }, p[12 + 6];
    const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

    put32(reply, 0, 4);
    put32(reply, 4, 8);
    put32(reply, 8, 0);
    memcpy(reply + 12, data, 8);
    script_pf(t->fb);
    fb_reply(t->fb, R_GET_CONFIG, reply, sizeof(reply));
    fb_none(t->fb);
    fb_test_attach(t);
    do_pf(t, BIT(PF_CONFIG));
    assert_int_equal(vdev_vuc_get_config(t->c, 4, buf, 0), -EINVAL);
    assert_int_equal(vdev_vuc_get_config(t->c, 4, buf, 257), -EINVAL);
    assert_int_equal(vdev_vuc_get_config(t->c, 4, buf, 8), 0);
    assert_memory_equal(buf, data, 8);
    assert_int_equal(vdev_vuc_set_config(t->c, 0, data, 6, 2), -EINVAL);
    assert_int_equal(vdev_vuc_set_config(t->c, 0, data, 6, 1), 0);
    fb_test_finish(t);

    put32(req, 0, 4);
    put32(req, 4, 8);
    put32(req, 8, 0);
    fb_check(t->fb, 2, R_GET_CONFIG, FB_V1, req, sizeof(req), 0);
    put32(p, 0, 0);
    put32(p, 4, 6);
    put32(p, 8, 1);
    memcpy(p + 12, data, 6);
    fb_check(t->fb, 3, R_SET_CONFIG, FB_V1, p, sizeof(p), 0);
}

/* GET_INFLIGHT_FD: an inflight description (mmap size, mmap offset, num queues,
 * queue size) with the ring layout; the reply has the area and its fd.
 * SET_INFLIGHT_FD hands a description and the fd back. */
static void test_inflight(void **state)
{
    struct fb_test *t = *state;
    int area = memfd("vuc-wire-inflight", 0x3000);
    struct vdev_vuc_inflight got = { 0 };
    uint8_t p[24] = { 0 }, reply[24] = { 0 };
    int fd = -1;
    struct fb_step *s;

    put64(reply, 0, 0x2000);
    put64(reply, 8, 0x1000);
    reply[16] = 2;
    reply[18] = 128;
    script_pf(t->fb);
    s = fb_reply(t->fb, R_GET_INFLIGHT_FD, reply, 24);
    s->fds[0] = dup(area);
    s->nfds = 1;
    fb_none(t->fb);
    fb_test_attach(t);
    do_pf(t, BIT(PF_INFLIGHT_SHMFD));
    assert_int_equal(vdev_vuc_get_inflight_fd(t->c, 2, 128, &got, &fd), 0);
    assert_true(fd >= 0 && same_file(fd, area));
    assert_true(got.mmap_size == 0x2000 && got.mmap_offset == 0x1000);
    assert_int_equal(got.num_queues, 2);
    assert_int_equal(got.queue_size, 128);
    assert_int_equal(vdev_vuc_set_inflight_fd(t->c, &got, fd), 0);
    fb_test_finish(t);

    put64(p, 0, 0);
    put64(p, 8, 0);
    p[16] = 2;                     /* num queues, 16 bits */
    p[18] = 128;                   /* queue size, 16 bits */
    fb_check(t->fb, 2, R_GET_INFLIGHT_FD, FB_V1, p, 24, 0);
    memcpy(p, reply, 24);
    fb_check(t->fb, 3, R_SET_INFLIGHT_FD, FB_V1, p, 24, 1);
    assert_true(same_file(fb_msg(t->fb, 3)->fds[0], area));
    close(fd);
    close(area);
}

/* SET_STATUS: a u64; GET_STATUS: a u64 back. */
static void test_status(void **state)
{
    struct fb_test *t = *state;
    uint8_t p[8];
    uint8_t st = 0;

    script_pf(t->fb);
    fb_none(t->fb);
    fb_reply_u64(t->fb, R_GET_STATUS, 0x0f);
    fb_test_attach(t);
    do_pf(t, BIT(PF_STATUS));
    assert_int_equal(vdev_vuc_set_status(t->c, 0x0b), 0);
    assert_int_equal(vdev_vuc_get_status(t->c, &st), 0);
    assert_int_equal(st, 0x0f);
    fb_test_finish(t);
    put64(p, 0, 0x0b);
    fb_check(t->fb, 2, R_SET_STATUS, FB_V1, p, 8, 0);
    fb_check(t->fb, 3, R_GET_STATUS, FB_V1, NULL, 0, 0);
}

/* SET_BACKEND_REQ_FD: no payload, one fd. */
static void test_backend_req_fd(void **state)
{
    struct fb_test *t = *state;
    int sv[2];

    test_socketpair(sv);
    script_pf(t->fb);
    fb_none(t->fb);
    fb_test_attach(t);
    do_pf(t, BIT(PF_BACKEND_REQ));
    assert_int_equal(vdev_vuc_set_backend_req_fd(t->c, sv[1]), 0);
    fb_test_finish(t);
    fb_check(t->fb, 2, R_SET_BACKEND_REQ_FD, FB_V1, NULL, 0, 1);
    assert_true(same_file(fb_msg(t->fb, 2)->fds[0], sv[1]));
    close(sv[0]);
    close(sv[1]);
}

/* SET_DEVICE_STATE_FD: direction, phase, and the front-end's fd; the u64 back
 * has bit 8 set when the back-end keeps to that channel, clear with its own fd.
 * CHECK_DEVICE_STATE: a u64 back, 0 for success. */
static void test_device_state(void **state)
{
    struct fb_test *t = *state;
    int pipe_fds[2], theirs[2], bfd = 7;
    uint8_t p[8];
    struct fb_step *s;

    assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
    assert_int_equal(pipe2(theirs, O_CLOEXEC), 0);
    script_pf(t->fb);
    fb_reply_u64(t->fb, R_SET_DEVICE_STATE_FD, 0x100);
    s = fb_reply_u64(t->fb, R_SET_DEVICE_STATE_FD, 0);
    s->fds[0] = theirs[1];
    s->nfds = 1;
    fb_reply_u64(t->fb, R_CHECK_DEVICE_STATE, 0);
    fb_reply_u64(t->fb, R_CHECK_DEVICE_STATE, 3);
    fb_test_attach(t);
    do_pf(t, BIT(PF_DEVICE_STATE));
    assert_int_equal(vdev_vuc_set_device_state_fd(t->c, 0, 0, pipe_fds[0], &bfd), 0);
    assert_int_equal(bfd, -1);
    assert_int_equal(vdev_vuc_set_device_state_fd(t->c, 1, 0, pipe_fds[1], &bfd), 0);
    assert_true(bfd >= 0 && same_file(bfd, theirs[1]));
    close(bfd);
    assert_int_equal(vdev_vuc_check_device_state(t->c), 0);
    assert_int_equal(vdev_vuc_check_device_state(t->c), -EREMOTEIO);
    assert_true(vdev_vuc_connected(t->c));
    fb_test_finish(t);
    put32(p, 0, 0);
    put32(p, 4, 0);
    fb_check(t->fb, 2, R_SET_DEVICE_STATE_FD, FB_V1, p, 8, 1);
    assert_true(same_file(fb_msg(t->fb, 2)->fds[0], pipe_fds[0]));
    put32(p, 0, 1);
    fb_check(t->fb, 3, R_SET_DEVICE_STATE_FD, FB_V1, p, 8, 1);
    fb_check(t->fb, 4, R_CHECK_DEVICE_STATE, FB_V1, NULL, 0, 0);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(theirs[0]);
}

/* With REPLY_ACK, a request that has no reply of its own goes with need_reply
 * and waits for the ack; a non-zero ack is the back-end's failure, and the
 * connection stays. Requests with their own reply keep need_reply clear. */
static void test_reply_ack(void **state)
{
    struct fb_test *t = *state;
    int kick = eventfd(0, EFD_CLOEXEC);
    uint8_t p[8], base[8];
    uint64_t f;
    uint32_t b;

    put32(base, 0, 0);
    put32(base, 4, 9);
    script_pf(t->fb);
    fb_reply_u64(t->fb, R_SET_FEATURES, 0);
    fb_reply_u64(t->fb, R_SET_OWNER, 0);
    fb_reply_u64(t->fb, R_SET_VRING_KICK, 0);
    fb_reply_u64(t->fb, R_SET_VRING_NUM, 1);          /* refused */
    fb_reply_u64(t->fb, R_GET_FEATURES, 5);
    fb_reply(t->fb, R_GET_VRING_BASE, base, 8);
    fb_test_attach(t);
    do_pf(t, BIT(PF_REPLY_ACK));
    assert_int_equal(vdev_vuc_set_features(t->c, 0x40000000), 0);
    assert_int_equal(vdev_vuc_set_owner(t->c), 0);
    assert_int_equal(vdev_vuc_set_vring_kick(t->c, 0, kick), 0);
    assert_int_equal(vdev_vuc_set_vring_num(t->c, 0, 64), -EREMOTEIO);
    assert_true(vdev_vuc_connected(t->c));
    assert_int_equal(vdev_vuc_get_features(t->c, &f), 0);
    assert_int_equal(vdev_vuc_get_vring_base(t->c, 0, &b), 0);
    assert_int_equal(b, 9);
    fb_test_finish(t);

    put64(p, 0, BIT(PF_REPLY_ACK));
    fb_check(t->fb, 1, R_SET_PROTOCOL_FEATURES, FB_V1, p, 8, 0);   /* not yet */
    put64(p, 0, 0x40000000);
    fb_check(t->fb, 2, R_SET_FEATURES, FB_V1 | FB_NEED_REPLY, p, 8, 0);
    fb_check(t->fb, 3, R_SET_OWNER, FB_V1 | FB_NEED_REPLY, NULL, 0, 0);
    put64(p, 0, 0);
    fb_check(t->fb, 4, R_SET_VRING_KICK, FB_V1 | FB_NEED_REPLY, p, 8, 1);
    fb_check_hdr(t->fb, 5, R_SET_VRING_NUM, FB_V1 | FB_NEED_REPLY, 8, 0);
    fb_check(t->fb, 6, R_GET_FEATURES, FB_V1, NULL, 0, 0);
    fb_check_hdr(t->fb, 7, R_GET_VRING_BASE, FB_V1, 8, 0);
    close(kick);
}

/* VRING_KICK (in-band): a vring state with num 0, acked (INBAND_NOTIFICATIONS
 * comes with REPLY_ACK). */
static void test_inband_kick(void **state)
{
    struct fb_test *t = *state;
    uint8_t p[8];

    script_pf(t->fb);
    fb_reply_u64(t->fb, R_VRING_KICK, 0);
    fb_test_attach(t);
    assert_int_equal(vdev_vuc_vring_kick(t->c, 1), -EOPNOTSUPP);
    do_pf(t, BIT(PF_INBAND_NOTIFICATIONS) | BIT(PF_BACKEND_REQ) | BIT(PF_REPLY_ACK));
    assert_int_equal(vdev_vuc_vring_kick(t->c, 1), 0);
    fb_test_finish(t);
    put32(p, 0, 1);
    put32(p, 4, 0);
    fb_check(t->fb, 2, R_VRING_KICK, FB_V1 | FB_NEED_REPLY, p, 8, 0);
}

/* Each request gated by a protocol feature is refused, unsent, without it. */
static void test_not_negotiated(void **state)
{
    struct fb_test *t = *state;
    int m = memfd("vuc-wire-nn", 4096), bfd;
    struct vdev_vuc_region r = { .gpa = 0, .size = 4096, .fd = m };
    struct vdev_vuc_inflight inf = { .mmap_size = 4096, .num_queues = 1, .queue_size = 8 };
    uint8_t buf[8] = { 0 }, st;
    uint64_t v;
    int fd;

    script_pf(t->fb);
    fb_test_attach(t);
    do_pf(t, 0);
    assert_int_equal(vdev_vuc_get_queue_num(t->c, &v), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_get_max_mem_slots(t->c, &v), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_add_mem_reg(t->c, &r), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_rem_mem_reg(t->c, &r), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_log_base(t->c, m, 4096, 0), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_vring_kick(t->c, 0), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_get_config(t->c, 0, buf, 8), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_config(t->c, 0, buf, 8, 0), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_get_inflight_fd(t->c, 1, 8, &inf, &fd), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_inflight_fd(t->c, &inf, m), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_reset_device(t->c), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_status(t->c, 1), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_get_status(t->c, &st), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_backend_req_fd(t->c, m), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_backend_open(t->c), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_set_device_state_fd(t->c, 0, 0, m, &bfd), -EOPNOTSUPP);
    assert_int_equal(vdev_vuc_check_device_state(t->c), -EOPNOTSUPP);
    fb_test_finish(t);
    assert_int_equal(t->fb->nmsgs, 2);
    close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_features, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_protocol_features, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_bit_30, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_owner_reset, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_mem_table, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_mem_slots, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_log_base, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_vring_requests, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_queue_num_enable, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_config, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_inflight, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_status, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_backend_req_fd, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_device_state, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_reply_ack, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_inband_kick, fb_test_setup, fb_test_teardown),
        cmocka_unit_test_setup_teardown(test_not_negotiated, fb_test_setup, fb_test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
