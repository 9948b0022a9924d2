/* The region map: every rejection of vdev_mem_add, translation bounds and access,
 * iovecs across regions, removal, and no fd left open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/dirty.h"
#include "vdev/mem.h"
#include "helpers.h"

#define MIB (1024ull * 1024)

struct fixture {
    struct vdev_mem *m;
    int fd;              /* a 4 MiB memfd */
    uint8_t *guest;      /* the same memfd as the test's "guest" sees it */
    int fds_before;
};

static int setup(void **state)
{
    static struct fixture f;

    f.fds_before = test_count_fds();
    f.fd = test_memfd("vdev-test-mem", 4 * MIB);
    f.guest = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
    assert_true(f.guest != MAP_FAILED);
    assert_int_equal(vdev_mem_new(&f.m), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    vdev_mem_free(f->m);
    munmap(f->guest, 4 * MIB);
    close(f->fd);
    assert_no_fd_leak(f->fds_before);
    return 0;
}

static struct vdev_mem_region region(int fd, uint64_t gpa, uint64_t size,
                                     uint64_t off, uint32_t access)
{
    return (struct vdev_mem_region){ .gpa = gpa, .size = size, .fd = fd,
                                     .fd_offset = off, .access = access };
}

static int add(struct fixture *f, uint64_t gpa, uint64_t size, uint64_t off,
               uint32_t access)
{
    struct vdev_mem_region r = region(f->fd, gpa, size, off, access);
    return vdev_mem_add(f->m, &r);
}

/* A translated pointer is the guest's byte, and the length stops at the region's
 * end. */
static void test_translate_bounds(void **state)
{
    struct fixture *f = *state;
    uint64_t len = 100;
    uint8_t *p;

    assert_int_equal(add(f, 0x10000, MIB, 0x1000, VDEV_MEM_RW), 0);
    f->guest[0x1000 + 0x20] = 0xab;
    p = vdev_mem_translate(f->m, 0x10020, &len, VDEV_MEM_READ);
    assert_non_null(p);
    assert_int_equal(len, 100);
    assert_int_equal(*p, 0xab);

    len = 4096;
    p = vdev_mem_translate(f->m, 0x10000 + MIB - 10, &len, VDEV_MEM_READ);
    assert_non_null(p);
    assert_int_equal(len, 10);

    len = 1;
    assert_null(vdev_mem_translate(f->m, 0x10000 + MIB, &len, VDEV_MEM_READ));
    assert_int_equal(len, 0);
    len = 1;
    assert_null(vdev_mem_translate(f->m, 0xffff, &len, VDEV_MEM_READ));
    len = 0;
    assert_null(vdev_mem_translate(f->m, 0x10000, &len, VDEV_MEM_READ));
}

static void test_reject_zero_size(void **state)
{
    assert_int_equal(add(*state, 0x1000, 0, 0, VDEV_MEM_RW), -EINVAL);
}

static void test_reject_bad_access(void **state)
{
    assert_int_equal(add(*state, 0x1000, 4096, 0, 0), -EINVAL);
    assert_int_equal(add(*state, 0x1000, 4096, 0, VDEV_MEM_RW | 0x8), -EINVAL);
}

static void test_reject_gpa_wrap(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(add(f, UINT64_MAX - 4095, 8192, 0, VDEV_MEM_RW), -EOVERFLOW);
    /* Ending exactly at 2^64 is not a wrap. */
    assert_int_equal(add(f, UINT64_MAX - 4095, 4096, 0, VDEV_MEM_RW), 0);
    uint64_t len = 4096;
    assert_non_null(vdev_mem_translate(f->m, UINT64_MAX, &len, VDEV_MEM_READ));
    assert_int_equal(len, 1);
}

static void test_reject_offset_wrap(void **state)
{
    assert_int_equal(add(*state, 0, 8192, UINT64_MAX - 4095, VDEV_MEM_RW), -EOVERFLOW);
}

static void test_reject_past_end_of_fd(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(add(f, 0, 4096, 4 * MIB, VDEV_MEM_RW), -ERANGE);
    assert_int_equal(add(f, 0, 4 * MIB + 4096, 0, VDEV_MEM_RW), -ERANGE);
    assert_int_equal(add(f, 0, 8192, 4 * MIB - 4096, VDEV_MEM_RW), -ERANGE);
    assert_int_equal(add(f, 0, 4096, 4 * MIB - 4096, VDEV_MEM_RW), 0);
}

static void test_reject_bad_fd(void **state)
{
    struct fixture *f = *state;
    struct vdev_mem_region r = region(-1, 0, 4096, 0, VDEV_MEM_RW);
    int p[2];

    assert_int_equal(vdev_mem_add(f->m, &r), -EBADF);
    r.fd = 1000;                          /* not open */
    assert_int_equal(vdev_mem_add(f->m, &r), -EBADF);
    assert_int_equal(pipe(p), 0);
    r.fd = p[0];
    assert_int_equal(vdev_mem_add(f->m, &r), -ENODEV);
    close(p[0]);
    close(p[1]);
}

/* Every shape of overlap is refused, and a neighbour that only touches is not. */
static void test_reject_overlap(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(add(f, 0x100000, 0x10000, 0, VDEV_MEM_RW), 0);
    assert_int_equal(add(f, 0x100000, 0x10000, 0, VDEV_MEM_RW), -EEXIST);
    assert_int_equal(add(f, 0x0ff000, 0x2000, 0, VDEV_MEM_RW), -EEXIST);
    assert_int_equal(add(f, 0x10f000, 0x2000, 0, VDEV_MEM_RW), -EEXIST);
    assert_int_equal(add(f, 0x104000, 0x1000, 0, VDEV_MEM_RW), -EEXIST);
    assert_int_equal(add(f, 0x0f0000, 0x40000, 0, VDEV_MEM_RW), -EEXIST);
    assert_int_equal(add(f, 0x0ff000, 0x1000, 0, VDEV_MEM_RW), 0);
    assert_int_equal(add(f, 0x110000, 0x1000, 0, VDEV_MEM_RW), 0);
    assert_int_equal(vdev_mem_count(f->m), 3);
}

/* A writable region needs an fd opened for writing. */
static void test_reject_readonly_fd_for_write(void **state)
{
    struct fixture *f = *state;
    char path[64];
    int ro;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
    ro = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(ro >= 0);
    struct vdev_mem_region r = region(ro, 0, 4096, 0, VDEV_MEM_RW);
    assert_int_equal(vdev_mem_add(f->m, &r), -EACCES);
    r.access = VDEV_MEM_READ;
    assert_int_equal(vdev_mem_add(f->m, &r), 0);
    close(ro);
}

/* A read-only region translates for reading only; iovec tells a missing page
 * (-EFAULT) from a forbidden one (-EACCES). */
static void test_access_checked(void **state)
{
    struct fixture *f = *state;
    struct iovec iov[4];
    uint64_t len = 16;

    assert_int_equal(add(f, 0x0, 0x1000, 0, VDEV_MEM_READ), 0);
    assert_non_null(vdev_mem_translate(f->m, 0x10, &len, VDEV_MEM_READ));
    len = 16;
    assert_null(vdev_mem_translate(f->m, 0x10, &len, VDEV_MEM_WRITE));
    assert_int_equal(vdev_mem_iovec(f->m, 0x10, 16, VDEV_MEM_WRITE, iov, 4), -EACCES);
    assert_int_equal(vdev_mem_iovec(f->m, 0x10, 0x1000, VDEV_MEM_READ, iov, 4), -EFAULT);
    assert_int_equal(vdev_mem_write(f->m, 0x10, "x", 1), -EACCES);
}

/* A range over three adjacent regions (from different file offsets) becomes three
 * iovecs that carry the guest's bytes in order. */
static void test_iovec_spans_regions(void **state)
{
    struct fixture *f = *state;
    struct iovec iov[3];
    uint8_t out[0x3000];

    assert_int_equal(add(f, 0x0000, 0x1000, 0x3000, VDEV_MEM_RW), 0);
    assert_int_equal(add(f, 0x1000, 0x1000, 0x1000, VDEV_MEM_RW), 0);
    assert_int_equal(add(f, 0x2000, 0x1000, 0x5000, VDEV_MEM_RW), 0);
    memset(f->guest + 0x3000, 'a', 0x1000);
    memset(f->guest + 0x1000, 'b', 0x1000);
    memset(f->guest + 0x5000, 'c', 0x1000);

    assert_int_equal(vdev_mem_iovec(f->m, 0x800, 0x2000, VDEV_MEM_READ, iov, 3), 3);
    assert_int_equal(iov[0].iov_len, 0x800);
    assert_int_equal(iov[1].iov_len, 0x1000);
    assert_int_equal(iov[2].iov_len, 0x800);
    assert_int_equal(((uint8_t *)iov[0].iov_base)[0], 'a');
    assert_int_equal(((uint8_t *)iov[1].iov_base)[0], 'b');
    assert_int_equal(((uint8_t *)iov[2].iov_base)[0], 'c');
    assert_int_equal(vdev_mem_iovec(f->m, 0x800, 0x2000, VDEV_MEM_READ, iov, 2), -ENOBUFS);
    assert_int_equal(vdev_mem_iovec(f->m, 0x800, 0x3000, VDEV_MEM_READ, iov, 3), -EFAULT);
    assert_int_equal(vdev_mem_iovec(f->m, UINT64_MAX, 2, VDEV_MEM_READ, iov, 3), -EFAULT);
    assert_int_equal(vdev_mem_iovec(f->m, 0, 0, VDEV_MEM_READ, iov, 3), 0);

    assert_int_equal(vdev_mem_read(f->m, 0, out, sizeof(out)), 0);
    assert_int_equal(out[0xfff], 'a');
    assert_int_equal(out[0x1000], 'b');
    assert_int_equal(out[0x2fff], 'c');
}

/* A write that would run off the map writes nothing at all. */
static void test_write_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[0x2000];

    memset(buf, 'z', sizeof(buf));
    assert_int_equal(add(f, 0, 0x1000, 0, VDEV_MEM_RW), 0);
    assert_int_equal(vdev_mem_write(f->m, 0x800, buf, 0x1000), -EFAULT);
    assert_int_equal(f->guest[0x800], 0);
    assert_int_equal(vdev_mem_write(f->m, 0x800, buf, 0x800), 0);
    assert_int_equal(f->guest[0x800], 'z');
}

