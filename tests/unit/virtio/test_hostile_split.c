/* A hostile driver against the split ring: every malformed chain is caught,
 * marks its queue broken for good, touches nothing outside the map, and leaves
 * the other queue on the same memory serving. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vq_fixture.h"

#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT
#define I VRING_DESC_F_INDIRECT

/* The queue is broken with err, stays so, and queue 1 still serves. */
static void assert_broken(struct fx *f, int err)
{
    assert_int_equal(fx_pop(f, 0), err);
    assert_true(vdev_vq_broken(f->q[0].vq));
    assert_int_equal(vdev_vq_error(f->q[0].vq), err);
    assert_int_equal(fx_pop(f, 0), err);

    fx_start(f, 1);
    fx_add(f, 1, 1, 1, 16, false);
    assert_int_equal(fx_serve(f, 1, 0x5a), 1);
    assert_false(vdev_vq_broken(f->q[1].vq));
}

static struct fx *hostile(uint16_t size, bool indirect)
{
    struct fx *f = fx_new(size, false, false, indirect);

    fx_start(f, 0);
    return f;
}

/* An indirect table of n entries at buffer 50, entry i given. */
static struct vring_desc *table(struct fx *f)
{
    return fx_host(f, fx_buf(f, 50));
}

static void set_entry(struct fx *f, unsigned i, uint64_t addr, uint32_t len,
                      uint16_t flags, uint16_t next)
{
    table(f)[i] = (struct vring_desc){ htole64(addr), htole32(len), htole16(flags),
                                       htole16(next) };
}

/* A chain that loops back to its head ends at the queue size. */
static void test_hostile_split_loop(void **state)
{
    struct fx *f = hostile(8, false);

    fx_split_set_desc(f, 0, 0, fx_buf(f, 0), 16, N, 1);
    fx_split_set_desc(f, 0, 1, fx_buf(f, 1), 16, N, 2);
    fx_split_set_desc(f, 0, 2, fx_buf(f, 2), 16, N, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -ELOOP);
    fx_free(f);
}

/* A loop of zero-length descriptors (no iovec to run out of) ends too. */
static void test_hostile_split_zero_length_loop(void **state)
{
    struct fx *f = hostile(8, false);

    fx_split_set_desc(f, 0, 3, fx_buf(f, 0), 0, N, 3);
    fx_split_offer(f, 0, 3);
    assert_broken(f, -ELOOP);
    fx_free(f);
}

/* A chain through every descriptor of the table is the longest valid one. */
static void test_hostile_split_longest_chain(void **state)
{
    struct fx *f = hostile(8, false);

    for (uint16_t i = 0; i < 8; i++)
        fx_split_set_desc(f, 0, i, fx_buf(f, i), 8, i < 7 ? N : 0, (uint16_t)(i + 1));
    fx_split_offer(f, 0, 0);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.n_out, 8);
    fx_free(f);
}

static void test_hostile_split_head_range(void **state)
{
    struct fx *f = hostile(8, false);

    fx_split_offer(f, 0, 8);
    assert_broken(f, -ERANGE);
    fx_free(f);
}

static void test_hostile_split_next_range(void **state)
{
    struct fx *f = hostile(8, false);

    fx_split_set_desc(f, 0, 0, fx_buf(f, 0), 16, N, 8);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -ERANGE);
    fx_free(f);
}

/* The available index may be at most the queue size ahead. */
static void test_hostile_split_avail_jump(void **state)
{
    struct fx *f = hostile(8, false);
    struct vring_avail *a = fx_split_avail(f, 0);

    for (uint16_t i = 0; i < 8; i++) {
        fx_split_set_desc(f, 0, i, fx_buf(f, i), 8, 0, 0);
        a->ring[i] = htole16(i);
    }
    a->idx = htole16(9);
    assert_broken(f, -ERANGE);
    fx_free(f);
}

