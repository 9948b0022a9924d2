/* frontend_mem.c — guest memory: the memory table requests, the dirty log base,
 * and the convenience layer's regions (vhost-user.rst, "Memory access",
 * "Memory region description", VHOST_USER_SET_MEM_TABLE, VHOST_USER_ADD_MEM_REG,
 * VHOST_USER_REM_MEM_REG, VHOST_USER_GET_MAX_MEM_SLOTS, "Migration"). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/mem.h"
#include "frontend_internal.h"

static struct vu_mem_region wire_region(const struct vdev_vuc_region *r)
{
    return (struct vu_mem_region){
        .guest_addr = r->gpa,
        .size = r->size,
        .user_addr = r->user_addr,
        .mmap_offset = r->mmap_offset,
    };
}

/* "The size and ordering of the fds matches the number and ordering of memory
 * regions." */
VDEV_API int vdev_vuc_set_mem_table(struct vdev_vuc *c, const struct vdev_vuc_region *r,
                                    unsigned n)
{
    struct vu_mem_table t;
    int fds[VU_MEMORY_BASELINE_NREGIONS];
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (n > VU_MEMORY_BASELINE_NREGIONS || (n && !r))
        return -EINVAL;
    memset(&t, 0, sizeof(t));
    t.nregions = n;
    for (unsigned i = 0; i < n; i++) {
        if (r[i].fd < 0 || r[i].size == 0)
            return -EINVAL;
        t.regions[i] = wire_region(&r[i]);
        fds[i] = r[i].fd;
    }
    return vuc_request(c, VU_SET_MEM_TABLE, &t,
                       (uint32_t)(offsetof(struct vu_mem_table, regions) +
                                  n * sizeof(struct vu_mem_region)),
                       fds, n);
}

/* "Exactly one file descriptor from which the memory is mapped is passed." */
VDEV_API int vdev_vuc_add_mem_reg(struct vdev_vuc *c, const struct vdev_vuc_region *r)
{
    struct vu_mem_reg m = { 0 };
    int ret = vuc_ready(c, VU_PF_CONFIGURE_MEM_SLOTS);

    if (ret < 0)
        return ret;
    if (!r || r->fd < 0 || r->size == 0)
        return -EINVAL;
    m.region = wire_region(r);
    return vuc_request(c, VU_ADD_MEM_REG, &m, sizeof(m), &r->fd, 1);
}

/* "No file descriptors SHOULD be passed"; the back-end finds the region by guest
 * address, user address and size. */
VDEV_API int vdev_vuc_rem_mem_reg(struct vdev_vuc *c, const struct vdev_vuc_region *r)
{
    struct vu_mem_reg m = { 0 };
    int ret = vuc_ready(c, VU_PF_CONFIGURE_MEM_SLOTS);

    if (ret < 0)
        return ret;
    if (!r)
        return -EINVAL;
    m.region = wire_region(r);
    return vuc_request(c, VU_REM_MEM_REG, &m, sizeof(m), NULL, 0);
}

VDEV_API int vdev_vuc_get_max_mem_slots(struct vdev_vuc *c, uint64_t *slots)
{
    int ret = vuc_ready(c, VU_PF_CONFIGURE_MEM_SLOTS);

    return ret < 0 ? ret : vuc_call_u64(c, VU_GET_MAX_MEM_SLOTS, slots);
}

/* With LOG_SHMFD the request carries a log description and the fd, and has a
 * reply ("Communication"). The spec gives its payload as "N/A": back-ends send
 * none (DPDK) or a u64 (libvhost-user); either is taken, its value unused. */
VDEV_API int vdev_vuc_set_log_base(struct vdev_vuc *c, int fd, uint64_t size,
                                   uint64_t offset)
{
    struct vu_log log = { .size = size, .offset = offset };
    uint64_t v;
    struct vuc_reply r = { .buf = &v, .min = 0, .max = sizeof(v) };
    int ret = vuc_ready(c, VU_PF_LOG_SHMFD);

    if (ret < 0)
        return ret;
    if (fd < 0 || size == 0 || offset + size < offset)
        return -EINVAL;
    ret = vuc_call(c, VU_SET_LOG_BASE, &log, sizeof(log), &fd, 1, &r);
    if (ret < 0)
        return ret;
    if (r.size != 0 && r.size != sizeof(v)) {
        vuc_drop(c, -EPROTO, "SET_LOG_BASE answered with %u payload bytes", r.size);
        return -EPROTO;
    }
    return 0;
}

/* ---- the convenience layer's regions ---- */

static struct vdev_vuc_region public_region(const struct vuc_region *r)
{
    return (struct vdev_vuc_region){
        .gpa = r->gpa, .size = r->size, .user_addr = r->user_addr,
        .mmap_offset = 0, .fd = r->fd,
    };
}

