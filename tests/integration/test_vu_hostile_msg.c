/* test_vu_hostile_msg.c — a hostile front-end's messages: payloads of the wrong
 * size for their request, fds missing or extra (every extra one closed: DPDK
 * CVE-2019-14818 leaked them), ring indices past the device's rings or that a
 * cast would make valid, ring sizes that are not sizes (DPDK CVE-2020-10723).
 * Each is refused with an error and a log line, and the connection lives. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>

#include "vu_fixture.h"
#include "vdev/sock.h"
#include "vdev/virtq.h"

#define BIT(n) (1ull << (n))

static int efd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

/* A session with REPLY_ACK, synced, and the fd count it starts from. */
static int start(struct vf *f)
{
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_sync(f);
    return test_count_fds();
}

/* A u64 request with the wrong payload size. */
static void test_size_u64(void **state)
{
    struct vf *f = *state;
    uint8_t p[16] = { 0 };
    int before = start(f), fd = efd();

    assert_int_not_equal(vf_req(f, VU_SET_FEATURES, p, 4, NULL, 0), 0);
    assert_true(vf_log_wait("SET_FEATURES payload of 4 bytes, not 8..8", 0));
    assert_int_not_equal(vf_req(f, VU_SET_PROTOCOL_FEATURES, p, 16, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_CALL, p, 7, &fd, 1), 0);
    assert_int_not_equal(vf_req(f, VU_SET_STATUS, p, 0, NULL, 0), 0);
    close(fd);
    vf_sync(f);
    assert_no_fd_leak(before);
}

/* A vring state or address request with the wrong payload size; a request that
 * has a reply payload gets an empty one. */
static void test_size_vring(void **state)
{
    struct vf *f = *state;
    uint8_t p[64] = { 0 };

    start(f);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_NUM, p, 4, NULL, 0), 0);
    assert_true(vf_log_wait("SET_VRING_NUM payload of 4 bytes", 0));
    assert_int_not_equal(vf_req(f, VU_SET_VRING_BASE, p, 12, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_ENABLE, p, 0, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_ADDR, p, 32, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_ADDR, p, 48, NULL, 0), 0);
    vf_send(f, VU_GET_VRING_BASE, 0, p, 4, NULL, 0);
    assert_int_equal(vf_recv(f, VU_GET_VRING_BASE, NULL, 0, NULL), 0);
    /* Requests without payload that come with one. */
    vf_send(f, VU_GET_FEATURES, 0, p, 8, NULL, 0);
    assert_int_equal(vf_recv(f, VU_GET_FEATURES, NULL, 0, NULL), 0);
    assert_int_not_equal(vf_req(f, VU_SET_OWNER, p, 8, NULL, 0), 0);
}

/* SET_MEM_TABLE: a count that does not match the size, more than 8 regions,
 * fewer fds than regions, more fds than regions. */
static void test_size_mem_table(void **state)
{
    struct vf *f = *state;
    struct vu_mem_table t = { .nregions = 2 };
    int fds[9], before = start(f);

    for (int i = 0; i < 9; i++)
        fds[i] = efd();
    t.regions[0] = (struct vu_mem_region){ .size = VF_MEM_SIZE,
                                           .user_addr = VF_UVA_BASE };
    t.regions[1] = t.regions[0];
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 32, fds, 2), 0);
    assert_true(vf_log_wait("SET_MEM_TABLE: 2 regions in 40 bytes", 0));
    t.nregions = 1;
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 64, fds, 1), 0);
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 33, fds, 1), 0);
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 7, NULL, 0), 0);
    t.nregions = 9;
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, sizeof(t), fds, 8), 0);
    assert_true(vf_log_wait("SET_MEM_TABLE with 9 regions, at most 8", 0));
    t.nregions = 0xffffffffu;
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, sizeof(t), fds, 8), 0);
    t.nregions = 2;
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 64, fds, 1), 0);
    assert_true(vf_log_wait("SET_MEM_TABLE: 2 regions, 1 fds", 0));
    t.nregions = 1;                               /* a good region, one fd too many */
    {
        int two[2] = { f->memfd, fds[0] };

        assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 32, two, 2), 0);
        assert_true(vf_log_wait("SET_MEM_TABLE: 1 regions, 2 fds", 0));
    }
    /* Nine fds on one message: more than vhost-user carries; all closed. */
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 32, fds, 9), 0);
    assert_true(vf_log_wait("with more than 8 fds", 0));
    vdev_close_fds(fds, 9);
    vf_sync(f);
    assert_no_fd_leak(before);
    vf_mem_table(f);                              /* a good one still works */
}

