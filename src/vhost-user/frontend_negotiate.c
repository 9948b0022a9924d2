/* frontend_negotiate.c — features, protocol features, ownership and device
 * status: the requests, and the negotiation a front-end makes on a new
 * connection (vhost-user.rst, "Communication", "Protocol features",
 * "Multiple queue support", "In-band notifications"). */
#include <errno.h>

#include "frontend_internal.h"

#define BIT(n) (1ull << (n))

/* "Only legal if feature bit VHOST_USER_F_PROTOCOL_FEATURES is present in
 * VHOST_USER_GET_FEATURES." */
static int need_protocol_features(const struct vdev_vuc *c)
{
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (!c->have_offered || !(c->offered & BIT(VU_F_PROTOCOL_FEATURES)))
        return -EOPNOTSUPP;
    return 0;
}

VDEV_API int vdev_vuc_get_features(struct vdev_vuc *c, uint64_t *features)
{
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    ret = vuc_call_u64(c, VU_GET_FEATURES, features);
    if (ret < 0)
        return ret;
    c->offered = *features;
    c->have_offered = true;
    return 0;
}

VDEV_API int vdev_vuc_set_features(struct vdev_vuc *c, uint64_t features)
{
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    ret = vuc_request(c, VU_SET_FEATURES, &features, sizeof(features), NULL, 0);
    if (ret == 0)
        c->features = features;
    return ret;
}

VDEV_API int vdev_vuc_get_protocol_features(struct vdev_vuc *c, uint64_t *pf)
{
    int ret = need_protocol_features(c);

    if (ret < 0)
        return ret;
    return vuc_call_u64(c, VU_GET_PROTOCOL_FEATURES, pf);
}

VDEV_API int vdev_vuc_set_protocol_features(struct vdev_vuc *c, uint64_t pf)
{
    int ret = need_protocol_features(c);

    if (ret < 0)
        return ret;
    if (pf & ~VDEV_VUC_PF_SUPPORTED)
        return -EOPNOTSUPP;
    /* "It is also considered an error to negotiate this feature without also
     * negotiating BACKEND_REQ and REPLY_ACK" ("In-band notifications"). */
    if ((pf & BIT(VU_PF_INBAND_NOTIFICATIONS)) &&
        (!(pf & BIT(VU_PF_BACKEND_REQ)) || !(pf & BIT(VU_PF_REPLY_ACK))))
        return -EINVAL;
    /* Sent under the features negotiated so far; REPLY_ACK applies from the
     * next request on. */
    ret = vuc_request(c, VU_SET_PROTOCOL_FEATURES, &pf, sizeof(pf), NULL, 0);
    if (ret == 0)
        c->pf = pf;
    return ret;
}

VDEV_API int vdev_vuc_set_owner(struct vdev_vuc *c)
{
    int ret = vuc_ready(c, -1);

    return ret < 0 ? ret : vuc_request(c, VU_SET_OWNER, NULL, 0, NULL, 0);
}

VDEV_API int vdev_vuc_reset_owner(struct vdev_vuc *c)
{
    int ret = vuc_ready(c, -1);

    return ret < 0 ? ret : vuc_request(c, VU_RESET_OWNER, NULL, 0, NULL, 0);
}

VDEV_API int vdev_vuc_get_queue_num(struct vdev_vuc *c, uint64_t *num)
{
    int ret = vuc_ready(c, VU_PF_MQ);

    return ret < 0 ? ret : vuc_call_u64(c, VU_GET_QUEUE_NUM, num);
}

VDEV_API int vdev_vuc_reset_device(struct vdev_vuc *c)
{
    int ret = vuc_ready(c, VU_PF_RESET_DEVICE);

    return ret < 0 ? ret : vuc_request(c, VU_RESET_DEVICE, NULL, 0, NULL, 0);
}

VDEV_API int vdev_vuc_set_status(struct vdev_vuc *c, uint8_t status)
{
    uint64_t v = status;
    int ret = vuc_ready(c, VU_PF_STATUS);

    return ret < 0 ? ret : vuc_request(c, VU_SET_STATUS, &v, sizeof(v), NULL, 0);
}

