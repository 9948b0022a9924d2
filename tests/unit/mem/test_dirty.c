/* The dirty log: its bit layout, its ranges, its reports, and no bit lost when the
 * device marks while the VMM reports and clears. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/dirty.h"
#include "helpers.h"

#define PAGE VDEV_DIRTY_PAGE_SIZE

static void test_new_rejects(void **state)
{
    struct vdev_dirty *d;
    struct vdev_dirty_range r[2] = { { 0, PAGE }, { PAGE, PAGE } };

    assert_int_equal(vdev_dirty_new(r, 0, &d), -EINVAL);
    r[0] = (struct vdev_dirty_range){ 0, 0 };
    assert_int_equal(vdev_dirty_new(r, 1, &d), -EINVAL);
    r[0] = (struct vdev_dirty_range){ 100, PAGE };
    assert_int_equal(vdev_dirty_new(r, 1, &d), -EINVAL);
    r[0] = (struct vdev_dirty_range){ 0, PAGE + 1 };
    assert_int_equal(vdev_dirty_new(r, 1, &d), -EINVAL);
    r[0] = (struct vdev_dirty_range){ UINT64_MAX - PAGE + 1 - PAGE, 2 * PAGE };
    assert_int_equal(vdev_dirty_new(r, 1, &d), 0);   /* ends exactly at 2^64 */
    vdev_dirty_free(d);
    r[0] = (struct vdev_dirty_range){ UINT64_MAX - PAGE + 1, 2 * PAGE };
    assert_int_equal(vdev_dirty_new(r, 1, &d), -EOVERFLOW);
    r[0] = (struct vdev_dirty_range){ 0, 2 * PAGE };  /* overlaps r[1] */
    assert_int_equal(vdev_dirty_new(r, 2, &d), -EINVAL);
    assert_int_equal(vdev_dirty_wrap(NULL, 8, &d), -EINVAL);
}

/* The wrapped log has vhost-user's layout: page p is bit p % 8 of byte p / 8. */
static void test_wrap_layout(void **state)
{
    uint8_t log[4] = { 0 };
    struct vdev_dirty *d;

    assert_int_equal(vdev_dirty_wrap(log, sizeof(log), &d), 0);
    vdev_dirty_mark(d, 5 * PAGE + 17, 1);
    assert_int_equal(log[0], 1 << 5);
    vdev_dirty_mark(d, 8 * PAGE - 1, 2);          /* straddles pages 7 and 8 */
    assert_int_equal(log[0], (1 << 5) | (1 << 7));
    assert_int_equal(log[1], 1);
    vdev_dirty_mark(d, 16 * PAGE, 8 * PAGE);       /* a whole byte */
    assert_int_equal(log[2], 0xff);
    assert_int_equal(log[3], 0);
    vdev_dirty_mark(d, 0, 0);
    assert_int_equal(log[0], (1 << 5) | (1 << 7));
    assert_int_equal(vdev_dirty_missed(d), 0);
    vdev_dirty_mark(d, 32 * PAGE, 1);             /* past the log */
    assert_int_equal(vdev_dirty_missed(d), 1);
    vdev_dirty_mark(d, 31 * PAGE, 2 * PAGE);      /* half past */
    assert_int_equal(log[3], 0x80);
    assert_int_equal(vdev_dirty_missed(d), 2);
    vdev_dirty_free(d);
}

/* A write over two ranges and the hole between them marks both and counts the
 * hole as missed. */
static void test_ranges(void **state)
{
    struct vdev_dirty_range r[2] = { { 64 * PAGE, 4 * PAGE }, { 0, 4 * PAGE } };
    struct vdev_dirty *d;
    uint8_t out[1];

    assert_int_equal(vdev_dirty_new(r, 2, &d), 0);
    vdev_dirty_mark(d, 3 * PAGE, 62 * PAGE);
    assert_int_equal(vdev_dirty_report(d, 0, 4 * PAGE, PAGE, false, out, 1), 0);
    assert_int_equal(out[0], 0x8);
    assert_int_equal(vdev_dirty_report(d, 64 * PAGE, 4 * PAGE, PAGE, false, out, 1), 0);
    assert_int_equal(out[0], 0x1);
    assert_int_equal(vdev_dirty_missed(d), 1);
    vdev_dirty_free(d);
}

