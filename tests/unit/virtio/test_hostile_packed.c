/* A hostile driver against the packed ring: every malformed buffer is caught,
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
    struct fx *f = fx_new(size, true, false, indirect);

    fx_start(f, 0);
    return f;
}

/* Descriptor pos of the first lap (wrap counter 1). */
static void put(struct fx *f, uint16_t pos, uint64_t addr, uint32_t len, uint16_t id,
                uint16_t flags)
{
    fx_packed_put(f, 0, pos, addr, len, id, flags, true);
}

static struct vring_packed_desc *table(struct fx *f)
{
    return fx_host(f, fx_buf(f, 50));
}

static void set_entry(struct fx *f, unsigned i, uint64_t addr, uint32_t len,
                      uint16_t flags)
{
    table(f)[i] = (struct vring_packed_desc){ htole64(addr), htole32(len), 0,
                                              htole16(flags) };
}

/* Every descriptor of the ring chained: the chain is cut at the ring size. */
static void test_hostile_packed_chain_too_long(void **state)
{
    struct fx *f = hostile(4, false);

    for (uint16_t i = 4; i-- > 0;)
        put(f, i, fx_buf(f, i), 8, 0, N);
    assert_broken(f, -ELOOP);
    fx_free(f);
}

/* A chain of every slot, ending in the last, is the longest valid one. */
static void test_hostile_packed_longest_chain(void **state)
{
    struct fx *f = hostile(4, false);

    for (uint16_t i = 4; i-- > 0;)
        put(f, i, fx_buf(f, i), 8, 0, i < 3 ? N : 0);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.ndesc, 4);
    fx_free(f);
}

