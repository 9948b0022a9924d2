/* common.c — the common configuration structure (virtio 1.2, 4.1.4.3): feature
 * negotiation, device status, and the selected queue's registers.
 *
 * A read builds the whole structure and returns the bytes asked for. A write
 * lands on a copy of the structure; then each field it touched is applied, in
 * order, with the value the copy now holds. So a driver may use any access
 * width, and a 64-bit address written as two 32-bit halves (as Linux does)
 * arrives as two fields. */
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <linux/virtio_config.h>

#include "vdev/log.h"
#include "vp_internal.h"

#define FIELD(f) offsetof(struct vp_common_layout, cfg.f), \
                 sizeof(((struct virtio_pci_common_cfg *)0)->f)

static struct vp_queue *selected(struct vdev_virtio_pci *vp)
{
    return vp->queue_select < vp->nq ? &vp->queues[vp->queue_select] : NULL;
}

static void snapshot(struct vdev_virtio_pci *vp, struct vp_common_layout *l)
{
    struct virtio_pci_common_cfg *c = &l->cfg;
    struct vp_queue *q = selected(vp);

    memset(l, 0, sizeof(*l));
    c->device_feature_select = htole32(vp->dfselect);
    if (vp->dfselect < 2)
        c->device_feature = htole32((uint32_t)(vp->offered >> (32 * vp->dfselect)));
    c->guest_feature_select = htole32(vp->gfselect);
    if (vp->gfselect < 2)
        c->guest_feature = htole32((uint32_t)(vp->driver_features >> (32 * vp->gfselect)));
    c->msix_config = htole16(atomic_load(&vp->config_vector));
    c->num_queues = htole16(vp->nq);
    c->device_status = vp->status | (vp->needs_reset ? VIRTIO_CONFIG_S_NEEDS_RESET : 0);
    c->config_generation = atomic_load(&vp->config_generation);
    c->queue_select = htole16(vp->queue_select);
    if (!q)
        return;                     /* a queue that does not exist: size 0 */
    c->queue_size = htole16(q->size);
    c->queue_msix_vector = htole16(atomic_load(&q->msix_vector));
    c->queue_enable = htole16(q->enabled);
    c->queue_notify_off = htole16(q->index);
    c->queue_desc_lo = htole32((uint32_t)q->desc);
    c->queue_desc_hi = htole32((uint32_t)(q->desc >> 32));
    c->queue_avail_lo = htole32((uint32_t)q->driver);
    c->queue_avail_hi = htole32((uint32_t)(q->driver >> 32));
    c->queue_used_lo = htole32((uint32_t)q->device);
    c->queue_used_hi = htole32((uint32_t)(q->device >> 32));
    l->queue_notify_data = htole16(q->index);
}

void vp_common_read(struct vdev_virtio_pci *vp, uint64_t off, void *buf, size_t len)
{
    struct vp_common_layout l;

    snapshot(vp, &l);
    memset(buf, 0, len);
    if (off < sizeof(l))
        memcpy(buf, (uint8_t *)&l + off, len < sizeof(l) - off ? len : sizeof(l) - off);
}

/* A vector must be one of the function's MSI-X vectors; anything else reads
 * back as VIRTIO_MSI_NO_VECTOR, which tells the driver it failed (4.1.5.1.2). */
static uint16_t valid_vector(struct vdev_virtio_pci *vp, uint16_t v)
{
    return v < vp->nq + 1u ? v : VIRTIO_MSI_NO_VECTOR;
}

/* FEATURES_OK: a subset of what was offered, VERSION_1 among them (this is a
 * non-transitional device), and accepted by the device; otherwise the bit is
 * not set and the driver sees that (3.1.1). */
