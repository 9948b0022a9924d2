/* mapping.c — one mmap per file (and protection), shared by the regions in it.
 *
 * vfio-user clients map guest memory in many small DMA regions, each arriving with
 * its own fd; vhost-user sends a new fd for the same memfd in every memory table.
 * Keying mappings by the file (st_dev, st_ino) rather than the fd number lets all
 * of them share one mapping of the whole file. The fd itself is not kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vdev/log.h"
#include "mem_internal.h"

static int access_to_prot(uint32_t access)
{
    return ((access & VDEV_MEM_READ) ? PROT_READ : 0) |
           ((access & VDEV_MEM_WRITE) ? PROT_WRITE : 0);
}

static bool file_sealed(int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);

    return seals >= 0 && (seals & F_SEAL_SHRINK);
}

static uint64_t round_up(uint64_t v, uint64_t granule)
{
    return (v + granule - 1) & ~(granule - 1);
}

static int mapping_new(const struct stat *st, int fd, int prot,
                       struct mem_mapping **out)
{
    uint64_t granule = (uint64_t)sysconf(_SC_PAGESIZE);
    struct mem_mapping *map;
    void *base;

    /* hugetlbfs reports its page size as the block size: mappings of it must be
     * made, and guarded, in whole huge pages. */
    if ((uint64_t)st->st_blksize > granule &&
        ((uint64_t)st->st_blksize & ((uint64_t)st->st_blksize - 1)) == 0 &&
        (uint64_t)st->st_size % (uint64_t)st->st_blksize == 0)
        granule = (uint64_t)st->st_blksize;

    map = calloc(1, sizeof(*map));
    if (!map)
        return -ENOMEM;
    map->len = round_up((uint64_t)st->st_size, granule);
    base = mmap(NULL, map->len, prot, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        free(map);
        return err == EACCES || err == EPERM ? -EACCES : -err;
    }
    map->base = base;
    map->dev = st->st_dev;
    map->ino = st->st_ino;
    map->prot = prot;
    map->sealed = file_sealed(fd);
    map->guard = -1;
    if (!map->sealed) {
        map->guard = mem_guard_add(base, map->len, granule, prot);
        if (map->guard < 0) {
            int err = map->guard;
            munmap(base, map->len);
            free(map);
            return err;
        }
    }
    *out = map;
    return 0;
}

int mem_mapping_get(struct vdev_mem *m, const struct vdev_mem_region *r,
                    struct mem_mapping **out)
{
    int prot = access_to_prot(r->access);
    struct mem_mapping *map;
    struct stat st;
    uint64_t end;
    int ret;

    if (r->fd < 0 || fstat(r->fd, &st) < 0)
        return -EBADF;
    if (!S_ISREG(st.st_mode))
        return -ENODEV;
    /* The region must lie inside the file as it is now: a touch past the end
     * of a file is SIGBUS, not an error code. */
    if (__builtin_add_overflow(r->fd_offset, r->size, &end))
        return -EOVERFLOW;
    if (end > (uint64_t)st.st_size)
        return -ERANGE;

    for (map = m->mappings; map; map = map->next) {
        if (map->dev == st.st_dev && map->ino == st.st_ino && map->prot == prot &&
            end <= map->len) {
            map->refs++;
            *out = map;
            return 0;
        }
    }

    ret = mapping_new(&st, r->fd, prot, &map);
    if (ret < 0)
        return ret;
    map->refs = 1;
    map->next = m->mappings;
    m->mappings = map;
    if (!map->sealed)
        vdev_debug("mem: file %llu:%llu is not sealed against shrinking; guarded",
                   (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    *out = map;
    return 0;
}

void mem_mapping_put(struct vdev_mem *m, struct mem_mapping *map)
{
    struct mem_mapping **pp;

    if (--map->refs)
        return;
    for (pp = &m->mappings; *pp != map; pp = &(*pp)->next)
        ;
    *pp = map->next;
    /* Out of the guard before the unmap: the address range may be reused. */
    if (map->guard >= 0)
        mem_guard_remove(map->guard);
    munmap(map->base, map->len);
    free(map);
}
