/* histogram.h — latency histogram with log-linear buckets (HDR-like).
 *
 * Values (nanoseconds) below 2^HIST_SUB_BITS have a bucket each; above, every
 * power of two is split into 2^HIST_SUB_BITS equal buckets, so a bucket is at
 * most 1/64 of its values wide: percentiles are within 1.6% with a fixed 30 KiB
 * of counters and no sorting, however many samples come. */
#ifndef VDEV_BENCH_HISTOGRAM_H
#define VDEV_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS  6
#define HIST_SUB       (1u << HIST_SUB_BITS)
#define HIST_BUCKETS   ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct bench_hist {
    uint64_t count;
    uint64_t sum;          /* for the mean */
    uint64_t min, max;     /* exact */
    uint64_t buckets[HIST_BUCKETS];
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, uint64_t value);
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);

/* The smallest bucket bound below which a fraction p (0..1) of the values lie:
 * an upper estimate of the p-quantile, never above max. 0 when empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double p);
double   bench_hist_mean(const struct bench_hist *h);

/* Bucket arithmetic, exposed for the tests. */
unsigned bench_hist_index(uint64_t value);
uint64_t bench_hist_lower(unsigned index);    /* first value of the bucket */
uint64_t bench_hist_upper(unsigned index);    /* last value of the bucket */

#endif
