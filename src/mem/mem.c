/* mem.c — the region map: add, remove, translate.
 *
 * Regions are kept in a balanced tree (glibc's tsearch is a red-black tree) keyed
 * by guest range; since regions never overlap, "overlaps" is "equal" to the tree,
 * which makes insertion reject overlaps for free and lookup O(log n). The last
 * region hit is cached for the common case of a ring that touches one region. */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/dirty.h"
#include "vdev/log.h"
#include "mem_internal.h"

static int region_cmp(const void *pa, const void *pb)
{
    const struct mem_region *a = pa, *b = pb;

    if (a->last < b->gpa)
        return -1;
    if (a->gpa > b->last)
        return 1;
    return 0;
}

VDEV_API int vdev_mem_new(struct vdev_mem **out)
{
    struct vdev_mem *m = calloc(1, sizeof(*m));

    if (!m)
        return -ENOMEM;
    *out = m;
    return 0;
}

VDEV_API void vdev_mem_free(struct vdev_mem *m)
{
    if (!m)
        return;
    vdev_mem_clear(m);
    free(m);
}

VDEV_API size_t vdev_mem_count(const struct vdev_mem *m)
{
    return m->count;
}

static int region_check(const struct vdev_mem_region *r)
{
    uint64_t end;

    if (r->size == 0)
        return -EINVAL;
    if (r->access == 0 || (r->access & ~VDEV_MEM_RW))
        return -EINVAL;
    /* gpa + size may be exactly 2^64 (a region ending at the top), not more. */
    if (__builtin_add_overflow(r->gpa, r->size - 1, &end))
        return -EOVERFLOW;
    if (__builtin_add_overflow(r->fd_offset, r->size, &end))
        return -EOVERFLOW;
    return 0;
}

bool mem_range_used(struct vdev_mem *m, uint64_t gpa, uint64_t last)
{
    struct mem_region key = { .gpa = gpa, .last = last };

    return tfind(&key, &m->index, region_cmp) != NULL;
}

int mem_region_insert(struct vdev_mem *m, struct mem_region *reg)
{
    if (tfind(reg, &m->index, region_cmp))
        return -EEXIST;
    if (!tsearch(reg, &m->index, region_cmp))
        return -ENOMEM;
    reg->prev = NULL;
    reg->next = m->regions;
    if (m->regions)
        m->regions->prev = reg;
    m->regions = reg;
    m->count++;
    return 0;
}

VDEV_API int vdev_mem_add(struct vdev_mem *m, const struct vdev_mem_region *r)
{
    struct mem_region *reg;
    int ret = region_check(r);

    if (ret < 0)
        return ret;
    if (m->alias_src)
        return -EINVAL;            /* an alias map holds only aliases */
    reg = calloc(1, sizeof(*reg));
    if (!reg)
        return -ENOMEM;
    reg->gpa = r->gpa;
    reg->last = r->gpa + (r->size - 1);
    reg->log_gpa = r->gpa;
    reg->user_addr = r->user_addr;
    reg->access = r->access;

    /* Overlap first: it needs no syscall and is the likeliest hostile case. */
    if (tfind(reg, &m->index, region_cmp)) {
        free(reg);
        return -EEXIST;
    }
    ret = mem_mapping_get(m, r, &reg->map);
    if (ret < 0) {
        free(reg);
        return ret;
    }
    reg->hva = reg->map->base + r->fd_offset;

    ret = mem_region_insert(m, reg);
    if (ret < 0) {
        mem_mapping_put(m, reg->map);
        free(reg);
        return ret;
    }
    return 0;
}

void mem_region_drop(struct vdev_mem *m, struct mem_region *reg)
{
    tdelete(reg, &m->index, region_cmp);
    if (reg->prev)
        reg->prev->next = reg->next;
    else
        m->regions = reg->next;
    if (reg->next)
        reg->next->prev = reg->prev;
    m->count--;
    if (__atomic_load_n(&m->last_hit, __ATOMIC_RELAXED) == reg)
        __atomic_store_n(&m->last_hit, NULL, __ATOMIC_RELAXED);
    if (reg->map)
        mem_mapping_put(m, reg->map);
    free(reg);
}

struct mem_region *mem_region_find(struct vdev_mem *m, uint64_t gpa)
{
    struct mem_region key = { .gpa = gpa, .last = gpa };
    struct mem_region *reg = __atomic_load_n(&m->last_hit, __ATOMIC_RELAXED);
    struct mem_region **node;

    if (reg && gpa >= reg->gpa && gpa <= reg->last)
        return reg;
    node = tfind(&key, &m->index, region_cmp);
    if (!node)
        return NULL;
    reg = *node;
    __atomic_store_n(&m->last_hit, reg, __ATOMIC_RELAXED);
    return reg;
}

VDEV_API int vdev_mem_remove(struct vdev_mem *m, uint64_t gpa, uint64_t size)
{
    struct mem_region *reg;

    if (size == 0)
        return -ENOENT;
    reg = mem_region_find(m, gpa);
    if (!reg || reg->gpa != gpa || reg->last - reg->gpa != size - 1)
        return -ENOENT;
    mem_region_drop(m, reg);
    return 0;
}

VDEV_API void vdev_mem_clear(struct vdev_mem *m)
{
    while (m->regions)
        mem_region_drop(m, m->regions);
    m->alias_src = NULL;
}

