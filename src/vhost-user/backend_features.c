/* backend_features.c — what the two sides agree on: virtio features, protocol
 * features, ownership, the device status, and the two resets. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vdev/log.h"
#include "backend_internal.h"

#define BIT(n) (1ull << (n))

/* Bits 24..49 belong to the transport and the rings (virtio 1.2, 6): only the
 * ones vdev's rings implement are passed on from the device. */
#define TRANSPORT_BITS (((BIT(50) - 1)) & ~(BIT(24) - 1))
#define RING_BITS (BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
                   BIT(VIRTIO_F_RING_PACKED))
/* The bits that are vhost's, not the device's. */
#define VHOST_BITS (BIT(VU_F_PROTOCOL_FEATURES) | BIT(VHOST_F_LOG_ALL))

/* --- helpers the other files share ---------------------------------------- */

bool vu_has_pf(const struct vdev_vu_backend *b, unsigned bit)
{
    return bit < 64 && (b->c.pfeatures & BIT(bit));
}

bool vu_has_f(const struct vdev_vu_backend *b, unsigned bit)
{
    return bit < 64 && (b->c.features & BIT(bit));
}

bool vu_packed(const struct vdev_vu_backend *b)
{
    return vu_has_f(b, VIRTIO_F_RING_PACKED);
}

int vu_bad(const struct vdev_vu_backend *b, int err, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    vdev_warn("vhost-user %s: %s", b->c.peer, line);
    return err;
}

int vu_take_fd(struct vu_msg *m, size_t i)
{
    int fd = m->fds[i];

    m->fds[i] = -1;
    return fd;
}

void vu_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* --- features ------------------------------------------------------------- */

static uint64_t dev_features(const struct vdev_vu_backend *b)
{
    return b->dev->ops->features(b->dev->priv);
}

/* GET_FEATURES: the device's own bits, the ring features it supports, VERSION_1,
 * IOMMU_PLATFORM (the transport's IOTLB, backend_iotlb.c: every device has it),
 * and vhost-user's PROTOCOL_FEATURES and LOG_ALL ("Migration"). */
static uint64_t offered(const struct vdev_vu_backend *b)
{
    uint64_t dev = dev_features(b);

    return (dev & ~TRANSPORT_BITS) | (dev & RING_BITS) | BIT(VIRTIO_F_VERSION_1) |
           BIT(VIRTIO_F_ACCESS_PLATFORM) | VHOST_BITS;
}

static uint64_t offered_pf(const struct vdev_vu_backend *b)
{
    const struct vdev_virtio_ops *ops = b->dev->ops;
    uint64_t pf = BIT(VU_PF_MQ) | BIT(VU_PF_LOG_SHMFD) | BIT(VU_PF_REPLY_ACK) |
                  BIT(VU_PF_BACKEND_REQ) | BIT(VU_PF_INFLIGHT_SHMFD) |
                  BIT(VU_PF_RESET_DEVICE) | BIT(VU_PF_INBAND_NOTIFICATIONS) |
                  BIT(VU_PF_CONFIGURE_MEM_SLOTS) | BIT(VU_PF_STATUS);

    if (ops->get_config)
        pf |= BIT(VU_PF_CONFIG);
    if (ops->save && ops->load)
        pf |= BIT(VU_PF_DEVICE_STATE);
    if (ops->device_id == VIRTIO_ID_NET && ops->set_mtu)
        pf |= BIT(VU_PF_MTU);
    return pf;
}

int vu_h_get_features(struct vdev_vu_backend *b, struct vu_msg *m)
{
    m->r.u64 = offered(b);
    m->reply_size = sizeof(m->r.u64);
    return 0;
}

/* SET_FEATURES: a subset of what was offered. The device's bits may change only
 * while the device is suspended; LOG_ALL may come and go while rings run (the
 * front-end starts and ends migration that way). Without PROTOCOL_FEATURES
 * every ring is enabled at once ("Ring states"). */
int vu_h_set_features(struct vdev_vu_backend *b, struct vu_msg *m)
{
    uint64_t f = m->p.u64, extra = f & ~offered(b);
    uint64_t devf = f & ~VHOST_BITS;
    uint64_t iommu_needs = BIT(VU_PF_BACKEND_REQ) | BIT(VU_PF_REPLY_ACK);
    bool dev_changed = !b->c.features_set || devf != (b->c.features & ~VHOST_BITS);
    int ret;

    if (extra)
        return vu_bad(b, -EINVAL, "SET_FEATURES %#llx: %#llx was not offered",
                      (unsigned long long)f, (unsigned long long)extra);
    /* "IOMMU support": misses go on the back-end channel and the front-end
     * waits for each IOTLB_MSG's ack; QEMU asks for both features too. */
    if ((f & BIT(VIRTIO_F_ACCESS_PLATFORM)) &&
        (b->c.pfeatures & iommu_needs) != iommu_needs)
        return vu_bad(b, -EINVAL, "SET_FEATURES: IOMMU_PLATFORM without the protocol "
                      "features BACKEND_REQ and REPLY_ACK");
    if (dev_changed && !vu_suspended(b))
        return vu_bad(b, -EBUSY, "SET_FEATURES changes device features while a "
                      "ring is started");
    if (dev_changed && b->dev->ops->set_features) {
        ret = b->dev->ops->set_features(b->dev->priv, devf & dev_features(b));
        if (ret < 0)
            return vu_bad(b, ret, "the device refused features %#llx",
                          (unsigned long long)devf);
    }

    vu_rings_halt(b);                 /* the dirty log attaches to the map */
    b->c.features = f;
    b->c.features_set = true;
    vdev_info("vhost-user %s: virtio features %#llx negotiated", b->c.peer,
              (unsigned long long)f);
    vu_log_apply(b);
    if (!(f & BIT(VU_F_PROTOCOL_FEATURES)))
        for (unsigned i = 0; i < b->nrings; i++)
            b->rings[i].enabled = true;
    vu_rings_sync(b);
    return 0;
}