static bool features_ok(struct vdev_virtio_pci *vp)
{
    uint64_t f = vp->driver_features;
    int ret;

    if (f & ~vp->offered) {
        vdev_warn("virtio-pci: the driver accepts features %#llx never offered",
                  (unsigned long long)(f & ~vp->offered));
        return false;
    }
    if (!(f & (1ull << VIRTIO_F_VERSION_1))) {
        vdev_warn("virtio-pci: the driver does not accept VIRTIO_F_VERSION_1");
        return false;
    }
    /* The device hears its own bits and VERSION_1, not the transport's. */
    f &= ~(1ull << VIRTIO_F_RING_RESET);
    ret = vp->dev->ops->set_features ? vp->dev->ops->set_features(vp->dev->priv, f) : 0;
    if (ret < 0) {
        vdev_warn("virtio-pci: the device refuses features %#llx: %s",
                  (unsigned long long)f, vdev_strerror(ret));
        return false;
    }
    return true;
}

/* Reset (4.1.4.3.1): every queue stopped, the device back to its initial
 * state, the registers at their reset values. */
void vp_device_reset(struct vdev_virtio_pci *vp)
{
    vp_queues_reset(vp);
    if (vp->dev->ops->reset)
        vp->dev->ops->reset(vp->dev->priv);
    vp->driver_features = 0;
    vp->dfselect = vp->gfselect = 0;
    vp->queue_select = 0;
    atomic_store(&vp->config_vector, VIRTIO_MSI_NO_VECTOR);
    vp->status = 0;
    vp->needs_reset = false;
    atomic_store(&vp->isr, 0);
}

static void start_enabled_queues(struct vdev_virtio_pci *vp)
{
    for (unsigned i = 0; i < vp->nq; i++) {
        int ret;

        if (!vp->queues[i].enabled)
            continue;
        ret = vp_queue_start(vp, &vp->queues[i], (uint32_t)-1);
        if (ret < 0)
            vp_fail(vp, "a queue does not start at DRIVER_OK", ret);
    }
}

static void write_status(struct vdev_virtio_pci *vp, uint8_t v)
{
    uint8_t old = vp->status;

    if (v == 0) {
        vp_device_reset(vp);
        return;
    }
    if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK) &&
        !features_ok(vp))
        v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
    if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
        vdev_warn("virtio-pci: DRIVER_OK without FEATURES_OK: ignored");
        v &= (uint8_t)~VIRTIO_CONFIG_S_DRIVER_OK;
    }
    vp->status = v & (uint8_t)~VIRTIO_CONFIG_S_NEEDS_RESET;
    if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK))
        start_enabled_queues(vp);
}

static void write_queue_enable(struct vdev_virtio_pci *vp, struct vp_queue *q, uint16_t v)
{
    int ret;

    if (v != 1 || q->enabled)
        return;                     /* 4.1.4.3.2: the driver never writes 0 */
    q->enabled = true;
    if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK) {
        ret = vp_queue_start(vp, q, (uint32_t)-1);
        if (ret < 0)
            vp_fail(vp, "a queue enabled after DRIVER_OK does not start", ret);
    }
}

/* The queue's layout may change only while it is disabled (4.1.4.3.2). */
static void write_queue_u64(struct vp_queue *q, uint64_t *field, bool hi, uint32_t v)
{
    if (!q || q->enabled)
        return;
    if (hi)
        *field = (*field & 0xffffffffull) | (uint64_t)v << 32;
    else
        *field = (*field & ~0xffffffffull) | v;
}

/* 4.1.4.3.2, VIRTIO_F_RING_RESET: 1 written to queue_reset resets the selected
 * queue; it is done when the write returns, so queue_reset and queue_enable
 * read 0 then, and the driver may set the queue up again and enable it. */
static void write_queue_reset(struct vdev_virtio_pci *vp, struct vp_queue *q, uint16_t v)
{
    if (!q || v != 1 || !(vp->driver_features & (1ull << VIRTIO_F_RING_RESET)) ||
        !(vp->status & VIRTIO_CONFIG_S_FEATURES_OK))
        return;
    vp_queue_reset(vp, q);
}