static void test_report_rejects(void **state)
{
    struct vdev_dirty_range r[2] = { { 0, 64 * PAGE }, { 64 * PAGE, 64 * PAGE } };
    struct vdev_dirty *d;
    uint8_t out[16];

    assert_int_equal(vdev_dirty_new(r, 2, &d), 0);
    assert_int_equal(vdev_dirty_report(d, 0, 64 * PAGE, 3 * PAGE, false, out, 16), -EINVAL);
    assert_int_equal(vdev_dirty_report(d, 0, 64 * PAGE, 2048, false, out, 16), -EINVAL);
    assert_int_equal(vdev_dirty_report(d, 100, PAGE, PAGE, false, out, 16), -EINVAL);
    assert_int_equal(vdev_dirty_report(d, 0, 0, PAGE, false, out, 16), -EINVAL);
    assert_int_equal(vdev_dirty_report(d, 32 * PAGE, 64 * PAGE, PAGE, false, out, 16), -ENOENT);
    assert_int_equal(vdev_dirty_report(d, 128 * PAGE, PAGE, PAGE, false, out, 16), -ENOENT);
    assert_int_equal(vdev_dirty_report(d, 0, 64 * PAGE, PAGE, false, out, 7), -ENOBUFS);
    assert_int_equal(vdev_dirty_report(d, 0, 64 * PAGE, PAGE, false, out, 8), 0);
    vdev_dirty_free(d);
}

/* A report in 2 MiB pages shows a page dirty if any 4 KiB page in it is; a
 * clearing report takes only its own bits. */
static void test_report_large_pages_and_clear(void **state)
{
    const uint64_t huge = 2ull << 20;
    struct vdev_dirty_range r = { 0, 8 * huge };
    struct vdev_dirty *d;
    uint8_t out[1];

    assert_int_equal(vdev_dirty_new(&r, 1, &d), 0);
    vdev_dirty_mark(d, 1 * huge + 5 * PAGE, 1);
    vdev_dirty_mark(d, 6 * huge - 1, 1);
    assert_int_equal(vdev_dirty_report(d, 0, 8 * huge, huge, false, out, 1), 0);
    assert_int_equal(out[0], (1 << 1) | (1 << 5));

    /* Clear one 4 KiB page's worth next to the marked one: the mark stays. */
    vdev_dirty_mark(d, 1 * huge + 4 * PAGE, 1);
    assert_int_equal(vdev_dirty_report(d, 1 * huge + 4 * PAGE, PAGE, PAGE, true, out, 1), 0);
    assert_int_equal(out[0], 1);
    assert_int_equal(vdev_dirty_report(d, 1 * huge + 4 * PAGE, 2 * PAGE, PAGE, false, out, 1), 0);
    assert_int_equal(out[0], 0x2);

    assert_int_equal(vdev_dirty_report(d, 0, 8 * huge, huge, true, out, 1), 0);
    assert_int_equal(out[0], (1 << 1) | (1 << 5));
    assert_int_equal(vdev_dirty_report(d, 0, 8 * huge, huge, false, out, 1), 0);
    assert_int_equal(out[0], 0);
    vdev_dirty_free(d);
}

#define RACE_PAGES 4096
#define RACE_MARKS 200000

struct racer {
    struct vdev_dirty *d;
    unsigned seed;
    uint8_t marked[RACE_PAGES / 8];
};

static void *race_marker(void *arg)
{
    struct racer *r = arg;

    for (int i = 0; i < RACE_MARKS; i++) {
        unsigned p = (unsigned)rand_r(&r->seed) % RACE_PAGES;
        r->marked[p / 8] |= (uint8_t)(1u << (p % 8));
        vdev_dirty_mark(r->d, (uint64_t)p * PAGE, 1);
    }
    return NULL;
}

/* Two threads mark while the main thread reports with clear: every marked page
 * shows up in some report. */
static void test_no_bit_lost_under_race(void **state)
{
    struct vdev_dirty_range range = { 0, RACE_PAGES * PAGE };
    static struct racer racers[2];
    uint8_t seen[RACE_PAGES / 8] = { 0 }, out[RACE_PAGES / 8];
    pthread_t t[2];
    bool joined[2] = { false, false };

    assert_int_equal(vdev_dirty_new(&range, 1, &racers[0].d), 0);
    racers[1].d = racers[0].d;
    for (int i = 0; i < 2; i++) {
        racers[i].seed = (unsigned)i + 1;
        memset(racers[i].marked, 0, sizeof(racers[i].marked));
        assert_int_equal(pthread_create(&t[i], NULL, race_marker, &racers[i]), 0);
    }
    while (!joined[0] || !joined[1]) {
        /* Joined before the report, so the last round sees every mark. */
        for (int i = 0; i < 2; i++)
            if (!joined[i] && pthread_tryjoin_np(t[i], NULL) == 0)
                joined[i] = true;
        assert_int_equal(vdev_dirty_report(racers[0].d, 0, RACE_PAGES * PAGE, PAGE, true,
                                           out, sizeof(out)), 0);
        for (size_t i = 0; i < sizeof(out); i++)
            seen[i] |= out[i];
    }
    for (size_t i = 0; i < sizeof(seen); i++)
        assert_int_equal(seen[i], racers[0].marked[i] | racers[1].marked[i]);
    vdev_dirty_free(racers[0].d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_wrap_layout),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_report_rejects),
        cmocka_unit_test(test_report_large_pages_and_clear),
        cmocka_unit_test(test_no_bit_lost_under_race),
    };
    return cmocka_run_group_tests_name("dirty", tests, NULL, NULL);
}
