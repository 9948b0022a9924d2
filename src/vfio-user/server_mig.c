/* server_mig.c — migration: DEVICE_FEATURE for VFIO_DEVICE_FEATURE_MIGRATION and
 * VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, and MIG_DATA_READ / MIG_DATA_WRITE
 * ("VFIO_USER_DEVICE_FEATURE", "VFIO_USER_MIG_DATA_READ").
 *
 * The device has VFIO_MIGRATION_STOP_COPY and, as its mig_flags op says,
 * PRE_COPY and P2P; the paths are mig_fsm.c's. An arc the device fails leaves
 * the state at the last one reached. ERROR is left only by DEVICE_RESET (to
 * RUNNING); a request the table refuses is EINVAL, as the kernel answers.
 * MIG_DATA_READ serves the saving states: PRE_COPY (and PRE_COPY_P2P) for the
 * initial data, STOP_COPY for the rest. The DMA logging features are
 * server_dirty.c's. */
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "mig_fsm.h"
#include "server_dirty.h"
#include "server_internal.h"

#define FEATURE_BITS (VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | \
                      VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE)

static bool mig_supported(const struct vdev_vfu_server *s)
{
    return s->ops->mig_arc && s->ops->mig_save && s->ops->mig_load;
}

uint64_t vfu_mig_flags(const struct vdev_vfu_server *s)
{
    uint64_t f = s->ops->mig_flags ? s->ops->mig_flags(s->opaque) : 0;

    return VFIO_MIGRATION_STOP_COPY |
           (f & (VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY));
}

static bool saving(uint32_t st)
{
    return st == VFIO_DEVICE_STATE_STOP_COPY || st == VFIO_DEVICE_STATE_PRE_COPY ||
           st == VFIO_DEVICE_STATE_PRE_COPY_P2P;
}

/* Walks the path to target one direct arc at a time (mig_fsm.c). A failed arc
 * leaves the state at the last one reached ("If this function fails then
 * current device_state may be the original operating state or some other state
 * along the combination transition path", <linux/vfio.h>). */
static int mig_set(struct vdev_vfu_server *s, uint32_t target)
{
    uint64_t flags = vfu_mig_flags(s);

    if (s->mig_state == VFIO_DEVICE_STATE_ERROR)
        return vfu_bad(s, -EINVAL, "migration state ERROR: only a reset leaves it");
    if (vfu_mig_next(s->mig_state, target, flags) == VFIO_DEVICE_STATE_ERROR)
        return vfu_bad(s, -EINVAL, "migration state %u -> %u is not allowed "
                       "(flags %#llx)", s->mig_state, target,
                       (unsigned long long)flags);
    while (s->mig_state != target) {
        uint32_t next = vfu_mig_next(s->mig_state, target, flags);
        int ret = s->ops->mig_arc(s->opaque, s->mig_state, next);

        if (ret < 0)
            return vfu_bad(s, ret, "migration arc %u -> %u failed", s->mig_state, next);
        s->mig_state = next;
    }
    return 0;
}

/* What the feature allows: GET and/or SET, or 0 for a feature we lack. */
static uint32_t feature_ops(const struct vdev_vfu_server *s, uint32_t index)
{
    if (index == VFIO_DEVICE_FEATURE_DMA_LOGGING_START ||
        index == VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP)
        return VFIO_DEVICE_FEATURE_SET;
    if (index == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT)
        return VFIO_DEVICE_FEATURE_GET;
    if (!mig_supported(s))
        return 0;
    if (index == VFIO_DEVICE_FEATURE_MIGRATION)
        return VFIO_DEVICE_FEATURE_GET;
    if (index == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE)
        return VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
    return 0;
}

static int feature_get(struct vdev_vfu_server *s, struct vfu_msg *m,
                       struct vfio_device_feature *f, uint32_t index, uint32_t dlen)
{
    struct vfio_device_feature_mig_state st = { .device_state = s->mig_state,
                                                .data_fd = -1 };
    uint64_t flags = vfu_mig_flags(s);
    uint32_t n = index == VFIO_DEVICE_FEATURE_MIGRATION ? sizeof(flags) : sizeof(st);

