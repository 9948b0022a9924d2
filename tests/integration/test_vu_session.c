/* test_vu_session.c — the back-end serving a well-behaved front-end: feature
 * negotiation, rings that start on their first kick, echo requests read back
 * from guest memory, split and packed, REPLY_ACK, the config space. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vu_fixture.h"
#include "vdev/dev_echo.h"

#define BIT(n) (1ull << (n))

/* GET_FEATURES offers the device's ring features, VERSION_1, PROTOCOL_FEATURES,
 * LOG_ALL and IOMMU_PLATFORM (the transport's IOTLB, test_vu_iotlb.c);
 * GET_QUEUE_NUM is the device's queue count. */
static void test_features_offered(void **state)
{
    struct vf *f = *state;
    uint64_t feat = vf_get_u64(f, VU_GET_FEATURES);
    uint64_t pf = vf_get_u64(f, VU_GET_PROTOCOL_FEATURES);

    assert_true(feat & BIT(VIRTIO_F_VERSION_1));
    assert_true(feat & BIT(VU_F_PROTOCOL_FEATURES));
    assert_true(feat & BIT(VHOST_F_LOG_ALL));
    assert_true(feat & BIT(VIRTIO_F_RING_PACKED));
    assert_true(feat & BIT(VIRTIO_RING_F_EVENT_IDX));
    assert_true(feat & BIT(VIRTIO_RING_F_INDIRECT_DESC));
    assert_true(feat & BIT(VIRTIO_F_ACCESS_PLATFORM));
    assert_false(feat & BIT(VIRTIO_F_ORDER_PLATFORM));
    for (unsigned b = 0; b <= VU_PF_DEVICE_STATE; b++) {
        bool want = (VF_PF_DEFAULT | BIT(VU_PF_BACKEND_REQ) |
                     BIT(VU_PF_INBAND_NOTIFICATIONS)) & BIT(b);

        assert_int_equal(!!(pf & BIT(b)), want);
    }
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_get_u64(f, VU_GET_QUEUE_NUM), VF_RINGS);
    assert_int_equal(vf_get_u64(f, VU_GET_MAX_MEM_SLOTS), 509);
    /* Features that were not offered are refused. */
    assert_int_not_equal(vf_req_u64(f, VU_SET_FEATURES,
                                    BIT(VIRTIO_F_ORDER_PLATFORM)), 0);
}

/* Split rings: requests on two queues are echoed into guest memory, and
 * GET_VRING_BASE stops a ring and returns the next available index. */
static void test_split_echo(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_ring_setup(f, 1, 64);
    vf_echo(f, 0, "hello");
    vf_echo(f, 1, "from queue one");
    vf_echo(f, 0, "again");
    assert_int_equal(vf_get_vring_base(f, 0), 2);
    assert_int_equal(vf_get_vring_base(f, 1), 1);
    /* Stopped: a kick is not served any more. */
    vf_submit(f, 1, "late");
    vf_kick(f, 1);
    assert_false(vf_wait_call(f, 1, 200));
}

/* Packed rings: GET_VRING_BASE carries both positions and wrap counters
 * (bits 0-14 and 15 available, 16-30 and 31 used); each request takes two
 * descriptors. A restart from that base goes on where the ring stopped. */
static void test_packed_echo(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, BIT(VIRTIO_F_RING_PACKED), VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 128);
    vf_echo(f, 0, "packed one");
    vf_echo(f, 0, "packed two");
    assert_int_equal(vf_get_vring_base(f, 0), 0x80048004u);

    close(f->ring[0].kick);
    f->ring[0].kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    vf_ring_resend(f, 0, 0x80048004u);
    vf_echo(f, 0, "packed three");
    assert_int_equal(vf_get_vring_base(f, 0), 0x80068006u);
}

/* A packed ring of a size that is not a power of two, wrapping around. */
static void test_packed_wrap(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, BIT(VIRTIO_F_RING_PACKED), VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 5);
    for (int i = 0; i < 4; i++)
        vf_echo(f, 0, "wrap");
    /* 8 descriptors on a ring of 5: position 3, both wrap counters 0. */
    assert_int_equal(vf_get_vring_base(f, 0), 0x00030003u);
}

