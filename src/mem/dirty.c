/* dirty.c — the dirty-page log: one bit per 4 KiB page, set atomically. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/dirty.h"

struct dirty_range {
    uint64_t base;
    uint64_t last;       /* base + size - 1 */
    uint8_t *bits;
};

struct vdev_dirty {
    size_t n;
    struct dirty_range *ranges;   /* sorted by base */
    bool owned;                   /* bits allocated here, not the caller's */
    uint64_t missed;              /* atomic */
};

#define PAGE_MASK (VDEV_DIRTY_PAGE_SIZE - 1)

static int range_cmp(const void *pa, const void *pb)
{
    const struct dirty_range *a = pa, *b = pb;

    return a->base < b->base ? -1 : a->base > b->base;
}

static struct vdev_dirty *dirty_alloc(size_t n)
{
    struct vdev_dirty *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->ranges = calloc(n, sizeof(*d->ranges));
    if (!d->ranges) {
        free(d);
        return NULL;
    }
    d->n = n;
    return d;
}

VDEV_API void vdev_dirty_free(struct vdev_dirty *d)
{
    if (!d)
        return;
    if (d->owned)
        for (size_t i = 0; i < d->n; i++)
            free(d->ranges[i].bits);
    free(d->ranges);
    free(d);
}

VDEV_API int vdev_dirty_new(const struct vdev_dirty_range *ranges, size_t n,
                            struct vdev_dirty **out)
{
    struct vdev_dirty *d;

    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        uint64_t last;
        if (ranges[i].size == 0 || (ranges[i].base & PAGE_MASK) ||
            (ranges[i].size & PAGE_MASK))
            return -EINVAL;
        if (__builtin_add_overflow(ranges[i].base, ranges[i].size - 1, &last))
            return -EOVERFLOW;
    }
    d = dirty_alloc(n);
    if (!d)
        return -ENOMEM;
    d->owned = true;
    for (size_t i = 0; i < n; i++) {
        d->ranges[i].base = ranges[i].base;
        d->ranges[i].last = ranges[i].base + (ranges[i].size - 1);
    }
    qsort(d->ranges, n, sizeof(*d->ranges), range_cmp);
    for (size_t i = 0; i < n; i++) {
        uint64_t pages = (d->ranges[i].last - d->ranges[i].base) / VDEV_DIRTY_PAGE_SIZE + 1;
        if (i > 0 && d->ranges[i].base <= d->ranges[i - 1].last) {
            vdev_dirty_free(d);
            return -EINVAL;
        }
        d->ranges[i].bits = calloc(1, (pages + 7) / 8);
        if (!d->ranges[i].bits) {
            vdev_dirty_free(d);
            return -ENOMEM;
        }
    }
    *out = d;
    return 0;
}

VDEV_API int vdev_dirty_wrap(void *bitmap, uint64_t bytes, struct vdev_dirty **out)
{
    struct vdev_dirty *d;

    if (!bitmap || bytes == 0)
        return -EINVAL;
    /* bytes * 8 pages of 4 KiB must fit in 64 bits of address. */
    if (bytes > (UINT64_MAX >> (VDEV_DIRTY_PAGE_SHIFT + 3)) + 1)
        return -EOVERFLOW;
    d = dirty_alloc(1);
    if (!d)
        return -ENOMEM;
    d->ranges[0].base = 0;
    d->ranges[0].last = (bytes << (VDEV_DIRTY_PAGE_SHIFT + 3)) - 1;
    d->ranges[0].bits = bitmap;
    *out = d;
    return 0;
}

/* Sets bits [first, last] of a bitmap, whole bytes at a time where it can. */
static void bits_set(uint8_t *bits, uint64_t first, uint64_t last)
{
    uint64_t i = first;

    while (i <= last) {
        if ((i & 7) == 0 && last - i >= 7) {
            __atomic_fetch_or(&bits[i >> 3], 0xff, __ATOMIC_RELAXED);
            i += 8;
        } else {
            __atomic_fetch_or(&bits[i >> 3], (uint8_t)(1u << (i & 7)), __ATOMIC_RELAXED);
            i++;
        }
    }
}