VDEV_API void *vdev_mem_translate(struct vdev_mem *m, uint64_t gpa, uint64_t *len,
                                  uint32_t access)
{
    struct mem_region *reg = mem_region_find(m, gpa);
    uint64_t avail;

    if (!reg || (reg->access & access) != access || *len == 0) {
        *len = 0;
        return NULL;
    }
    avail = reg->last - gpa + 1;   /* cannot wrap: last - gpa < 2^64 - 1 */
    if (avail != 0 && *len > avail)
        *len = avail;
    return reg->hva + (gpa - reg->gpa);
}

/* Walks [gpa, gpa + len) region by region, calling fn on each host piece. */
typedef int (*piece_fn)(void *host, uint64_t gpa, uint64_t len, void *opaque);

static int mem_walk(struct vdev_mem *m, uint64_t gpa, uint64_t len,
                    uint32_t access, piece_fn fn, void *opaque)
{
    uint64_t end;

    if (len && __builtin_add_overflow(gpa, len - 1, &end))
        return -EFAULT;
    while (len) {
        struct mem_region *reg = mem_region_find(m, gpa);
        uint64_t n = len;
        int ret;


        if (!reg)
            return -EFAULT;
        if ((reg->access & access) != access)
            return -EACCES;
        if (reg->last - gpa < n - 1)
            n = reg->last - gpa + 1;
        if (fn) {
            ret = fn(reg->hva + (gpa - reg->gpa), gpa, n, opaque);
            if (ret < 0)
                return ret;
        }
        gpa += n;
        len -= n;
    }
    return 0;
}

struct iov_fill {
    struct iovec *iov;
    size_t max, n;
};

static int piece_to_iov(void *host, uint64_t gpa, uint64_t len, void *opaque)
{
    struct iov_fill *f = opaque;

    if (f->n == f->max)
        return -ENOBUFS;
    f->iov[f->n].iov_base = host;
    f->iov[f->n].iov_len = len;
    f->n++;
    return 0;
}

VDEV_API int vdev_mem_iovec(struct vdev_mem *m, uint64_t gpa, uint64_t len,
                            uint32_t access, struct iovec *iov, size_t max_iov)
{
    struct iov_fill f = { .iov = iov, .max = max_iov };
    int ret = mem_walk(m, gpa, len, access, piece_to_iov, &f);

    return ret < 0 ? ret : (int)f.n;
}

static int piece_read(void *host, uint64_t gpa, uint64_t len, void *opaque)
{
    uint8_t **buf = opaque;

    memcpy(*buf, host, len);
    *buf += len;
    return 0;
}

static int piece_write(void *host, uint64_t gpa, uint64_t len, void *opaque)
{
    const uint8_t **buf = opaque;

    memcpy(host, *buf, len);
    *buf += len;
    return 0;
}

/* Both copies check the whole range before moving a byte, so a write that would
 * fault half-way writes nothing. */
VDEV_API int vdev_mem_read(struct vdev_mem *m, uint64_t gpa, void *buf, uint64_t len)
{
    uint8_t *p = buf;
    int ret = mem_walk(m, gpa, len, VDEV_MEM_READ, NULL, NULL);

    if (ret < 0)
        return ret;
    return mem_walk(m, gpa, len, VDEV_MEM_READ, piece_read, &p);
}

VDEV_API int vdev_mem_write(struct vdev_mem *m, uint64_t gpa, const void *buf,
                            uint64_t len)
{
    const uint8_t *p = buf;
    int ret = mem_walk(m, gpa, len, VDEV_MEM_WRITE, NULL, NULL);

    if (ret < 0)
        return ret;
    ret = mem_walk(m, gpa, len, VDEV_MEM_WRITE, piece_write, &p);
    if (ret == 0)
        vdev_mem_mark_dirty(m, gpa, len);
    return ret;
}

VDEV_API int vdev_mem_uva_to_gpa(struct vdev_mem *m, uint64_t user_addr,
                                 uint64_t *gpa)
{
    for (struct mem_region *reg = m->regions; reg; reg = reg->next) {
        uint64_t off = user_addr - reg->user_addr;

        if (user_addr >= reg->user_addr && off <= reg->last - reg->gpa) {
            *gpa = reg->gpa + off;
            return 0;
        }
    }
    return -EFAULT;
}

VDEV_API bool vdev_mem_lost(const struct vdev_mem *m)
{
    if (m->alias_src)
        return vdev_mem_lost(m->alias_src);
    for (const struct mem_mapping *map = m->mappings; map; map = map->next)
        if (map->guard >= 0 && mem_guard_lost(map->guard))
            return true;
    return false;
}

VDEV_API bool vdev_mem_all_sealed(const struct vdev_mem *m)
{
    if (m->alias_src)
        return vdev_mem_all_sealed(m->alias_src);
    for (const struct mem_mapping *map = m->mappings; map; map = map->next)
        if (!map->sealed)
            return false;
    return true;
}

VDEV_API void vdev_mem_set_dirty_log(struct vdev_mem *m, struct vdev_dirty *log)
{
    __atomic_store_n(&m->dirty, log, __ATOMIC_RELEASE);
}

VDEV_API struct vdev_dirty *vdev_mem_dirty_log(const struct vdev_mem *m)
{
    if (m->alias_src)
        return vdev_mem_dirty_log(m->alias_src);
    return __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);
}

VDEV_API void vdev_mem_mark_dirty(struct vdev_mem *m, uint64_t gpa, uint64_t len)
{
    struct vdev_dirty *d;

    if (m->alias_src) {
        mem_alias_mark_dirty(m, gpa, len);
        return;
    }
    d = __atomic_load_n(&m->dirty, __ATOMIC_ACQUIRE);
    if (d)
        vdev_dirty_mark(d, gpa, len);
}