/* The head is available but the next descriptor of its chain is not. */
static void test_hostile_packed_partial_chain(void **state)
{
    struct fx *f = hostile(8, false);

    put(f, 0, fx_buf(f, 0), 8, 0, N);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void test_hostile_packed_id_range(void **state)
{
    struct fx *f = hostile(8, false);

    put(f, 1, fx_buf(f, 1), 8, 8, 0);            /* the id is in the last one */
    put(f, 0, fx_buf(f, 0), 8, 0, N);
    assert_broken(f, -ERANGE);
    fx_free(f);
}

/* A driver that makes slots available again before they came back has more
 * descriptors out than the ring holds. */
static void test_hostile_packed_too_many_outstanding(void **state)
{
    struct fx *f = hostile(4, false);
    struct vdev_vq_req r[4];
    struct iovec iov[4];
    uint64_t gpa[4];

    for (uint16_t i = 0; i < 4; i++) {
        put(f, i, fx_buf(f, i), 8, i, 0);
        r[i] = (struct vdev_vq_req){ .iov = &iov[i], .iov_gpa = &gpa[i], .iov_cap = 1 };
        assert_int_equal(vdev_vq_pop(f->q[0].vq, &r[i]), 1);
    }
    fx_packed_put(f, 0, 0, fx_buf(f, 0), 8, 0, 0, false);   /* second lap */
    assert_broken(f, -ERANGE);
    fx_free(f);
}

static void test_hostile_packed_indirect_without_feature(void **state)
{
    struct fx *f = hostile(8, false);

    set_entry(f, 0, fx_buf(f, 0), 8, 0);
    put(f, 0, fx_buf(f, 50), 16, 0, I);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void test_hostile_packed_indirect_with_next(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 8, 0);
    put(f, 1, fx_buf(f, 1), 8, 0, 0);
    put(f, 0, fx_buf(f, 50), 16, 0, I | N);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

/* 2.8.19: no indirect descriptor in a list linked by NEXT. */
static void test_hostile_packed_indirect_behind_chain(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 8, 0);
    put(f, 1, fx_buf(f, 50), 16, 0, I);
    put(f, 0, fx_buf(f, 1), 8, 0, N);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void test_hostile_packed_nested_indirect(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 8, 0);
    set_entry(f, 1, fx_buf(f, 50), 32, I);
    put(f, 0, fx_buf(f, 50), 32, 0, I);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void check_table_len(uint32_t len, int err)
{
    struct fx *f = hostile(8, true);

    for (unsigned i = 0; i < 16; i++)
        set_entry(f, i, fx_buf(f, i), 8, 0);
    put(f, 0, fx_buf(f, 50), len, 0, I);
    if (err) {
        assert_broken(f, err);
    } else {
        assert_int_equal(fx_pop(f, 0), 1);
        assert_int_equal(f->req.n_out, len / 16);
    }
    fx_free(f);
}

static void test_hostile_packed_indirect_len_zero(void **state)
{
    check_table_len(0, -EINVAL);
}

static void test_hostile_packed_indirect_len_not_multiple(void **state)
{
    check_table_len(40, -EINVAL);
}

static void test_hostile_packed_indirect_len_too_big(void **state)
{
    check_table_len(9 * 16, -EINVAL);
}

static void test_hostile_packed_indirect_len_max(void **state)
{
    check_table_len(8 * 16, 0);
}

static void test_hostile_packed_indirect_table_unmapped(void **state)
{
    struct fx *f = hostile(8, true);

    put(f, 0, FX_HOLE_GPA, 32, 0, I);
    assert_broken(f, -EFAULT);
    fx_free(f);
}

static void check_buffer(uint64_t addr, uint32_t len, uint16_t flags, int err)
{
    struct fx *f = hostile(8, false);

    put(f, 0, addr, len, 0, flags);
    assert_broken(f, err);
    fx_free(f);
}

static void test_hostile_packed_buffer_unmapped(void **state)
{
    check_buffer(FX_HOLE_GPA, 16, 0, -EFAULT);
}

static void test_hostile_packed_buffer_wraps(void **state)
{
    check_buffer(UINT64_MAX - 8, 16, 0, -EFAULT);
}

static void test_hostile_packed_write_to_readonly(void **state)
{
    check_buffer(FX_RO_GPA, 16, W, -EACCES);
}

static void test_hostile_packed_read_after_write(void **state)
{
    struct fx *f = hostile(8, false);

    put(f, 1, fx_buf(f, 1), 8, 0, 0);
    put(f, 0, fx_buf(f, 0), 8, 0, W | N);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void test_hostile_packed_indirect_read_after_write(void **state)
{
    struct fx *f = hostile(8, true);

    set_entry(f, 0, fx_buf(f, 0), 8, W);
    set_entry(f, 1, fx_buf(f, 1), 8, 0);
    put(f, 0, fx_buf(f, 50), 32, 0, I);
    assert_broken(f, -EINVAL);
    fx_free(f);
}

static void test_hostile_packed_length_overflow(void **state)
{
    struct fx *f = hostile(8, true);
    const uint64_t big_gpa = 0x100000000ull, big_size = 0x100001000ull;
    int fd = test_memfd("vq-big", big_size);
    struct vdev_mem_region big = {
        .gpa = big_gpa, .size = big_size, .fd = fd, .access = VDEV_MEM_RW,
    };

    assert_int_equal(vdev_mem_add(f->mem, &big), 0);
    close(fd);
    set_entry(f, 0, big_gpa, UINT32_MAX, 0);
    set_entry(f, 1, big_gpa, 1, 0);
    put(f, 0, fx_buf(f, 50), 32, 0, I);
    assert_broken(f, -EOVERFLOW);
    fx_free(f);
}

/* More segments than the device's iovecs: nothing consumed, not broken. */
static void test_hostile_packed_iov_capacity(void **state)
{
    struct fx *f = hostile(8, true);

    fx_add(f, 0, 2, 2, 8, true);
    f->req.iov_cap = 3;
    assert_int_equal(fx_pop(f, 0), -ENOBUFS);
    assert_false(vdev_vq_broken(f->q[0].vq));
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x80008000u);
    f->req.iov_cap = 4;
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x80008001u);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_packed_chain_too_long),
        cmocka_unit_test(test_hostile_packed_longest_chain),
        cmocka_unit_test(test_hostile_packed_partial_chain),
        cmocka_unit_test(test_hostile_packed_id_range),
        cmocka_unit_test(test_hostile_packed_too_many_outstanding),
        cmocka_unit_test(test_hostile_packed_indirect_without_feature),
        cmocka_unit_test(test_hostile_packed_indirect_with_next),
        cmocka_unit_test(test_hostile_packed_indirect_behind_chain),
        cmocka_unit_test(test_hostile_packed_nested_indirect),
        cmocka_unit_test(test_hostile_packed_indirect_len_zero),
        cmocka_unit_test(test_hostile_packed_indirect_len_not_multiple),
        cmocka_unit_test(test_hostile_packed_indirect_len_too_big),
        cmocka_unit_test(test_hostile_packed_indirect_len_max),
        cmocka_unit_test(test_hostile_packed_indirect_table_unmapped),
        cmocka_unit_test(test_hostile_packed_buffer_unmapped),
        cmocka_unit_test(test_hostile_packed_buffer_wraps),
        cmocka_unit_test(test_hostile_packed_write_to_readonly),
        cmocka_unit_test(test_hostile_packed_read_after_write),
        cmocka_unit_test(test_hostile_packed_indirect_read_after_write),
        cmocka_unit_test(test_hostile_packed_length_overflow),
        cmocka_unit_test(test_hostile_packed_iov_capacity),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