/* The first range that ends at or after gpa. */
static size_t range_search(const struct vdev_dirty *d, uint64_t gpa)
{
    size_t lo = 0, hi = d->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->ranges[mid].last < gpa)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

VDEV_API void vdev_dirty_mark(struct vdev_dirty *d, uint64_t gpa, uint64_t len)
{
    uint64_t last, covered = 0;

    if (len == 0)
        return;
    if (__builtin_add_overflow(gpa, len - 1, &last))
        last = UINT64_MAX;
    for (size_t i = range_search(d, gpa); i < d->n && d->ranges[i].base <= last; i++) {
        const struct dirty_range *r = &d->ranges[i];
        uint64_t lo = gpa > r->base ? gpa : r->base;
        uint64_t hi = last < r->last ? last : r->last;

        bits_set(r->bits, (lo - r->base) >> VDEV_DIRTY_PAGE_SHIFT,
                 (hi - r->base) >> VDEV_DIRTY_PAGE_SHIFT);
        covered += hi - lo + 1;
    }
    if (covered != last - gpa + 1 || last - gpa + 1 != len)
        __atomic_fetch_add(&d->missed, 1, __ATOMIC_RELAXED);
}

VDEV_API int vdev_dirty_report(struct vdev_dirty *d, uint64_t gpa, uint64_t len,
                               uint64_t page_size, bool clear, uint8_t *out,
                               size_t out_bytes)
{
    const struct dirty_range *r;
    uint64_t last, first_bit, last_bit, shift;
    size_t i;

    if (page_size < VDEV_DIRTY_PAGE_SIZE || (page_size & (page_size - 1)) ||
        len == 0 || (gpa & (page_size - 1)) || (len & (page_size - 1)))
        return -EINVAL;
    if (__builtin_add_overflow(gpa, len - 1, &last))
        return -EINVAL;
    i = range_search(d, gpa);
    if (i == d->n || d->ranges[i].base > gpa || d->ranges[i].last < last)
        return -ENOENT;
    if (out_bytes < (len / page_size + 7) / 8)
        return -ENOBUFS;
    r = &d->ranges[i];
    shift = (uint64_t)__builtin_ctzll(page_size) - VDEV_DIRTY_PAGE_SHIFT;
    first_bit = (gpa - r->base) >> VDEV_DIRTY_PAGE_SHIFT;
    last_bit = (last - r->base) >> VDEV_DIRTY_PAGE_SHIFT;
    memset(out, 0, (len / page_size + 7) / 8);

    for (uint64_t byte = first_bit >> 3; byte <= last_bit >> 3; byte++) {
        uint8_t mask = 0xff, v;

        /* Only the bits of this report's range: a neighbour's stay as they are. */
        if (byte == first_bit >> 3)
            mask &= (uint8_t)(0xff << (first_bit & 7));
        if (byte == last_bit >> 3)
            mask &= (uint8_t)(0xff >> (7 - (last_bit & 7)));
        if (clear)
            v = __atomic_fetch_and(&r->bits[byte], (uint8_t)~mask, __ATOMIC_ACQ_REL) & mask;
        else
            v = __atomic_load_n(&r->bits[byte], __ATOMIC_ACQUIRE) & mask;
        while (v) {
            uint64_t bit = (byte << 3) + (uint64_t)__builtin_ctz(v);
            uint64_t page = (bit - first_bit) >> shift;
            out[page >> 3] |= (uint8_t)(1u << (page & 7));
            v &= (uint8_t)(v - 1);
        }
    }
    return 0;
}

VDEV_API uint64_t vdev_dirty_missed(const struct vdev_dirty *d)
{
    return __atomic_load_n(&d->missed, __ATOMIC_RELAXED);
}
