/* frontend_alloc.c — a first-fit allocator of guest addresses, for the rings and
 * buffers a front-end places in the memory it shares. The free space is a sorted
 * array of extents; regions are kept apart by a hole, so no extent spans two. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/mem.h"
#include "frontend_internal.h"

static int grow(struct vuc_alloc *a)
{
    size_t cap = a->cap ? a->cap * 2 : 16;
    struct vuc_extent *e = realloc(a->ext, cap * sizeof(*e));

    if (!e)
        return -ENOMEM;
    a->ext = e;
    a->cap = cap;
    return 0;
}

static int insert_at(struct vuc_alloc *a, size_t i, uint64_t start, uint64_t len)
{
    if (a->n == a->cap && grow(a) < 0)
        return -ENOMEM;
    memmove(&a->ext[i + 1], &a->ext[i], (a->n - i) * sizeof(a->ext[0]));
    a->ext[i] = (struct vuc_extent){ start, len };
    a->n++;
    return 0;
}

static void remove_at(struct vuc_alloc *a, size_t i)
{
    memmove(&a->ext[i], &a->ext[i + 1], (a->n - i - 1) * sizeof(a->ext[0]));
    a->n--;
}

/* Takes [start, start + size) out of extent i, which holds it. */
static int carve(struct vuc_alloc *a, size_t i, uint64_t start, uint64_t size)
{
    struct vuc_extent *e = &a->ext[i];
    uint64_t head = start - e->start;
    uint64_t tail = e->len - head - size;

    if (head && tail) {
        uint64_t tail_start = start + size;

        e->len = head;
        return insert_at(a, i + 1, tail_start, tail);
    }
    if (head) {
        e->len = head;
    } else if (tail) {
        e->start = start + size;
        e->len = tail;
    } else {
        remove_at(a, i);
    }
    return 0;
}

int vuc_alloc_get(struct vuc_alloc *a, uint64_t size, uint64_t align, uint64_t *out)
{
    if (size == 0 || align == 0 || (align & (align - 1)))
        return -EINVAL;
    for (size_t i = 0; i < a->n; i++) {
        struct vuc_extent *e = &a->ext[i];
        uint64_t start = (e->start + align - 1) & ~(align - 1);
        int ret;

        if (start < e->start || start - e->start > e->len ||
            e->len - (start - e->start) < size)
            continue;
        ret = carve(a, i, start, size);
        if (ret < 0)
            return ret;
        *out = start;
        return 0;
    }
    return -ENOMEM;
}

int vuc_alloc_put(struct vuc_alloc *a, uint64_t start, uint64_t len)
{
    size_t i = 0;
    uint64_t end = start + len;

    if (len == 0 || end < start)
        return -EINVAL;
    while (i < a->n && a->ext[i].start < start)
        i++;
    /* No overlap with the free extents on either side: no double free. */
    if (i > 0 && a->ext[i - 1].start + a->ext[i - 1].len > start)
        return -EINVAL;
    if (i < a->n && a->ext[i].start < end)
        return -EINVAL;
    if (i > 0 && a->ext[i - 1].start + a->ext[i - 1].len == start) {
        a->ext[i - 1].len += len;
        if (i < a->n && a->ext[i].start == end) {
            a->ext[i - 1].len += a->ext[i].len;
            remove_at(a, i);
        }
        return 0;
    }
    if (i < a->n && a->ext[i].start == end) {
        a->ext[i].start = start;
        a->ext[i].len += len;
        return 0;
    }
    return insert_at(a, i, start, len);
}

void vuc_alloc_fini(struct vuc_alloc *a)
{
    free(a->ext);
    *a = (struct vuc_alloc){ 0 };
}

/* ---- the public calls ---- */

/* The region that holds all of [gpa, gpa + size), or NULL. */
static const struct vuc_region *region_of(const struct vdev_vuc *c, uint64_t gpa,
                                          uint64_t size)
{
    for (unsigned i = 0; i < c->nregions; i++) {
        const struct vuc_region *r = &c->regions[i];

        if (gpa >= r->gpa && gpa - r->gpa <= r->size && r->size - (gpa - r->gpa) >= size)
            return r;
    }
    return NULL;
}

VDEV_API int vdev_vuc_alloc(struct vdev_vuc *c, uint64_t size, uint64_t align,
                            uint64_t *gpa)
{
    if (!gpa)
        return -EINVAL;
    return vuc_alloc_get(&c->alloc, size, align, gpa);
}

VDEV_API int vdev_vuc_free(struct vdev_vuc *c, uint64_t gpa, uint64_t size)
{
    if (size == 0 || !region_of(c, gpa, size))
        return -EINVAL;
    return vuc_alloc_put(&c->alloc, gpa, size);
}

VDEV_API void *vdev_vuc_host(struct vdev_vuc *c, uint64_t gpa, uint64_t len)
{
    uint64_t got = len;
    void *p;

    if (len == 0)
        return NULL;
    p = vdev_mem_translate(c->mem, gpa, &got, VDEV_MEM_RW);
    return p && got == len ? p : NULL;
}
