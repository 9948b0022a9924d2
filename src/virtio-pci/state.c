/* state.c — the virtio-pci transport's migration (virtio_pci.h): the
 * migration stop and restart of the queues, and the transport's state as a
 * stream, with the PCI function's (pci.h) and the device's own (virtio_dev.h
 * save/load) inside it.
 *
 * The stream (little-endian):
 *   header  u32 magic, u16 version, u16 queues, u32 total length,
 *           u32 PCI state length, u32 device state length,
 *           u64 offered features, u32 device config size, u16 max queue size,
 *           u16 queue_select, u64 driver features, u32 device_feature_select,
 *           u32 driver_feature_select, u16 config vector, u8 device_status,
 *           u8 config_generation, u8 ISR, u8 needs_reset, u16 zero, u32 zero
 *   queues  per queue: u16 size, u16 vector, u8 enabled, u8 running, u16 zero,
 *           u64 desc, driver, device, u32 ring position (vdev_vq_get_base),
 *           u32 zero
 *   then the PCI function's state, then the device's.
 * A stream is untrusted: it is checked whole before anything changes, and one
 * for another layout (queue count, features offered, config size) is refused. */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "vdev/log.h"
#include "vdev/pci.h"
#include "vp_internal.h"

#define VP_STATE_MAGIC    0x74737076u       /* "vpst" */
#define VP_STATE_VERSION  1u
#define VP_STATE_HDR      64u
#define VP_STATE_QUEUE    40u
/* Room for the device's own state: virtio-blk saves 8 bytes. */
#define VP_DEV_STATE_MAX  4096u

#define STATUS_BITS (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
                     VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK | \
                     VIRTIO_CONFIG_S_FAILED)

/* --- running / stopped ----------------------------------------------------------- */

/* Stopped: the queues keep their positions and stay marked to resume; nothing
 * starts them (DRIVER_OK, queue_enable, the end of a DMA change) until the
 * migration runs the device again (vp_queue_start records them instead). */
VDEV_API int vdev_virtio_pci_set_running(struct vdev_virtio_pci *vp, bool running)
{
    if (!running) {
        vdev_virtio_pci_quiesce(vp);
        vp->stopped = true;
        return 0;
    }
    vp->stopped = false;
    if (!vp->mem)
        return 0;          /* no DMA map yet: the queues start when one comes */
    vdev_virtio_pci_resume(vp);
    return 0;
}

/* --- the stream ------------------------------------------------------------------ */

struct cur {
    uint8_t *p;
    const uint8_t *r;
};

static void put16(struct cur *c, uint16_t v) { v = htole16(v); memcpy(c->p, &v, 2); c->p += 2; }
static void put32(struct cur *c, uint32_t v) { v = htole32(v); memcpy(c->p, &v, 4); c->p += 4; }
static void put64(struct cur *c, uint64_t v) { v = htole64(v); memcpy(c->p, &v, 8); c->p += 8; }
static void put8(struct cur *c, uint8_t v) { *c->p++ = v; }

static uint8_t get8(struct cur *c) { return *c->r++; }
static uint16_t get16(struct cur *c) { uint16_t v; memcpy(&v, c->r, 2); c->r += 2; return le16toh(v); }
static uint32_t get32(struct cur *c) { uint32_t v; memcpy(&v, c->r, 4); c->r += 4; return le32toh(v); }
static uint64_t get64(struct cur *c) { uint64_t v; memcpy(&v, c->r, 8); c->r += 8; return le64toh(v); }

VDEV_API size_t vdev_virtio_pci_state_max(struct vdev_virtio_pci *vp)
{
    return VP_STATE_HDR + (size_t)vp->nq * VP_STATE_QUEUE + vdev_pci_state_size(vp->pci) +
           VP_DEV_STATE_MAX;
}

static void save_queue(struct cur *c, const struct vp_queue *q)
{
    put16(c, q->size);
    put16(c, atomic_load(&q->msix_vector));
    put8(c, q->enabled);
    put8(c, q->resume);
    put16(c, 0);
    put64(c, q->desc);
    put64(c, q->driver);
    put64(c, q->device);
    put32(c, q->resume ? q->base : 0);
    put32(c, 0);
}

