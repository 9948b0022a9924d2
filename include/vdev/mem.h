/* mem.h — the guest's memory, as mapped into this process.
 *
 * Regions come from the transports: vhost-user's memory table and ADD_MEM_REG,
 * vfio-user's DMA_MAP. Every guest address the code touches goes through
 * vdev_mem_translate() or vdev_mem_iovec(), which return only what is mapped, with
 * the access asked for.
 *
 * Regions that come from the same file share one mapping of that file, so a client
 * that maps a memfd in 100,000 small pieces costs one mmap, not 100,000 (the
 * kernel's vm.max_map_count is about 65,530).
 *
 * A file that is not sealed against shrinking (F_SEAL_SHRINK) may be cut short by
 * the VMM while we use it; a touch past its new end would raise SIGBUS. Such
 * mappings are guarded: the first touch of a lost page maps a private zero page in
 * its place and marks the map as lost (vdev_mem_lost()), so the data path finishes
 * its current step on zeroes and the transport then fails the device instead of
 * the process dying. docs/memory.md says why.
 *
 * Threads: translate, iovec, mark_dirty and lost may run on many threads at once.
 * The calls that change the map (add, remove, clear, set_dirty_log) must not run
 * while any thread translates: the control path stops the workers first. */
#ifndef VDEV_MEM_H
#define VDEV_MEM_H

#include <sys/uio.h>
#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_MEM_READ   0x1u
#define VDEV_MEM_WRITE  0x2u
#define VDEV_MEM_RW     (VDEV_MEM_READ | VDEV_MEM_WRITE)

struct vdev_mem;
struct vdev_dirty;

struct vdev_mem_region {
    uint64_t gpa;        /* guest physical address, or IOVA for vfio-user */
    uint64_t size;       /* bytes */
    int      fd;         /* borrowed: mapped, not kept open; the caller closes it */
    uint64_t fd_offset;  /* where gpa lands in the file */
    uint32_t access;     /* VDEV_MEM_READ and/or VDEV_MEM_WRITE */
    uint64_t user_addr;  /* the VMM's own address of gpa (vhost-user); only stored */
};

VDEV_API int  vdev_mem_new(struct vdev_mem **out);
/* Unmaps every region. Does not free an attached dirty log. */
VDEV_API void vdev_mem_free(struct vdev_mem *m);

/* Maps a region. Returns 0, or:
 *   -EINVAL     size 0, or access empty or with unknown bits
 *   -EOVERFLOW  gpa + size wraps past 2^64 (or fd_offset + size does)
 *   -EBADF      fd is not an open fd
 *   -ENODEV     fd is not a regular file (memfd, tmpfs, hugetlbfs, file)
 *   -ERANGE     fd_offset + size lies past the end of the file
 *   -EEXIST     the range overlaps a region already mapped
 *   -EACCES     the fd does not allow the access asked for
 *   -ENOMEM     out of memory or address space */
VDEV_API int  vdev_mem_add(struct vdev_mem *m, const struct vdev_mem_region *r);

/* Unmaps the region that starts at gpa and is exactly size long: -ENOENT if no
 * region matches exactly. */
VDEV_API int  vdev_mem_remove(struct vdev_mem *m, uint64_t gpa, uint64_t size);

/* Unmaps every region. */
VDEV_API void vdev_mem_clear(struct vdev_mem *m);

/* --- alias maps: a second address space over the same memory -----------------
 *
 * An alias map translates its own addresses (vhost-user's IOVAs, with
 * VIRTIO_F_IOMMU_PLATFORM) to memory that another map, its source, has mapped.
 * It maps nothing itself and holds no reference: every alias region must be
 * removed (vdev_mem_clear(), vdev_mem_free()) before the source unmaps what it
 * points at or is freed. A map holds either plain regions or aliases of one
 * source. Writes recorded through an alias map go to the source's dirty log at
 * the source's addresses; vdev_mem_dirty_log(), _lost() and _all_sealed() of an
 * alias map are the source's. */

