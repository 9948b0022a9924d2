/* test_vu_hostile_mem.c — a hostile front-end's memory: regions whose ranges
 * wrap (DPDK CVE-2020-10722), lie past their file or overlap; more regions than
 * the slots offered; REM_MEM_REG of what is not there; and the same requests
 * repeated without a leak. A bad table leaves the old one serving. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_config.h>

#include "vu_fixture.h"

#define BIT(n) (1ull << (n))
#define SLOT (512ull << 10)

static uint64_t set_table(struct vf *f, const struct vu_mem_region *r, int fd)
{
    struct vu_mem_table t = { .nregions = 1 };

    t.regions[0] = *r;
    return vf_req(f, VU_SET_MEM_TABLE, &t, 8 + 32, &fd, 1);
}

/* Each bad region is refused, the whole table with it, and the ring goes on
 * with the old table. */
static void test_bad_regions_keep_old_table(void **state)
{
    struct vf *f = *state;
    const struct vu_mem_region good = { .guest_addr = 0, .size = VF_MEM_SIZE,
                                        .user_addr = VF_UVA_BASE };
    struct vu_mem_region r;
    struct vu_mem_table two = { .nregions = 2 };
    int fds[2] = { f->memfd, f->memfd };

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "before");

    r = good, r.guest_addr = 0xfffffffffffff000ull, r.size = 0x2000;
    assert_int_not_equal(set_table(f, &r, f->memfd), 0);            /* gpa wraps */
    r = good, r.user_addr = 0xffffffffffff0000ull;
    assert_int_not_equal(set_table(f, &r, f->memfd), 0);            /* uva wraps */
    assert_true(vf_log_wait("user address 0xffffffffffff0000", 0));
    r = good, r.mmap_offset = 0xfffffffffff00000ull;
    assert_int_not_equal(set_table(f, &r, f->memfd), 0);            /* offset wraps */
    r = good, r.size = VF_MEM_SIZE + 4096;
    assert_int_not_equal(set_table(f, &r, f->memfd), 0);            /* past the file */
    r = good, r.mmap_offset = 4096;
    assert_int_not_equal(set_table(f, &r, f->memfd), 0);
    r = good, r.size = 0;
    assert_int_not_equal(set_table(f, &r, f->memfd), 0);
    r = good, r.size = UINT64_MAX;
    assert_int_not_equal(set_table(f, &r, f->memfd), 0);
    {
        int ev = eventfd(0, EFD_CLOEXEC);                           /* not a file */

        assert_int_not_equal(set_table(f, &good, ev), 0);
        close(ev);
    }
    /* Two regions that overlap: the first is good, the table is still refused. */
    two.regions[0] = good;
    two.regions[1] = good;
    two.regions[1].user_addr += VF_MEM_SIZE;
    assert_int_not_equal(vf_req(f, VU_SET_MEM_TABLE, &two, 8 + 64, fds, 2), 0);
    assert_true(vf_log_wait("region 1", 0));

    vf_echo(f, 0, "after, on the old table");
}

/* Replacing the table under a running ring: the ring is stopped, its addresses
 * translated again on the new table, and it runs on. */
