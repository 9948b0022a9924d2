/* Alias maps (mem.h): a second address space (vhost-user's IOVAs) over the
 * memory of a source map. Translation to the source's memory, every rejection
 * of vdev_mem_add_alias, neighbours merged into one piece, cuts by
 * vdev_mem_punch, the dirty log at source addresses, and no fd left open. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/dirty.h"
#include "vdev/mem.h"
#include "helpers.h"

#define MIB   (1024ull * 1024)
#define PAGE  4096ull
#define IOVA  0x40000000000ull     /* far from any guest address of the source */

struct fixture {
    struct vdev_mem *src, *tlb;
    int fd;                         /* a 4 MiB memfd: the source's two regions */
    int fds_before;
};

static int setup(void **state)
{
    static struct fixture f;
    struct vdev_mem_region r = { .gpa = 0, .size = 2 * MIB, .access = VDEV_MEM_RW,
                                 .user_addr = 0x7000000000 };

    f.fds_before = test_count_fds();
    f.fd = test_memfd("vdev-test-alias", 4 * MIB);
    r.fd = f.fd;
    assert_int_equal(vdev_mem_new(&f.src), 0);
    assert_int_equal(vdev_mem_new(&f.tlb), 0);
    assert_int_equal(vdev_mem_add(f.src, &r), 0);
    /* A second region right after the first, read-only, from the same file at
     * the same offset continuity: aliases must still not merge across them. */
    r.gpa = 2 * MIB;
    r.fd_offset = 2 * MIB;
    r.access = VDEV_MEM_READ;
    r.user_addr = 0x7000000000 + 2 * MIB;
    assert_int_equal(vdev_mem_add(f.src, &r), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    vdev_mem_free(f->tlb);
    vdev_mem_free(f->src);
    close(f->fd);
    assert_no_fd_leak(f->fds_before);
    return 0;
}

static void *host(struct vdev_mem *m, uint64_t a, uint64_t *len, uint32_t access)
{
    return vdev_mem_translate(m, a, len, access);
}

/* An alias address gives the source's host memory, and only what was aliased. */
static void test_alias_translates_to_source(void **state)
{
    struct fixture *f = *state;
    uint64_t n = PAGE, m = PAGE;

    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, 2 * PAGE, VDEV_MEM_RW, f->src,
                                        0x10000), 0);
    assert_ptr_equal(host(f->tlb, IOVA + 100, &n, VDEV_MEM_RW),
                     host(f->src, 0x10000 + 100, &m, VDEV_MEM_RW));
    n = 4 * PAGE;
    assert_non_null(host(f->tlb, IOVA, &n, VDEV_MEM_READ));
    assert_int_equal(n, 2 * PAGE);                    /* shortened to the alias */
    n = 1;
    assert_null(host(f->tlb, IOVA + 2 * PAGE, &n, VDEV_MEM_READ));
    n = 1;
    assert_null(host(f->tlb, 0x10000, &n, VDEV_MEM_READ));   /* a source address */
    assert_true(vdev_mem_all_sealed(f->tlb) == vdev_mem_all_sealed(f->src));
}

