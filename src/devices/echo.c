/* echo.c — the echo test device (dev_echo.h): each request comes back as a
 * header {sum, length} and the bytes it carried. Hold mode is in echo_hold.c. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vdev/log.h"
#include "echo_internal.h"

#define ECHO_FEATURES ((1ull << VIRTIO_RING_F_EVENT_IDX) | \
                       (1ull << VIRTIO_RING_F_INDIRECT_DESC) | \
                       (1ull << VIRTIO_F_RING_PACKED))
/* iovecs per request: two per descriptor of the largest ring. Allocated when a
 * queue starts; pages no request reaches are never touched. */
#define ECHO_IOV (2u * VDEV_VQ_MAX_SIZE)

static const struct vdev_virtio_ops echo_ops;

/* Writes n bytes from src at iovec *i, offset *off, of r's writable iovecs. */
static void put(const struct vdev_vq_req *r, uint32_t *i, size_t *off,
                const void *src, size_t n)
{
    for (uint32_t end = r->n_out + r->n_in; n && *i < end;) {
        const struct iovec *v = &r->iov[*i];
        size_t k = v->iov_len - *off < n ? v->iov_len - *off : n;

        memmove((uint8_t *)v->iov_base + *off, src, k);
        src = (const uint8_t *)src + k;
        n -= k;
        *off += k;
        if (*off == v->iov_len) {
            (*i)++;
            *off = 0;
        }
    }
}

/* Writes the reply to r: the header, then what fits of the readable bytes.
 * Returns the bytes written. */
static uint32_t echo_reply(const struct vdev_vq_req *r)
{
    uint32_t sum = 0, hdr[2], left, i = r->n_out;
    size_t off = 0;

    if (r->in_len < VDEV_ECHO_HDR_SIZE)
        return 0;
    for (uint32_t k = 0; k < r->n_out; k++)
        for (size_t j = 0; j < r->iov[k].iov_len; j++)
            sum += ((const uint8_t *)r->iov[k].iov_base)[j];
    hdr[0] = htole32(sum);
    hdr[1] = htole32(r->out_len);
    put(r, &i, &off, hdr, sizeof(hdr));
    left = r->in_len - VDEV_ECHO_HDR_SIZE;
    if (left > r->out_len)
        left = r->out_len;
    for (uint32_t k = 0, todo = left; k < r->n_out && todo; k++) {
        size_t n = r->iov[k].iov_len < todo ? r->iov[k].iov_len : todo;

        put(r, &i, &off, r->iov[k].iov_base, n);
        todo -= (uint32_t)n;
    }
    return VDEV_ECHO_HDR_SIZE + left;
}

void echo_complete(struct echo_queue *eq, const struct vdev_vq_req *r)
{
    if (vdev_vq_push(eq->q->vq, r, echo_reply(r)) == 0)
        atomic_fetch_add(&eq->e->served, 1);
}

int echo_serve(struct echo_queue *eq)
{
    int n = 0, ret;

    while ((ret = vdev_vq_pop(eq->q->vq, &eq->req)) == 1) {
        if (eq->e->hold)
            echo_hold(eq);
        else
            echo_complete(eq, &eq->req);
        n++;
    }
    if (ret == -ENOBUFS)
        vdev_warn("echo: queue %u: a request needs more than %u iovecs, not served",
                  eq->q->index, ECHO_IOV);
    if (eq->e->hold)
        echo_release_held(eq);
    vdev_vq_notify(eq->q->vq);
    return n;
}

static void free_iov(struct echo_queue *eq)
{
    free(eq->req.iov);
    free(eq->req.iov_gpa);
    eq->req = (struct vdev_vq_req){ 0 };
}

