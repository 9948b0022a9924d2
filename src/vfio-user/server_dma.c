/* server_dma.c — DMA_MAP and DMA_UNMAP ("VFIO_USER_DMA_MAP", "_DMA_UNMAP").
 *
 * Every window is recorded, sorted by IOVA: those that came with an fd are also
 * mapped into the connection's vdev_mem, where the device reaches them; those
 * without are "not shared" (reachable only through DMA_READ/WRITE, later). A
 * map over any part of an existing window is EEXIST, as the spec asks; an unmap
 * must match a window exactly. Addresses and sizes must be multiples of the
 * smallest negotiated page size. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/log.h"
#include "server_dirty.h"
#include "server_internal.h"

/* The index of the first window whose iova is >= iova. */
static size_t dma_lower_bound(const struct vfu_conn *c, uint64_t iova)
{
    size_t lo = 0, hi = c->ndma;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->dma[mid].iova < iova)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool dma_overlaps(const struct vfu_conn *c, size_t at, uint64_t iova,
                         uint64_t last)
{
    if (at < c->ndma && c->dma[at].iova <= last)
        return true;
    if (at > 0 && c->dma[at - 1].iova + (c->dma[at - 1].size - 1) >= iova)
        return true;
    return false;
}

static int dma_insert(struct vfu_conn *c, size_t at, const struct vfu_dma *d)
{
    if (c->ndma == c->dma_cap) {
        size_t cap = c->dma_cap ? c->dma_cap * 2 : 16;
        struct vfu_dma *n = realloc(c->dma, cap * sizeof(*n));

        if (!n)
            return -ENOMEM;
        c->dma = n;
        c->dma_cap = cap;
    }
    memmove(&c->dma[at + 1], &c->dma[at], (c->ndma - at) * sizeof(*d));
    c->dma[at] = *d;
    c->ndma++;
    return 0;
}

static void dma_remove_at(struct vdev_vfu_server *s, size_t at)
{
    struct vfu_conn *c = &s->c;
    struct vfu_dma d = c->dma[at];

    /* The device lets go first: "the server must release all references to
     * that DMA region before replying". */
    if (s->ops->dma_unmap)
        s->ops->dma_unmap(s->opaque, d.iova, d.size);
    if (d.shared && vdev_mem_remove(c->mem, d.iova, d.size) < 0)
        vdev_err("vfio-user: DMA window %#llx+%#llx missing from the memory map",
                 (unsigned long long)d.iova, (unsigned long long)d.size);
    memmove(&c->dma[at], &c->dma[at + 1], (c->ndma - at - 1) * sizeof(d));
    c->ndma--;
}

void vfu_dma_quiesce(struct vdev_vfu_server *s, bool quiesce)
{
    if (s->ops->dma_quiesce)
        s->ops->dma_quiesce(s->opaque, quiesce);
}

static void dma_remove_all(struct vdev_vfu_server *s)
{
    while (s->c.ndma)
        dma_remove_at(s, s->c.ndma - 1);
}

/* The connection's end: its windows, and the dirty log over them. */
void vfu_dma_release(struct vdev_vfu_server *s)
{
    dma_remove_all(s);
    vfu_dirty_stop(s);
}

/* The smallest negotiated page size. */
static uint64_t min_page(const struct vdev_vfu_server *s)
{
    return s->c.pgsizes & -s->c.pgsizes;
}

static int check_map(struct vdev_vfu_server *s, const struct vfu_dma_map *d, bool fd)
{
    uint64_t pg = min_page(s);

    if (d->argsz != sizeof(*d))
        return vfu_bad(s, -EINVAL, "DMA_MAP argsz %u, not %zu", d->argsz, sizeof(*d));
    if (d->flags & ~(VFU_DMA_F_READ | VFU_DMA_F_WRITE))
        return vfu_bad(s, -EINVAL, "DMA_MAP flags %#x", d->flags);
    if (!(d->flags & (VFU_DMA_F_READ | VFU_DMA_F_WRITE)))
        return vfu_bad(s, -EINVAL, "DMA_MAP neither readable nor writeable");
    if (d->size == 0)
        return vfu_bad(s, -EINVAL, "DMA_MAP of size 0");
    if (d->addr + (d->size - 1) < d->addr)
        return vfu_bad(s, -EOVERFLOW, "DMA_MAP %#llx+%#llx wraps",
                       (unsigned long long)d->addr, (unsigned long long)d->size);
    if ((d->addr | d->size | (fd ? d->offset : 0)) & (pg - 1))
        return vfu_bad(s, -EINVAL, "DMA_MAP %#llx+%#llx at offset %#llx: not aligned "
                       "to %#llx", (unsigned long long)d->addr,
                       (unsigned long long)d->size, (unsigned long long)d->offset,
                       (unsigned long long)pg);
    if (!fd && d->offset)
        return vfu_bad(s, -EINVAL, "DMA_MAP without fd at offset %#llx",
                       (unsigned long long)d->offset);
    return 0;
}

