/* client_mig.c — the client's migration commands: DEVICE_FEATURE for
 * VFIO_DEVICE_FEATURE_MIGRATION and _MIG_DEVICE_STATE, MIG_DATA_READ and
 * MIG_DATA_WRITE ("VFIO_USER_DEVICE_FEATURE", "VFIO_USER_MIG_DATA_READ",
 * "VFIO_USER_MIG_DATA_WRITE"), each reply checked for its exact form. */
#include <errno.h>
#include <string.h>

#include "vdev/sock.h"
#include "client_internal.h"

VDEV_API int vdev_vfuc_feature_probe(struct vdev_vfuc *c, uint32_t index, uint32_t ops)
{
    struct vfio_device_feature f = {
        .argsz = sizeof(f),
        .flags = (index & VFIO_DEVICE_FEATURE_MASK) | VFIO_DEVICE_FEATURE_PROBE |
                 (ops & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)),
    };
    struct vfuc_reply r;
    int ret;

    if (!c || index > VFIO_DEVICE_FEATURE_MASK)
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DEVICE_FEATURE, 0, &f, sizeof(f), NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    /* "The reply payload must be the same as the request payload". */
    if (r.size != sizeof(f) || memcmp(r.p, &f, sizeof(f)) != 0)
        return vfuc_bad_reply(c, &r, "DEVICE_FEATURE probe");
    return 0;
}

/* A GET of n bytes of feature data into out. */
static int feature_get(struct vdev_vfuc *c, uint32_t index, void *out, uint32_t n)
{
    struct vfio_device_feature f = {
        .argsz = (uint32_t)sizeof(f) + n,
        .flags = index | VFIO_DEVICE_FEATURE_GET,
    };
    struct vfio_device_feature got;
    struct vfuc_reply r;
    int ret;

    ret = vfuc_call(c, VFU_CMD_DEVICE_FEATURE, 0, &f, sizeof(f), NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    if (r.size != sizeof(f) + n)
        return vfuc_bad_reply(c, &r, "DEVICE_FEATURE GET");
    memcpy(&got, r.p, sizeof(got));
    if (got.argsz != sizeof(f) + n || got.flags != f.flags)
        return vfuc_bad_reply(c, &r, "DEVICE_FEATURE GET");
    memcpy(out, r.p + sizeof(f), n);
    return 0;
}

VDEV_API int vdev_vfuc_mig_flags(struct vdev_vfuc *c, uint64_t *flags)
{
    if (!c || !flags)
        return -EINVAL;
    return feature_get(c, VFIO_DEVICE_FEATURE_MIGRATION, flags, sizeof(*flags));
}

VDEV_API int vdev_vfuc_mig_state(struct vdev_vfuc *c, uint32_t *state)
{
    struct vfio_device_feature_mig_state st;
    int ret;

    if (!c || !state)
        return -EINVAL;
    ret = feature_get(c, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));
    if (ret == 0)
        *state = st.device_state;
    return ret;
}

VDEV_API int vdev_vfuc_mig_set_state(struct vdev_vfuc *c, uint32_t state)
{
    struct {
        struct vfio_device_feature f;
        struct vfio_device_feature_mig_state st;
    } __attribute__((packed)) req = {
        .f = { .argsz = sizeof(req),
               .flags = VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE | VFIO_DEVICE_FEATURE_SET },
        .st = { .device_state = state, .data_fd = -1 },
    };
    struct vfuc_reply r;
    int ret;

    if (!c)
        return -EINVAL;
    ret = vfuc_call(c, VFU_CMD_DEVICE_FEATURE, 0, &req, sizeof(req), NULL, 0, NULL, 0,
                    &r, 0);
    if (ret < 0)
        return ret;
    if (r.size != sizeof(req) || memcmp(r.p, &req, sizeof(req)) != 0)
        return vfuc_bad_reply(c, &r, "DEVICE_FEATURE SET MIG_DEVICE_STATE");
    return 0;
}

VDEV_API int vdev_vfuc_mig_read(struct vdev_vfuc *c, void *buf, uint32_t len,
                                uint32_t *got)
{
    struct vfu_mig_data d = { .argsz = (uint32_t)sizeof(d) + len, .size = len };
    struct vfu_mig_data rd;
    struct vfuc_reply r;
    int ret;

    if (!c || !got || (len && !buf) || len > UINT32_MAX - sizeof(d))
        return -EINVAL;
    if (len > c->caps.max_data_xfer_size || len > c->my_max_xfer)
        return -E2BIG;
    ret = vfuc_call(c, VFU_CMD_MIG_DATA_READ, 0, &d, sizeof(d), NULL, 0, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    if (r.size < sizeof(rd))
        return vfuc_bad_reply(c, &r, "MIG_DATA_READ");
    memcpy(&rd, r.p, sizeof(rd));
    if (rd.size > len || r.size != sizeof(rd) + rd.size || rd.argsz != r.size)
        return vfuc_bad_reply(c, &r, "MIG_DATA_READ");
    memcpy(buf, r.p + sizeof(rd), rd.size);
    *got = rd.size;
    return 0;
}

VDEV_API int vdev_vfuc_mig_write(struct vdev_vfuc *c, const void *buf, uint32_t len)
{
    struct vfu_mig_data d = { .argsz = sizeof(d), .size = len };
    struct vfuc_reply r;
    int ret;

    if (!c || (len && !buf))
        return -EINVAL;
    if (len > c->caps.max_data_xfer_size)
        return -E2BIG;
    ret = vfuc_call(c, VFU_CMD_MIG_DATA_WRITE, 0, &d, sizeof(d), buf, len, NULL, 0, &r, 0);
    if (ret < 0)
        return ret;
    return vfuc_expect_size(c, &r, 0, "MIG_DATA_WRITE");
}
