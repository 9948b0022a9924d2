/* test_vu_hostile_ring.c — hostile ring addresses from the front-end, and a
 * hostile guest behind it: descriptors that point outside guest memory (DPDK
 * CVE-2018-1059), indices and chains that run past the ring (SPDK
 * CVE-2019-9547). A ring the guest breaks stops without harm: GET_VRING_BASE
 * answers, the error fd is signalled, GET_STATUS says NEEDS_RESET, and the
 * back-end serves a clean session afterwards. */
#include <endian.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "vu_fixture.h"
#include "helpers.h"
#include "vdev/sock.h"

#define BIT(n) (1ull << (n))

static uint64_t set_addr(struct vf *f, uint32_t flags, uint64_t desc, uint64_t avail,
                         uint64_t used, uint64_t log)
{
    struct vhost_vring_addr a = {
        .index = 0, .flags = flags, .desc_user_addr = desc, .avail_user_addr = avail,
        .used_user_addr = used, .log_guest_addr = log,
    };

    return vf_req(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

/* Ring addresses are user addresses inside the memory table, each area whole in
 * one region and aligned; nothing is accepted before there is memory. */
static void test_ring_addr_outside_memory(void **state)
{
    struct vf *f = *state;
    uint64_t d = vf_uva(0x100000), a = vf_uva(0x110000), u = vf_uva(0x120000);
    uint64_t end = VF_UVA_BASE + VF_MEM_SIZE;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_req_state(f, VU_SET_VRING_NUM, 0, 256), 0);
    assert_int_not_equal(set_addr(f, 0, d, a, u, 0), 0);         /* no memory yet */
    vf_mem_table(f);
    assert_int_equal(set_addr(f, 0, d, a, u, 0), 0);
    assert_int_not_equal(set_addr(f, 0, end + 0x100000, a, u, 0), 0);
    assert_int_not_equal(set_addr(f, 0, VF_UVA_BASE - 4096, a, u, 0), 0);
    assert_int_not_equal(set_addr(f, 0, 0x1000, a, u, 0), 0);    /* a gpa, not a uva */
    assert_int_not_equal(set_addr(f, 0, end - 16, a, u, 0), 0);  /* runs off the end */
    assert_int_not_equal(set_addr(f, 0, d, end - 2, u, 0), 0);
    assert_int_not_equal(set_addr(f, 0, d, a, end - 8, 0), 0);
    assert_int_not_equal(set_addr(f, 0, d, a, UINT64_MAX - 4, 0), 0);
    assert_true(vf_log_wait("device area at", 0));
    assert_int_not_equal(set_addr(f, 0, d + 8, a, u, 0), 0);     /* not aligned */
    assert_int_not_equal(set_addr(f, 0, d, a + 1, u, 0), 0);
    assert_true(vf_log_wait("not aligned", 0));
    assert_int_not_equal(set_addr(f, 2, d, a, u, 0), 0);         /* unknown flag */
    assert_int_not_equal(set_addr(f, 1u << VHOST_VRING_F_LOG, d, a, u,
                                  UINT64_MAX - 100), 0);        /* log address wraps */
    /* Bigger ring, same addresses: the used ring now runs past the memory. */
    assert_int_equal(vf_req_state(f, VU_SET_VRING_NUM, 0, 32768), 0);
    assert_int_not_equal(set_addr(f, 0, d, a, vf_uva(VF_MEM_SIZE - 0x10000), 0), 0);
}

/* Breaks ring 0 with what fill() writes, and checks it stops without harm. */
static void expect_broken(struct vf *f, const char *why)
{
    struct pollfd p = { .fd = f->ring[0].err, .events = POLLIN };
    uint64_t v;

    vf_log_clear();
    vf_kick(f, 0);
    assert_true(vf_log_wait("ring broken by the driver", VF_TIMEOUT));
    assert_true(vf_log_wait(why, 0));
    /* Told at once, while the ring is still started: the error eventfd and
     * NEEDS_RESET, with no message from the front-end. */
    assert_int_equal(poll(&p, 1, VF_TIMEOUT), 1);
    assert_int_equal(read(f->ring[0].err, &v, sizeof(v)), (ssize_t)sizeof(v));
    assert_true(vf_get_u64(f, VU_GET_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    vf_get_vring_base(f, 0);
    assert_int_equal(poll(&p, 1, 0), 0);          /* once, not again at the stop */
    assert_false(vf_wait_call(f, 0, 0));
}

static void split_desc(struct vf *f, uint16_t i, uint64_t addr, uint32_t len,
                       uint16_t flags, uint16_t next)
{
    struct vring_desc *d = vf_host(f, f->ring[0].desc);

    d[i] = (struct vring_desc){ .addr = htole64(addr), .len = htole32(len),
                                .flags = htole16(flags), .next = htole16(next) };
}

static void split_avail(struct vf *f, uint16_t head, uint16_t idx)
{
    struct vring_avail *av = vf_host(f, f->ring[0].driver);

    av->ring[0] = htole16(head);
    __atomic_store_n(&av->idx, htole16(idx), __ATOMIC_RELEASE);
}

/* DPDK CVE-2018-1059: a descriptor's buffer outside guest memory, or running
 * off its end, is never touched. */
static void test_desc_outside_memory(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);

    vf_ring_setup(f, 0, 256);
    split_desc(f, 0, 0x40000000ull, 64, VRING_DESC_F_WRITE, 0);
    split_avail(f, 0, 1);
    expect_broken(f, "outside");

    vf_ring_setup(f, 0, 256);
    split_desc(f, 0, VF_MEM_SIZE - 8, 64, VRING_DESC_F_WRITE, 0);
    split_avail(f, 0, 1);
    expect_broken(f, "outside");

    vf_ring_setup(f, 0, 256);
    split_desc(f, 0, UINT64_MAX - 8, 64, 0, 0);
    split_avail(f, 0, 1);
    expect_broken(f, "ring broken");
}

/* A front-end that gave no error eventfd but negotiated in-band notifications
 * hears of a broken ring as BACKEND_VRING_ERR on the back-end channel, at once. */
static void test_broken_inband(void **state)
{
    struct vf *f = *state;
    struct vhost_vring_state s;
    struct vu_header h;
    int ch[2];

    test_socketpair(ch);
    vf_negotiate(f, 0, VF_PF_DEFAULT | BIT(VU_PF_BACKEND_REQ) |
                 BIT(VU_PF_INBAND_NOTIFICATIONS));
    assert_int_equal(vf_req(f, VU_SET_BACKEND_REQ_FD, NULL, 0, &ch[1], 1), 0);
    close(ch[1]);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    assert_int_equal(vf_req_u64(f, VU_SET_VRING_ERR, 0 | VU_VRING_NOFD), 0);
    close(f->ring[0].err);
    f->ring[0].err = -1;
    split_desc(f, 0, 0x40000000ull, 64, VRING_DESC_F_WRITE, 0);
    split_avail(f, 0, 1);
    vf_kick(f, 0);
    assert_int_equal(vdev_sock_recv(ch[0], &h, sizeof(h), NULL, 0, NULL, VF_TIMEOUT), 0);
    assert_int_equal(h.request, VU_BACKEND_VRING_ERR);
    assert_int_equal(h.size, sizeof(s));
    assert_int_equal(vdev_sock_recv(ch[0], &s, sizeof(s), NULL, 0, NULL, VF_TIMEOUT), 0);
    assert_int_equal(s.index, 0);
    assert_true(vf_get_u64(f, VU_GET_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    vf_get_vring_base(f, 0);
    close(ch[0]);
}

/* SPDK CVE-2019-9547: ring indices and chain lengths are the guest's: an
 * available index far ahead, a head past the ring, a chain that loops, an
 * indirect table that is not allowed or longer than the ring. */
static void test_guest_ring_counts(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);

    vf_ring_setup(f, 0, 256);
    split_desc(f, 0, VF_BUF_GPA, 64, VRING_DESC_F_WRITE, 0);
    split_avail(f, 0, 1000);
    expect_broken(f, "available index ran more than the ring ahead");

    vf_ring_setup(f, 0, 256);
    split_avail(f, 300, 1);
    expect_broken(f, "ring broken");

    vf_ring_setup(f, 0, 256);
    split_desc(f, 0, VF_BUF_GPA, 64, VRING_DESC_F_NEXT, 1);
    split_desc(f, 1, VF_BUF_GPA, 64, VRING_DESC_F_NEXT, 0);
    split_avail(f, 0, 1);
    expect_broken(f, "ring broken");

    vf_ring_setup(f, 0, 256);
    split_desc(f, 0, VF_BUF_GPA, 64, VRING_DESC_F_NEXT, 256);
    split_avail(f, 0, 1);
    expect_broken(f, "ring broken");

    vf_ring_setup(f, 0, 256);                     /* INDIRECT_DESC not negotiated */
    split_desc(f, 0, VF_BUF_GPA, 16 * 4, VRING_DESC_F_INDIRECT, 0);
    split_avail(f, 0, 1);
    expect_broken(f, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
}

/* The same with indirect tables negotiated: a table longer than the ring. */
static void test_guest_indirect_too_long(void **state)
{
    struct vf *f = *state;

    vf_negotiate(f, BIT(VIRTIO_RING_F_INDIRECT_DESC), VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 16);
    split_desc(f, 0, VF_BUF_GPA, 16 * 4096, VRING_DESC_F_INDIRECT, 0);
    split_avail(f, 0, 1);
    expect_broken(f, "ring broken");
}

/* A packed descriptor outside guest memory. */
static void test_packed_desc_outside_memory(void **state)
{
    struct vf *f = *state;
    struct vring_packed_desc *d;

    vf_negotiate(f, BIT(VIRTIO_F_RING_PACKED), VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 64);
    d = vf_host(f, f->ring[0].desc);
    d[0] = (struct vring_packed_desc){
        .addr = htole64(0x80000000ull), .len = htole32(64), .id = 0,
    };
    __atomic_store_n(&d[0].flags, htole16((1u << VRING_PACKED_DESC_F_AVAIL) |
                                          VRING_DESC_F_WRITE), __ATOMIC_RELEASE);
    expect_broken(f, "outside");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ring_addr_outside_memory, vf_setup,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_desc_outside_memory, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_broken_inband, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_guest_ring_counts, vf_setup, vf_teardown),
        cmocka_unit_test_setup_teardown(test_guest_indirect_too_long, vf_setup,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_packed_desc_outside_memory, vf_setup,
                                        vf_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