/* Rings start stopped: a request made available before the first kick is not
 * served, and the kick starts the ring ("Ring states"). */
static void test_ring_starts_on_kick(void **state)
{
    struct vf *f = *state;
    uint16_t id;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    id = vf_submit(f, 0, "waiting for a kick");
    assert_false(vf_wait_call(f, 0, 200));
    vf_kick(f, 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "waiting for a kick");
}

/* A disabled ring is not processed; enabling it serves what waits. */
static void test_disabled_ring(void **state)
{
    struct vf *f = *state;
    uint16_t id;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    f->skip_enable = true;
    vf_ring_setup(f, 0, 256);
    id = vf_submit(f, 0, "disabled");
    vf_kick(f, 0);
    assert_false(vf_wait_call(f, 0, 200));
    assert_int_equal(vf_req_state(f, VU_SET_VRING_ENABLE, 0, 1), 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id, "disabled");
    /* Disabled again: not served. Enable values other than 0 and 1 are refused. */
    assert_int_equal(vf_req_state(f, VU_SET_VRING_ENABLE, 0, 0), 0);
    id = vf_submit(f, 0, "disabled again");
    vf_kick(f, 0);
    assert_false(vf_wait_call(f, 0, 200));
    assert_int_not_equal(vf_req_state(f, VU_SET_VRING_ENABLE, 0, 2), 0);
    assert_false(vf_wait_call(f, 0, 100));
}

/* SET_FEATURES without PROTOCOL_FEATURES enables every ring. */
static void test_features_enable_all(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_req_u64(f, VU_SET_FEATURES, BIT(VIRTIO_F_VERSION_1)), 0);
    vf_mem_table(f);
    f->skip_enable = true;
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "enabled by SET_FEATURES");
}

/* REPLY_ACK: NEED_REPLY gets 0 or non-zero; without it no ack comes; a request
 * with a reply of its own gets only that reply. */