/* Removal needs the exact region, and afterwards nothing translates there even
 * though it was the cached last hit. */
static void test_remove(void **state)
{
    struct fixture *f = *state;
    uint64_t len = 1;

    assert_int_equal(add(f, 0x4000, 0x2000, 0, VDEV_MEM_RW), 0);
    assert_non_null(vdev_mem_translate(f->m, 0x4000, &len, VDEV_MEM_READ));
    assert_int_equal(vdev_mem_remove(f->m, 0x4000, 0x1000), -ENOENT);
    assert_int_equal(vdev_mem_remove(f->m, 0x5000, 0x1000), -ENOENT);
    assert_int_equal(vdev_mem_remove(f->m, 0x8000, 0x2000), -ENOENT);
    assert_int_equal(vdev_mem_remove(f->m, 0x4000, 0), -ENOENT);
    assert_int_equal(vdev_mem_remove(f->m, 0x4000, 0x2000), 0);
    len = 1;
    assert_null(vdev_mem_translate(f->m, 0x4000, &len, VDEV_MEM_READ));
    assert_int_equal(vdev_mem_count(f->m), 0);
    /* The same range can be mapped again. */
    assert_int_equal(add(f, 0x4000, 0x2000, 0, VDEV_MEM_RW), 0);
}

/* The VMM's addresses of a region map back to guest addresses. */
static void test_uva_to_gpa(void **state)
{
    struct fixture *f = *state;
    struct vdev_mem_region r = region(f->fd, 0x100000, 0x10000, 0, VDEV_MEM_RW);
    uint64_t gpa = 0;

    r.user_addr = 0x7f0000000000;
    assert_int_equal(vdev_mem_add(f->m, &r), 0);
    assert_int_equal(vdev_mem_uva_to_gpa(f->m, 0x7f0000000010, &gpa), 0);
    assert_int_equal(gpa, 0x100010);
    assert_int_equal(vdev_mem_uva_to_gpa(f->m, 0x7f000000ffff, &gpa), 0);
    assert_int_equal(gpa, 0x10ffff);
    assert_int_equal(vdev_mem_uva_to_gpa(f->m, 0x7f0000010000, &gpa), -EFAULT);
    assert_int_equal(vdev_mem_uva_to_gpa(f->m, 0x7effffffffff, &gpa), -EFAULT);
}