/* Every region in one SET_MEM_TABLE. */
static int share_table(struct vdev_vuc *c)
{
    struct vdev_vuc_region t[VU_MEMORY_BASELINE_NREGIONS];

    if (c->nregions > VU_MEMORY_BASELINE_NREGIONS)
        return -ENOSPC;
    for (unsigned i = 0; i < c->nregions; i++)
        t[i] = public_region(&c->regions[i]);
    return vdev_vuc_set_mem_table(c, t, c->nregions);
}

static int share_one(struct vdev_vuc *c, const struct vuc_region *r)
{
    struct vdev_vuc_region pr = public_region(r);

    return vdev_vuc_add_mem_reg(c, &pr);
}

/* How many regions this connection can take. */
static unsigned region_limit(const struct vdev_vuc *c)
{
    if (vuc_has_pf(c, VU_PF_CONFIGURE_MEM_SLOTS))
        return c->max_slots < VUC_MAX_REGIONS ? (unsigned)c->max_slots : VUC_MAX_REGIONS;
    return VU_MEMORY_BASELINE_NREGIONS;
}

/* A memfd of size bytes that cannot shrink under the back-end. */
static int make_memfd(uint64_t size, int *out)
{
    int fd = memfd_create("vdev-vuc-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int ret;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
        ret = -errno;
        close(fd);
        return ret;
    }
    *out = fd;
    return 0;
}

/* Maps the new region through the client's map: its address there is the user
 * address the back-end is told. */
static int map_region(struct vdev_vuc *c, struct vuc_region *r)
{
    struct vdev_mem_region mr = {
        .gpa = r->gpa, .size = r->size, .fd = r->fd, .fd_offset = 0,
        .access = VDEV_MEM_RW,
    };
    void *host;
    int ret = vdev_mem_add(c->mem, &mr);

    if (ret < 0)
        return ret;
    host = vdev_vuc_host(c, r->gpa, r->size);
    if (!host) {
        vdev_mem_remove(c->mem, r->gpa, r->size);
        return -EFAULT;
    }
    r->user_addr = (uint64_t)(uintptr_t)host;
    return 0;
}

/* Where the next region goes: after the last, past a one-page hole. */
static int next_gpa(const struct vdev_vuc *c, uint64_t size, uint64_t page, uint64_t *gpa)
{
    const struct vuc_region *last;
    uint64_t at;

    if (c->nregions == 0) {
        *gpa = 0;
        return 0;
    }
    last = &c->regions[c->nregions - 1];
    at = last->gpa + last->size + page;
    if (at < last->gpa || at + size < at)
        return -EOVERFLOW;
    *gpa = at;
    return 0;
}

VDEV_API int vdev_vuc_mem_add(struct vdev_vuc *c, uint64_t size, uint64_t *gpa)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    struct vuc_region *r;
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!c->negotiated || size == 0 || size % page)
        return -EINVAL;
    if (c->nregions >= region_limit(c))
        return -ENOSPC;
    r = &c->regions[c->nregions];
    ret = next_gpa(c, size, page, &r->gpa);
    if (ret < 0)
        return ret;
    r->size = size;
    ret = make_memfd(size, &r->fd);
    if (ret < 0)
        return ret;
    ret = map_region(c, r);
    if (ret < 0)
        goto fail_fd;
    c->nregions++;
    ret = vuc_has_pf(c, VU_PF_CONFIGURE_MEM_SLOTS) ? share_one(c, r) : share_table(c);
    if (ret < 0)
        goto fail_map;
    ret = vuc_alloc_put(&c->alloc, r->gpa, r->size);
    if (ret < 0)
        goto fail_map;      /* the back-end keeps a region we no longer use */
    if (gpa)
        *gpa = r->gpa;
    return 0;
fail_map:
    c->nregions--;
    vdev_mem_remove(c->mem, r->gpa, r->size);
fail_fd:
    close(r->fd);
    r->fd = -1;
    return ret;
}

VDEV_API struct vdev_mem *vdev_vuc_mem(struct vdev_vuc *c)
{
    return c->mem;
}

int vuc_mem_replay(struct vdev_vuc *c)
{
    int ret;

    if (c->nregions > region_limit(c))
        return -ENOSPC;
    if (!vuc_has_pf(c, VU_PF_CONFIGURE_MEM_SLOTS))
        return share_table(c);
    for (unsigned i = 0; i < c->nregions; i++) {
        ret = share_one(c, &c->regions[i]);
        if (ret < 0)
            return ret;
    }
    return 0;
}

void vuc_mem_free(struct vdev_vuc *c)
{
    for (unsigned i = 0; i < c->nregions; i++)
        close(c->regions[i].fd);
    c->nregions = 0;
    vdev_mem_free(c->mem);
    c->mem = NULL;
    vuc_alloc_fini(&c->alloc);
}