    if (dlen)
        return vfu_bad(s, -EINVAL, "DEVICE_FEATURE GET %u with %u bytes of data", index,
                       dlen);
    if (f->argsz < sizeof(*f) + n)
        return vfu_bad(s, -EINVAL, "DEVICE_FEATURE GET %u: argsz %u below %zu", index,
                       f->argsz, sizeof(*f) + n);
    f->argsz = (uint32_t)sizeof(*f) + n;
    memcpy(m->r, f, sizeof(*f));
    memcpy(m->r + sizeof(*f), index == VFIO_DEVICE_FEATURE_MIGRATION
                                  ? (const void *)&flags : (const void *)&st, n);
    m->reply_size = f->argsz;
    return 0;
}

VFU_HANDLER(vfu_h_device_feature)
{
    struct vfio_device_feature f;
    struct vfio_device_feature_mig_state st;
    uint32_t dlen = m->size - (uint32_t)sizeof(f), index, want, can;
    int ret;

    memcpy(&f, m->p, sizeof(f));
    index = f.flags & VFIO_DEVICE_FEATURE_MASK;
    want = f.flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET);
    if ((f.flags & ~(uint32_t)FEATURE_BITS) ||
        (!want && !(f.flags & VFIO_DEVICE_FEATURE_PROBE)) ||
        (want == (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET) &&
         !(f.flags & VFIO_DEVICE_FEATURE_PROBE)))
        return vfu_bad(s, -EINVAL, "DEVICE_FEATURE flags %#x", f.flags);
    can = feature_ops(s, index);
    if ((want & can) != want || !can)
        return vfu_bad(s, -ENOTSUP, "DEVICE_FEATURE %u (flags %#x) is not supported",
                       index, f.flags);
    if (f.flags & VFIO_DEVICE_FEATURE_PROBE) {
        /* "The reply payload must be the same as the request payload". */
        memcpy(m->r, m->p, m->size);
        m->reply_size = m->size;
        return 0;
    }
    if (index >= VFIO_DEVICE_FEATURE_DMA_LOGGING_START &&
        index <= VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT)
        return vfu_dirty_feature(s, m, &f, index, dlen);
    if (want == VFIO_DEVICE_FEATURE_GET)
        return feature_get(s, m, &f, index, dlen);
    if (dlen != sizeof(st))
        return vfu_bad(s, -EINVAL, "DEVICE_FEATURE SET %u with %u bytes of data", index,
                       dlen);
    memcpy(&st, m->p + sizeof(f), sizeof(st));
    ret = mig_set(s, st.device_state);
    if (ret < 0)
        return ret;
    memcpy(m->r, m->p, m->size);
    m->reply_size = m->size;
    return 0;
}

VFU_HANDLER(vfu_h_mig_data_read)
{
    struct vfu_mig_data d;
    uint32_t done = 0;
    int ret;

    memcpy(&d, m->p, sizeof(d));
    if (!mig_supported(s) || !saving(s->mig_state))
        return vfu_bad(s, -EINVAL, "MIG_DATA_READ in migration state %u", s->mig_state);
    if (d.size > s->max_xfer || d.argsz < sizeof(d) + (uint64_t)d.size)
        return vfu_bad(s, -EINVAL, "MIG_DATA_READ of %u bytes, argsz %u", d.size,
                       d.argsz);
    ret = s->ops->mig_save(s->opaque, m->r + sizeof(d), d.size, &done);
    if (ret < 0)
        return ret;
    if (done > d.size)
        done = d.size;          /* our device's mistake must not reach the wire */
    d.size = done;
    d.argsz = (uint32_t)sizeof(d) + done;
    memcpy(m->r, &d, sizeof(d));
    m->reply_size = d.argsz;
    return 0;
}

VFU_HANDLER(vfu_h_mig_data_write)
{
    struct vfu_mig_data d;

    memcpy(&d, m->p, sizeof(d));
    if (!mig_supported(s) || s->mig_state != VFIO_DEVICE_STATE_RESUMING)
        return vfu_bad(s, -EINVAL, "MIG_DATA_WRITE in migration state %u", s->mig_state);
    if (d.size != m->size - sizeof(d) || d.size > s->max_xfer)
        return vfu_bad(s, -EINVAL, "MIG_DATA_WRITE of %u bytes with %zu bytes of data",
                       d.size, m->size - sizeof(d));
    return d.size ? s->ops->mig_load(s->opaque, m->p + sizeof(d), d.size) : 0;
}
