/* backend_inflight.c — the inflight area ("Inflight I/O tracking"):
 * GET_INFLIGHT_FD hands the front-end a new one, SET_INFLIGHT_FD takes one back
 * (after a restart of the back-end, or a reconnect), and each ring's records are
 * brought up to date when the ring runs.
 *
 * The area belongs to the back-end, not to a connection: it stays mapped when
 * the front-end goes, for the next one to hand back. It changes only while the
 * device is suspended. Its layout is vdev_inflight's (inflight.h): one region of
 * the spec's records per queue, every VDEV_INFLIGHT_ALIGN bytes.
 *
 * A file the front-end hands back must be a regular file at least mmap_offset +
 * mmap_size long and sealed against shrinking (vdev hands out such a memfd): the
 * records are written by the data path, and a file cut short under it would be
 * SIGBUS. Only the bytes the layout needs are mapped.
 *
 * The virtq keeps the records (fetch, complete, commit) and resumes them when a
 * ring starts; this file only hands each ring its queue's records. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vdev/log.h"
#include "backend_internal.h"

static void records_free(struct vdev_inflight **q, uint16_t n)
{
    if (!q)
        return;
    for (uint16_t i = 0; i < n; i++)
        vdev_inflight_free(q[i]);
    free(q);
}

void vu_inflight_release(struct vdev_vu_backend *b)
{
    struct vu_inflight_area *a = &b->inflight;

    records_free(a->q, a->layout.num_queues);
    a->q = NULL;
    if (a->map)
        munmap(a->map, a->map_len);
    a->map = NULL;
    a->map_len = 0;
}

/* The description's queue count and size, against the device. */
static int layout_of(struct vdev_vu_backend *b, const struct vu_msg *m,
                     struct vdev_inflight_layout *l, uint64_t *need)
{
    const struct vu_inflight *in = &m->p.inflight;
    const char *name = vu_req_name(m->hdr.request);

    if (in->num_queues == 0 || in->num_queues > b->nrings)
        return vu_bad(b, -EINVAL, "%s: %u queues, the device has %u", name,
                      in->num_queues, b->nrings);
    if (in->queue_size == 0 || in->queue_size > b->max_qsize)
        return vu_bad(b, -EINVAL, "%s: queue size %u, not 1..%u", name,
                      in->queue_size, b->max_qsize);
    if (!vu_suspended(b))
        return vu_bad(b, -EBUSY, "%s while a ring is started", name);
    *l = (struct vdev_inflight_layout){
        .num_queues = in->num_queues,
        .queue_size = in->queue_size,
        .packed = vu_packed(b),
    };
    return vdev_inflight_mmap_size(l, need);
}

/* Takes [base, base + size) of map as the new area: every queue's records made
 * (fresh) or attached and checked (attach). On failure nothing changes. */
static int area_install(struct vdev_vu_backend *b, void *map, size_t map_len,
                        uint8_t *base, uint64_t size,
                        const struct vdev_inflight_layout *l, bool attach)
{
    struct vdev_inflight **q = calloc(l->num_queues, sizeof(*q));
    int ret = 0;

    if (!q)
        return -ENOMEM;
    for (uint16_t i = 0; i < l->num_queues && ret == 0; i++)
        ret = attach ? vdev_inflight_attach(&q[i], base, size, l, i)
                     : vdev_inflight_init(&q[i], base, size, l, i);
    if (ret < 0) {
        records_free(q, l->num_queues);
        return vu_bad(b, ret, "inflight area refused: %s", vdev_strerror(ret));
    }
    vu_inflight_release(b);
    b->inflight.map = map;
    b->inflight.map_len = map_len;
    b->inflight.layout = *l;
    b->inflight.q = q;
    return 0;
}

static int memfd_sealed(uint64_t size)
{
    int fd = memfd_create("vdev-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int err = -errno;

        close(fd);
        return err;
    }
    return fd;
}

/* GET_INFLIGHT_FD: a sealed memfd of zeroes (uninitialized regions) laid out for
 * num_queues queues of queue_size, mapped here and handed over. */