static int echo_queue_start(void *dev, struct vdev_virtio_queue *q)
{
    struct echo *e = dev;
    struct echo_queue *eq = q && q->index < e->num_queues ? &e->q[q->index] : NULL;
    int ret = 0;

    if (!eq || !q->vq || !q->loop)
        return -EINVAL;
    if (eq->q)
        return -EBUSY;
    eq->req.iov = malloc(ECHO_IOV * sizeof(*eq->req.iov));
    eq->req.iov_gpa = malloc(ECHO_IOV * sizeof(*eq->req.iov_gpa));
    eq->req.iov_cap = ECHO_IOV;
    eq->q = q;
    if (!eq->req.iov || !eq->req.iov_gpa)
        ret = -ENOMEM;
    else if (e->hold)
        ret = echo_hold_start(eq);
    if (ret < 0) {
        free_iov(eq);
        eq->q = NULL;
        return ret;
    }
    q->priv = eq;
    return 0;
}

static void echo_queue_kick(void *dev, struct vdev_virtio_queue *q)
{
    echo_serve(q->priv);
}

static int echo_queue_poll(void *dev, struct vdev_virtio_queue *q)
{
    return echo_serve(q->priv);
}

static void echo_queue_stop(void *dev, struct vdev_virtio_queue *q)
{
    struct echo_queue *eq = q->priv;

    if (((struct echo *)dev)->hold)
        echo_hold_stop(eq);
    free_iov(eq);
    eq->q = NULL;
}

static uint64_t echo_features(void *dev)
{
    return ECHO_FEATURES;
}

/* The transport may pass VIRTIO_F_VERSION_1 back with the ring features. */
static int echo_set_features(void *dev, uint64_t features)
{
    return features & ~(ECHO_FEATURES | (1ull << VIRTIO_F_VERSION_1)) ? -EINVAL : 0;
}

static uint16_t echo_num_queues(void *dev)
{
    return ((struct echo *)dev)->num_queues;
}

static int echo_get_config(void *dev, uint32_t offset, void *buf, uint32_t len)
{
    struct echo *e = dev;
    uint32_t words[2] = { htole32(VDEV_ECHO_MAGIC), htole32(e->scratch) };
    uint64_t served = htole64(atomic_load(&e->served));
    uint8_t cfg[VDEV_ECHO_CFG_SIZE];

    if (offset > sizeof(cfg) || len > sizeof(cfg) - offset)
        return -EINVAL;
    memcpy(cfg + VDEV_ECHO_CFG_MAGIC, words, sizeof(words));   /* and scratch */
    memcpy(cfg + VDEV_ECHO_CFG_SERVED, &served, sizeof(served));
    memcpy(buf, cfg + offset, len);
    return 0;
}

/* Only the scratch register is writable, in whole or in part. */
static int echo_set_config(void *dev, uint32_t offset, const void *buf, uint32_t len)
{
    struct echo *e = dev;
    uint32_t scratch = htole32(e->scratch);

    if (offset > VDEV_ECHO_CFG_SIZE || len > VDEV_ECHO_CFG_SIZE - offset)
        return -EINVAL;
    if (len && (offset < VDEV_ECHO_CFG_SCRATCH || offset + len > VDEV_ECHO_CFG_SERVED))
        return -EPERM;
    memcpy((uint8_t *)&scratch + (offset - VDEV_ECHO_CFG_SCRATCH), buf, len);
    e->scratch = le32toh(scratch);
    return 0;
}

static void echo_reset(void *dev)
{
    struct echo *e = dev;

    e->scratch = 0;
    atomic_store(&e->served, 0);
    atomic_store(&e->credits, 0);
}

/* The saved state is the configuration space: magic, scratch, requests. */
static int echo_save(void *dev, void *buf, size_t cap)
{
    if (!buf || cap < VDEV_ECHO_CFG_SIZE)
        return -ENOSPC;
    echo_get_config(dev, 0, buf, VDEV_ECHO_CFG_SIZE);
    return VDEV_ECHO_CFG_SIZE;
}

static int echo_load(void *dev, const void *buf, size_t len)
{
    struct echo *e = dev;
    uint32_t words[2];
    uint64_t served;

    if (!buf || len != VDEV_ECHO_CFG_SIZE)
        return -EINVAL;
    memcpy(words, buf, sizeof(words));
    memcpy(&served, (const uint8_t *)buf + VDEV_ECHO_CFG_SERVED, sizeof(served));
    if (le32toh(words[0]) != VDEV_ECHO_MAGIC)
        return -EINVAL;
    e->scratch = le32toh(words[1]);
    atomic_store(&e->served, le64toh(served));
    return 0;
}