/* vdev_mem_write records what it wrote in the attached dirty log. */
static void test_write_marks_dirty(void **state)
{
    struct fixture *f = *state;
    struct vdev_dirty_range range = { 0, 4 * MIB };
    struct vdev_dirty *d;
    uint8_t bits[128] = { 0 };

    assert_int_equal(vdev_dirty_new(&range, 1, &d), 0);
    assert_int_equal(add(f, 0, 4 * MIB, 0, VDEV_MEM_RW), 0);
    vdev_mem_set_dirty_log(f->m, d);
    assert_int_equal(vdev_mem_write(f->m, 0x5ffe, "ab", 2), 0);
    assert_int_equal(vdev_mem_write(f->m, 0x6000, "ab", 0), 0);
    assert_int_equal(vdev_dirty_report(d, 0, 4 * MIB, 4096, false, bits, sizeof(bits)), 0);
    assert_int_equal(bits[0], 1 << 5);
    for (size_t i = 1; i < sizeof(bits); i++)
        assert_int_equal(bits[i], 0);
    vdev_mem_set_dirty_log(f->m, NULL);
    vdev_dirty_free(d);
}

/* Sealing is noticed per file. */
static void test_sealed(void **state)
{
    struct fixture *f = *state;
    int sealed = test_memfd("vdev-test-sealed", 8192);

    assert_int_equal(fcntl(sealed, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    struct vdev_mem_region r = region(sealed, 0x100000, 8192, 0, VDEV_MEM_RW);
    assert_int_equal(vdev_mem_add(f->m, &r), 0);
    assert_true(vdev_mem_all_sealed(f->m));
    assert_int_equal(add(f, 0, 4096, 0, VDEV_MEM_RW), 0);
    assert_false(vdev_mem_all_sealed(f->m));
    close(sealed);
}

/* Regions of one file share one mapping, even when each came with its own fd;
 * the mapping goes when its last region does, and no fd is kept. */
static void test_regions_share_mapping(void **state)
{
    struct fixture *f = *state;
    int before = test_count_fds();

    for (int i = 0; i < 64; i++) {
        int fd = dup(f->fd);
        struct vdev_mem_region r = region(fd, (uint64_t)i * 0x10000, 0x1000,
                                          (uint64_t)i * 0x1000, VDEV_MEM_RW);
        assert_int_equal(vdev_mem_add(f->m, &r), 0);
        close(fd);
    }
    assert_int_equal(test_count_fds(), before);
    assert_int_equal(test_count_maps("vdev-test-mem"), 2); /* ours + the fixture's */
    f->guest[5 * 0x1000] = 0x5a;
    uint64_t len = 1;
    uint8_t *p = vdev_mem_translate(f->m, 5 * 0x10000, &len, VDEV_MEM_READ);
    assert_non_null(p);
    assert_int_equal(*p, 0x5a);
    vdev_mem_clear(f->m);
    assert_int_equal(test_count_maps("vdev-test-mem"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_translate_bounds),
        T(test_reject_zero_size),
        T(test_reject_bad_access),
        T(test_reject_gpa_wrap),
        T(test_reject_offset_wrap),
        T(test_reject_past_end_of_fd),
        T(test_reject_bad_fd),
        T(test_reject_overlap),
        T(test_reject_readonly_fd_for_write),
        T(test_access_checked),
        T(test_iovec_spans_regions),
        T(test_write_all_or_nothing),
        T(test_remove),
        T(test_uva_to_gpa),
        T(test_write_marks_dirty),
        T(test_sealed),
        T(test_regions_share_mapping),
#undef T
    };
    return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
