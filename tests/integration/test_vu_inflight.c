/* test_vu_inflight.c — the inflight area ("Inflight I/O tracking"): handed out
 * by GET_INFLIGHT_FD, handed back by SET_INFLIGHT_FD after the front-end
 * reconnects, and the requests in flight at the disconnect served again; and
 * the checks on an area a hostile front-end hands back (DPDK CVE-2020-10726). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/virtio_config.h>

#include "vu_fixture.h"
#include "vdev/dev_echo.h"
#include "vdev/inflight.h"
#include "vdev/virtq.h"

#define BIT(n) (1ull << (n))

static int get_inflight(struct vf *f, uint16_t n, uint16_t size, struct vu_inflight *out)
{
    struct vu_inflight in = { .num_queues = n, .queue_size = size };
    int fd = -1, len;

    vf_send(f, VU_GET_INFLIGHT_FD, 0, &in, sizeof(in), NULL, 0);
    len = vf_recv(f, VU_GET_INFLIGHT_FD, out, sizeof(*out), &fd);
    if (len == 0) {
        assert_int_equal(fd, -1);
        return -1;
    }
    assert_int_equal(len, sizeof(*out));
    assert_true(fd >= 0);
    return fd;
}

static uint64_t set_inflight(struct vf *f, const struct vu_inflight *in, int fd)
{
    return vf_req(f, VU_SET_INFLIGHT_FD, in, sizeof(*in), &fd, fd >= 0 ? 1 : 0);
}

static void wait_held(struct vf *f, uint64_t n)
{
    for (int i = 0; i < VF_TIMEOUT && vdev_echo_held(f->dev) != n; i++)
        usleep(1000);
    assert_int_equal(vdev_echo_held(f->dev), n);
}

/* Two requests are held by the device when the front-end goes away. After it
 * reconnects and hands the area back, the ring serves them again, oldest first,
 * and the records in the shared area follow. */
