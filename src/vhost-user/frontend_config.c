/* frontend_config.c — config space, the inflight area and device state transfer
 * (vhost-user.rst, VHOST_USER_GET_CONFIG, VHOST_USER_SET_CONFIG,
 * VHOST_USER_GET_INFLIGHT_FD, VHOST_USER_SET_INFLIGHT_FD, "Inflight I/O
 * tracking", VHOST_USER_SET_DEVICE_STATE_FD, VHOST_USER_CHECK_DEVICE_STATE). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vdev/sock.h"
#include "frontend_internal.h"

/* ---- config space ---- */

/* "vhost-user back-end's payload size MUST match the front-end's request,
 * vhost-user back-end uses zero length of payload to indicate an error". The
 * reply's offset and size must be those asked for. */
VDEV_API int vdev_vuc_get_config(struct vdev_vuc *c, uint32_t offset, void *buf,
                                 uint32_t size)
{
    struct vu_config req, got;
    struct vuc_reply r = { .buf = &got, .min = 0, .max = VU_CONFIG_HDR_SIZE + size };
    int ret = vuc_ready(c, VU_PF_CONFIG);

    if (ret < 0)
        return ret;
    if (!buf || size == 0 || size > VU_MAX_CONFIG_SIZE)
        return -EINVAL;
    memset(&req, 0, sizeof(req));
    req.offset = offset;
    req.size = size;
    ret = vuc_call(c, VU_GET_CONFIG, &req, VU_CONFIG_HDR_SIZE + size, NULL, 0, &r);
    if (ret < 0)
        return ret;
    if (r.size == 0) {
        vdev_warn(VUC_LOG "GET_CONFIG of %u bytes at %u failed in the back-end", size,
                  offset);
        return -EREMOTEIO;
    }
    if (r.size != VU_CONFIG_HDR_SIZE + size) {
        vuc_drop(c, -EPROTO, "GET_CONFIG answered with %u payload bytes for %u", r.size,
                 VU_CONFIG_HDR_SIZE + size);
        return -EPROTO;
    }
    if (got.offset != offset || got.size != size) {
        vuc_drop(c, -EPROTO, "GET_CONFIG of %u bytes at %u answered with %u at %u",
                 size, offset, got.size, got.offset);
        return -EPROTO;
    }
    memcpy(buf, got.payload, size);
    return 0;
}

VDEV_API int vdev_vuc_set_config(struct vdev_vuc *c, uint32_t offset, const void *buf,
                                 uint32_t size, uint32_t flags)
{
    struct vu_config req;
    int ret = vuc_ready(c, VU_PF_CONFIG);

    if (ret < 0)
        return ret;
    if (!buf || size == 0 || size > VU_MAX_CONFIG_SIZE || flags > VU_CONFIG_FLAG_MIGRATION)
        return -EINVAL;
    memset(&req, 0, sizeof(req));
    req.offset = offset;
    req.size = size;
    req.flags = flags;
    memcpy(req.payload, buf, size);
    return vuc_request(c, VU_SET_CONFIG, &req, VU_CONFIG_HDR_SIZE + size, NULL, 0);
}

/* ---- the inflight area ---- */

