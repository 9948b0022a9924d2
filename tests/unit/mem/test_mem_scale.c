/* 100,000 small regions of one memfd, added and removed in shuffled order: each
 * translates to its own page, and they share one mapping (one mmap per region
 * would run into vm.max_map_count, about 65,530). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vdev/mem.h"
#include "helpers.h"

#define REGIONS 100000u
#define PAGE 4096ull

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void shuffle(uint32_t *v, uint32_t n, unsigned seed)
{
    srand(seed);
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rand() % (i + 1), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void test_hundred_thousand_regions(void **state)
{
    int before = test_count_fds();
    int fd = test_memfd("vdev-test-scale", REGIONS * PAGE);
    uint32_t *order = malloc(REGIONS * sizeof(*order));
    uint32_t *guest = mmap(NULL, REGIONS * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct vdev_mem *m;
    double t0, t1, t2, t3;

    assert_non_null(order);
    assert_true(guest != MAP_FAILED);
    for (uint32_t i = 0; i < REGIONS; i++) {
        order[i] = i;
        guest[i * PAGE / 4] = i;   /* each page names itself */
    }
    assert_int_equal(vdev_mem_new(&m), 0);

    /* Region i sits at guest address 2 * i pages (a hole between neighbours) and
     * at file offset i pages. */
    shuffle(order, REGIONS, 1);
    t0 = now();
    for (uint32_t k = 0; k < REGIONS; k++) {
        uint32_t i = order[k];
        struct vdev_mem_region r = { .gpa = 2ull * i * PAGE, .size = PAGE, .fd = fd,
                                     .fd_offset = i * PAGE, .access = VDEV_MEM_RW };
        assert_int_equal(vdev_mem_add(m, &r), 0);
    }
    t1 = now();
    assert_int_equal(vdev_mem_count(m), REGIONS);
    assert_int_equal(test_count_maps("vdev-test-scale"), 2);

    shuffle(order, REGIONS, 2);
    for (uint32_t k = 0; k < REGIONS; k++) {
        uint32_t i = order[k];
        uint64_t len = 8;
        uint32_t *p = vdev_mem_translate(m, 2ull * i * PAGE, &len, VDEV_MEM_READ);
        assert_non_null(p);
        assert_int_equal(*p, i);
        len = 1;
        assert_null(vdev_mem_translate(m, (2ull * i + 1) * PAGE, &len, VDEV_MEM_READ));
    }
    t2 = now();

    shuffle(order, REGIONS, 3);
    for (uint32_t k = 0; k < REGIONS; k++)
        assert_int_equal(vdev_mem_remove(m, 2ull * order[k] * PAGE, PAGE), 0);
    t3 = now();
    assert_int_equal(vdev_mem_count(m), 0);
    assert_int_equal(test_count_maps("vdev-test-scale"), 1);
    printf("# %u regions: add %.0f ns, lookup %.0f ns, remove %.0f ns each\n", REGIONS,
           (t1 - t0) * 1e9 / REGIONS, (t2 - t1) * 1e9 / REGIONS,
           (t3 - t2) * 1e9 / REGIONS);

    vdev_mem_free(m);
    munmap(guest, REGIONS * PAGE);
    close(fd);
    free(order);
    assert_no_fd_leak(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hundred_thousand_regions),
    };
    return cmocka_run_group_tests_name("mem-scale", tests, NULL, NULL);
}