/* Every rejection, each for its own reason, and nothing added by any. */
static void test_alias_rejections(void **state)
{
    struct fixture *f = *state;
    struct vdev_mem *other;
    struct vdev_mem_region r = { .gpa = 0, .size = PAGE, .fd = f->fd,
                                 .access = VDEV_MEM_RW };

    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, 0, VDEV_MEM_READ, f->src, 0),
                     -EINVAL);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, PAGE, 0, f->src, 0), -EINVAL);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, PAGE, 4, f->src, 0), -EINVAL);
    assert_int_equal(vdev_mem_add_alias(f->tlb, UINT64_MAX - 10, PAGE, VDEV_MEM_READ,
                                        f->src, 0), -EOVERFLOW);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, PAGE, VDEV_MEM_READ, f->src,
                                        UINT64_MAX - 10), -EOVERFLOW);
    /* Not in the source, or across its two regions, or past its write access. */
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, PAGE, VDEV_MEM_READ, f->src,
                                        8 * MIB), -EFAULT);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, 2 * PAGE, VDEV_MEM_READ, f->src,
                                        2 * MIB - PAGE), -EFAULT);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, PAGE, VDEV_MEM_WRITE, f->src,
                                        2 * MIB), -EACCES);
    assert_int_equal(vdev_mem_count(f->tlb), 0);

    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, 2 * PAGE, VDEV_MEM_READ, f->src,
                                        0), 0);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + PAGE, 2 * PAGE, VDEV_MEM_READ,
                                        f->src, 0x100000), -EEXIST);
    /* One source per alias map; no plain regions in it, no alias of an alias. */
    assert_int_equal(vdev_mem_new(&other), 0);
    assert_int_equal(vdev_mem_add(other, &r), 0);
    assert_int_equal(vdev_mem_add_alias(f->tlb, 0, PAGE, VDEV_MEM_READ, other, 0),
                     -EINVAL);
    assert_int_equal(vdev_mem_add(f->tlb, &r), -EINVAL);
    assert_int_equal(vdev_mem_add_alias(other, 8 * MIB, PAGE, VDEV_MEM_READ, f->tlb,
                                        IOVA), -EINVAL);
    vdev_mem_free(other);
    assert_int_equal(vdev_mem_count(f->tlb), 1);
}

/* Page-sized entries that continue each other in both address spaces become
 * one region, so a ring area over several translates in one piece; entries
 * that do not (another source region, a gap in the source, another access)
 * stay apart. */
static void test_alias_neighbours_merge(void **state)
{
    struct fixture *f = *state;
    uint64_t n = 4 * PAGE;

    /* Out of order: the middle page last, joining both sides. */
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + 2 * PAGE, PAGE, VDEV_MEM_RW,
                                        f->src, 0x2000), 0);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, PAGE, VDEV_MEM_RW, f->src, 0), 0);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + 3 * PAGE, PAGE, VDEV_MEM_RW,
                                        f->src, 0x3000), 0);
    assert_int_equal(vdev_mem_count(f->tlb), 2);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + PAGE, PAGE, VDEV_MEM_RW, f->src,
                                        0x1000), 0);
    assert_int_equal(vdev_mem_count(f->tlb), 1);
    assert_non_null(host(f->tlb, IOVA, &n, VDEV_MEM_RW));
    assert_int_equal(n, 4 * PAGE);

    /* A gap in the source, another access, another source region: apart. */
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + 4 * PAGE, PAGE, VDEV_MEM_RW,
                                        f->src, 0x8000), 0);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + 5 * PAGE, PAGE, VDEV_MEM_READ,
                                        f->src, 0x9000), 0);
    assert_int_equal(vdev_mem_count(f->tlb), 3);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + 16 * PAGE, PAGE, VDEV_MEM_READ,
                                        f->src, 2 * MIB - PAGE), 0);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA + 17 * PAGE, PAGE, VDEV_MEM_READ,
                                        f->src, 2 * MIB), 0);
    assert_int_equal(vdev_mem_count(f->tlb), 5);
}

/* A punch removes what it covers and keeps what lies outside, cutting an
 * entry in two when it falls in the middle; the rest still translates to the
 * same memory as before. Addresses not mapped are no error. */