/* The area must lie in the file, so the caller can map it without SIGBUS. */
static int check_area_fd(int fd, uint64_t size, uint64_t offset)
{
    struct stat st;

    if (offset + size < offset || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -EPROTO;
    if ((uint64_t)st.st_size < offset + size)
        return -EPROTO;
    return 0;
}

/* The request is an inflight description with the ring layout; the reply is one
 * with the area, and its fd, or mmap_size 0 and no fd for no area. The
 * description is 20 bytes of fields; 24 with a C compiler's padding. */
VDEV_API int vdev_vuc_get_inflight_fd(struct vdev_vuc *c, uint16_t num_queues,
                                      uint16_t queue_size,
                                      struct vdev_vuc_inflight *out, int *fd)
{
    struct vu_inflight req = { .num_queues = num_queues, .queue_size = queue_size };
    struct vu_inflight got;
    struct vuc_reply r = {
        .buf = &got, .min = VU_INFLIGHT_MIN_SIZE, .max = sizeof(got), .max_fds = 1,
    };
    int ret = vuc_ready(c, VU_PF_INFLIGHT_SHMFD);

    if (ret < 0)
        return ret;
    if (!out || !fd || num_queues == 0 || queue_size == 0)
        return -EINVAL;
    memset(&got, 0, sizeof(got));
    ret = vuc_call(c, VU_GET_INFLIGHT_FD, &req, sizeof(req), NULL, 0, &r);
    if (ret < 0)
        return ret;
    if (got.mmap_size == 0 ? r.nfds != 0 : r.nfds != 1) {
        vdev_close_fds(r.fds, r.nfds);
        vuc_drop(c, -EPROTO, "GET_INFLIGHT_FD answered %zu fds for %llu bytes", r.nfds,
                 (unsigned long long)got.mmap_size);
        return -EPROTO;
    }
    if (r.nfds && check_area_fd(r.fds[0], got.mmap_size, got.mmap_offset) < 0) {
        vdev_close_fds(r.fds, r.nfds);
        vuc_drop(c, -EPROTO, "GET_INFLIGHT_FD's fd does not hold %llu bytes at %llu",
                 (unsigned long long)got.mmap_size, (unsigned long long)got.mmap_offset);
        return -EPROTO;
    }
    *out = (struct vdev_vuc_inflight){
        .mmap_size = got.mmap_size, .mmap_offset = got.mmap_offset,
        .num_queues = got.num_queues, .queue_size = got.queue_size,
    };
    *fd = r.nfds ? r.fds[0] : -1;
    return 0;
}

VDEV_API int vdev_vuc_set_inflight_fd(struct vdev_vuc *c,
                                      const struct vdev_vuc_inflight *in, int fd)
{
    struct vu_inflight req;
    int ret = vuc_ready(c, VU_PF_INFLIGHT_SHMFD);

    if (ret < 0)
        return ret;
    if (!in || fd < 0)
        return -EINVAL;
    memset(&req, 0, sizeof(req));
    req.mmap_size = in->mmap_size;
    req.mmap_offset = in->mmap_offset;
    req.num_queues = in->num_queues;
    req.queue_size = in->queue_size;
    return vuc_request(c, VU_SET_INFLIGHT_FD, &req, sizeof(req), &fd, 1);
}

static bool any_queue_running(const struct vdev_vuc *c)
{
    for (unsigned i = 0; i < VDEV_VUC_MAX_QUEUES; i++)
        if (c->queues[i] && c->queues[i]->state == VUC_Q_RUNNING)
            return true;
    return false;
}

/* QEMU gets the area once and hands it back at once, before the rings start;
 * the description it hands back carries its own ring layout. */
VDEV_API int vdev_vuc_inflight_setup(struct vdev_vuc *c, uint16_t num_queues,
                                     uint16_t queue_size)
{
    struct vdev_vuc_inflight info;
    int fd, ret;

    if (!c->negotiated)
        return -EINVAL;
    if (any_queue_running(c))
        return -EBUSY;
    ret = vdev_vuc_get_inflight_fd(c, num_queues, queue_size, &info, &fd);
    if (ret < 0)
        return ret;
    if (fd < 0)                 /* the back-end keeps no area */
        return 0;
    info.num_queues = num_queues;
    info.queue_size = queue_size;
    ret = vdev_vuc_set_inflight_fd(c, &info, fd);
    if (ret < 0) {
        close(fd);
        return ret;
    }
    if (c->inflight_fd >= 0)
        close(c->inflight_fd);
    c->inflight_fd = fd;
    c->inflight = info;
    return 0;
}

VDEV_API int vdev_vuc_inflight(const struct vdev_vuc *c, struct vdev_vuc_inflight *info)
{
    if (info)
        *info = c->inflight;
    return c->inflight_fd;
}

/* ---- device state transfer ---- */

#define VUC_STATE_ERR_MASK 0xffull
#define VUC_STATE_NOFD     (1ull << 8)

/* "Bits 0-7 are 0 on success, and non-zero on error. Bit 8 is the invalid FD
 * flag ... The back-end must not both indicate an error and return a file
 * descriptor." */
VDEV_API int vdev_vuc_set_device_state_fd(struct vdev_vuc *c, uint32_t direction,
                                          uint32_t phase, int fd, int *backend_fd)
{
    struct vu_transfer_state req = { .direction = direction, .phase = phase };
    uint64_t v = 0;
    struct vuc_reply r = { .buf = &v, .min = sizeof(v), .max = sizeof(v), .max_fds = 1 };
    int ret = vuc_ready(c, VU_PF_DEVICE_STATE);

    if (ret < 0)
        return ret;
    if (fd < 0 || !backend_fd || direction > VU_TRANSFER_LOAD || phase != VU_PHASE_STOPPED)
        return -EINVAL;
    ret = vuc_call(c, VU_SET_DEVICE_STATE_FD, &req, sizeof(req), &fd, 1, &r);
    if (ret < 0)
        return ret;
    if ((v & VUC_STATE_ERR_MASK) ? r.nfds != 0 : r.nfds != ((v & VUC_STATE_NOFD) ? 0 : 1)) {
        vdev_close_fds(r.fds, r.nfds);
        vuc_drop(c, -EPROTO, "SET_DEVICE_STATE_FD answered 0x%llx with %zu fds",
                 (unsigned long long)v, r.nfds);
        return -EPROTO;
    }
    if (v & VUC_STATE_ERR_MASK) {
        vdev_warn(VUC_LOG "SET_DEVICE_STATE_FD failed in the back-end: %llu",
                  (unsigned long long)(v & VUC_STATE_ERR_MASK));
        return -EREMOTEIO;
    }
    *backend_fd = r.nfds ? r.fds[0] : -1;
    return 0;
}

VDEV_API int vdev_vuc_check_device_state(struct vdev_vuc *c)
{
    uint64_t v;
    int ret = vuc_ready(c, VU_PF_DEVICE_STATE);

    if (ret < 0)
        return ret;
    ret = vuc_call_u64(c, VU_CHECK_DEVICE_STATE, &v);
    if (ret < 0)
        return ret;
    return v == 0 ? 0 : -EREMOTEIO;
}