static void apply(struct vdev_virtio_pci *vp, size_t field, const struct vp_common_layout *l)
{
    const struct virtio_pci_common_cfg *c = &l->cfg;
    struct vp_queue *q = selected(vp);
    uint32_t sel;

    switch (field) {
    case offsetof(struct vp_common_layout, queue_reset):
        write_queue_reset(vp, q, le16toh(l->queue_reset));
        break;
    case offsetof(struct virtio_pci_common_cfg, device_feature_select):
        vp->dfselect = le32toh(c->device_feature_select);
        break;
    case offsetof(struct virtio_pci_common_cfg, guest_feature_select):
        vp->gfselect = le32toh(c->guest_feature_select);
        break;
    case offsetof(struct virtio_pci_common_cfg, guest_feature):
        sel = vp->gfselect;
        if (sel >= 2 || (vp->status & VIRTIO_CONFIG_S_FEATURES_OK))
            break;
        vp->driver_features &= ~(0xffffffffull << (32 * sel));
        vp->driver_features |= (uint64_t)le32toh(c->guest_feature) << (32 * sel);
        break;
    case offsetof(struct virtio_pci_common_cfg, msix_config):
        atomic_store(&vp->config_vector, valid_vector(vp, le16toh(c->msix_config)));
        break;
    case offsetof(struct virtio_pci_common_cfg, device_status):
        write_status(vp, c->device_status);
        break;
    case offsetof(struct virtio_pci_common_cfg, queue_select):
        vp->queue_select = le16toh(c->queue_select);
        break;
    case offsetof(struct virtio_pci_common_cfg, queue_size):
        if (q && !q->enabled)
            q->size = le16toh(c->queue_size);   /* checked when the queue starts */
        break;
    case offsetof(struct virtio_pci_common_cfg, queue_msix_vector):
        if (q)
            atomic_store(&q->msix_vector, valid_vector(vp, le16toh(c->queue_msix_vector)));
        break;
    case offsetof(struct virtio_pci_common_cfg, queue_enable):
        if (q)
            write_queue_enable(vp, q, le16toh(c->queue_enable));
        break;
    case offsetof(struct virtio_pci_common_cfg, queue_desc_lo):
    case offsetof(struct virtio_pci_common_cfg, queue_desc_hi):
        write_queue_u64(q, q ? &q->desc : NULL, field & 4,
                        le32toh(field & 4 ? c->queue_desc_hi : c->queue_desc_lo));
        break;
    case offsetof(struct virtio_pci_common_cfg, queue_avail_lo):
    case offsetof(struct virtio_pci_common_cfg, queue_avail_hi):
        write_queue_u64(q, q ? &q->driver : NULL, field & 4,
                        le32toh(field & 4 ? c->queue_avail_hi : c->queue_avail_lo));
        break;
    case offsetof(struct virtio_pci_common_cfg, queue_used_lo):
    case offsetof(struct virtio_pci_common_cfg, queue_used_hi):
        write_queue_u64(q, q ? &q->device : NULL, field & 4,
                        le32toh(field & 4 ? c->queue_used_hi : c->queue_used_lo));
        break;
    default:
        break;                      /* read-only: device_feature, num_queues,
                                     * config_generation, queue_notify_off,
                                     * queue_notify_data */
    }
}


static const struct { size_t off, size; } fields[] = {
    { FIELD(device_feature_select) }, { FIELD(device_feature) },
    { FIELD(guest_feature_select) }, { FIELD(guest_feature) },
    { FIELD(msix_config) }, { FIELD(num_queues) }, { FIELD(device_status) },
    { FIELD(config_generation) }, { FIELD(queue_select) }, { FIELD(queue_size) },
    { FIELD(queue_msix_vector) }, { FIELD(queue_enable) }, { FIELD(queue_notify_off) },
    { FIELD(queue_desc_lo) }, { FIELD(queue_desc_hi) }, { FIELD(queue_avail_lo) },
    { FIELD(queue_avail_hi) }, { FIELD(queue_used_lo) }, { FIELD(queue_used_hi) },
    { offsetof(struct vp_common_layout, queue_reset), 2 },
};

void vp_common_write(struct vdev_virtio_pci *vp, uint64_t off, const void *buf, size_t len)
{
    struct vp_common_layout l;

    if (off >= sizeof(l) || len > sizeof(l) - off)
        return;                     /* past the structure: nothing there */
    snapshot(vp, &l);
    memcpy((uint8_t *)&l + off, buf, len);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (fields[i].off < off + len && off < fields[i].off + fields[i].size)
            apply(vp, fields[i].off, &l);
}