static void test_alias_punch(void **state)
{
    struct fixture *f = *state;
    uint64_t n = PAGE, m = PAGE;
    void *before;

    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, 8 * PAGE, VDEV_MEM_RW, f->src,
                                        0x40000), 0);
    before = host(f->tlb, IOVA + 6 * PAGE, &n, VDEV_MEM_READ);
    assert_int_equal(vdev_mem_punch(f->tlb, IOVA + 2 * PAGE, 3 * PAGE), 0);
    assert_int_equal(vdev_mem_count(f->tlb), 2);
    n = 8 * PAGE;
    assert_non_null(host(f->tlb, IOVA, &n, VDEV_MEM_READ));
    assert_int_equal(n, 2 * PAGE);
    for (uint64_t p = 2; p < 5; p++) {
        n = 1;
        assert_null(host(f->tlb, IOVA + p * PAGE, &n, VDEV_MEM_READ));
    }
    n = 8 * PAGE;
    assert_ptr_equal(host(f->tlb, IOVA + 6 * PAGE, &n, VDEV_MEM_READ), before);
    assert_int_equal(n, 2 * PAGE);
    assert_ptr_equal(host(f->src, 0x40000 + 6 * PAGE, &m, VDEV_MEM_READ), before);

    /* Cut the front of one and the back of the other at once. */
    assert_int_equal(vdev_mem_punch(f->tlb, IOVA + PAGE, 6 * PAGE), 0);
    n = 8 * PAGE;
    assert_non_null(host(f->tlb, IOVA, &n, VDEV_MEM_READ));
    assert_int_equal(n, PAGE);
    n = 8 * PAGE;
    assert_non_null(host(f->tlb, IOVA + 7 * PAGE, &n, VDEV_MEM_READ));
    assert_int_equal(n, PAGE);
    assert_int_equal(vdev_mem_punch(f->tlb, 0, 1), 0);      /* nothing there */
    assert_int_equal(vdev_mem_punch(f->tlb, IOVA, 0), -EINVAL);
    assert_int_equal(vdev_mem_punch(f->tlb, UINT64_MAX, 2), -EOVERFLOW);
    assert_int_equal(vdev_mem_punch(f->tlb, 0, UINT64_MAX), 0);  /* everything */
    assert_int_equal(vdev_mem_count(f->tlb), 0);
}

static int note_region(void *opaque, uint64_t gpa, uint64_t size, uint64_t user_addr,
                       uint32_t access)
{
    uint64_t *seen = opaque;

    seen[0]++;
    seen[1] = gpa;
    seen[2] = size;
    seen[3] = user_addr;
    seen[4] = access;
    return 0;
}

/* foreach gives each alias with the user address of its source memory (what
 * the IOTLB is rebuilt from when the memory table changes). */
static void test_alias_foreach(void **state)
{
    struct fixture *f = *state;
    uint64_t seen[5] = { 0 };

    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, PAGE, VDEV_MEM_READ, f->src,
                                        0x5000), 0);
    assert_int_equal(vdev_mem_foreach(f->tlb, note_region, seen), 0);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], IOVA);
    assert_int_equal(seen[2], PAGE);
    assert_int_equal(seen[3], 0x7000000000 + 0x5000);
    assert_int_equal(seen[4], VDEV_MEM_READ);
}

/* A write through the alias map is logged at the source's guest address. */
static void test_alias_dirty_at_source_address(void **state)
{
    struct fixture *f = *state;
    struct vdev_dirty_range range = { .base = 0, .size = 4 * MIB };
    struct vdev_dirty *d;
    uint8_t bits[4 * MIB / PAGE / 8];
    const char msg[] = "through the IOMMU";

    assert_int_equal(vdev_dirty_new(&range, 1, &d), 0);
    vdev_mem_set_dirty_log(f->src, d);
    assert_int_equal(vdev_mem_add_alias(f->tlb, IOVA, 2 * PAGE, VDEV_MEM_RW, f->src,
                                        0x30000), 0);
    assert_ptr_equal(vdev_mem_dirty_log(f->tlb), d);
    assert_int_equal(vdev_mem_write(f->tlb, IOVA + PAGE, msg, sizeof(msg)), 0);
    assert_int_equal(vdev_dirty_report(d, 0, 4 * MIB, PAGE, true, bits, sizeof(bits)), 0);
    for (uint64_t p = 0; p < 4 * MIB / PAGE; p++)
        assert_int_equal((bits[p / 8] >> (p % 8)) & 1, p == 0x31);
    assert_int_equal(vdev_dirty_missed(d), 0);
    vdev_mem_set_dirty_log(f->src, NULL);
    vdev_dirty_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alias_translates_to_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_neighbours_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_punch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_foreach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_dirty_at_source_address, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
