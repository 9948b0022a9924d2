/* alias.c — alias maps (mem.h): regions that point at memory another map has
 * mapped, under addresses of their own, and the cuts an IOTLB invalidation makes.
 *
 * An alias region is a plain struct mem_region whose map is NULL: translate,
 * iovec, read and write work on it unchanged. What differs is where its writes
 * are logged (log_gpa: the source's address, so the dirty log stays in guest
 * physical addresses) and that nothing is unmapped when it goes. */
#include <errno.h>
#include <stdlib.h>

#include "vdev/dirty.h"
#include "mem_internal.h"

/* Whether alias region b starts where alias region a ends, in both address
 * spaces, with the same access, both inside source region from: then one
 * region can hold both. */
static bool continues(struct vdev_mem *src, const struct mem_region *a,
                      const struct mem_region *b, const struct mem_region *from)
{
    uint64_t n = a->last - a->gpa + 1;

    return a->last + 1 == b->gpa && a->access == b->access && a->hva + n == b->hva &&
           a->log_gpa + n == b->log_gpa && mem_region_find(src, a->log_gpa) == from &&
           mem_region_find(src, b->log_gpa) == from;
}

VDEV_API int vdev_mem_add_alias(struct vdev_mem *m, uint64_t gpa, uint64_t size,
                                uint32_t access, struct vdev_mem *src, uint64_t src_gpa)
{
    struct mem_region *from, *reg, *prev = NULL, *next = NULL;
    uint64_t last, end, off;
    int ret;

    if (size == 0 || access == 0 || (access & ~VDEV_MEM_RW) || !src || src == m ||
        src->alias_src)
        return -EINVAL;
    if (m->mappings || (m->count && m->alias_src != src))
        return -EINVAL;
    if (__builtin_add_overflow(gpa, size - 1, &last) ||
        __builtin_add_overflow(src_gpa, size - 1, &end))
        return -EOVERFLOW;
    from = mem_region_find(src, src_gpa);
    if (!from || from->last - src_gpa < size - 1)
        return -EFAULT;
    if ((from->access & access) != access)
        return -EACCES;
    if (mem_range_used(m, gpa, last))
        return -EEXIST;
    off = src_gpa - from->gpa;

    /* Entries that continue each other (an IOTLB sends one per IOMMU page) make
     * one region, so a ring area that spans several is still one piece. */
    struct mem_region piece = {
        .gpa = gpa, .last = last, .user_addr = from->user_addr + off,
        .log_gpa = from->log_gpa + off, .hva = from->hva + off, .access = access,
    };

    if (gpa > 0)
        prev = mem_region_find(m, gpa - 1);
    if (last < UINT64_MAX)
        next = mem_region_find(m, last + 1);
    if (prev && !continues(src, prev, &piece, from))
        prev = NULL;
    if (next && !continues(src, &piece, next, from))
        next = NULL;
    if (prev) {
        if (next) {
            last = next->last;
            mem_region_drop(m, next);      /* first: regions never overlap */
        }
        prev->last = last;
        return 0;
    }
    if (next) {
        next->gpa = gpa;
        next->user_addr = piece.user_addr;
        next->log_gpa = piece.log_gpa;
        next->hva = piece.hva;
        return 0;
    }

    reg = malloc(sizeof(*reg));
    if (!reg)
        return -ENOMEM;
    *reg = piece;
    ret = mem_region_insert(m, reg);
    if (ret < 0) {
        free(reg);
        return ret;
    }
    m->alias_src = src;
    return 0;
}

/* Moves the start of reg up to gpa (inside it): the tree's order is unchanged,
 * since the range only shrinks. */
static void cut_front(struct mem_region *reg, uint64_t gpa)
{
    uint64_t off = gpa - reg->gpa;

    reg->gpa = gpa;
    reg->user_addr += off;
    reg->log_gpa += off;
    reg->hva += off;
}

/* The part of reg after last, as a new region (sharing reg's mapping), in the
 * tree. reg must already end at or before last. */
static int insert_tail(struct vdev_mem *m, const struct mem_region *orig,
                       struct mem_region *tail, uint64_t last)
{
    int ret;

    *tail = *orig;
    cut_front(tail, last + 1);
    ret = mem_region_insert(m, tail);
    if (ret == 0 && tail->map)
        tail->map->refs++;
    return ret;
}

VDEV_API int vdev_mem_punch(struct vdev_mem *m, uint64_t gpa, uint64_t size)
{
    struct mem_region *reg, *next, *tail = NULL;
    uint64_t last;

    if (size == 0)
        return -EINVAL;
    if (__builtin_add_overflow(gpa, size - 1, &last))
        return -EOVERFLOW;

    /* A region that straddles both ends is the one case that needs a new region:
     * done first, so that -ENOMEM leaves the map as it was. */
    reg = mem_region_find(m, gpa);
    if (reg && reg->gpa < gpa && reg->last > last) {
        struct mem_region orig = *reg;
        int ret;

        tail = malloc(sizeof(*tail));
        if (!tail)
            return -ENOMEM;
        reg->last = gpa - 1;                /* out of the way of the tail */
        ret = insert_tail(m, &orig, tail, last);
        if (ret < 0) {
            reg->last = orig.last;
            free(tail);
            return ret;
        }
        return 0;
    }
    for (reg = m->regions; reg; reg = next) {
        next = reg->next;
        if (reg->last < gpa || reg->gpa > last)
            continue;
        if (reg->gpa < gpa)
            reg->last = gpa - 1;            /* keep the front */
        else if (reg->last > last)
            cut_front(reg, last + 1);       /* keep the back */
        else
            mem_region_drop(m, reg);
    }
    return 0;
}

VDEV_API int vdev_mem_foreach(struct vdev_mem *m, vdev_mem_region_fn fn, void *opaque)
{
    for (struct mem_region *reg = m->regions; reg; reg = reg->next) {
        int ret = fn(opaque, reg->gpa, reg->last - reg->gpa + 1, reg->user_addr,
                     reg->access);

        if (ret)
            return ret;
    }
    return 0;
}

void mem_alias_mark_dirty(struct vdev_mem *m, uint64_t gpa, uint64_t len)
{
    struct vdev_dirty *d = vdev_mem_dirty_log(m);

    while (d && len) {
        struct mem_region *reg = mem_region_find(m, gpa);
        uint64_t n = len;

        if (!reg)
            return;                         /* nothing was written there */
        if (reg->last - gpa < n - 1)
            n = reg->last - gpa + 1;
        vdev_dirty_mark(d, reg->log_gpa + (gpa - reg->gpa), n);
        if (n == len || gpa + n == 0)
            return;
        gpa += n;
        len -= n;
    }
}