static void test_reply_ack(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_req(f, VU_SET_OWNER, NULL, 0, NULL, 0), 0);
    assert_int_not_equal(vf_req_state(f, VU_SET_VRING_NUM, 0, 3), 0);
    vf_send(f, VU_SET_VRING_NUM, 0, &(struct vhost_vring_state){ 0, 3 }, 8, NULL, 0);
    assert_true(vf_silent(f, 100));
    vf_send(f, VU_GET_FEATURES, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
    assert_int_equal(vf_recv(f, VU_GET_FEATURES, NULL, 0, NULL), 8);
    assert_true(vf_silent(f, 100));

    /* Without REPLY_ACK negotiated, NEED_REPLY asks for nothing. */
    vf_connect(f);
    vf_negotiate(f, 0, 0);
    vf_send(f, VU_SET_OWNER, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
    assert_true(vf_silent(f, 100));
}

static int get_config(struct vf *f, uint32_t off, uint32_t size, uint32_t hdr_size,
                      struct vu_config *out)
{
    struct vu_config c = { .offset = off, .size = size };

    vf_send(f, VU_GET_CONFIG, 0, &c, hdr_size, NULL, 0);
    return vf_recv(f, VU_GET_CONFIG, out, sizeof(*out), NULL);
}

static uint64_t set_config(struct vf *f, uint32_t off, uint32_t flags, uint32_t v)
{
    struct vu_config c = { .offset = off, .size = 4, .flags = flags };

    memcpy(c.payload, &v, 4);
    return vf_req(f, VU_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 4, NULL, 0);
}

/* GET_CONFIG replies with exactly the size asked for, inside config_size, and an
 * empty reply for anything else; SET_CONFIG writes only writable fields. */
static void test_config_bounds(void **state)
{
    struct vf *f = *state;
    struct vu_config out;
    uint32_t v;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(get_config(f, 0, 16, VU_CONFIG_HDR_SIZE + 16, &out), 12 + 16);
    assert_int_equal(out.size, 16);
    memcpy(&v, out.payload, 4);
    assert_int_equal(le32toh(v), VDEV_ECHO_MAGIC);
    assert_int_equal(get_config(f, 4, 4, VU_CONFIG_HDR_SIZE + 4, &out), 12 + 4);

    assert_int_equal(get_config(f, 8, 16, VU_CONFIG_HDR_SIZE + 16, &out), 0);
    assert_int_equal(get_config(f, 0xfffffff8u, 16, VU_CONFIG_HDR_SIZE + 16, &out), 0);
    assert_int_equal(get_config(f, 0, 16, VU_CONFIG_HDR_SIZE + 8, &out), 0);
    assert_int_equal(get_config(f, 0, 0xffffffffu, VU_CONFIG_HDR_SIZE + 8, &out), 0);
    assert_true(vf_log_wait("past the device's", 0));

    assert_int_equal(set_config(f, VDEV_ECHO_CFG_SCRATCH, 0, htole32(0x1234)), 0);
    assert_int_equal(get_config(f, 4, 4, VU_CONFIG_HDR_SIZE + 4, &out), 12 + 4);
    memcpy(&v, out.payload, 4);
    assert_int_equal(le32toh(v), 0x1234);
    assert_int_not_equal(set_config(f, VDEV_ECHO_CFG_MAGIC, 0, 0), 0);
    assert_int_not_equal(set_config(f, VDEV_ECHO_CFG_SCRATCH, 2, 0), 0);
    assert_int_not_equal(set_config(f, 14, 0, 0), 0);

    /* Without CONFIG negotiated: an empty reply. */
    vf_connect(f);
    vf_negotiate(f, 0, BIT(VU_PF_REPLY_ACK));
    assert_int_equal(get_config(f, 0, 4, VU_CONFIG_HDR_SIZE + 4, &out), 0);
}

/* Requests vdev does not implement are answered with an error, the
 * connection lives, and their fds are closed. */
static void test_unimplemented(void **state)
{
    struct vf *f = *state;
    uint8_t iotlb[32] = { 0 };
    uint64_t st = 0;
    int before, fd;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_sync(f);
    before = test_count_fds();
    assert_int_not_equal(vf_req_u64(f, VU_SEND_RARP, 0x665544332211ull), 0);
    assert_int_not_equal(vf_req_u64(f, VU_NET_SET_MTU, 1500), 0);
    assert_int_not_equal(vf_req_state(f, VU_SET_VRING_ENDIAN, 0, 0), 0);
    assert_int_not_equal(vf_req_u64(f, VU_CLOSE_CRYPTO_SESSION, 1), 0);
    assert_int_not_equal(vf_req(f, VU_POSTCOPY_LISTEN, NULL, 0, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, 99, NULL, 0, NULL, 0), 0);
    assert_int_not_equal(vf_req(f, 0, NULL, 0, NULL, 0), 0);
    fd = eventfd(0, EFD_CLOEXEC);
    assert_int_not_equal(vf_req(f, VU_GPU_SET_SOCKET, NULL, 0, &fd, 1), 0);
    close(fd);
    /* A u64 status even without NEED_REPLY: IOTLB_MSG, POSTCOPY_END. */
    vf_send(f, VU_IOTLB_MSG, 0, iotlb, sizeof(iotlb), NULL, 0);
    assert_int_equal(vf_recv(f, VU_IOTLB_MSG, &st, sizeof(st), NULL), 8);
    assert_int_not_equal(st, 0);
    vf_send(f, VU_POSTCOPY_END, 0, NULL, 0, NULL, 0);
    assert_int_equal(vf_recv(f, VU_POSTCOPY_END, &st, sizeof(st), NULL), 8);
    assert_int_not_equal(st, 0);
    /* A reply payload expected: an empty one, and no fd. */
    vf_send(f, VU_POSTCOPY_ADVISE, 0, NULL, 0, NULL, 0);
    fd = -2;
    assert_int_equal(vf_recv(f, VU_POSTCOPY_ADVISE, NULL, 0, &fd), 0);
    assert_int_equal(fd, -1);
    assert_true(vf_log_wait("SEND_RARP is not implemented", 0));
    assert_true(vf_log_wait("NET_SET_MTU for a echo device", 0));
    vf_sync(f);
    assert_no_fd_leak(before);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "still here");
}