int vu_h_get_inflight_fd(struct vdev_vu_backend *b, struct vu_msg *m)
{
    struct vdev_inflight_layout l;
    uint64_t size;
    void *map;
    int fd, ret = layout_of(b, m, &l, &size);

    if (ret < 0)
        return ret;
    fd = memfd_sealed(size);
    if (fd < 0)
        return vu_bad(b, fd, "GET_INFLIGHT_FD: no memfd of %llu bytes",
                      (unsigned long long)size);
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        ret = -errno;
        close(fd);
        return ret;
    }
    ret = area_install(b, map, size, map, size, &l, false);
    if (ret < 0) {
        munmap(map, size);
        close(fd);
        return ret;
    }
    m->r.inflight = (struct vu_inflight){
        .mmap_size = size,
        .mmap_offset = 0,
        .num_queues = l.num_queues,
        .queue_size = l.queue_size,
    };
    m->reply_size = sizeof(m->r.inflight);
    m->reply_fd = fd;
    return 0;
}

static int inflight_fd_check(struct vdev_vu_backend *b, int fd,
                             const struct vu_inflight *in, uint64_t need)
{
    struct stat st;
    uint64_t end;
    int seals;

    if (in->mmap_size < need)
        return vu_bad(b, -EINVAL, "SET_INFLIGHT_FD: mmap_size %#llx below the %#llx "
                      "the layout needs", (unsigned long long)in->mmap_size,
                      (unsigned long long)need);
    if (__builtin_add_overflow(in->mmap_offset, in->mmap_size, &end))
        return vu_bad(b, -EOVERFLOW, "SET_INFLIGHT_FD: offset %#llx + size %#llx wraps",
                      (unsigned long long)in->mmap_offset,
                      (unsigned long long)in->mmap_size);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return vu_bad(b, -ENODEV, "SET_INFLIGHT_FD: the fd is not a file");
    if (end > (uint64_t)st.st_size)
        return vu_bad(b, -ERANGE, "SET_INFLIGHT_FD: offset + size %#llx past the "
                      "file's %lld bytes", (unsigned long long)end,
                      (long long)st.st_size);
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK))
        return vu_bad(b, -EPERM, "SET_INFLIGHT_FD: the file is not sealed against "
                      "shrinking");
    return 0;
}

/* SET_INFLIGHT_FD: the area handed back; every queue's region is checked. */
int vu_h_set_inflight_fd(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vu_inflight *in = &m->p.inflight;
    struct vdev_inflight_layout l;
    uint64_t need, page = (uint64_t)sysconf(_SC_PAGESIZE), lead;
    size_t len;
    uint8_t *map;
    int ret = layout_of(b, m, &l, &need);

    if (ret < 0)
        return ret;
    ret = inflight_fd_check(b, m->fds[0], in, need);
    if (ret < 0)
        return ret;
    lead = in->mmap_offset % page;
    len = (size_t)(need + lead);
    map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
               (off_t)(in->mmap_offset - lead));
    if (map == MAP_FAILED)
        return vu_bad(b, -errno, "SET_INFLIGHT_FD: mmap of %zu bytes failed", len);
    ret = area_install(b, map, len, map + lead, need, &l, true);
    if (ret < 0)
        munmap(map, len);
    return ret;
}

/* The records of the ring, for vdev_vq_start(), which resumes them ("When
 * reconnecting") and hands out again what was in flight, oldest first. A ring
 * whose size or layout is not the area's is not tracked. */
struct vdev_inflight *vu_inflight_of(struct vdev_vu_backend *b, struct vu_ring *r,
                                     const struct vdev_vq_config *c)
{
    struct vu_inflight_area *a = &b->inflight;

    if (!a->q || r->index >= a->layout.num_queues)
        return NULL;
    if (a->layout.queue_size != c->size || a->layout.packed != c->packed) {
        vu_bad(b, 0, "ring %u: size %u%s does not match the inflight area's %u%s; "
               "not tracked", r->index, c->size, c->packed ? " packed" : "",
               a->layout.queue_size, a->layout.packed ? " packed" : "");
        return NULL;
    }
    return a->q[r->index];
}
