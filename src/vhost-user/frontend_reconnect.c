/* frontend_reconnect.c — losing a back-end and finding it again, as QEMU does
 * with reconnect=1: the set-up is replayed on the new connection, and the rings
 * resume where the guest's memory says they stand (vhost-user.rst,
 * "Communication": "An optional reconnection mechanism can be implemented";
 * "Inflight I/O tracking"). */
#include <errno.h>
#include <unistd.h>

#include "frontend_internal.h"

VDEV_API void vdev_vuc_disconnect(struct vdev_vuc *c)
{
    if (c->sock >= 0)
        close(c->sock);
    c->sock = -1;
    vuc_backend_close(c);
    for (unsigned i = 0; i < VDEV_VUC_MAX_QUEUES; i++) {
        struct vuc_queue *q = c->queues[i];

        if (!q || q->state != VUC_Q_RUNNING)
            continue;
        q->base = vuc_queue_resume_base(c, q);
        q->state = VUC_Q_STOPPED;
        q->replay = true;
    }
}

/* What a connection learns starts over on the next one. */
static void forget_connection(struct vdev_vuc *c)
{
    c->have_offered = false;
    c->offered = 0;
    c->features = 0;
    c->pf = 0;
    c->queue_num = 0;
    c->max_slots = 0;
}

static int replay_inflight(struct vdev_vuc *c)
{
    if (c->inflight_fd < 0)
        return 0;
    if (!vuc_has_pf(c, VU_PF_INFLIGHT_SHMFD)) {
        vdev_warn(VUC_LOG "the back-end no longer offers INFLIGHT_SHMFD");
        return -ENOTSUP;
    }
    return vdev_vuc_set_inflight_fd(c, &c->inflight, c->inflight_fd);
}

static int replay_queues(struct vdev_vuc *c)
{
    for (unsigned i = 0; i < VDEV_VUC_MAX_QUEUES; i++) {
        struct vuc_queue *q = c->queues[i];
        int ret;

        if (!q || !q->replay)
            continue;
        if (vuc_has_pf(c, VU_PF_MQ) && i >= c->queue_num)
            return -ERANGE;
        ret = vdev_vuc_queue_start(c, (uint16_t)i);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* QEMU's order: the negotiation, the memory table, the inflight area, then each
 * ring. */
static int replay(struct vdev_vuc *c)
{
    uint64_t features = c->features;
    int ret;

    forget_connection(c);
    if (!c->negotiated)
        return 0;
    ret = vuc_negotiate(c);
    if (ret < 0)
        return ret;
    if (c->features != features) {
        vdev_warn(VUC_LOG "the back-end now negotiates features 0x%llx, not 0x%llx",
                  (unsigned long long)c->features, (unsigned long long)features);
        return -ENOTSUP;
    }
    if (c->nregions) {
        ret = vuc_mem_replay(c);
        if (ret < 0)
            return ret;
    }
    ret = replay_inflight(c);
    if (ret < 0)
        return ret;
    return replay_queues(c);
}

VDEV_API int vdev_vuc_reconnect(struct vdev_vuc *c, const char *path, int retry_ms)
{
    int fd, ret;

    vdev_vuc_disconnect(c);
    ret = vuc_connect_path(path, retry_ms, &fd);
    if (ret < 0)
        return ret;
    c->sock = fd;
    return replay(c);
}

VDEV_API int vdev_vuc_reconnect_fd(struct vdev_vuc *c, int fd)
{
    if (fd < 0)
        return -EINVAL;
    vdev_vuc_disconnect(c);
    c->sock = fd;
    return replay(c);
}
