/* mem_internal.h — the layout behind struct vdev_mem, shared by mem/'s files. */
#ifndef VDEV_MEM_INTERNAL_H
#define VDEV_MEM_INTERNAL_H

#include <sys/types.h>
#include "vdev/mem.h"

/* One mmap of a whole file, shared by every region of the map that lies in it
 * with the same protection. */
struct mem_mapping {
    dev_t dev;
    ino_t ino;
    int prot;                 /* PROT_READ and/or PROT_WRITE */
    uint8_t *base;            /* file offset 0 */
    uint64_t len;             /* bytes mapped, the file's size rounded up */
    unsigned refs;            /* regions that use it */
    bool sealed;              /* F_SEAL_SHRINK: the file cannot shrink under us */
    int guard;                /* slot in the SIGBUS guard, or -1 when sealed */
    struct mem_mapping *next;
};

struct mem_region {
    uint64_t gpa;
    uint64_t last;            /* gpa + size - 1: a region may end at 2^64 - 1 */
    uint64_t user_addr;
    uint64_t log_gpa;         /* where gpa is recorded in the dirty log: gpa, or for
                               * an alias the source map's address (alias.c) */
    uint8_t *hva;             /* host address of gpa */
    uint32_t access;
    struct mem_mapping *map;  /* NULL for an alias: the source map owns the mapping */
    struct mem_region *prev, *next;
};

struct vdev_mem {
    void *index;                      /* tsearch tree of regions, ordered by gpa */
    struct mem_region *regions;       /* the same regions, as a list */
    size_t count;
    struct mem_region *last_hit;      /* atomic: the fast path of translate */
    struct mem_mapping *mappings;
    struct vdev_dirty *dirty;         /* atomic */
    struct vdev_mem *alias_src;       /* an alias map: the map its regions alias */
};

/* mem.c: the region tree and list, for alias.c. Insert: 0, -EEXIST (overlap),
 * -ENOMEM; the caller owns reg until it is in. */
int  mem_region_insert(struct vdev_mem *m, struct mem_region *reg);
void mem_region_drop(struct vdev_mem *m, struct mem_region *reg);
struct mem_region *mem_region_find(struct vdev_mem *m, uint64_t gpa);
/* Whether any region overlaps [gpa, last]. */
bool mem_range_used(struct vdev_mem *m, uint64_t gpa, uint64_t last);

/* alias.c: records a write through an alias map at the source map's addresses. */
void mem_alias_mark_dirty(struct vdev_mem *m, uint64_t gpa, uint64_t len);

/* mapping.c: find or make the mapping of r->fd that covers the region. */
int  mem_mapping_get(struct vdev_mem *m, const struct vdev_mem_region *r,
                     struct mem_mapping **out);
void mem_mapping_put(struct vdev_mem *m, struct mem_mapping *map);

/* guard.c: the SIGBUS guard for mappings of files that may shrink. */
int  mem_guard_add(void *base, uint64_t len, uint64_t granule, int prot);
void mem_guard_remove(int slot);
bool mem_guard_lost(int slot);

#endif