/* fds where the request takes none, none where it takes one, two for one; KICK
 * and CALL's no-fd bit must agree with what came. All extras are closed. */
static void test_fds_missing_or_extra(void **state)
{
    struct vf *f = *state;
    struct vu_mem_reg reg = { 0 };
    int before = start(f), fds[2] = { efd(), efd() };

    assert_int_not_equal(vf_req(f, VU_SET_OWNER, NULL, 0, fds, 1), 0);
    assert_true(vf_log_wait("SET_OWNER takes no fd, 1 came", 0));
    vf_send(f, VU_GET_FEATURES, 0, NULL, 0, fds, 2);
    assert_int_equal(vf_recv(f, VU_GET_FEATURES, NULL, 0, NULL), 0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_CALL, &(uint64_t){ 0 }, 8, NULL, 0), 0);
    assert_true(vf_log_wait("SET_VRING_CALL takes one fd, 0 came", 0));
    assert_int_not_equal(vf_req(f, VU_SET_VRING_CALL, &(uint64_t){ 0 }, 8, fds, 2), 0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_KICK, &(uint64_t){ VU_VRING_NOFD }, 8,
                                fds, 1), 0);
    assert_true(vf_log_wait("no-fd flag with 1 fds", 0));
    assert_int_not_equal(vf_req(f, VU_SET_VRING_ERR, &(uint64_t){ 1 }, 8, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, VU_SET_LOG_FD, NULL, 0, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, VU_SET_LOG_FD, NULL, 0, fds, 2), 0);
    assert_int_not_equal(vf_req(f, VU_ADD_MEM_REG, &reg, sizeof(reg), NULL, 0), 0);
    assert_int_not_equal(vf_req(f, VU_REM_MEM_REG, &reg, sizeof(reg), fds, 2), 0);
    assert_int_not_equal(vf_req(f, VU_SET_INFLIGHT_FD, &(struct vu_inflight){ 0 },
                                sizeof(struct vu_inflight), NULL, 0), 0);
    /* A good fd request takes its fd: one is kept, the other still ours. */
    assert_int_equal(vf_req(f, VU_SET_LOG_FD, NULL, 0, fds, 1), 0);
    vdev_close_fds(fds, 2);
    vf_sync(f);
    assert_int_equal(test_count_fds(), before + 1);
}

/* Ring indices are compared as the 32-bit value on the wire: 256, 0x10000 and
 * 0x100000000-like values are refused, not truncated to ring 0; KICK/CALL/ERR
 * take 8 bits of index and bit 8, any other bit set is refused. */
static void test_ring_index(void **state)
{
    struct vf *f = *state;
    static const uint32_t bad[] = { VF_RINGS, 256, 0x100, 0x10000, 0x80000000u,
                                    0xffffffffu };
    struct vhost_vring_addr a = { .desc_user_addr = VF_UVA_BASE + 0x100000,
                                  .avail_user_addr = VF_UVA_BASE + 0x110000,
                                  .used_user_addr = VF_UVA_BASE + 0x120000 };
    struct vhost_vring_state s;
    int before = start(f), fd = efd();

    vf_mem_table(f);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(vf_req_state(f, VU_SET_VRING_NUM, bad[i], 256), 0);
        assert_int_not_equal(vf_req_state(f, VU_SET_VRING_BASE, bad[i], 0), 0);
        assert_int_not_equal(vf_req_state(f, VU_SET_VRING_ENABLE, bad[i], 1), 0);
        a.index = bad[i];
        assert_int_not_equal(vf_req(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
        s = (struct vhost_vring_state){ .index = bad[i] };
        vf_send(f, VU_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
        assert_int_equal(vf_recv(f, VU_GET_VRING_BASE, NULL, 0, NULL), 0);
    }
    assert_true(vf_log_wait("ring index 65536; the device has 2 rings", 0));
    assert_int_not_equal(vf_req_u64(f, VU_SET_VRING_CALL, 0x100000000ull), 0);
    assert_true(vf_log_wait("bits past 8 set", 0));
    assert_int_not_equal(vf_req(f, VU_SET_VRING_KICK, &(uint64_t){ 0x100000000ull }, 8,
                                &fd, 1), 0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_CALL, &(uint64_t){ 0x200 }, 8, &fd, 1),
                         0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_ERR, &(uint64_t){ VF_RINGS }, 8, &fd, 1),
                         0);
    assert_int_not_equal(vf_req(f, VU_SET_VRING_KICK, &(uint64_t){ 0xff }, 8, &fd, 1), 0);
    close(fd);
    vf_sync(f);
    assert_no_fd_leak(before);
    /* Ring 0 was not touched by any of it. */
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "ring 0 untouched");
}