/* --- protocol features -------------------------------------------------------- */

int vu_h_get_protocol_features(struct vdev_vu_backend *b, struct vu_msg *m)
{
    m->r.u64 = offered_pf(b);
    m->reply_size = sizeof(m->r.u64);
    return 0;
}

/* "In-band notifications": the feature without BACKEND_REQ and REPLY_ACK is an
 * error the back-end answers by closing the connection. */
int vu_h_set_protocol_features(struct vdev_vu_backend *b, struct vu_msg *m)
{
    uint64_t f = m->p.u64, extra = f & ~offered_pf(b);
    uint64_t inband_needs = BIT(VU_PF_BACKEND_REQ) | BIT(VU_PF_REPLY_ACK);

    if (extra)
        return vu_bad(b, -EINVAL, "SET_PROTOCOL_FEATURES %#llx: %#llx was not offered",
                      (unsigned long long)f, (unsigned long long)extra);
    if ((f & BIT(VU_PF_INBAND_NOTIFICATIONS)) && (f & inband_needs) != inband_needs) {
        vu_bad(b, VU_CLOSE, "INBAND_NOTIFICATIONS without BACKEND_REQ and REPLY_ACK: "
               "closing the connection");
        return VU_CLOSE;
    }
    b->c.pfeatures = f;
    vdev_info("vhost-user %s: protocol features %#llx negotiated", b->c.peer,
              (unsigned long long)f);
    return 0;
}

int vu_h_get_queue_num(struct vdev_vu_backend *b, struct vu_msg *m)
{
    m->r.u64 = b->nrings;
    m->reply_size = sizeof(m->r.u64);
    return 0;
}

/* --- ownership and resets ----------------------------------------------------- */

int vu_h_set_owner(struct vdev_vu_backend *b, struct vu_msg *m)
{
    if (b->c.owner)
        vdev_debug("vhost-user %s: SET_OWNER again", b->c.peer);
    b->c.owner = true;
    return 0;
}

/* RESET_OWNER is deprecated; the spec advises either ignoring it or disabling
 * every ring. vdev disables them: the connection's state stays. */
int vu_h_reset_owner(struct vdev_vu_backend *b, struct vu_msg *m)
{
    for (unsigned i = 0; i < b->nrings; i++) {
        b->rings[i].enabled = false;
        vu_ring_sync(b, &b->rings[i]);
    }
    return 0;
}

/* RESET_DEVICE: every ring disabled and back to its initial state, the device
 * reset, features to be negotiated again. Ownership, protocol features, the
 * memory table, the back-end channel and the inflight area stay. */
int vu_h_reset_device(struct vdev_vu_backend *b, struct vu_msg *m)
{
    for (unsigned i = 0; i < b->nrings; i++)
        vu_ring_reset(b, &b->rings[i]);
    vu_iotlb_release(b);              /* a reset device keeps no DMA mapping */
    if (b->dev->ops->reset)
        b->dev->ops->reset(b->dev->priv);
    b->c.features = 0;
    b->c.features_set = false;
    b->c.status = 0;
    b->c.needs_reset = false;
    vu_log_apply(b);
    return 0;
}

/* --- status ------------------------------------------------------------------- */

/* SET_STATUS carries the virtio device status byte; it is kept and reported. */
int vu_h_set_status(struct vdev_vu_backend *b, struct vu_msg *m)
{
    if (m->p.u64 > 0xff)
        return vu_bad(b, -EINVAL, "SET_STATUS %#llx is not a status byte",
                      (unsigned long long)m->p.u64);
    b->c.status = (uint8_t)m->p.u64;
    return 0;
}

/* GET_STATUS adds NEEDS_RESET once a ring could not be run. */
int vu_h_get_status(struct vdev_vu_backend *b, struct vu_msg *m)
{
    m->r.u64 = b->c.status | (b->c.needs_reset ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
    m->reply_size = sizeof(m->r.u64);
    return 0;
}

/* NET_SET_MTU ("Front-end message types"): only after VIRTIO_NET_F_MTU and
 * protocol feature NET_MTU were negotiated, for a net device; an MTU outside
 * 68..65535 (virtio 1.2, 5.1.4.1) is refused. */
int vu_h_net_set_mtu(struct vdev_vu_backend *b, struct vu_msg *m)
{
    const struct vdev_virtio_ops *ops = b->dev->ops;
    uint64_t mtu = m->p.u64;
    int ret;

    if (ops->device_id != VIRTIO_ID_NET || !ops->set_mtu)
        return vu_bad(b, -ENOTSUP, "NET_SET_MTU for a %s device", ops->name);
    if (!(b->c.pfeatures & BIT(VU_PF_MTU)))
        return vu_bad(b, -EPROTO, "NET_SET_MTU without protocol feature NET_MTU");
    if (!b->c.features_set || !(b->c.features & BIT(VIRTIO_NET_F_MTU)))
        return vu_bad(b, -EPROTO, "NET_SET_MTU without VIRTIO_NET_F_MTU negotiated");
    if (mtu < 68 || mtu > 65535)
        return vu_bad(b, -EINVAL, "NET_SET_MTU %llu: not within 68..65535",
                      (unsigned long long)mtu);
    ret = ops->set_mtu(b->dev->priv, (uint16_t)mtu);
    if (ret < 0)
        return vu_bad(b, ret, "the device refused MTU %llu", (unsigned long long)mtu);
    vdev_info("vhost-user %s: MTU %llu", b->c.peer, (unsigned long long)mtu);
    return 0;
}
