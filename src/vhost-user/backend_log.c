/* backend_log.c — the shared dirty log of live migration ("Migration"):
 * SET_LOG_BASE (the LOG_SHMFD form: an fd, a size and an offset) and
 * SET_LOG_FD.
 *
 * The log is a bitmap of 4 KiB pages of guest physical memory starting at the
 * offset in the fd; vdev_dirty_wrap() sets its bits atomically. It is attached
 * to the memory map while VHOST_F_LOG_ALL is negotiated, so every write of the
 * device to guest memory is recorded; used-ring writes go to the ring's
 * log_guest_addr when it has VHOST_VRING_F_LOG (backend_ring.c).
 *
 * The fd must be a regular file (a memfd) at least offset + size long, and sealed
 * against shrinking (F_SEAL_SHRINK, as QEMU seals its log): a log the front-end
 * could cut short under us would turn a bit set by a worker into SIGBUS. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vdev/dirty.h"
#include "vdev/log.h"
#include "backend_internal.h"

/* 1 GiB of log covers 32 TiB of guest memory. */
#define VU_LOG_MAX (1ull << 30)

void vu_log_apply(struct vdev_vu_backend *b)
{
    bool on = vu_has_f(b, VHOST_F_LOG_ALL) && b->c.log.dirty;

    if (b->c.mem)
        vdev_mem_set_dirty_log(b->c.mem, on ? b->c.log.dirty : NULL);
}

static void log_unmap(struct vdev_vu_backend *b)
{
    struct vu_log_area *l = &b->c.log;

    if (b->c.mem)
        vdev_mem_set_dirty_log(b->c.mem, NULL);
    vdev_dirty_free(l->dirty);
    l->dirty = NULL;
    if (l->map)
        munmap(l->map, l->map_len);
    l->map = NULL;
    l->map_len = 0;
    l->size = 0;
}

void vu_log_release(struct vdev_vu_backend *b)
{
    log_unmap(b);
    vu_close(&b->c.log.log_fd);
}

/* The fd is a sealed file that holds [offset, offset + size). */
static int log_fd_check(struct vdev_vu_backend *b, int fd, const struct vu_log *l)
{
    struct stat st;
    uint64_t end;
    int seals;

    if (l->size == 0 || l->size > VU_LOG_MAX)
        return vu_bad(b, -EINVAL, "SET_LOG_BASE: log size %#llx, not 1..%#llx",
                      (unsigned long long)l->size, (unsigned long long)VU_LOG_MAX);
    if (__builtin_add_overflow(l->offset, l->size, &end))
        return vu_bad(b, -EOVERFLOW, "SET_LOG_BASE: offset %#llx + size wraps",
                      (unsigned long long)l->offset);
    if (fstat(fd, &st) < 0)
        return vu_bad(b, -errno, "SET_LOG_BASE: fstat of the fd failed");
    if (!S_ISREG(st.st_mode))
        return vu_bad(b, -ENODEV, "SET_LOG_BASE: the fd is not a file");
    if (end > (uint64_t)st.st_size)
        return vu_bad(b, -ERANGE, "SET_LOG_BASE: offset %#llx + size %#llx is past "
                      "the file's %lld bytes", (unsigned long long)l->offset,
                      (unsigned long long)l->size, (long long)st.st_size);
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK))
        return vu_bad(b, -EPERM, "SET_LOG_BASE: the file is not sealed against "
                      "shrinking");
    return 0;
}

int vu_h_set_log_base(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_log *l = &m->p.log;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), lead = l->offset % page;
    struct vdev_dirty *dirty;
    size_t len;
    void *map;
    int ret = log_fd_check(b, m->fds[0], l);

    if (ret < 0)
        return ret;
    len = (size_t)(l->size + lead);
    map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
               (off_t)(l->offset - lead));
    if (map == MAP_FAILED)
        return vu_bad(b, -errno, "SET_LOG_BASE: mmap of %zu bytes failed", len);
    ret = vdev_dirty_wrap((uint8_t *)map + lead, l->size, &dirty);
    if (ret < 0) {
        munmap(map, len);
        return ret;
    }

    vu_rings_halt(b);
    log_unmap(b);
    b->c.log.map = map;
    b->c.log.map_len = len;
    b->c.log.size = l->size;
    b->c.log.dirty = dirty;
    vu_log_apply(b);
    vu_rings_sync(b);
    m->status = 0;
    return 0;
}

/* SET_LOG_FD: an eventfd to tell the front-end the log changed; vdev keeps it and
 * does not use it (the front-end reads the log when it syncs). */
int vu_h_set_log_fd(struct vdev_vu_backend *b, struct vu_msg *m)
{
    vu_close(&b->c.log.log_fd);
    b->c.log.log_fd = vu_take_fd(m, 0);
    return 0;
}