static void test_inflight_reconnect_split(void **state)
{
    struct vf *f = *state;
    struct vu_inflight area;
    struct vdev_inflight_layout l = { .num_queues = 1, .queue_size = 256 };
    struct vdev_inflight_region_split *q;
    uint64_t need;
    uint16_t id0, id1;
    int fd;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    fd = get_inflight(f, 1, 256, &area);
    assert_int_equal(vdev_inflight_mmap_size(&l, &need), 0);
    assert_int_equal(area.mmap_size, need);
    assert_int_equal(area.mmap_offset, 0);
    assert_int_equal(area.num_queues, 1);
    assert_int_equal(area.queue_size, 256);
    assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
    assert_int_equal(set_inflight(f, &area, fd), 0);
    q = mmap(NULL, need, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(q != MAP_FAILED);

    vf_ring_setup(f, 0, 256);
    id0 = vf_submit(f, 0, "first in flight");
    id1 = vf_submit(f, 0, "second in flight");
    vf_kick(f, 0);
    wait_held(f, 2);
    assert_int_equal(q->version, 1);
    assert_int_equal(q->desc_num, 256);
    assert_int_equal(q->desc[id0].inflight, 1);
    assert_int_equal(q->desc[id1].inflight, 1);
    assert_true(q->desc[id0].counter < q->desc[id1].counter);

    /* The front-end goes; the guest and its rings stay. */
    vf_connect(f);
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    wait_held(f, 0);                              /* cancelled by the stop */
    assert_int_equal(q->desc[id0].inflight, 1);
    vf_mem_table(f);
    assert_int_equal(set_inflight(f, &area, fd), 0);
    vf_ring_resend(f, 0, 0);                      /* QEMU sends used->idx */
    vf_kick(f, 0);
    wait_held(f, 2);
    assert_int_equal(vdev_echo_release(f->dev, 2), 0);
    assert_true(vf_wait_call(f, 0, VF_TIMEOUT));
    vf_check_echo(f, 0, id0, "first in flight");
    vf_check_echo(f, 0, id1, "second in flight");
    assert_int_equal(q->desc[id0].inflight, 0);
    assert_int_equal(q->desc[id1].inflight, 0);
    assert_int_equal(q->used_idx, 2);
    assert_int_equal(vf_get_vring_base(f, 0), 2);
    munmap(q, need);
    close(fd);
}

/* The same with a packed ring: the records carry the descriptors. */
static void test_inflight_reconnect_packed(void **state)
{
    struct vf *f = *state;
    struct vu_inflight area;
    uint16_t id0, id1;
    int fd;

    vf_negotiate(f, BIT(VIRTIO_F_RING_PACKED), VF_PF_DEFAULT);
    vf_mem_table(f);
    fd = get_inflight(f, 2, 64, &area);
    assert_int_equal(set_inflight(f, &area, fd), 0);
    vf_ring_setup(f, 1, 64);
    id0 = vf_submit(f, 1, "packed first");
    id1 = vf_submit(f, 1, "packed second");
    vf_kick(f, 1);
    wait_held(f, 2);

    vf_connect(f);
    vf_negotiate(f, BIT(VIRTIO_F_RING_PACKED), VF_PF_DEFAULT);
    wait_held(f, 0);
    vf_mem_table(f);
    assert_int_equal(set_inflight(f, &area, fd), 0);
    vf_ring_resend(f, 1, 0x80008000u);
    vf_kick(f, 1);
    wait_held(f, 2);
    assert_int_equal(vdev_echo_release(f->dev, 2), 0);
    assert_true(vf_wait_call(f, 1, VF_TIMEOUT));
    vf_check_echo(f, 1, id0, "packed first");
    vf_check_echo(f, 1, id1, "packed second");
    assert_int_equal(vf_get_vring_base(f, 1), 0x80048004u);
    close(fd);
}

/* GET_INFLIGHT_FD many times: each area replaces the last, nothing piles up. */
static void test_inflight_repeat_no_leak(void **state)
{
    struct vf *f = *state;
    struct vu_inflight area;
    int fds, maps;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    close(get_inflight(f, 2, 1024, &area));
    vf_sync(f);
    fds = test_count_fds();
    maps = test_count_maps("vdev-inflight");
    assert_int_equal(maps, 1);
    for (int i = 0; i < 50; i++) {
        int fd = get_inflight(f, 2, 1024, &area);

        if (i % 2)
            assert_int_equal(set_inflight(f, &area, fd), 0);
        close(fd);
    }
    vf_sync(f);
    assert_no_fd_leak(fds);
    assert_int_equal(test_count_maps("vdev-inflight"), maps);
}

/* GET_INFLIGHT_FD: queue counts and sizes beyond the device's are refused with an
 * empty reply (an area sized by them would be huge or overflow). */
static void test_get_inflight_bounds(void **state)
{
    struct vf *f = *state;
    struct vu_inflight out;
    uint8_t short_desc[16] = { 0 };

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(get_inflight(f, 0, 256, &out), -1);
    assert_int_equal(get_inflight(f, VF_RINGS + 1, 256, &out), -1);
    assert_int_equal(get_inflight(f, 0xffff, 256, &out), -1);
    assert_int_equal(get_inflight(f, 1, 0, &out), -1);
    assert_int_equal(get_inflight(f, 1, 0xffff, &out), -1);
    assert_int_equal(get_inflight(f, 1, VDEV_VQ_MAX_SIZE + 1, &out), -1);
    vf_send(f, VU_GET_INFLIGHT_FD, 0, short_desc, sizeof(short_desc), NULL, 0);
    assert_int_equal(vf_recv(f, VU_GET_INFLIGHT_FD, NULL, 0, NULL), 0);
    assert_true(vf_log_wait("0 queues, the device has 2", 0));
    close(get_inflight(f, VF_RINGS, VDEV_VQ_MAX_SIZE, &out));

    /* Without INFLIGHT_SHMFD the request has no reply of its own. */
    vf_connect(f);
    vf_negotiate(f, 0, BIT(VU_PF_REPLY_ACK));
    vf_send(f, VU_GET_INFLIGHT_FD, 0, &(struct vu_inflight){ .num_queues = 1,
            .queue_size = 256 }, sizeof(struct vu_inflight), NULL, 0);
    assert_true(vf_silent(f, 100));
}

/* SET_INFLIGHT_FD: the area must be the size its layout needs, inside the file,
 * without wrapping, in a sealed file, its regions well-formed; and the device
 * suspended. Each bad one is refused, its fd closed, the old area kept. */
static void test_set_inflight_hostile(void **state)
{
    struct vf *f = *state;
    struct vdev_inflight_layout l = { .num_queues = 1, .queue_size = 256 };
    struct vdev_inflight_region_split *q;
    struct vu_inflight good = { .num_queues = 1, .queue_size = 256 }, bad;
    uint64_t need;
    int fd, loose, before, two[2];

    assert_int_equal(vdev_inflight_mmap_size(&l, &need), 0);
    fd = vf_sealed_memfd("vu-inflight", 2 * need);
    loose = test_memfd("vu-inflight-loose", need);
    good.mmap_size = need;
    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_sync(f);
    before = test_count_fds();

    bad = good, bad.mmap_size = need - 1;
    assert_int_not_equal(set_inflight(f, &bad, fd), 0);
    bad = good, bad.mmap_offset = UINT64_MAX - 100;
    assert_int_not_equal(set_inflight(f, &bad, fd), 0);
    bad = good, bad.mmap_size = UINT64_MAX;
    assert_int_not_equal(set_inflight(f, &bad, fd), 0);
    bad = good, bad.mmap_offset = need + 4096;
    assert_int_not_equal(set_inflight(f, &bad, fd), 0);
    bad = good, bad.num_queues = 0xffff, bad.mmap_size = UINT64_MAX / 2;
    assert_int_not_equal(set_inflight(f, &bad, fd), 0);
    bad = good, bad.queue_size = 0xffff;
    assert_int_not_equal(set_inflight(f, &bad, fd), 0);
    assert_int_not_equal(set_inflight(f, &good, loose), 0);
    assert_int_not_equal(set_inflight(f, &good, -1), 0);
    two[0] = fd;
    two[1] = loose;
    assert_int_not_equal(vf_req(f, VU_SET_INFLIGHT_FD, &good, sizeof(good), two, 2), 0);
    assert_true(vf_log_wait("not sealed", 0));
    assert_true(vf_log_wait("wraps", 0));

    /* A region that is not the spec's: refused by attach. */
    q = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(q != MAP_FAILED);
    q->version = 1;
    q->desc_num = 100;
    assert_int_not_equal(set_inflight(f, &good, fd), 0);
    q->desc_num = 256;
    q->version = 7;
    assert_int_not_equal(set_inflight(f, &good, fd), 0);
    q->version = 1;
    q->desc[3].inflight = 2;
    assert_int_not_equal(set_inflight(f, &good, fd), 0);
    memset(q, 0, need);
    assert_int_equal(set_inflight(f, &good, fd), 0);
    vf_sync(f);
    assert_no_fd_leak(before);

    /* Not while a ring is started. */
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "started");
    assert_int_not_equal(set_inflight(f, &good, fd), 0);
    assert_true(vf_log_wait("SET_INFLIGHT_FD while a ring is started", 0));
    munmap(q, need);
    close(fd);
    close(loose);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inflight_reconnect_split, vf_setup_hold,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_inflight_reconnect_packed, vf_setup_hold,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_inflight_repeat_no_leak, vf_setup,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_get_inflight_bounds, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_set_inflight_hostile, vf_setup, vf_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