VDEV_API int vdev_virtio_pci_save(struct vdev_virtio_pci *vp, void *buf, size_t cap,
                                  size_t *len)
{
    size_t fixed = VP_STATE_HDR + (size_t)vp->nq * VP_STATE_QUEUE;
    size_t pci_len = vdev_pci_state_size(vp->pci);
    uint8_t *b = buf;
    struct cur c = { .p = b };
    int dev_len = 0, ret;

    if (!vp->stopped)
        return -EBUSY;              /* the rings' positions still move */
    if (!buf || cap < fixed + pci_len)
        return -ENOSPC;
    ret = vdev_pci_save(vp->pci, b + fixed, cap - fixed);
    if (ret < 0)
        return ret;
    if (vp->dev->ops->save) {
        dev_len = vp->dev->ops->save(vp->dev->priv, b + fixed + pci_len,
                                     cap - fixed - pci_len);
        if (dev_len < 0)
            return dev_len;
    }
    put32(&c, VP_STATE_MAGIC);
    put16(&c, VP_STATE_VERSION);
    put16(&c, vp->nq);
    put32(&c, (uint32_t)(fixed + pci_len + (size_t)dev_len));
    put32(&c, (uint32_t)pci_len);
    put32(&c, (uint32_t)dev_len);
    put64(&c, vp->offered);
    put32(&c, vp->config_size);
    put16(&c, vp->max_size);
    put16(&c, vp->queue_select);
    put64(&c, vp->driver_features);
    put32(&c, vp->dfselect);
    put32(&c, vp->gfselect);
    put16(&c, atomic_load(&vp->config_vector));
    put8(&c, vp->status);
    put8(&c, atomic_load(&vp->config_generation));
    put8(&c, atomic_load(&vp->isr));
    put8(&c, vp->needs_reset);
    put16(&c, 0);
    put32(&c, 0);
    for (unsigned i = 0; i < vp->nq; i++)
        save_queue(&c, &vp->queues[i]);
    assert(c.p == b + fixed);
    *len = fixed + pci_len + (size_t)dev_len;
    return 0;
}

/* The transport's part of a stream, checked and not yet applied. */
struct vp_loaded {
    uint32_t pci_len, dev_len;
    uint16_t queue_select, config_vector;
    uint64_t driver_features;
    uint32_t dfselect, gfselect;
    uint8_t status, generation, isr, needs_reset;
};

static bool vector_ok(const struct vdev_virtio_pci *vp, uint16_t v)
{
    return v == VIRTIO_MSI_NO_VECTOR || v < vp->nq + 1u;
}

static int refuse(const char *why)
{
    vdev_warn("virtio-pci: migration stream refused: %s", why);
    return -EINVAL;
}

static int load_header(struct vdev_virtio_pci *vp, struct cur *c, size_t len,
                       struct vp_loaded *s)
{
    size_t fixed = VP_STATE_HDR + (size_t)vp->nq * VP_STATE_QUEUE;