static void test_hostile_split_avail_full_ring(void **state)
{
    struct fx *f = hostile(8, false);
    struct vring_avail *a = fx_split_avail(f, 0);

    for (uint16_t i = 0; i < 8; i++) {
        fx_split_set_desc(f, 0, i, fx_buf(f, i), 8, 0, 0);
        a->ring[i] = htole16(i);
    }
    a->idx = htole16(8);
    assert_int_equal(fx_serve(f, 0, 0), 8);
    fx_free(f);
}

/* A driver that offers a head again before it came back has more requests out
 * than the ring holds. */
static void test_hostile_split_too_many_outstanding(void **state)
{
    struct fx *f = hostile(4, false);
    struct vdev_vq_req r[4];
    struct iovec iov[4];
    uint64_t gpa[4];

    for (uint16_t i = 0; i < 4; i++) {
        fx_split_set_desc(f, 0, i, fx_buf(f, i), 8, 0, 0);
        fx_split_offer(f, 0, i);
        r[i] = (struct vdev_vq_req){ .iov = &iov[i], .iov_gpa = &gpa[i], .iov_cap = 1 };
        assert_int_equal(vdev_vq_pop(f->q[0].vq, &r[i]), 1);
    }
    fx_split_offer(f, 0, 0);
    assert_broken(f, -ERANGE);
    fx_free(f);
}