/* RESET_DEVICE: rings back to their initial state, set up again from scratch. */
static void test_reset_device(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "before reset");
    assert_int_equal(vf_req(f, VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
    vf_submit(f, 0, "after reset, before set-up");
    vf_kick(f, 0);
    assert_false(vf_wait_call(f, 0, 200));
    assert_int_equal(vf_get_vring_base(f, 0), 0);
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "after reset");
}

/* SET_STATUS keeps the status byte; GET_STATUS returns it. */
static void test_status(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_req_u64(f, VU_SET_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
                                VIRTIO_CONFIG_S_DRIVER), 0);
    assert_int_equal(vf_get_u64(f, VU_GET_STATUS),
                     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    assert_int_not_equal(vf_req_u64(f, VU_SET_STATUS, 0x100), 0);
}

/* NET_SET_MTU: protocol feature NET_MTU is offered only by a net device that
 * takes an MTU; the MTU reaches the device once VIRTIO_NET_F_MTU and NET_MTU
 * are negotiated; values outside 68..65535 are refused. */
static void test_net_mtu(void **state)
{
    struct vf *f = *state;

    vf_send(f, VU_SET_OWNER, 0, NULL, 0, NULL, 0);
    assert_true(vf_get_u64(f, VU_GET_PROTOCOL_FEATURES) & (1ull << VU_PF_MTU));
    assert_true(vf_get_u64(f, VU_GET_FEATURES) & (1ull << VIRTIO_NET_F_MTU));

    /* Before NET_MTU and VIRTIO_NET_F_MTU: refused. */
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_not_equal(vf_req_u64(f, VU_NET_SET_MTU, 1500), 0);
    assert_int_equal(vdev_echo_mtu(f->dev), 0);
    vf_negotiate(f, 0, VF_PF_DEFAULT | (1ull << VU_PF_MTU));
    assert_int_not_equal(vf_req_u64(f, VU_NET_SET_MTU, 1500), 0);
    assert_true(vf_log_wait("without VIRTIO_NET_F_MTU", 0));
    vf_negotiate(f, 1ull << VIRTIO_NET_F_MTU, VF_PF_DEFAULT);
    assert_int_not_equal(vf_req_u64(f, VU_NET_SET_MTU, 1500), 0);
    assert_true(vf_log_wait("without protocol feature NET_MTU", 0));
    assert_int_equal(vdev_echo_mtu(f->dev), 0);

    vf_negotiate(f, 1ull << VIRTIO_NET_F_MTU, VF_PF_DEFAULT | (1ull << VU_PF_MTU));
    assert_int_equal(vf_req_u64(f, VU_NET_SET_MTU, 9000), 0);
    assert_int_equal(vdev_echo_mtu(f->dev), 9000);
    assert_int_not_equal(vf_req_u64(f, VU_NET_SET_MTU, 67), 0);
    assert_int_not_equal(vf_req_u64(f, VU_NET_SET_MTU, 65536), 0);
    assert_int_not_equal(vf_req_u64(f, VU_NET_SET_MTU, (1ull << 32) + 1500), 0);
    assert_int_equal(vdev_echo_mtu(f->dev), 9000);
    assert_int_equal(vf_req_u64(f, VU_NET_SET_MTU, 68), 0);
    assert_int_equal(vdev_echo_mtu(f->dev), 68);
}

/* A device that is not net offers no NET_MTU. */
static void test_no_mtu_for_others(void **state)
{
    struct vf *f = *state;

    vf_send(f, VU_SET_OWNER, 0, NULL, 0, NULL, 0);
    assert_false(vf_get_u64(f, VU_GET_PROTOCOL_FEATURES) & (1ull << VU_PF_MTU));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_features_offered, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_split_echo, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_packed_echo, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_packed_wrap, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_ring_starts_on_kick, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_disabled_ring, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_features_enable_all, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_reply_ack, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_config_bounds, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_unimplemented, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_reset_device, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_status, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_net_mtu, vf_setup_net, vf_teardown),
        cmocka_unit_test_setup_teardown(test_no_mtu_for_others, vf_setup, vf_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