/* The status "as defined in the Virtio specification" is 8 bits wide. */
VDEV_API int vdev_vuc_get_status(struct vdev_vuc *c, uint8_t *status)
{
    uint64_t v;
    int ret = vuc_ready(c, VU_PF_STATUS);

    if (ret < 0)
        return ret;
    ret = vuc_call_u64(c, VU_GET_STATUS, &v);
    if (ret < 0)
        return ret;
    if (v > UINT8_MAX) {
        vuc_drop(c, -EPROTO, "GET_STATUS returned 0x%llx", (unsigned long long)v);
        return -EPROTO;
    }
    *status = (uint8_t)v;
    return 0;
}

/* ---- the negotiation ---- */

/* What to set of the protocol features the back-end offers. */
static uint64_t pick_protocol_features(uint64_t want, uint64_t offered)
{
    uint64_t pf = want & offered & VDEV_VUC_PF_SUPPORTED;

    if (!(pf & BIT(VU_PF_BACKEND_REQ)) || !(pf & BIT(VU_PF_REPLY_ACK)))
        pf &= ~BIT(VU_PF_INBAND_NOTIFICATIONS);
    return pf;
}

static int negotiate_protocol_features(struct vdev_vuc *c)
{
    uint64_t offered;
    int ret = vdev_vuc_get_protocol_features(c, &offered);

    if (ret < 0)
        return ret;
    return vdev_vuc_set_protocol_features(c, pick_protocol_features(c->want_pf, offered));
}

/* What the protocol features negotiated call for next. */
static int after_protocol_features(struct vdev_vuc *c)
{
    int ret;

    c->queue_num = 0;
    c->max_slots = 0;
    if (vuc_has_pf(c, VU_PF_MQ)) {
        ret = vdev_vuc_get_queue_num(c, &c->queue_num);
        if (ret < 0)
            return ret;
    }
    if (vuc_has_pf(c, VU_PF_CONFIGURE_MEM_SLOTS)) {
        ret = vdev_vuc_get_max_mem_slots(c, &c->max_slots);
        if (ret < 0)
            return ret;
    }
    if (vuc_has_pf(c, VU_PF_BACKEND_REQ))
        return vdev_vuc_backend_open(c);
    return 0;
}

int vuc_negotiate(struct vdev_vuc *c)
{
    uint64_t offered, features;
    int ret;

    /* SET_OWNER: "Issued when a new connection is established." */
    ret = vdev_vuc_set_owner(c);
    if (ret < 0)
        return ret;
    ret = vdev_vuc_get_features(c, &offered);
    if (ret < 0)
        return ret;
    if (offered & BIT(VU_F_PROTOCOL_FEATURES)) {
        ret = negotiate_protocol_features(c);
        if (ret < 0)
            return ret;
    }
    /* Bit 30 is acked when offered, so rings start disabled and are enabled with
     * SET_VRING_ENABLE ("Ring states"). */
    features = (c->want_features & offered & ~VDEV_VUC_F_NOT_NEGOTIATED) |
               (offered & BIT(VU_F_PROTOCOL_FEATURES));
    ret = vdev_vuc_set_features(c, features);
    if (ret < 0)
        return ret;
    return after_protocol_features(c);
}

VDEV_API int vdev_vuc_negotiate(struct vdev_vuc *c, uint64_t features,
                                uint64_t protocol_features)
{
    int ret = vuc_ready(c, -1);

    if (ret < 0)
        return ret;
    if (c->negotiated)
        return -EBUSY;
    c->want_features = features;
    c->want_pf = protocol_features;
    ret = vuc_negotiate(c);
    if (ret == 0)
        c->negotiated = true;
    return ret;
}

VDEV_API uint64_t vdev_vuc_features(const struct vdev_vuc *c)
{
    return c->features;
}

VDEV_API uint64_t vdev_vuc_protocol_features(const struct vdev_vuc *c)
{
    return c->pf;
}

VDEV_API uint64_t vdev_vuc_queue_num(const struct vdev_vuc *c)
{
    return c->queue_num;
}