static void test_hostile_split_indirect_without_feature(void **state)
{
    struct fx *f = hostile(8, false);

    set_entry(f, 0, fx_buf(f, 0), 16, 0, 0);
    fx_split_set_desc(f, 0, 0, fx_buf(f, 50), 16, I, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void test_hostile_split_indirect_with_next(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 16, 0, 0);
    fx_split_set_desc(f, 0, 0, fx_buf(f, 50), 16, I | N, 1);
    fx_split_set_desc(f, 0, 1, fx_buf(f, 1), 16, 0, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void test_hostile_split_nested_indirect(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 16, N, 1);
    set_entry(f, 1, fx_buf(f, 50), 32, I, 0);       /* points at its own table */
    fx_split_set_desc(f, 0, 0, fx_buf(f, 50), 32, I, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void check_table_len(uint32_t len, int err)
{
    struct fx *f = hostile(8, true);

    for (unsigned i = 0; i < 16; i++)
        set_entry(f, i, fx_buf(f, i), 8, 0, 0);
    fx_split_set_desc(f, 0, 0, fx_buf(f, 50), len, I, 0);
    fx_split_offer(f, 0, 0);
    if (err) {
        assert_broken(f, err);
    } else {
        assert_int_equal(fx_pop(f, 0), 1);
        assert_int_equal(f->req.n_out, 1);
    }
    fx_free(f);
}

static void test_hostile_split_indirect_len_zero(void **state)
{
    check_table_len(0, -EINVAL);
}

static void test_hostile_split_indirect_len_not_multiple(void **state)
{
    check_table_len(24, -EINVAL);
}

static void test_hostile_split_indirect_len_too_big(void **state)
{
    check_table_len(9 * 16, -EINVAL);
}

static void test_hostile_split_indirect_len_max(void **state)
{
    check_table_len(8 * 16, 0);
}

static void test_hostile_split_indirect_loop(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 16, N, 1);
    set_entry(f, 1, fx_buf(f, 1), 16, N, 0);
    fx_split_set_desc(f, 0, 0, fx_buf(f, 50), 32, I, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -ELOOP);
    fx_free(f);
}

static void test_hostile_split_indirect_next_range(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 16, N, 2);        /* the table has 2 entries */
    set_entry(f, 2, fx_buf(f, 2), 16, 0, 0);
    fx_split_set_desc(f, 0, 0, fx_buf(f, 50), 32, I, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -ERANGE);
    fx_free(f);
}

static void test_hostile_split_indirect_table_unmapped(void **state)
{
    struct fx *f = hostile(8, true);

    fx_split_set_desc(f, 0, 0, FX_HOLE_GPA, 32, I, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EFAULT);
    fx_free(f);
}

/* The table may cross into another region: read entry by entry, then the
 * part past the end of memory fails. */
static void test_hostile_split_indirect_table_runs_off(void **state)
{
    struct fx *f = hostile(8, true);
    uint64_t end = FX_GPA_BASE + f->mem_size;
    struct vring_desc *t = fx_host(f, end - 16);

    *t = (struct vring_desc){ htole64(fx_buf(f, 0)), htole32(8), htole16(N), htole16(1) };
    fx_split_set_desc(f, 0, 0, end - 16, 32, I, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EFAULT);
    fx_free(f);
}

static void check_buffer(uint64_t addr, uint32_t len, uint16_t flags, int err)
{
    struct fx *f = hostile(8, false);

    fx_split_set_desc(f, 0, 0, addr, len, flags, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, err);
    fx_free(f);
}

static void test_hostile_split_buffer_unmapped(void **state)
{
    check_buffer(FX_HOLE_GPA, 16, 0, -EFAULT);
}

static void test_hostile_split_buffer_runs_off(void **state)
{
    check_buffer(FX_RO_GPA + FX_RO_SIZE - 8, 16, 0, -EFAULT);
}

static void test_hostile_split_buffer_wraps(void **state)
{
    check_buffer(UINT64_MAX - 8, 16, W, -EFAULT);
}

/* A writable descriptor in memory the device may only read. */
static void test_hostile_split_write_to_readonly(void **state)
{
    check_buffer(FX_RO_GPA, 16, W, -EACCES);
}

static void test_hostile_split_read_after_write(void **state)
{
    struct fx *f = hostile(8, false);

    fx_split_set_desc(f, 0, 0, fx_buf(f, 0), 16, W | N, 1);
    fx_split_set_desc(f, 0, 1, fx_buf(f, 1), 16, 0, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

/* Lengths that add up past 2^32 - 1 bytes: a sparse 4 GiB region makes the
 * first descriptor valid. */
static void test_hostile_split_length_overflow(void **state)
{
    struct fx *f = hostile(8, false);
    const uint64_t big_gpa = 0x100000000ull, big_size = 0x100001000ull;
    int fd = test_memfd("vq-big", big_size);
    struct vdev_mem_region big = {
        .gpa = big_gpa, .size = big_size, .fd = fd, .access = VDEV_MEM_RW,
    };

    assert_int_equal(vdev_mem_add(f->mem, &big), 0);
    close(fd);
    fx_split_set_desc(f, 0, 0, big_gpa, UINT32_MAX, N, 1);
    fx_split_set_desc(f, 0, 1, big_gpa, 1, 0, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EOVERFLOW);
    fx_free(f);
}

/* More segments than the device's iovecs: nothing consumed, not broken, the
 * array is not written past its capacity, and a bigger array takes it. */
static void test_hostile_split_iov_capacity(void **state)
{
    struct fx *f = hostile(8, false);
    struct iovec iov[4] = { [2] = { (void *)0x1234, 99 } };
    uint64_t gpa[4] = { [2] = 77 };
    struct vdev_vq_req r = { .iov = iov, .iov_gpa = gpa, .iov_cap = 2 };

    fx_add(f, 0, 1, 2, 8, false);
    assert_int_equal(vdev_vq_pop(f->q[0].vq, &r), -ENOBUFS);
    assert_false(vdev_vq_broken(f->q[0].vq));
    assert_ptr_equal(iov[2].iov_base, (void *)0x1234);
    assert_int_equal(gpa[2], 77);
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0);
    assert_int_equal(vdev_vq_pop(f->q[0].vq, &r), -ENOBUFS);

    r.iov_cap = 3;
    assert_int_equal(vdev_vq_pop(f->q[0].vq, &r), 1);
    assert_int_equal(r.n_out + r.n_in, 3);
    fx_free(f);
}

/* The same, when the extra segments come from a buffer split across regions. */
static void test_hostile_split_iov_capacity_regions(void **state)
{
    struct fx *f = hostile(8, false);
    int fd = test_memfd("vq-next", 0x10000);
    struct vdev_mem_region next = {
        .gpa = FX_GPA_BASE + f->mem_size, .size = 0x10000, .fd = fd, .access = VDEV_MEM_RW,
    };

    assert_int_equal(vdev_mem_add(f->mem, &next), 0);
    close(fd);
    fx_split_set_desc(f, 0, 0, next.gpa - 8, 16, 0, 0);
    fx_split_offer(f, 0, 0);
    f->req.iov_cap = 1;
    assert_int_equal(fx_pop(f, 0), -ENOBUFS);
    assert_false(vdev_vq_broken(f->q[0].vq));
    f->req.iov_cap = 2;
    assert_int_equal(fx_pop(f, 0), 1);
    fx_free(f);
}

/* A broken queue stays broken though the guest repairs the ring; a restart
 * (after the device reset) serves again. */
static void test_hostile_split_broken_until_restart(void **state)
{
    struct fx *f = hostile(8, false);

    fx_split_set_desc(f, 0, 0, FX_HOLE_GPA, 16, 0, 0);
    fx_split_offer(f, 0, 0);
    assert_broken(f, -EFAULT);
    fx_split_set_desc(f, 0, 0, fx_buf(f, 0), 16, 0, 0);
    assert_int_equal(fx_pop(f, 0), -EFAULT);
    assert_int_equal(vdev_vq_push(f->q[0].vq, &f->req, 0), -EFAULT);
    assert_false(vdev_vq_should_notify(f->q[0].vq));

    vdev_vq_stop(f->q[0].vq);
    fx_start(f, 0);
    assert_false(vdev_vq_broken(f->q[0].vq));
    assert_int_equal(fx_pop(f, 0), 1);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_split_loop),
        cmocka_unit_test(test_hostile_split_zero_length_loop),
        cmocka_unit_test(test_hostile_split_longest_chain),
        cmocka_unit_test(test_hostile_split_head_range),
        cmocka_unit_test(test_hostile_split_next_range),
        cmocka_unit_test(test_hostile_split_avail_jump),
        cmocka_unit_test(test_hostile_split_avail_full_ring),
        cmocka_unit_test(test_hostile_split_too_many_outstanding),
        cmocka_unit_test(test_hostile_split_indirect_without_feature),
        cmocka_unit_test(test_hostile_split_indirect_with_next),
        cmocka_unit_test(test_hostile_split_nested_indirect),
        cmocka_unit_test(test_hostile_split_indirect_len_zero),
        cmocka_unit_test(test_hostile_split_indirect_len_not_multiple),
        cmocka_unit_test(test_hostile_split_indirect_len_too_big),
        cmocka_unit_test(test_hostile_split_indirect_len_max),
        cmocka_unit_test(test_hostile_split_indirect_loop),
        cmocka_unit_test(test_hostile_split_indirect_next_range),
        cmocka_unit_test(test_hostile_split_indirect_table_unmapped),
        cmocka_unit_test(test_hostile_split_indirect_table_runs_off),
        cmocka_unit_test(test_hostile_split_buffer_unmapped),
        cmocka_unit_test(test_hostile_split_buffer_runs_off),
        cmocka_unit_test(test_hostile_split_buffer_wraps),
        cmocka_unit_test(test_hostile_split_write_to_readonly),
        cmocka_unit_test(test_hostile_split_read_after_write),
        cmocka_unit_test(test_hostile_split_length_overflow),
        cmocka_unit_test(test_hostile_split_iov_capacity),
        cmocka_unit_test(test_hostile_split_iov_capacity_regions),
        cmocka_unit_test(test_hostile_split_broken_until_restart),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