/* Ring sizes: 0, not a power of two for a split ring, past the device's
 * largest, and values whose product with the descriptor size overflows 32 bits. */
static void test_ring_size(void **state)
{
    struct vf *f = *state;
    static const uint32_t bad[] = { 0, 3, 100, VDEV_VQ_MAX_SIZE + 1, 65536,
                                    0x10000000u, 0x80000000u, 0xffffffffu };

    start(f);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(vf_req_state(f, VU_SET_VRING_NUM, 0, bad[i]), 0);
    assert_true(vf_log_wait("size 0, not 1..32768", 0));
    assert_true(vf_log_wait("split ring size 100 is not a power of two", 0));
    assert_true(vf_log_wait("size 4294967295, not 1..32768", 0));
    assert_int_equal(vf_req_state(f, VU_SET_VRING_NUM, 0, VDEV_VQ_MAX_SIZE), 0);
    assert_int_equal(vf_req_state(f, VU_SET_VRING_NUM, 0, 1), 0);
    /* A split base sets reserved bits 16-31. */
    assert_int_not_equal(vf_req_state(f, VU_SET_VRING_BASE, 0, 0x10000), 0);

    /* Size and base do not change under a started ring. */
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "started");
    assert_int_not_equal(vf_req_state(f, VU_SET_VRING_NUM, 0, 128), 0);
    assert_int_not_equal(vf_req_state(f, VU_SET_VRING_BASE, 0, 0), 0);
    assert_true(vf_log_wait("SET_VRING_NUM while started", 0));
    vf_echo(f, 0, "still 256");
}

/* SET_FEATURES may not change the device's features under a started ring;
 * SET_PROTOCOL_FEATURES may not set bits that were not offered. */
static void test_features_hostile(void **state)
{
    struct vf *f = *state;
    uint64_t base = BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES);

    start(f);
    assert_int_not_equal(vf_req_u64(f, VU_SET_PROTOCOL_FEATURES, BIT(63)), 0);
    assert_int_not_equal(vf_req_u64(f, VU_SET_FEATURES, BIT(63)), 0);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "started");
    assert_int_not_equal(vf_req_u64(f, VU_SET_FEATURES,
                                    base | BIT(VIRTIO_F_RING_PACKED)), 0);
    assert_true(vf_log_wait("changes device features while a ring is started", 0));
    assert_int_equal(vf_req_u64(f, VU_SET_FEATURES, base), 0);
    vf_echo(f, 0, "features kept");
}

/* A header that is not a request: wrong version, the reply flag set. */
static void test_bad_header(void **state)
{
    struct vf *f = *state;

    start(f);
    vf_send(f, VU_SET_OWNER, VU_FLAG_NEED_REPLY | 0x2, NULL, 0, NULL, 0);
    {
        uint64_t ack = 0;

        assert_int_equal(vf_recv(f, VU_SET_OWNER, &ack, sizeof(ack), NULL), 8);
        assert_int_not_equal(ack, 0);
    }
    vf_send(f, VU_SET_OWNER, VU_FLAG_REPLY | VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
    {
        uint64_t ack = 0;

        assert_int_equal(vf_recv(f, VU_SET_OWNER, &ack, sizeof(ack), NULL), 8);
        assert_int_not_equal(ack, 0);
    }
    assert_true(vf_log_wait("with the reply flag", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_size_u64, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_size_vring, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_size_mem_table, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_fds_missing_or_extra, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_ring_index, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_ring_size, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_features_hostile, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_bad_header, vf_setup, vf_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
