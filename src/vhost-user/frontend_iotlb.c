/* frontend_iotlb.c — IOTLB_MSG, the front-end's side of the device IOTLB
 * (vhost-user.rst, "IOMMU support"): UPDATE maps an IOVA range to user
 * addresses of this process, INVALIDATE unmaps it. The back-end's MISS comes on
 * the back-end channel, to the caller's handler (vdev_vuc_set_backend_handler());
 * the caller answers it with an UPDATE once the handler has returned (a handler
 * may not make requests). */
#include <errno.h>
#include <linux/virtio_config.h>

#include "frontend_internal.h"

/* "The back-end has to acknowledge the request with sending zero as u64
 * payload for success, non-zero otherwise." */
VDEV_API int vdev_vuc_iotlb_msg(struct vdev_vuc *c, const struct vhost_iotlb_msg *msg)
{
    uint64_t v = 0;
    struct vuc_reply r = { .buf = &v, .min = sizeof(v), .max = sizeof(v) };
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!msg)
        return -EINVAL;
    /* "This request should be send only when VIRTIO_F_IOMMU_PLATFORM feature
     * has been successfully negotiated." */
    if (!vuc_has_feature(c, VIRTIO_F_ACCESS_PLATFORM))
        return -EOPNOTSUPP;
    ret = vuc_call(c, VU_IOTLB_MSG, msg, sizeof(*msg), NULL, 0, &r);
    if (ret < 0)
        return ret;
    if (v != 0) {
        vdev_warn(VUC_LOG "IOTLB_MSG type %u iova %#llx failed: the back-end answered "
                  "%llu", msg->type, (unsigned long long)msg->iova,
                  (unsigned long long)v);
        return -EREMOTEIO;
    }
    return 0;
}

VDEV_API int vdev_vuc_iotlb_update(struct vdev_vuc *c, uint64_t iova, uint64_t size,
                                   uint64_t user_addr, uint8_t perm)
{
    struct vhost_iotlb_msg m = {
        .iova = iova, .size = size, .uaddr = user_addr, .perm = perm,
        .type = VHOST_IOTLB_UPDATE,
    };

    return vdev_vuc_iotlb_msg(c, &m);
}

VDEV_API int vdev_vuc_iotlb_invalidate(struct vdev_vuc *c, uint64_t iova, uint64_t size)
{
    struct vhost_iotlb_msg m = { .iova = iova, .size = size,
                                 .type = VHOST_IOTLB_INVALIDATE };

    return vdev_vuc_iotlb_msg(c, &m);
}