/* DMA_MAP, checked: into the memory map (with an fd) and the window list. */
static int dma_map_apply(struct vdev_vfu_server *s, const struct vfu_dma_map *dp,
                         struct vfu_msg *m, size_t at, bool shared)
{
    struct vfu_conn *c = &s->c;
    struct vfu_dma_map d = *dp;
    struct vfu_dma rec;
    int ret;

    if (shared) {
        struct vdev_mem_region r = {
            .gpa = d.addr, .size = d.size, .fd = m->fds[0], .fd_offset = d.offset,
            .access = ((d.flags & VFU_DMA_F_READ) ? VDEV_MEM_READ : 0) |
                      ((d.flags & VFU_DMA_F_WRITE) ? VDEV_MEM_WRITE : 0),
        };

        ret = vdev_mem_add(c->mem, &r);
        if (ret < 0)
            return vfu_bad(s, ret, "DMA_MAP %#llx+%#llx: cannot map the fd: %s",
                           (unsigned long long)d.addr, (unsigned long long)d.size,
                           vdev_strerror(ret));
    }
    rec = (struct vfu_dma){ d.addr, d.size, d.flags, shared };
    ret = dma_insert(c, at, &rec);
    if (ret < 0) {
        if (shared)
            vdev_mem_remove(c->mem, d.addr, d.size);
        return ret;
    }
    if (s->ops->dma_map)
        s->ops->dma_map(s->opaque, d.addr, d.size, d.flags, shared);
    return 0;
}

VFU_HANDLER(vfu_h_dma_map)
{
    struct vfu_conn *c = &s->c;
    struct vfu_dma_map d;
    bool shared = m->nfds == 1;
    size_t at;
    int ret;

    memcpy(&d, m->p, sizeof(d));
    ret = check_map(s, &d, shared);
    if (ret < 0)
        return ret;
    at = dma_lower_bound(c, d.addr);
    if (dma_overlaps(c, at, d.addr, d.addr + (d.size - 1)))
        return vfu_bad(s, -EEXIST, "DMA_MAP %#llx+%#llx overlaps a window",
                       (unsigned long long)d.addr, (unsigned long long)d.size);
    if (c->ndma >= s->max_maps)
        return vfu_bad(s, -ENOSPC, "DMA_MAP past max_dma_maps %u", s->max_maps);
    vfu_dma_quiesce(s, true);
    ret = dma_map_apply(s, &d, m, at, shared);
    vfu_dma_quiesce(s, false);
    return ret;
}

/* DMA_UNMAP with VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, as vfio-user.rst had it
 * before the dirty bitmap moved to DMA_LOGGING_REPORT: the request carries a
 * struct vfio_bitmap's pgsize and size (16 bytes, no pointer) after the entry;
 * the reply is the request followed by size bytes of bitmap (u64s, one bit per
 * pgsize page of the window), taken and cleared before the window goes. Logging
 * must be on (DMA_LOGGING_START) and cover the window. */
