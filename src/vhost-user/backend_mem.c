/* backend_mem.c — guest memory: SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG,
 * GET_MAX_MEM_SLOTS ("Memory access", "Memory region description").
 *
 * Each region is mapped from its fd at mmap_offset through vdev_mem_add(), which
 * checks it against the file's size, refuses overlaps and wrapping ranges, and
 * keeps no fd. A new table is built whole in a map of its own: one bad region
 * rejects the table and leaves the old one in place. Only then are the running
 * rings halted, the maps swapped and the rings run again on the new one, their
 * addresses translated anew. */
#include <errno.h>

#include "vdev/log.h"
#include "backend_internal.h"

#define TABLE_HDR offsetof(struct vu_mem_table, regions)
#define REGION    sizeof(struct vu_mem_region)

/* The rings are read and written through typed pointers, so the alignment
 * virtio asks of their guest addresses (1.2, 2.7 and 2.8: up to 16 bytes) must
 * hold in our mapping too: a region's guest address and file offset must agree
 * modulo 16 (QEMU's are page-aligned). Otherwise an aligned ring lands on a
 * misaligned host address. */
#define REGION_ALIGN 16u

/* What vdev_mem_add() cannot know: user addresses must not wrap either (the
 * ring addresses are translated through them). */
static int region_check(struct vdev_vu_backend *b, const struct vu_mem_region *r,
                        uint32_t i)
{
    uint64_t end;

    if (r->size == 0)
        return vu_bad(b, -EINVAL, "region %u is empty", i);
    if ((r->guest_addr - r->mmap_offset) % REGION_ALIGN)
        return vu_bad(b, -EINVAL, "region %u: guest address %#llx and file offset "
                      "%#llx differ modulo %u", i, (unsigned long long)r->guest_addr,
                      (unsigned long long)r->mmap_offset, REGION_ALIGN);
    if (__builtin_add_overflow(r->user_addr, r->size - 1, &end))
        return vu_bad(b, -EOVERFLOW, "region %u: user address %#llx + %#llx wraps", i,
                      (unsigned long long)r->user_addr, (unsigned long long)r->size);
    return 0;
}

static int region_add(struct vdev_vu_backend *b, struct vdev_mem *mem,
                      const struct vu_mem_region *r, int fd, uint32_t i)
{
    struct vdev_mem_region reg = {
        .gpa = r->guest_addr,
        .size = r->size,
        .fd = fd,
        .fd_offset = r->mmap_offset,
        .access = VDEV_MEM_RW,
        .user_addr = r->user_addr,
    };
    int ret = region_check(b, r, i);

    if (ret < 0)
        return ret;
    ret = vdev_mem_add(mem, &reg);
    if (ret < 0)
        return vu_bad(b, ret, "region %u (guest %#llx size %#llx offset %#llx): %s", i,
                      (unsigned long long)r->guest_addr, (unsigned long long)r->size,
                      (unsigned long long)r->mmap_offset, vdev_strerror(ret));
    return 0;
}

/* Puts mem in place of the connection's map, with the rings halted. */
static void mem_swap(struct vdev_vu_backend *b, struct vdev_mem *mem)
{
    struct vdev_mem *old = b->c.mem;

    vu_rings_halt(b);
    vdev_mem_set_dirty_log(old, NULL);
    b->c.mem = mem;
    vu_log_apply(b);
    vu_iotlb_rebuild(b, mem);          /* its entries point into old */
    vdev_mem_free(old);
    vu_rings_sync(b);
}

/* SET_MEM_TABLE: nregions (at most 8) regions and as many fds, in order. */
int vu_h_set_mem_table(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_mem_table *t = &m->p.table;
    struct vdev_mem *mem;
    int ret;

    if (t->nregions > VU_MEMORY_BASELINE_NREGIONS)
        return vu_bad(b, -E2BIG, "SET_MEM_TABLE with %u regions, at most %d",
                      t->nregions, VU_MEMORY_BASELINE_NREGIONS);
    if (m->hdr.size != TABLE_HDR + t->nregions * REGION)
        return vu_bad(b, -EBADMSG, "SET_MEM_TABLE: %u regions in %u bytes",
                      t->nregions, m->hdr.size);
    if (m->nfds != t->nregions)
        return vu_bad(b, -EBADMSG, "SET_MEM_TABLE: %u regions, %zu fds", t->nregions,
                      m->nfds);

    ret = vdev_mem_new(&mem);
    if (ret < 0)
        return ret;
    for (uint32_t i = 0; i < t->nregions; i++) {
        ret = region_add(b, mem, &t->regions[i], m->fds[i], i);
        if (ret < 0) {
            vdev_mem_free(mem);
            return ret;
        }
    }
    mem_swap(b, mem);
    return 0;
}

int vu_h_get_max_mem_slots(struct vdev_vu_backend *b, struct vu_msg *m)
{
    m->r.u64 = b->max_slots;
    m->reply_size = sizeof(m->r.u64);
    return 0;
}

/* ADD_MEM_REG: one region, one fd, within the slots GET_MAX_MEM_SLOTS gave. */
int vu_h_add_mem_reg(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_mem_region *r = &m->p.reg.region;
    int ret;

    if (vdev_mem_count(b->c.mem) >= b->max_slots)
        return vu_bad(b, -ENOSPC, "ADD_MEM_REG: all %u slots are in use", b->max_slots);
    ret = region_check(b, r, (uint32_t)vdev_mem_count(b->c.mem));
    if (ret < 0)
        return ret;
    vu_rings_halt(b);
    ret = region_add(b, b->c.mem, r, m->fds[0], (uint32_t)vdev_mem_count(b->c.mem));
    vu_rings_sync(b);
    return ret;
}

/* REM_MEM_REG: the region is the one with this guest address, user address and
 * size; mmap_offset is ignored. An fd may come, for old front-ends: it is closed
 * unused (the dispatcher closes every fd a handler does not take). */
int vu_h_rem_mem_reg(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_mem_region *r = &m->p.reg.region;
    uint64_t gpa;
    int ret;

    if (m->nfds > 1)
        return vu_bad(b, -EBADMSG, "REM_MEM_REG with %zu fds", m->nfds);
    /* Regions do not overlap in guest addresses, so the region holding user_addr
     * at guest_addr is the one that starts at guest_addr. */
    if (vdev_mem_uva_to_gpa(b->c.mem, r->user_addr, &gpa) < 0 || gpa != r->guest_addr)
        return vu_bad(b, -ENOENT, "REM_MEM_REG: no region at guest %#llx user %#llx",
                      (unsigned long long)r->guest_addr,
                      (unsigned long long)r->user_addr);
    vu_rings_halt(b);
    ret = vdev_mem_remove(b->c.mem, r->guest_addr, r->size);
    if (ret == 0)
        vu_iotlb_rebuild(b, b->c.mem);  /* entries may point into the region */
    vu_rings_sync(b);
    if (ret < 0)
        return vu_bad(b, ret, "REM_MEM_REG: no region of size %#llx at guest %#llx",
                      (unsigned long long)r->size, (unsigned long long)r->guest_addr);
    return 0;
}