#define ECHO_OPS_COMMON                                                          \
    .max_queue_size = (uint16_t)VDEV_VQ_MAX_SIZE,                                \
    .num_queues = echo_num_queues, .config_size = VDEV_ECHO_CFG_SIZE,            \
    .get_config = echo_get_config, .set_config = echo_set_config,                \
    .queue_start = echo_queue_start, .queue_kick = echo_queue_kick,              \
    .queue_poll = echo_queue_poll, .queue_stop = echo_queue_stop,                \
    .reset = echo_reset, .save = echo_save, .load = echo_load

static const struct vdev_virtio_ops echo_ops = {
    .name = "echo", .device_id = VDEV_ECHO_DEVICE_ID,
    .features = echo_features, .set_features = echo_set_features,
    ECHO_OPS_COMMON,
};

/* Net mode: the same device under VIRTIO_ID_NET, with VIRTIO_NET_F_MTU. */
static uint64_t echo_net_features(void *dev)
{
    return ECHO_FEATURES | (1ull << VIRTIO_NET_F_MTU);
}

static int echo_net_set_features(void *dev, uint64_t features)
{
    return features & ~(echo_net_features(dev) | (1ull << VIRTIO_F_VERSION_1)) ?
           -EINVAL : 0;
}

static int echo_set_mtu(void *dev, uint16_t mtu)
{
    atomic_store(&((struct echo *)dev)->mtu, mtu);
    return 0;
}

static const struct vdev_virtio_ops echo_net_ops = {
    .name = "echo-net", .device_id = VIRTIO_ID_NET,
    .features = echo_net_features, .set_features = echo_net_set_features,
    .set_mtu = echo_set_mtu,
    ECHO_OPS_COMMON,
};

static struct echo *echo_of(const struct vdev_virtio_dev *dev)
{
    return dev && (dev->ops == &echo_ops || dev->ops == &echo_net_ops) ?
           dev->priv : NULL;
}

int vdev_echo_new(const struct vdev_echo_config *c, struct vdev_virtio_dev **out)
{
    struct echo *e;

    if (!c || !out || c->num_queues == 0 || c->num_queues > VDEV_ECHO_MAX_QUEUES)
        return -EINVAL;
    e = calloc(1, sizeof(*e) + c->num_queues * sizeof(e->q[0]));
    if (!e)
        return -ENOMEM;
    e->dev = (struct vdev_virtio_dev){ .ops = c->net ? &echo_net_ops : &echo_ops,
                                       .priv = e };
    e->num_queues = c->num_queues;
    e->hold = c->hold;
    for (unsigned i = 0; i < c->num_queues; i++) {
        e->q[i].e = e;
        e->q[i].held_tail = &e->q[i].held;
        e->q[i].release_fd = -1;
    }
    for (unsigned i = 0; i < c->num_queues && c->hold; i++) {
        e->q[i].release_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->q[i].release_fd < 0) {
            int ret = -errno;

            vdev_echo_free(&e->dev);
            return ret;
        }
    }
    *out = &e->dev;
    return 0;
}

void vdev_echo_free(struct vdev_virtio_dev *dev)
{
    struct echo *e = echo_of(dev);

    if (!e)
        return;
    for (unsigned i = 0; i < e->num_queues; i++)
        if (e->q[i].release_fd >= 0)
            close(e->q[i].release_fd);
    free(e);
}

int vdev_echo_release(struct vdev_virtio_dev *dev, uint32_t n)
{
    struct echo *e = echo_of(dev);

    if (!e || !e->hold)
        return -EINVAL;
    echo_release(e, n);
    return 0;
}

uint64_t vdev_echo_held(const struct vdev_virtio_dev *dev)
{
    struct echo *e = echo_of(dev);

    return e ? atomic_load(&e->held) : 0;
}

uint16_t vdev_echo_mtu(const struct vdev_virtio_dev *dev)
{
    struct echo *e = echo_of(dev);

    return e ? atomic_load(&e->mtu) : 0;
}