    if (len < VP_STATE_HDR || get32(c) != VP_STATE_MAGIC || get16(c) != VP_STATE_VERSION)
        return refuse("not a virtio-pci state");
    if (get16(c) != vp->nq)
        return refuse("another number of queues");
    if (get32(c) != len)
        return refuse("length field is not the stream's length");
    s->pci_len = get32(c);
    s->dev_len = get32(c);
    if (len < fixed || s->pci_len != vdev_pci_state_size(vp->pci) ||
        s->dev_len > VP_DEV_STATE_MAX || len - fixed - s->pci_len != s->dev_len)
        return refuse("section lengths do not add up");
    if (get64(c) != vp->offered || get32(c) != vp->config_size || get16(c) != vp->max_size)
        return refuse("another device (features, config size or queue size)");
    s->queue_select = get16(c);
    s->driver_features = get64(c);
    s->dfselect = get32(c);
    s->gfselect = get32(c);
    s->config_vector = get16(c);
    s->status = get8(c);
    s->generation = get8(c);
    s->isr = get8(c);
    s->needs_reset = get8(c);
    (void)get16(c);
    (void)get32(c);
    if (s->status & ~STATUS_BITS)
        return refuse("device_status has unknown bits");
    if (s->driver_features & ~vp->offered)
        return refuse("driver features beyond those offered");
    if ((s->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
        !(s->driver_features & (1ull << VIRTIO_F_VERSION_1)))
        return refuse("FEATURES_OK without VERSION_1");
    if ((s->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(s->status & VIRTIO_CONFIG_S_FEATURES_OK))
        return refuse("DRIVER_OK without FEATURES_OK");
    if (!vector_ok(vp, s->config_vector) || s->isr & ~(VP_ISR_QUEUE | VIRTIO_PCI_ISR_CONFIG) ||
        s->needs_reset > 1)
        return refuse("config vector, ISR or needs_reset out of range");
    return 0;
}

static int load_queue(struct vdev_virtio_pci *vp, const struct vp_loaded *s, struct cur *c,
                      struct vp_queue *q)
{
    uint8_t enabled, running;

    q->size = get16(c);
    atomic_store(&q->msix_vector, get16(c));
    enabled = get8(c);
    running = get8(c);
    (void)get16(c);
    q->desc = get64(c);
    q->driver = get64(c);
    q->device = get64(c);
    q->base = get32(c);
    (void)get32(c);
    if (q->size > vp->max_size || !vector_ok(vp, atomic_load(&q->msix_vector)) ||
        enabled > 1 || running > 1)
        return refuse("a queue's size, vector or flags out of range");
    if (running && (!enabled || !(s->status & VIRTIO_CONFIG_S_DRIVER_OK)))
        return refuse("a queue runs that is not enabled, or before DRIVER_OK");
    q->enabled = enabled;
    q->resume = running;     /* vdev_vq_start checks size and position at start */
    return 0;
}

/* The device's features and state; on failure the features it had before. */
static int load_device(struct vdev_virtio_pci *vp, const struct vp_loaded *s,
                       const uint8_t *state)
{
    const struct vdev_virtio_ops *ops = vp->dev->ops;
    int ret = 0;

    if ((s->status & VIRTIO_CONFIG_S_FEATURES_OK) && ops->set_features)
        ret = ops->set_features(vp->dev->priv, s->driver_features);
    if (ret == 0 && s->dev_len)
        ret = ops->load ? ops->load(vp->dev->priv, state, s->dev_len) : -EINVAL;
    if (ret < 0 && ops->set_features && (vp->status & VIRTIO_CONFIG_S_FEATURES_OK))
        ops->set_features(vp->dev->priv, vp->driver_features);
    else if (ret < 0 && ops->reset)
        ops->reset(vp->dev->priv);   /* nothing negotiated before: as created */
    if (ret < 0)
        vdev_warn("virtio-pci: the device refuses its migrated state: %s",
                  vdev_strerror(ret));
    return ret < 0 ? -EINVAL : 0;
}

static void apply(struct vdev_virtio_pci *vp, const struct vp_loaded *s,
                  const struct vp_queue *qs)
{
    vp->queue_select = s->queue_select;
    vp->driver_features = s->driver_features;
    vp->dfselect = s->dfselect;
    vp->gfselect = s->gfselect;
    atomic_store(&vp->config_vector, s->config_vector);
    vp->status = s->status;
    atomic_store(&vp->config_generation, s->generation);
    atomic_store(&vp->isr, s->isr);
    vp->needs_reset = s->needs_reset;
    for (unsigned i = 0; i < vp->nq; i++) {
        struct vp_queue *q = &vp->queues[i];

        q->size = qs[i].size;
        atomic_store(&q->msix_vector, atomic_load(&qs[i].msix_vector));
        q->enabled = qs[i].enabled;
        q->desc = qs[i].desc;
        q->driver = qs[i].driver;
        q->device = qs[i].device;
        q->base = qs[i].base;
        q->resume = qs[i].resume;   /* a started queue serves what is available
                                     * (workers.c), so buffers the source never
                                     * took need no kick */
    }
}

VDEV_API int vdev_virtio_pci_load(struct vdev_virtio_pci *vp, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    struct cur c = { .r = b };
    struct vp_loaded s;
    struct vp_queue *qs = NULL;
    uint8_t *pci_old = NULL;
    size_t fixed = VP_STATE_HDR + (size_t)vp->nq * VP_STATE_QUEUE;
    int ret;

    if (!vp->stopped)
        return -EBUSY;              /* only a stopped device takes a state */
    if (!buf)
        return -EINVAL;
    ret = load_header(vp, &c, len, &s);
    if (ret < 0)
        return ret;
    qs = calloc(vp->nq, sizeof(*qs));
    pci_old = malloc(s.pci_len);
    if (!qs || !pci_old) {
        ret = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < vp->nq && ret == 0; i++)
        ret = load_queue(vp, &s, &c, &qs[i]);
    if (ret < 0)
        goto out;
    /* The function's state first, kept to go back to if the device refuses. */
    ret = vdev_pci_save(vp->pci, pci_old, s.pci_len);
    if (ret >= 0)
        ret = vdev_pci_load(vp->pci, b + fixed, s.pci_len);
    if (ret < 0)
        goto out;
    ret = load_device(vp, &s, b + fixed + s.pci_len);
    if (ret < 0) {
        vdev_pci_load(vp->pci, pci_old, s.pci_len);
        goto out;
    }
    apply(vp, &s, qs);
out:
    free(qs);
    free(pci_old);
    return ret;
}
