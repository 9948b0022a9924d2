/* vdev-bench's latency histogram: buckets tile the values with no gap or
 * overlap, are at most 1/64 of their values wide, and quantiles come out as
 * upper bounds within that width of the exact order statistic. */
#include <stdlib.h>

#include "helpers.h"
#include "../../../tools/vdev-bench/histogram.h"

/* Every bucket starts one past the end of the one before, from 0 to 2^64 - 1. */
static void test_buckets_tile(void **state)
{
    (void)state;
    assert_int_equal(bench_hist_lower(0), 0);
    for (unsigned i = 1; i < HIST_BUCKETS; i++)
        assert_true(bench_hist_lower(i) == bench_hist_upper(i - 1) + 1);
    assert_true(bench_hist_upper(HIST_BUCKETS - 1) == UINT64_MAX);
}

/* A value lands in the bucket whose bounds hold it; a bucket is narrow. */
static void test_index_bounds(void **state)
{
    uint64_t v = 0;

    (void)state;
    for (unsigned k = 0; k < 200000; k++) {
        unsigned i = bench_hist_index(v);

        assert_true(i < HIST_BUCKETS);
        assert_true(bench_hist_lower(i) <= v && v <= bench_hist_upper(i));
        assert_true(bench_hist_upper(i) - bench_hist_lower(i) <=
                    bench_hist_lower(i) / HIST_SUB);
        v = v < 1000 ? v + 1 : v + v / 997 + (k & 7);
    }
    assert_int_equal(bench_hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Quantiles against a sorted copy: never below the true order statistic,
 * never more than a bucket's width (1/64) above it. */
static void test_quantiles(void **state)
{
    enum { N = 100000 };
    static const double ps[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
    uint64_t *v = malloc(N * sizeof(*v));
    struct bench_hist *h = malloc(sizeof(*h));
    uint64_t x = 88172645463325252ull;

    (void)state;
    assert_non_null(v);
    assert_non_null(h);
    bench_hist_init(h);
    for (unsigned i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = 20000 + x % 5000 + (i % 100 == 0 ? x % 2000000 : 0);  /* a tail */
        bench_hist_add(h, v[i]);
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    assert_int_equal(h->count, N);
    assert_true(h->min == v[0] && h->max == v[N - 1]);
    for (unsigned k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        uint64_t exact = v[(size_t)(ps[k] * N + 0.999999) - 1];
        uint64_t q = bench_hist_quantile(h, ps[k]);

        assert_true(q >= exact);
        assert_true(q - exact <= exact / HIST_SUB);
    }
    assert_true(bench_hist_quantile(h, 1.0) == v[N - 1]);
    free(v);
    free(h);
}

/* Merging two histograms equals adding every value to one. */
static void test_merge(void **state)
{
    struct bench_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)),
                      *all = malloc(sizeof(*all));

    (void)state;
    bench_hist_init(a);
    bench_hist_init(b);
    bench_hist_init(all);
    for (uint64_t i = 1; i < 5000; i++) {
        bench_hist_add(i & 1 ? a : b, i * 37);
        bench_hist_add(all, i * 37);
    }
    bench_hist_merge(a, b);
    assert_memory_equal(a, all, sizeof(*a));
    assert_int_equal(bench_hist_quantile(b, 0.5) > 0, 1);
    free(a);
    free(b);
    free(all);
}

/* An empty histogram answers 0, not garbage. */
static void test_empty(void **state)
{
    struct bench_hist h;

    (void)state;
    bench_hist_init(&h);
    assert_int_equal(bench_hist_quantile(&h, 0.99), 0);
    assert_true(bench_hist_mean(&h) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_tile),
        cmocka_unit_test(test_index_bounds),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
