/* histogram.c — log-linear latency buckets (see histogram.h). */
#include <string.h>

#include "histogram.h"

void bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Bucket e * SUB + m: e = 0 holds 0..SUB-1 one value each; e >= 1 holds the
 * values whose top bit is bit e + SUB_BITS - 1, m their next SUB_BITS bits. */
unsigned bench_hist_index(uint64_t v)
{
    unsigned msb, e;

    if (v < HIST_SUB)
        return (unsigned)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    e = msb - HIST_SUB_BITS + 1;
    return e * HIST_SUB + (unsigned)((v >> (e - 1)) - HIST_SUB);
}

uint64_t bench_hist_lower(unsigned i)
{
    unsigned e = i / HIST_SUB, m = i % HIST_SUB;

    if (e == 0)
        return m;
    return ((uint64_t)HIST_SUB + m) << (e - 1);
}

uint64_t bench_hist_upper(unsigned i)
{
    unsigned e = i / HIST_SUB;

    return e == 0 ? bench_hist_lower(i) : bench_hist_lower(i) + (1ull << (e - 1)) - 1;
}

void bench_hist_add(struct bench_hist *h, uint64_t v)
{
    h->buckets[bench_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double p)
{
    uint64_t want, seen = 0;

    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    /* The rank of the p-quantile, 1-based, rounded up: ceil(p * count). */
    want = (uint64_t)(p * (double)h->count);
    if ((double)want < p * (double)h->count)
        want++;
    if (want > h->count)
        want = h->count;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= want) {
            uint64_t up = bench_hist_upper(i);
            return up < h->max ? up : h->max;
        }
    }
    return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
