/* frontend_vring.c — the ring requests (vhost-user.rst, VHOST_USER_SET_VRING_NUM
 * to VHOST_USER_SET_VRING_ERR, VHOST_USER_SET_VRING_ENABLE, VHOST_USER_VRING_KICK,
 * "Ring states"). */
#include <errno.h>

#include "frontend_internal.h"

static int send_state(struct vdev_vuc *c, uint32_t request, uint32_t index, uint32_t num)
{
    struct vhost_vring_state s = { .index = index, .num = num };

    return vuc_request(c, request, &s, sizeof(s), NULL, 0);
}

VDEV_API int vdev_vuc_set_vring_num(struct vdev_vuc *c, uint32_t index, uint32_t num)
{
    int ret = vuc_ready(c, -1);

    return ret < 0 ? ret : send_state(c, VU_SET_VRING_NUM, index, num);
}

VDEV_API int vdev_vuc_set_vring_addr(struct vdev_vuc *c, const struct vhost_vring_addr *a)
{
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!a)
        return -EINVAL;
    return vuc_request(c, VU_SET_VRING_ADDR, a, sizeof(*a), NULL, 0);
}

VDEV_API int vdev_vuc_set_vring_base(struct vdev_vuc *c, uint32_t index, uint32_t base)
{
    int ret = vuc_ready(c, -1);

    return ret < 0 ? ret : send_state(c, VU_SET_VRING_BASE, index, base);
}

/* "The request payload's num field is currently reserved and must be set to 0."
 * The reply is a vring descriptor index (indices) for the same ring. */
VDEV_API int vdev_vuc_get_vring_base(struct vdev_vuc *c, uint32_t index, uint32_t *base)
{
    struct vhost_vring_state s = { .index = index, .num = 0 }, got;
    struct vuc_reply r = { .buf = &got, .min = sizeof(got), .max = sizeof(got) };
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!base)
        return -EINVAL;
    ret = vuc_call(c, VU_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &r);
    if (ret < 0)
        return ret;
    if (got.index != index) {
        vuc_drop(c, -EPROTO, "GET_VRING_BASE for ring %u answered for ring %u", index,
                 got.index);
        return -EPROTO;
    }
    *base = got.num;
    return 0;
}

/* SET_VRING_KICK, _CALL, _ERR: "Bits (0-7) of the payload contain the vring
 * index. Bit 8 is the invalid FD flag", set when no fd goes with the message. */
static int set_vring_fd(struct vdev_vuc *c, uint32_t request, uint32_t index, int fd)
{
    uint64_t v = index;
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (index > VU_VRING_INDEX_MASK)
        return -EINVAL;
    if (fd < 0)
        v |= VU_VRING_NOFD;
    return vuc_request(c, request, &v, sizeof(v), fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1);
}

VDEV_API int vdev_vuc_set_vring_kick(struct vdev_vuc *c, uint32_t index, int fd)
{
    return set_vring_fd(c, VU_SET_VRING_KICK, index, fd);
}

VDEV_API int vdev_vuc_set_vring_call(struct vdev_vuc *c, uint32_t index, int fd)
{
    return set_vring_fd(c, VU_SET_VRING_CALL, index, fd);
}

VDEV_API int vdev_vuc_set_vring_err(struct vdev_vuc *c, uint32_t index, int fd)
{
    return set_vring_fd(c, VU_SET_VRING_ERR, index, fd);
}

/* "This request should be sent only when VHOST_USER_F_PROTOCOL_FEATURES has been
 * negotiated": the back-end offered bit 30. */
VDEV_API int vdev_vuc_set_vring_enable(struct vdev_vuc *c, uint32_t index, bool enable)
{
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!c->have_offered || !(c->offered & (1ull << VU_F_PROTOCOL_FEATURES)))
        return -EOPNOTSUPP;
    return send_state(c, VU_SET_VRING_ENABLE, index, enable ? 1 : 0);
}

/* In-band kick: "The state.num field is currently reserved and must be set to 0." */
VDEV_API int vdev_vuc_vring_kick(struct vdev_vuc *c, uint32_t index)
{
    int ret = vuc_ready(c, VU_PF_INBAND_NOTIFICATIONS);

    return ret < 0 ? ret : send_state(c, VU_VRING_KICK, index, 0);
}