static int dma_unmap_dirty(struct vdev_vfu_server *s, struct vfu_msg *m,
                           const struct vfu_dma_unmap *u)
{
    struct vfu_conn *c = &s->c;
    struct {
        uint64_t pgsize, size;
    } b;
    uint64_t pages, need;
    size_t at;
    int ret;

    /* The flag without the bitmap it asks for is what a client probing for
     * the old form sends: it gets the answer of a server without it. */
    if (m->size == sizeof(*u))
        return vfu_bad(s, -ENOTSUP, "DMA_UNMAP: dirty bitmap flag without a bitmap");
    if (u->flags != VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP ||
        m->size != sizeof(*u) + sizeof(b))
        return vfu_bad(s, -EINVAL, "DMA_UNMAP flags %#x with %u bytes", u->flags,
                       m->size);
    memcpy(&b, m->p + sizeof(*u), sizeof(b));
    at = dma_lower_bound(c, u->addr);
    if (at == c->ndma || c->dma[at].iova != u->addr || c->dma[at].size != u->size)
        return vfu_bad(s, -ENOENT, "DMA_UNMAP %#llx+%#llx: no such window",
                       (unsigned long long)u->addr, (unsigned long long)u->size);
    if (b.pgsize < 4096 || (b.pgsize & (b.pgsize - 1)) || (u->size & (b.pgsize - 1)))
        return vfu_bad(s, -EINVAL, "DMA_UNMAP bitmap page size %#llx",
                       (unsigned long long)b.pgsize);
    pages = u->size / b.pgsize;
    need = sizeof(*u) + sizeof(b) + b.size;
    if (b.size < (pages + 63) / 64 * 8 || b.size > s->reply_cap ||
        need > s->reply_cap || u->argsz < need)
        return vfu_bad(s, -EINVAL, "DMA_UNMAP bitmap of %llu bytes for %llu pages, "
                       "argsz %u", (unsigned long long)b.size,
                       (unsigned long long)pages, u->argsz);
    ret = vfu_dirty_take(s, u->addr, u->size, b.pgsize, m->r + sizeof(*u) + sizeof(b),
                         (size_t)b.size);
    if (ret < 0)
        return vfu_bad(s, ret, "DMA_UNMAP %#llx+%#llx: no dirty bitmap: %s",
                       (unsigned long long)u->addr, (unsigned long long)u->size,
                       vdev_strerror(ret));
    vfu_dma_quiesce(s, true);
    dma_remove_at(s, at);
    vfu_dma_quiesce(s, false);
    memcpy(m->r, m->p, sizeof(*u) + sizeof(b));
    m->reply_size = (uint32_t)need;
    return 0;
}

VFU_HANDLER(vfu_h_dma_unmap)
{
    struct vfu_conn *c = &s->c;
    struct vfu_dma_unmap u;
    size_t at;

    memcpy(&u, m->p, sizeof(u));
    if (u.argsz < sizeof(u))
        return vfu_bad(s, -EINVAL, "DMA_UNMAP argsz %u below %zu", u.argsz, sizeof(u));
    if (u.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
        return dma_unmap_dirty(s, m, &u);
    if (m->size != sizeof(u))
        return vfu_bad(s, -EINVAL, "DMA_UNMAP of %u bytes without a dirty bitmap",
                       m->size);
    if (u.flags & ~(uint32_t)VFIO_DMA_UNMAP_FLAG_ALL)
        return vfu_bad(s, -EINVAL, "DMA_UNMAP flags %#x", u.flags);
    if (u.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
        if (u.addr || u.size)
            return vfu_bad(s, -EINVAL, "DMA_UNMAP of all with a range");
        vfu_dma_quiesce(s, true);
        dma_remove_all(s);
        vfu_dma_quiesce(s, false);
    } else {
        at = dma_lower_bound(c, u.addr);
        if (at == c->ndma || c->dma[at].iova != u.addr || c->dma[at].size != u.size)
            return vfu_bad(s, -ENOENT, "DMA_UNMAP %#llx+%#llx: no such window",
                           (unsigned long long)u.addr, (unsigned long long)u.size);
        vfu_dma_quiesce(s, true);
        dma_remove_at(s, at);
        vfu_dma_quiesce(s, false);
    }
    /* "The server responds with the original DMA entry in the request." */
    memcpy(m->r, &u, sizeof(u));
    m->reply_size = sizeof(u);
    return 0;
}

const struct vfu_dma *vfu_dma_find(const struct vdev_vfu_server *s, uint64_t iova,
                                   uint64_t len)
{
    const struct vfu_conn *c = &s->c;
    size_t at = dma_lower_bound(c, iova);
    const struct vfu_dma *d;

    /* The window starting at iova, or the one before it. */
    if (at < c->ndma && c->dma[at].iova == iova)
        d = &c->dma[at];
    else if (at > 0)
        d = &c->dma[at - 1];
    else
        return NULL;
    if (iova < d->iova || iova - d->iova >= d->size || len > d->size - (iova - d->iova))
        return NULL;
    return d;
}