static void test_replace_table_running(void **state)
{
    struct vf *f = *state;
    struct vu_mem_region r = { .guest_addr = 0, .size = VF_MEM_SIZE,
                               .user_addr = VF_UVA_BASE + (1ull << 30) };
    struct vhost_vring_addr a;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "first table");
    vf_mem_table(f);
    vf_echo(f, 0, "second table");

    /* A table whose user addresses moved: the ring's old ones are not in it, the
     * ring cannot run until it gets addresses that are. */
    assert_int_equal(set_table(f, &r, f->memfd), 0);
    assert_true(vf_log_wait("are not in guest memory", VF_TIMEOUT));
    a = (struct vhost_vring_addr){
        .index = 0,
        .desc_user_addr = r.user_addr + f->ring[0].desc,
        .avail_user_addr = r.user_addr + f->ring[0].driver,
        .used_user_addr = r.user_addr + f->ring[0].device,
    };
    assert_int_equal(vf_req(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
    vf_echo(f, 0, "moved user addresses");
}

static uint64_t mem_reg(struct vf *f, uint32_t req, uint64_t gpa, uint64_t size,
                        uint64_t uva, uint64_t off, int fd)
{
    struct vu_mem_reg m = { .region = { .guest_addr = gpa, .size = size,
                                        .user_addr = uva, .mmap_offset = off } };

    return vf_req(f, req, &m, sizeof(m), &fd, fd >= 0 ? 1 : 0);
}

static uint64_t add_slot(struct vf *f, unsigned i)
{
    return mem_reg(f, VU_ADD_MEM_REG, i * SLOT, SLOT, VF_UVA_BASE + i * SLOT, i * SLOT,
                   f->memfd);
}

static uint64_t rem_slot(struct vf *f, unsigned i, int fd)
{
    return mem_reg(f, VU_REM_MEM_REG, i * SLOT, SLOT, VF_UVA_BASE + i * SLOT, 0, fd);
}

/* ADD_MEM_REG up to the slots offered and no further; REM_MEM_REG by guest
 * address, user address and size, a stray fd closed; a ring whose memory is
 * removed stops (error fd, NEEDS_RESET) and runs again once it is back. */
static void test_mem_slots(void **state)
{
    struct vf *f = *state;
    struct pollfd p;
    uint64_t v;
    int before, stray;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    assert_int_equal(vf_get_u64(f, VU_GET_MAX_MEM_SLOTS), 8);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(add_slot(f, i), 0);
    assert_int_not_equal(mem_reg(f, VU_ADD_MEM_REG, 64 * SLOT, SLOT,
                                 VF_UVA_BASE + 64 * SLOT, 0, f->memfd), 0);
    assert_true(vf_log_wait("all 8 slots are in use", 0));
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "eight slots");

    vf_sync(f);
    before = test_count_fds();
    stray = eventfd(0, EFD_CLOEXEC);
    assert_int_equal(rem_slot(f, 7, stray), 0);                 /* stray fd closed */
    close(stray);
    vf_sync(f);
    assert_no_fd_leak(before);
    assert_int_equal(add_slot(f, 7), 0);
    assert_int_not_equal(mem_reg(f, VU_REM_MEM_REG, 7 * SLOT, SLOT, VF_UVA_BASE, 0, -1),
                         0);                                        /* wrong uva */
    assert_int_not_equal(mem_reg(f, VU_REM_MEM_REG, 7 * SLOT, SLOT / 2,
                                 VF_UVA_BASE + 7 * SLOT, 0, -1), 0); /* wrong size */
    assert_int_not_equal(mem_reg(f, VU_REM_MEM_REG, 99 * SLOT, SLOT,
                                 VF_UVA_BASE + 99 * SLOT, 0, -1), 0);
    assert_int_not_equal(add_slot(f, 7), 0);                     /* overlaps */
    assert_int_not_equal(mem_reg(f, VU_ADD_MEM_REG, 64 * SLOT, SLOT,
                                 0xffffffffffff0000ull, 0, f->memfd), 0);

    /* The ring's memory goes: it stops and says so; it comes back: it runs. */
    assert_int_equal(rem_slot(f, 2, -1), 0);
    p = (struct pollfd){ .fd = f->ring[0].err, .events = POLLIN };
    assert_int_equal(poll(&p, 1, VF_TIMEOUT), 1);
    assert_int_equal(read(f->ring[0].err, &v, sizeof(v)), (ssize_t)sizeof(v));
    assert_true(vf_get_u64(f, VU_GET_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert_int_equal(add_slot(f, 2), 0);
    vf_echo(f, 0, "memory back");
}

/* The same requests again and again: no fd, no mapping piles up. */
static void test_repeat_no_leak(void **state)
{
    struct vf *f = *state;
    struct vu_log l = { .size = 128 };
    int fds, maps, logfd;
    uint64_t st;

    vf_negotiate(f, 0, VF_PF_DEFAULT);
    vf_mem_table(f);
    vf_ring_setup(f, 0, 256);
    vf_echo(f, 0, "warm up");
    logfd = vf_sealed_memfd("vu-log", 4096);
    vf_send(f, VU_SET_LOG_BASE, 0, &l, sizeof(l), &logfd, 1);
    assert_int_equal(vf_recv(f, VU_SET_LOG_BASE, &st, sizeof(st), NULL), 8);
    close(logfd);
    vf_sync(f);
    fds = test_count_fds();
    maps = test_count_maps(VF_MEM_NAME);

    for (int i = 0; i < 100; i++)
        assert_int_equal(vf_req_state(f, VU_SET_VRING_NUM, 1, 256), 0);
    for (int i = 0; i < 50; i++)
        vf_mem_table(f);
    for (int i = 0; i < 20; i++) {
        int ev[3] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC),
                      eventfd(0, EFD_CLOEXEC) };

        assert_int_equal(vf_req(f, VU_SET_VRING_CALL, &(uint64_t){ 1 }, 8, &ev[0], 1), 0);
        assert_int_equal(vf_req(f, VU_SET_VRING_ERR, &(uint64_t){ 1 }, 8, &ev[1], 1), 0);
        assert_int_equal(vf_req(f, VU_SET_VRING_KICK, &(uint64_t){ 1 }, 8, &ev[2], 1), 0);
        close(ev[0]);
        close(ev[1]);
        close(ev[2]);
        logfd = vf_sealed_memfd("vu-log", 4096);
        vf_send(f, VU_SET_LOG_BASE, 0, &l, sizeof(l), &logfd, 1);
        assert_int_equal(vf_recv(f, VU_SET_LOG_BASE, &st, sizeof(st), NULL), 8);
        assert_int_equal(st, 0);
        close(logfd);
    }
    vf_echo(f, 0, "after the repeats");
    vf_sync(f);
    /* Ring 1 now holds one call, err and kick fd it did not hold before. */
    assert_int_equal(test_count_fds(), fds + 3);
    assert_int_equal(test_count_maps(VF_MEM_NAME), maps);
    assert_int_equal(test_count_maps("vu-log"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_regions_keep_old_table, vf_setup,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_replace_table_running, vf_setup,
                                        vf_teardown),
        cmocka_unit_test_setup_teardown(test_mem_slots, vf_setup_slots8, vf_teardown),
        cmocka_unit_test_setup_teardown(test_repeat_no_leak, vf_setup, vf_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