/* Maps [gpa, gpa + size) of m to [src_gpa, src_gpa + size) of src, which must lie
 * in one region of src that has every bit of access. user_addr of the new region
 * is src's user address of src_gpa. 0, or:
 *   -EINVAL     size 0, access empty or unknown, m holds plain regions or aliases
 *               of another map, src is itself an alias map
 *   -EOVERFLOW  gpa + size or src_gpa + size wraps past 2^64
 *   -EFAULT     the source range is not in one region of src
 *   -EACCES     that region lacks part of access
 *   -EEXIST     the range overlaps a region of m
 *   -ENOMEM */
VDEV_API int  vdev_mem_add_alias(struct vdev_mem *m, uint64_t gpa, uint64_t size,
                                 uint32_t access, struct vdev_mem *src, uint64_t src_gpa);

/* Unmaps [gpa, gpa + size) wherever it is mapped: regions inside it go, a region
 * that straddles an end of it is cut to what lies outside (one that straddles
 * both becomes two). Addresses not mapped are skipped. 0, or -EINVAL (size 0),
 * -EOVERFLOW (wraps), -ENOMEM (a region to cut in two: nothing is changed). */
VDEV_API int  vdev_mem_punch(struct vdev_mem *m, uint64_t gpa, uint64_t size);

/* Calls fn for each region (in no particular order) until fn returns non-zero,
 * which is returned; 0 when every region was seen. fn must not change m. */
typedef int (*vdev_mem_region_fn)(void *opaque, uint64_t gpa, uint64_t size,
                                  uint64_t user_addr, uint32_t access);
VDEV_API int  vdev_mem_foreach(struct vdev_mem *m, vdev_mem_region_fn fn, void *opaque);

VDEV_API size_t vdev_mem_count(const struct vdev_mem *m);

/* Host pointer for gpa, mapped with every bit of access. *len is the length asked
 * for on entry and is shortened to what is contiguous in one region. NULL (and *len
 * 0) if gpa is not mapped, or not with that access, or *len is 0. */
VDEV_API void *vdev_mem_translate(struct vdev_mem *m, uint64_t gpa, uint64_t *len,
                                  uint32_t access);

/* Fills iov[] with host ranges for [gpa, gpa + len), across regions. Returns the
 * number of entries (0 if len is 0), or:
 *   -EFAULT     part of the range is not mapped (or gpa + len wraps)
 *   -EACCES     part of the range is mapped without the access asked for
 *   -ENOBUFS    more than max_iov entries would be needed */
VDEV_API int  vdev_mem_iovec(struct vdev_mem *m, uint64_t gpa, uint64_t len,
                             uint32_t access, struct iovec *iov, size_t max_iov);

/* Copies between guest memory and a host buffer, across regions, with the same
 * errors as vdev_mem_iovec(). A write is recorded in the dirty log. */
VDEV_API int  vdev_mem_read(struct vdev_mem *m, uint64_t gpa, void *buf, uint64_t len);
VDEV_API int  vdev_mem_write(struct vdev_mem *m, uint64_t gpa, const void *buf,
                             uint64_t len);

/* The guest address whose VMM address is user_addr (vhost-user's ring addresses
 * are VMM addresses). -EFAULT if no region covers it. */
VDEV_API int  vdev_mem_uva_to_gpa(struct vdev_mem *m, uint64_t user_addr,
                                  uint64_t *gpa);

/* True when a page of one of the map's files was found gone (the VMM shrank an
 * unsealed file under us): the contents read since are zeroes, not guest data. */
VDEV_API bool vdev_mem_lost(const struct vdev_mem *m);

/* Whether every region is backed by a file sealed against shrinking. */
VDEV_API bool vdev_mem_all_sealed(const struct vdev_mem *m);

/* The dirty log that device writes are recorded in, or NULL for none. The log
 * stays the caller's. */
VDEV_API void vdev_mem_set_dirty_log(struct vdev_mem *m, struct vdev_dirty *log);
VDEV_API struct vdev_dirty *vdev_mem_dirty_log(const struct vdev_mem *m);

/* Records that the device wrote [gpa, gpa + len); nothing if no log is set. Every
 * write to guest memory that bypasses vdev_mem_write() must call this. */
VDEV_API void vdev_mem_mark_dirty(struct vdev_mem *m, uint64_t gpa, uint64_t len);

#ifdef __cplusplus
}
#endif

#endif
